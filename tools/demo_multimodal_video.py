# Copyright (c) mmmae contributors. All rights reserved.
"""Multi-modal video MAE demo: what do depth and segmentation videos add to
video pretraining, and does depth help at fine-tuning time?

Renders the scene videos (exact per-frame depth and classes; clip class =
camera motion), pretrains two tiny encoders of the same size on every
training clip without labels, for the same number of steps: a multi-modal
video MAE on rgb + depth + semseg clips and a VideoMAE on the rgb clips.
Both pretrainings probe their frozen encoder (kNN and linear top-1 of the
motion class on val, with every training clip's label; RGB clips, and RGB-D
for the multi-modal one) before training and every 5 epochs. Then, per
seed, fine-tunes with the same budget on the first ``--labelled`` training
clips and scores on ``--eval-split``:

* ``videomae-rgb``: the VideoMAE encoder, RGB input;
* ``mm-rgb``: the multi-modal encoder, RGB input;
* ``mm-rgbd``: the multi-modal encoder, RGB-D input;
* ``scratch-rgb``: no pretraining, RGB input.

Writes ``WORK_DIR/summary.json`` (and prints its tables), the probe curves
(``WORK_DIR/probe_curves.png``) and what the multi-modal encoder predicts
from RGB tubes alone (``WORK_DIR/cross_modal/*.png``). Recipes and results:
docs/multimodal_video.md.

Usage::

    python tools/demo_multimodal_video.py [--work-dir work_dirs/demo_mmv]
    python tools/demo_multimodal_video.py --quick    # 2-minute smoke run

Exit status: 0 when every run gave its metric; 1 when one did not (one
``[demo]`` line on stderr); 2 for bad options; a failing training run
stops it with its traceback.
"""
import argparse
import os
import os.path as osp
import sys
import time

from mmmae.apis.recipes import (RecipeError, format_times, probe_table,
                                report_summary, run_command, tool_command,
                                write_json)
from mmmae.utils.cli import run_cli
from mmmae.utils.run_logs import read_final_loss, read_last_record

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
_CFG = 'configs/multimodal_video/'
PRETRAIN = {
    'mm': _CFG + 'multimodal-video-mae_vit-tiny-p8_1xb8-30e_scene-videos.py',
    'videomae': _CFG + 'videomae_vit-tiny-p8_1xb8-30e_scene-videos-rgb.py',
}
_FT = _CFG + 'finetune/vit-tiny-p8_{}_1xb8-8x2x1-30e_scene-videos-{}.py'
RUNS = {  # name: (fine-tuning config, pretraining it starts from)
    'videomae-rgb': (_FT.format('videomae-pre-30e', 'rgb'), 'videomae'),
    'mm-rgb': (_FT.format('multimodal-video-mae-pre-30e', 'rgb'), 'mm'),
    'mm-rgbd': (_FT.format('multimodal-video-mae-pre-30e', 'rgbd'), 'mm'),
    'scratch-rgb': (_FT.format('scratch', 'rgb'), None),
}
METRIC = 'acc/top1'
# probe label: (pretraining, ProbeHook prefix)
PROBES = {
    'videomae, RGB': ('videomae', 'probe'),
    'multi-modal, RGB': ('mm', 'probe'),
    'multi-modal, RGB-D': ('mm', 'probe_rgbd'),
}
# sized for ~20 min on 2 CPU cores; 30 labelled clips = 5 per class
DEFAULTS = dict(data_root='data/scene_videos', work_dir='work_dirs/demo_mmv',
                num_train=240, num_val=60, num_test=60, labelled=30,
                pretrain_epochs=40, ft_epochs=20, seeds=[0, 1])
