# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAE demo: does multi-modal pretraining pay off with few labels?

1. make (or reuse) the ray-cast scenes (RGB, exact z-depth, 6-class
   semseg): ``--num-train`` training, ``--num-val`` val and ``--num-test``
   test images of 64x64;
2. pretrain a tiny MultiMAE (4 x 128, patch 8) on EVERY training image
   without labels: RGB + depth by default
   (``configs/multimae/multimae_vit-tiny-p8_1xb16-60e_scenes-rgbd.py``);
   ``--pretrain-modalities rgb-depth-semseg`` adds the scenes' semseg, which
   is ground truth here, so those images are then labelled. A ProbeHook
   logs the patch probe of the frozen encoder fed RGB alone: each 8x8 patch
   token labelled with its majority class, a logistic regression (and a
   10-NN vote) fit on the patches of the ``--labelled`` images and scored on
   val, as patch top-1 and patch mIoU, with the random-init value at step 0
   (the baseline the curve must rise above);
3. fine-tune on the first ``--labelled`` training images only, for each
   task (segmentation from RGB, segmentation from RGB-D, depth from RGB;
   ``configs/multimae/{segmentation,depth}/*scenes*``) and each seed, from
   the pretrained encoder and from scratch (``--scratch-epochs`` /
   ``--scratch-cfg-options`` give the baseline its own recipe);
4. score every fine-tuned model (its last weights) on ``--eval-split``: the
   run's one validation, after its last epoch, reads that split;
5. print a table per task (per-seed mIoU, or delta1 and abs-rel for depth;
   the pretrained - scratch mean gap and the number of seeds where
   pretrained is ahead) and write ``WORK_DIR/summary.json`` and
   ``WORK_DIR/pretrain/probe_curve.png``.

Choose settings with ``--eval-split val`` and report on test. The schedules
follow ``--*-epochs`` (tools/train.py rescales the param schedulers).
``--quick`` is a 1-2 minute smoke run (tiny splits, a few epochs, 1 seed)
in its own data and work folders; its numbers mean nothing.

Usage::

    python tools/demo_multimae.py [--work-dir work_dirs/demo_multimae]
    python tools/demo_multimae.py --quick
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from demo import _newest, add_run_args, read_losses, run  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PRETRAIN_CFGS = {
    'rgb-depth': 'configs/multimae/multimae_vit-tiny-p8_1xb16-60e_'
    'scenes-rgbd.py',
    'rgb-depth-semseg': 'configs/multimae/multimae_vit-tiny-p8_1xb16-60e_'
    'scenes.py',
}
SEG_CFG = ('configs/multimae/segmentation/multimae_vit-tiny-p8_convnext_'
           '1xb16-20e_scenes-{}-64x64.py')
# task -> (config, main metric, further metrics, higher is better)
TASKS = {
    'seg-rgb': (SEG_CFG.format('rgb'), 'mIoU', ('aAcc', 'mAcc'), True),
    'seg-rgbd': (SEG_CFG.format('rgbd'), 'mIoU', ('aAcc', 'mAcc'), True),
    'depth': ('configs/multimae/depth/multimae_vit-tiny-p8_dpt_1xb16-20e_'
              'scenes-64x64.py', 'd1', ('abs_rel', 'rmse'), True),
}
TASK_NAMES = {
    'seg-rgb': 'segmentation from RGB',
    'seg-rgbd': 'segmentation from RGB-D',
    'depth': 'depth from RGB',
}
PROBE_KEY = 'probe/linear_miou'
PROBE_KEYS = ('probe/linear_miou', 'probe/linear_top1', 'probe/knn_miou',
              'probe/knn_top1')
# None in parse_args = these, or QUICK's with --quick
DEFAULTS = dict(data_root='data/scenes', work_dir='work_dirs/demo_multimae',
                num_train=1000, labelled=100, num_val=100, num_test=100,
                seeds=[0, 1])
QUICK = dict(data_root='data/scenes_quick',
             work_dir='work_dirs/demo_multimae_quick', num_train=32,
             labelled=16, num_val=8, num_test=8, seeds=[0],
             pretrain_epochs=6, ft_epochs=3)  # just past the warmups


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--data-root', default=None,
                   help=f'default {DEFAULTS["data_root"]} '
                   f'({QUICK["data_root"]} with --quick)')
    p.add_argument('--work-dir', default=None,
                   help=f'default {DEFAULTS["work_dir"]} '
                   f'({QUICK["work_dir"]} with --quick)')
    p.add_argument('--num-train', type=int, default=None,
                   help='training images, all used (without labels) by '
                   f'pretraining (default {DEFAULTS["num_train"]})')
    p.add_argument('--labelled', type=int, default=None,
                   help='fine-tune on the first N training images; also '
                   f'the probe bank (default {DEFAULTS["labelled"]})')
    p.add_argument('--num-val', type=int, default=None,
                   help=f'default {DEFAULTS["num_val"]}')
    p.add_argument('--num-test', type=int, default=None,
                   help=f'default {DEFAULTS["num_test"]}')
    p.add_argument('--pretrain-modalities', choices=list(PRETRAIN_CFGS),
                   default='rgb-depth',
                   help='what pretraining reads of every training image; '
                   'semseg is ground truth in these scenes')
    p.add_argument('--pretrain-epochs', type=int, default=None,
                   help='default: the config (60); more than its 5 warmup '
                   'epochs')
    p.add_argument('--ft-epochs', type=int, default=None,
                   help='fine-tuning epochs from the pretrained encoder '
                   '(default: the config, 20; more than 2 warmup epochs)')
    p.add_argument('--scratch-epochs', type=int, default=None,
                   help='fine-tuning epochs of the scratch baseline '
                   '(default: as --ft-epochs)')
    p.add_argument('--pretrain-seed', type=int, default=0)
    p.add_argument('--seeds', type=int, nargs='+', default=None,
                   help='one pretrained and one scratch run per task and '
                   f'seed (default {DEFAULTS["seeds"]})')
    p.add_argument('--tasks', nargs='+', choices=list(TASKS),
                   default=list(TASKS))
    p.add_argument('--quick', action='store_true',
                   help='smoke run: tiny splits, a few epochs, 1 seed')
    add_run_args(p)
    args = p.parse_args(argv)
    for key, value in {**DEFAULTS, **(QUICK if args.quick else {})}.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.scratch_epochs is None:
        args.scratch_epochs = args.ft_epochs
    if not 0 < args.labelled <= args.num_train:
        p.error(f'--labelled must be in 1..--num-train ({args.num_train}), '
                f'got {args.labelled}')
    if min(args.num_val, args.num_test if args.eval_split == 'test' else
           1) < 1:
        p.error('--num-val (and --num-test for --eval-split test) must be '
                '>= 1')
    return args


def _probe_index(cfg_path):
    from mmengine.config import Config
    hooks = Config.fromfile(cfg_path).custom_hooks
    return next(i for i, h in enumerate(hooks) if 'ProbeHook' in h['type'])


def pretrain(args, cfg_path, pre_dir, epochs):
    """Run tools/train.py on the pretraining config; return its time."""
    i = _probe_index(cfg_path)
    hook = f'custom_hooks.{i}'
    opts = [
        f'train_dataloader.dataset.data_root={args.data_root}',
        f'{hook}.train_dataloader.dataset.data_root={args.data_root}',
        f'{hook}.train_dataloader.dataset.indices={args.labelled}',
        f'{hook}.val_dataloader.dataset.data_root={args.data_root}',
        f'train_cfg.max_epochs={epochs}',
        f'randomness.seed={args.pretrain_seed}',
    ]
    if args.quick:
        opts += ['train_dataloader.num_workers=0',
                 'train_dataloader.persistent_workers=False']
    return run([
        sys.executable, 'tools/train.py', cfg_path, '--work-dir', pre_dir,
        '--cfg-options', *opts, *args.cfg_options
    ], f'2/3 MultiMAE pretraining on {args.num_train} images '
        f'({args.pretrain_modalities}; probe on val)')


def read_metrics(work_dir, key):
    """Last record holding ``key`` in the newest scalars.json of a run (its
    final validation)."""
    log = _newest(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    last = {}
    if log is not None:
        with open(log) as f:
            for line in f:
                rec = json.loads(line)
                if key in rec:
                    last = rec
    return last


def finetune(args, task, name, seed, ckpt):
    """Fine-tune one encoder init on the labelled images, score it on the
    eval split; return its metrics, final loss and time."""
    cfg_path, key, extra, _ = TASKS[task]
    wd = osp.join(args.work_dir, f'{task}_{name}_seed{seed}')
    root = args.data_root
    opts = [
        f'train_dataloader.dataset.data_root={root}/train',
        f'train_dataloader.dataset.indices={args.labelled}',
        f'val_dataloader.dataset.data_root={root}/{args.eval_split}',
        f'test_dataloader.dataset.data_root={root}/{args.eval_split}',
        f'randomness.seed={seed}',
    ]
    epochs = args.ft_epochs if name == 'pretrained' else args.scratch_epochs
    if epochs is not None:
        opts += [f'train_cfg.max_epochs={epochs}',
                 f'train_cfg.val_interval={epochs}',
                 f'default_hooks.checkpoint.interval={epochs}']
    if args.quick:
        opts += [f'{loader}.{k}' for loader in ('train_dataloader',
                                                'val_dataloader')
                 for k in ('num_workers=0', 'persistent_workers=False')]
    if name == 'pretrained':
        opts += [f'model.backbone.init_cfg.checkpoint={ckpt}',
                 *args.ft_cfg_options]
    else:
        opts += ['model.backbone.init_cfg=None', *args.scratch_cfg_options]
    took = run([
        sys.executable, 'tools/train.py', cfg_path, '--work-dir', wd,
        '--cfg-options', *opts
    ], f'3/3 {TASK_NAMES[task]} from {name}, seed {seed} (scored on '
        f'{args.eval_split})')
    rec = read_metrics(wd, key)
    losses = read_losses(wd)
    return dict(metrics={k: rec.get(k) for k in (key, *extra)},
                final_train_loss=list(losses.values())[-1]
                if losses else None,
                time_s=took)


def write_probe_curves(pre_dir, out_png):
    """Probe curves of the pretraining run (``PROBE_KEYS``); the main one
    is plotted. Returns ``{key: curve}`` (empty without a log)."""
    from mmmae.visualization import plot_probe_curve, read_probe_curve
    scalars = _newest(osp.join(pre_dir, '*', 'vis_data', 'scalars.json'))
    if scalars is None:
        return {}
    curves = {k: read_probe_curve(scalars, k) for k in PROBE_KEYS}
    curves = {k: c for k, c in curves.items() if c['steps']}
    if PROBE_KEY in curves:
        plot_probe_curve(
            curves[PROBE_KEY], out_png,
            title='linear patch probe on val, frozen encoder, RGB input',
            ylabel='patch mIoU (%)')
    return curves


def _fmt(v, key, sign=''):
    """mIoU (in %) with 2 decimals, the depth ratios with 3."""
    if v is None:
        return 'n/a'
    return f'{v:{sign}.2f}' if key == 'mIoU' else f'{v:{sign}.3f}'


def summarize(args, results, curves, times, pre_losses):
    """Print a table per task; return the summary dict and whether every
    run gave its metric."""
    summary, ok = {}, True
    print('\n[demo] ===== summary =====')
    print(f'[demo] pretraining: {args.num_train} images '
          f'({args.pretrain_modalities}), fine-tuning: the first '
          f'{args.labelled}; scored on {args.eval_split} '
          f'({args.num_test if args.eval_split == "test" else args.num_val}'
          ' images), last weights')
    if pre_losses:
        first, last = min(pre_losses), max(pre_losses)
        print(f'[demo] pretraining loss: epoch {first} '
              f'{pre_losses[first]:.3f} -> epoch {last} '
              f'{pre_losses[last]:.3f}')
    curve = curves.get(PROBE_KEY)
    if curve:
        pts = ', '.join(f'{s}: {100 * v:.1f}'
                        for s, v in zip(curve['steps'], curve['values']))
        rnd = curve['random']
        print('[demo] probe during pretraining (linear patch mIoU % on val, '
              f'RGB only; step: value): {pts}' +
              (f'; random init {100 * rnd:.1f}' if rnd is not None else ''))
    for task in args.tasks:
        cfg_path, key, extra, higher = TASKS[task]
        runs = results.get(task, {})
        entry = dict(metric=key, seeds=list(args.seeds), config=cfg_path)
        for name in args.runs:
            entry[name] = [runs.get((name, s), {}).get('metrics', {}).get(key)
                           for s in args.seeds]
            for k in extra:
                entry.setdefault('extra', {}).setdefault(k, {})[name] = [
                    runs.get((name, s), {}).get('metrics', {}).get(k)
                    for s in args.seeds]
            entry.setdefault('final_train_loss', {})[name] = [
                runs.get((name, s), {}).get('final_train_loss')
                for s in args.seeds]
        ok &= all(v is not None for n in args.runs for v in entry[n])
        cols = [(n, key) for n in args.runs]
        if task == 'depth':
            cols += [(n, 'abs_rel') for n in args.runs]
        print(f'[demo] {TASK_NAMES[task]} ({task}): {key}'
              + (' (higher is better) and abs_rel (lower is better)'
                 if task == 'depth' else ''))
        print('[demo]   seed' + ''.join(f'{f"{n} {k}":>22}'
                                        for n, k in cols))

        def value(name, k, i):
            vals = entry[name] if k == key else entry['extra'][k][name]
            return vals[i]

        for i, seed in enumerate(args.seeds):
            print(f'[demo]   {seed:>4}' + ''.join(
                f'{_fmt(value(n, k, i), k):>22}' for n, k in cols))
        if set(args.runs) == {'pretrained', 'scratch'} and all(
                v is not None for n in args.runs for v in entry[n]):
            pre, scr = entry['pretrained'], entry['scratch']
            mean = {n: sum(entry[n]) / len(entry[n]) for n in args.runs}
            gap = mean['pretrained'] - mean['scratch']
            ahead = sum((p > s) if higher else (p < s)
                        for p, s in zip(pre, scr))
            entry.update(mean=mean, mean_gap=gap, pretrained_ahead=ahead)
            print(f'[demo]   mean {key}: pretrained '
                  f'{_fmt(mean["pretrained"], key)} vs scratch '
                  f'{_fmt(mean["scratch"], key)} (gap '
                  f'{_fmt(gap, key, "+")}); '
                  f'pretrained ahead in {ahead} of {len(pre)} seeds')
            for k, per_run in entry['extra'].items():
                if all(v is not None for vs in per_run.values()
                       for v in vs):
                    entry.setdefault('extra_mean', {})[k] = {
                        n: sum(vs) / len(vs) for n, vs in per_run.items()}
            if task == 'depth' and 'abs_rel' in entry.get('extra_mean', {}):
                m = entry['extra_mean']['abs_rel']
                print(f'[demo]   mean abs_rel: pretrained '
                      f'{m["pretrained"]:.3f} vs scratch '
                      f'{m["scratch"]:.3f}')
        summary[task] = entry
    summary.update(
        probe=dict(curve, key=PROBE_KEY) if curve else None,
        probe_curves=curves,
        times_s=times,
        final_train_loss=dict(
            pretrain=pre_losses[max(pre_losses)] if pre_losses else None,
            **{t: summary[t]['final_train_loss'] for t in args.tasks}),
        pretrain_loss_per_epoch=pre_losses,
        settings=dict(
            num_train=args.num_train, labelled=args.labelled,
            num_val=args.num_val, num_test=args.num_test,
            eval_split=args.eval_split,
            pretrain_modalities=args.pretrain_modalities,
            pretrain_epochs=args.pretrain_epochs, ft_epochs=args.ft_epochs,
            scratch_epochs=args.scratch_epochs, seeds=list(args.seeds),
            pretrain_seed=args.pretrain_seed, runs=list(args.runs),
            quick=args.quick, cfg_options=list(args.cfg_options),
            ft_cfg_options=list(args.ft_cfg_options),
            scratch_cfg_options=list(args.scratch_cfg_options)))
    return summary, ok


def main(argv=None):
    args = parse_args(argv)
    os.chdir(ROOT)
    t0 = time.time()
    times = {}
    from mmengine.config import Config

    from mmmae.datasets.demo import make_scene_dataset
    print(f'[demo] 1/3 data: ray-cast scenes in {args.data_root}',
          flush=True)
    make_scene_dataset(args.data_root, num_train=args.num_train,
                       num_val=args.num_val, num_test=args.num_test,
                       size=(64, 64))
    times['data'] = time.time() - t0

    cfg_path = PRETRAIN_CFGS[args.pretrain_modalities]
    pre_dir = osp.join(args.work_dir, 'pretrain')
    if args.pretrain_epochs is None:
        args.pretrain_epochs = Config.fromfile(cfg_path).train_cfg[
            'max_epochs']
    pre_ckpt = osp.join(pre_dir, f'epoch_{args.pretrain_epochs}.pth')
    need_ckpt = 'pretrained' in args.runs
    if args.skip_pretrain or not need_ckpt:
        if need_ckpt and not osp.isfile(pre_ckpt):
            sys.exit(f'[demo] --skip-pretrain: no {pre_ckpt}')
    else:
        times['pretrain'] = pretrain(args, cfg_path, pre_dir,
                                     args.pretrain_epochs)

    results = {}
    for task in args.tasks:
        for seed in args.seeds:
            for name in args.runs:
                r = finetune(args, task, name, seed, pre_ckpt)
                results.setdefault(task, {})[(name, seed)] = r
                times[f'{task} {name} s{seed}'] = r['time_s']

    png = osp.join(pre_dir, 'probe_curve.png')
    curves = write_probe_curves(pre_dir, png) if need_ckpt else {}
    pre_losses = read_losses(pre_dir) if need_ckpt else {}
    times['total'] = time.time() - t0
    summary, ok = summarize(args, results, curves, times, pre_losses)
    os.makedirs(args.work_dir, exist_ok=True)
    out = osp.join(args.work_dir, 'summary.json')
    with open(out, 'w') as f:
        json.dump(summary, f, indent=1)
    if curves:
        print(f'[demo] probe curve: {png}')
    print(f'[demo] summary: {out}')
    print('[demo] time: ' + ', '.join(f'{k} {v:.0f}s'
                                      for k, v in times.items()) +
          f' ({times["total"] / 60:.1f} min)')
    pretrained = 'pretrain' in times
    if not ok or pretrained and (not osp.isfile(pre_ckpt)
                                 or PROBE_KEY not in curves):
        sys.exit('[demo] the run did not produce its outputs; see the log')
    return 0


if __name__ == '__main__':
    sys.exit(main())