QUICK = dict(data_root='data/scene_videos_quick',
             work_dir='work_dirs/demo_mmv_quick', num_train=24, num_val=12,
             num_test=12, labelled=12, pretrain_epochs=5, ft_epochs=2,
             seeds=[0])


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    for key in ('data_root', 'work_dir'):
        p.add_argument('--' + key.replace('_', '-'), default=None,
                       help=f'default {DEFAULTS[key]}')
    for key, what in (('num_train', 'training clips (pretraining uses all, '
                       'without labels)'), ('num_val', 'val clips'),
                      ('num_test', 'test clips'),
                      ('labelled', 'fine-tune on the first N training '
                       'clips (balanced: labels cycle per 6 clips)'),
                      ('pretrain_epochs', 'epochs of both pretrainings'),
                      ('ft_epochs', 'epochs of every fine-tuning run')):
        p.add_argument('--' + key.replace('_', '-'), type=int, default=None,
                       help=f'{what} (default {DEFAULTS[key]})')
    p.add_argument('--seeds', type=int, nargs='+', default=None,
                   help='fine-tuning seeds (default 0 1)')
    p.add_argument('--runs', nargs='+', choices=list(RUNS),
                   default=list(RUNS))
    p.add_argument('--eval-split', choices=('val', 'test'), default='val',
                   help='val to choose settings, test to report')
    p.add_argument('--skip-pretrain', action='store_true',
                   help='reuse WORK_DIR/pretrain_*/epoch_<E>.pth')
    p.add_argument('--no-vis', action='store_true',
                   help='skip the cross-modal prediction pictures')
    p.add_argument('--quick', action='store_true',
                   help='smoke run: tiny splits, few epochs, one seed')
    args = p.parse_args(argv)
    for key, value in {**DEFAULTS, **(QUICK if args.quick else {})}.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if not 0 < args.labelled <= args.num_train:
        p.error(f'--labelled must be in 1..{args.num_train}')
    if args.eval_split == 'test' and args.num_test < 1:
        p.error('--eval-split test needs --num-test >= 1')
    return args


def _loader_opts(args, loaders=('train_dataloader', 'val_dataloader')):
    if not args.quick:
        return []
    # no worker start-up cost for a few steps
    return [f'{loader}.{k}' for loader in loaders
            for k in ('num_workers=0', 'persistent_workers=False')]


def pretrain(args, kind: str) -> float:
    """One pretraining run on every training clip; returns its time."""
    opts = [f'train_dataloader.dataset.data_root={args.data_root}',
            f'train_cfg.max_epochs={args.pretrain_epochs}',
            # the cosine decay ends with the run
            f'param_scheduler.1.end={args.pretrain_epochs}',
            f'default_hooks.checkpoint.interval={args.pretrain_epochs}',
            'randomness.seed=0', *_loader_opts(args, ('train_dataloader', ))]
    return run_command(
        tool_command('tools/train.py', PRETRAIN[kind], '--work-dir',
                     osp.join(args.work_dir, f'pretrain_{kind}'),
                     cfg_options=opts),
        f'2/4 {kind} pretraining on {args.num_train} clips')


def checkpoint(args, kind: str) -> str:
    return osp.join(args.work_dir, f'pretrain_{kind}',
                    f'epoch_{args.pretrain_epochs}.pth')


def finetune(args, name: str, seed: int) -> dict:
    """Fine-tune one run on the labelled clips and score it on the eval
    split (its last validation); returns the metric, loss and time."""
    cfg, kind = RUNS[name]
    wd = osp.join(args.work_dir, f'{name}_seed{seed}')
    e = args.ft_epochs
    opts = [
        f'train_dataloader.dataset.data_root={args.data_root}',
        f'train_dataloader.dataset.indices={args.labelled}',
        f'val_dataloader.dataset.data_root={args.data_root}',
        f'val_dataloader.dataset.split={args.eval_split}',
        f'train_cfg.max_epochs={e}', f'train_cfg.val_interval={e}',
        f'default_hooks.checkpoint.interval={e}', f'randomness.seed={seed}',
        *_loader_opts(args)
    ]
    opts.append(f'model.backbone.init_cfg.checkpoint={checkpoint(args, kind)}'
                if kind else 'model.backbone.init_cfg=None')
    took = run_command(
        tool_command('tools/train.py', cfg, '--work-dir', wd,
                     cfg_options=opts),
        f'3/4 fine-tune {name}, seed {seed} (scored on {args.eval_split})')
    rec = read_last_record(wd, METRIC)
    return dict(top1=rec.get(METRIC), final_train_loss=read_final_loss(wd),
                time_s=took)


def summarize(args, results: dict, times: dict) -> tuple:
    """The summary dict, whether every run gave its number, the table."""
    rows, ok = {}, True
    scratch = [r['top1'] for r in results.get('scratch-rgb', [])]
    for name in args.runs:
        top1 = [r['top1'] for r in results[name]]
        ok &= None not in top1
        row = dict(top1_per_seed=top1, mean_top1=None, vs_scratch=None,
                   final_train_loss=[r['final_train_loss']
                                     for r in results[name]])
        if None not in top1:
            row['mean_top1'] = 100 * sum(top1) / len(top1)
            if scratch and None not in scratch and name != 'scratch-rgb':
                row['vs_scratch'] = row['mean_top1'] - 100 * sum(
                    scratch) / len(scratch)
        rows[name] = row
    lines = [f'| run | {args.eval_split} top-1 (%) | per seed | vs scratch |',
             '|---|---|---|---|']
    for name, row in rows.items():
        per = ', '.join('-' if v is None else f'{100 * v:.1f}'
                        for v in row['top1_per_seed'])
        mean = '-' if row['mean_top1'] is None else f'{row["mean_top1"]:.1f}'
        gap = '' if row['vs_scratch'] is None else \
            f'{row["vs_scratch"]:+.1f}'
        lines.append(f'| {name} | {mean} | {per} | {gap} |')
    settings = {k: getattr(args, k) for k in DEFAULTS if k != 'work_dir'}
    probes, probe_lines = probe_table({
        label: (osp.join(args.work_dir, f'pretrain_{kind}'), prefix)
        for label, (kind, prefix) in PROBES.items()
    })
    summary = dict(settings=dict(settings, eval_split=args.eval_split,
                                 runs=args.runs),
                   runs=rows, probes=probes, times_s=times,
                   chance_top1=100 / 6)
    if any(probes.values()):
        lines = ['frozen-feature probes of the pretrained encoders (val '
                 'top-1 %, bank: all training clips):', *probe_lines, '',
                 f'fine-tuning on {args.labelled} labelled clips:', *lines]
    return summary, ok, lines


def demo(args):
    """Data, both pretrainings, fine-tuning, summary, picture."""
    os.chdir(ROOT)
    t0 = time.time()
    from mmmae.datasets.demo import make_scene_video_dataset
    print(f'[demo] 1/4 data: rendered scene videos in {args.data_root}',
          flush=True)
    make_scene_video_dataset(args.data_root, num_train=args.num_train,
                             num_val=args.num_val, num_test=args.num_test)
    times = dict(data=time.time() - t0)
    for kind in sorted({RUNS[n][1] for n in args.runs} - {None}):
        if args.skip_pretrain:
            if not osp.isfile(checkpoint(args, kind)):
                raise RecipeError(f'--skip-pretrain: no '
                                  f'{checkpoint(args, kind)}')
            continue
        times[f'pretrain {kind}'] = pretrain(args, kind)
    results = {}
    for seed in args.seeds:
        for name in args.runs:
            r = finetune(args, name, seed)
            results.setdefault(name, []).append(r)
            times[f'{name} s{seed}'] = r['time_s']
    if not args.no_vis and osp.isfile(checkpoint(args, 'mm')):
        from mmmae.apis import visualize_multimodal_video
        print('[demo] 4/4 cross-modal predictions from RGB tubes', flush=True)
        recs = visualize_multimodal_video(
            PRETRAIN['mm'], checkpoint(args, 'mm'), args.data_root,
            osp.join(args.work_dir, 'cross_modal'), split=args.eval_split,
            max_clips=2)
        write_json([r['metrics'] for r in recs],
                   osp.join(args.work_dir, 'cross_modal', 'metrics.json'))
    times['total'] = time.time() - t0
    summary, ok, lines = summarize(args, results, times)
    from mmmae.visualization.probe_curve import plot_probe_table
    plot_probe_table(summary['probes'],
                     osp.join(args.work_dir, 'probe_curves.png'),
                     chance=summary['chance_top1'] / 100)
    out = report_summary(summary, lines, args.work_dir)
    print(f'[demo] summary: {out}')
    print(f'[demo] time: {format_times(times)}')
    if not ok:
        raise RecipeError('the run did not produce its outputs; see the log')


def main(argv=None):
    args = parse_args(argv)
    return run_cli(lambda: demo(args), RecipeError, prefix='[demo] ')


if __name__ == '__main__':
    sys.exit(main())
