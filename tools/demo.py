# Copyright (c) mmmae contributors. All rights reserved.
"""Main job: does VideoMAE pretraining pay off with few labels?

1. make (or reuse) the moving-digits video set (6 motion classes; train,
   val and test clips of disjoint handwriting);
2. pretrain a tiny VideoMAE on every training clip WITHOUT labels; a
   ProbeHook logs the 10-NN top-1 of the frozen encoder on val as it trains
   (and once for the random init), reconstruction images are written;
3. fine-tune on a few labelled training clips per class from the pretrained
   encoder and, as a fair baseline, from scratch with the scratch recipe
   (its own schedule and LR, chosen on val; it trains 4x longer);
4. test every run on the test split (2 clips x 3 crops, last checkpoint);
5. print and write ``WORK_DIR/summary.json``: per-seed top-1, the final
   fine-tuning losses, the probe curve (also a PNG) and the times.

Run through ``bash tools/demo.sh`` (which sets up the environment first).
Settings are chosen with ``--eval-split val``; docs/experiments.md says how.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PRETRAIN_CFG = ('configs/videomae/'
                'videomae_vit-tiny-p8_1xb8-30e_moving-digits.py')
FT_DIR = 'configs/videomae/finetune/'
FINETUNE_CFG = FT_DIR + ('vit-tiny-p8_videomae-moving-digits-pre-30e_'
                         '1xb8-8x4x1-30e_moving-digits-rgb.py')
SCRATCH_CFG = FT_DIR + ('vit-tiny-p8_scratch_1xb8-8x4x1-120e_'
                        'moving-digits-rgb.py')
NUM_CLASSES = 6


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--data-root', default='data/demo')
    p.add_argument('--work-dir', default='work_dirs/demo')
    p.add_argument('--epochs', type=int, default=None,
                   help='pretraining epochs (the cosine schedule follows; '
                   'must exceed the 2 warmup epochs)')
    p.add_argument('--ft-epochs', type=int, default=None,
                   help='fine-tuning epochs of the pretrained encoder (the '
                   'schedule follows; more than the 1 warmup epoch)')
    p.add_argument('--scratch-epochs', type=int, default=None,
                   help='fine-tuning epochs of the scratch baseline')
    p.add_argument('--seed', type=int, default=0,
                   help='seed of the pretraining run')
    p.add_argument('--ft-seeds', type=int, nargs='+', default=[0, 1],
                   help='one pretrained + one scratch fine-tuning run per '
                   'seed (both runs of a pair share the seed)')
    p.add_argument('--labels-per-class', type=int, default=2,
                   help='fine-tune on the first N training clips of each '
                   'class (pretraining uses every training clip without '
                   'labels). 0: all')
    p.add_argument('--num-train', type=int, default=None)
    p.add_argument('--num-val', type=int, default=None)
    p.add_argument('--num-test', type=int, default=None)
    add_run_args(p)
    return p.parse_args(argv)


def add_run_args(p):
    """Options every pretrain-then-fine-tune demo shares (this one and
    ``tools/demo_multimae.py``)."""
    p.add_argument('--eval-split', choices=('test', 'val'), default='test',
                   help='split the fine-tuned models are scored on: val to '
                   'choose settings, test to report')
    p.add_argument('--runs', nargs='+', choices=('pretrained', 'scratch'),
                   default=['pretrained', 'scratch'],
                   help='which fine-tuning runs to make (for sweeps; '
                   'scratch alone skips pretraining)')
    p.add_argument('--skip-pretrain', action='store_true',
                   help='reuse WORK_DIR/pretrain/epoch_<E>.pth')
    p.add_argument('--cfg-options', nargs='+', default=[],
                   help='extra key=value overrides for the pretraining run')
    p.add_argument('--ft-cfg-options', nargs='+', default=[],
                   help='extra key=value overrides for the pretrained '
                   'fine-tuning runs')
    p.add_argument('--scratch-cfg-options', nargs='+', default=[],
                   help='extra key=value overrides for the scratch runs')


def _newest(pattern):
    found = sorted(glob.glob(pattern))
    return found[-1] if found else None


def read_losses(work_dir):
    """Per-epoch mean training loss from the newest MMEngine json log."""
    log = _newest(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    per_epoch = {}
    if log is not None:
        with open(log) as f:
            for line in f:
                rec = json.loads(line)
                if 'loss' in rec and 'epoch' in rec:
                    per_epoch.setdefault(rec['epoch'],
                                         []).append(rec['loss'])
    return {e: sum(v) / len(v) for e, v in sorted(per_epoch.items())}


def read_test_metrics(work_dir):
    """Metrics of the newest ``tools/test.py`` run in ``work_dir``."""
    log = _newest(osp.join(work_dir, '*', '*.json'))
    if log is None:
        return {}
    with open(log) as f:
        return json.load(f)


def run(cmd, what):
    print(f'[demo] {what}: ' + ' '.join(cmd), flush=True)
    tic = time.time()
    subprocess.run(cmd, check=True)
    took = time.time() - tic
    print(f'[demo] {what}: done in {took:.0f}s', flush=True)
    return took


def data_opts(data_root, splits):
    opts = []
    for loader, split in splits:
        opts += [
            f'{loader}.dataset.ann_file={data_root}/{split}.txt',
            f'{loader}.dataset.data_prefix.video={data_root}'
        ]
    return opts


def probe_opts(data_root):
    """``--cfg-options`` that point the pretraining config's ProbeHook at
    ``data_root`` (bank: train split, scored: val split)."""
    from mmengine.config import Config
    hooks = Config.fromfile(PRETRAIN_CFG).custom_hooks
    i = next(i for i, h in enumerate(hooks) if 'ProbeHook' in h['type'])
    return [
        f'custom_hooks.{i}.{loader}.dataset.{key}={value}'
        for loader, split in (('train_dataloader', 'train'),
                              ('val_dataloader', 'val'))
        for key, value in (('ann_file', f'{data_root}/{split}.txt'),
                           ('data_prefix.video', data_root))
    ]


def pretrain(args, pre_dir, pre_epochs):
    """Run tools/train.py on the pretraining config; return its time."""
    opts = data_opts(args.data_root, [('train_dataloader', 'train')])
    opts += probe_opts(args.data_root)
    opts += [f'train_cfg.max_epochs={pre_epochs}',
             f'randomness.seed={args.seed}']
    return run([
        sys.executable, 'tools/train.py', PRETRAIN_CFG, '--work-dir', pre_dir,
        '--cfg-options', *opts, *args.cfg_options
    ], '2/4 VideoMAE pretraining (labels unused; probe on val)')


def finetune_and_test(args, name, cfg_path, epochs, opts, seed):
    """Fine-tune one encoder init, test its last checkpoint."""
    tag = f'{name}, seed {seed}'
    wd = osp.join(args.work_dir, f'finetune_{name}_seed{seed}')
    opts = opts + [f'randomness.seed={seed}']
    if epochs is not None:
        opts += [f'train_cfg.max_epochs={epochs}',
                 f'train_cfg.val_interval={epochs}']
    t_ft = run([
        sys.executable, 'tools/train.py', cfg_path, '--work-dir', wd,
        '--no-validate', '--cfg-options', *opts
    ], f'3/4 fine-tuning ({tag})')
    from mmengine.config import Config
    epochs = epochs or Config.fromfile(cfg_path).train_cfg['max_epochs']
    ckpt = osp.join(wd, f'epoch_{epochs}.pth')
    test_dir = osp.join(wd, 'test')
    t_test = run([
        sys.executable, 'tools/test.py', cfg_path, ckpt, '--work-dir',
        test_dir, '--cfg-options', *opts
    ], f'4/4 test ({tag}, {args.eval_split} split, 2 clips x 3 crops)')
    metrics = read_test_metrics(test_dir)
    losses = read_losses(wd)
    return dict(top1=metrics.get('acc/top1'),
                final_train_loss=list(losses.values())[-1] if losses else None,
                epochs=epochs,
                ckpt=ckpt,
                time_s=t_ft + t_test)


def write_probe_curve(pre_dir, out_png):
    """Probe curve of the pretraining run: dict (also plotted), or None."""
    from mmmae.visualization import plot_probe_curve, read_probe_curve
    scalars = _newest(osp.join(pre_dir, '*', 'vis_data', 'scalars.json'))
    if scalars is None:
        return None
    curve = read_probe_curve(scalars)
    if not curve['steps']:
        return None
    plot_probe_curve(curve, out_png, chance=1 / NUM_CLASSES,
                     title='10-NN top-1 on val, frozen mean-pooled encoder')
    return curve


def summarize(args, runs, curve, times, n_labelled, split):
    """Print the table and the verdict; return the summary dict."""
    top1 = {n: [r['top1'] for s, m, r in runs if m == n]
            for n in ('pretrained', 'scratch')}
    loss = {n: [r['final_train_loss'] for s, m, r in runs if m == n]
            for n in ('pretrained', 'scratch')}
    summary = dict(
        pretrained=top1['pretrained'], scratch=top1['scratch'],
        seeds=list(args.ft_seeds), eval_split=args.eval_split,
        final_train_loss=loss,
        epochs={m: r['epochs'] for s, m, r in runs},
        labelled_clips=n_labelled, labelled_split=split,
        labels_per_class=args.labels_per_class,
        probe=curve, times_s=times)
    print('\n[demo] ===== summary =====')
    if curve:
        pts = ', '.join(f'{s}: {100 * v:.0f}%'
                        for s, v in zip(curve['steps'], curve['values']))
        print(f'[demo] probe during pretraining (10-NN top-1 on val, step: '
              f'value): {pts}; random init {100 * curve["random"]:.0f}%')
    print(f'[demo] fine-tuning on {n_labelled} labelled clips ({split}.txt); '
          f'scored on the {args.eval_split} split, {NUM_CLASSES} classes '
          f'(chance {100 / NUM_CLASSES:.1f}%), 2 clips x 3 crops')
    print(f'[demo]   {"encoder":<11}{"seed":>5}{"epochs":>8}{"top-1":>8}'
          f'{"final train loss":>18}')
    for seed, name, r in runs:
        top = f'{100 * r["top1"]:7.1f}%' if r['top1'] is not None else \
            '    n/a'
        fl = r['final_train_loss']
        print(f'[demo]   {name:<11}{seed:>5}{r["epochs"]:>8}{top}'
              + (f'{fl:18.3f}' if fl is not None else ''))
    ok = all(v is not None for vs in top1.values() for v in vs)
    if ok and all(top1.values()):
        mean = {n: 100 * sum(v) / len(v) for n, v in top1.items()}
        gap = mean['pretrained'] - mean['scratch']
        wins = sum(p > s for p, s in zip(top1['pretrained'],
                                         top1['scratch']))
        summary['mean_gap_points'] = gap
        verdict = ('pretraining helped' if gap > 0 and wins == len(
            args.ft_seeds) else 'pretraining did NOT clearly help')
        print(f'[demo] {verdict}: pretrained {mean["pretrained"]:.1f}% vs '
              f'scratch {mean["scratch"]:.1f}% mean top-1 ({gap:+.1f} '
              f'points), ahead in {wins} of {len(args.ft_seeds)} seeds')
    return summary, ok


def main(argv=None):
    args = parse_args(argv)
    os.chdir(ROOT)
    t0 = time.time()
    times = {}
    from mmengine.config import Config

    from mmmae.datasets.demo import make_demo_dataset, write_labelled_subset
    kw = {k: getattr(args, k) for k in ('num_train', 'num_val', 'num_test')
          if getattr(args, k) is not None}
    print('[demo] 1/4 data: moving digits (class = motion only)', flush=True)
    make_demo_dataset(args.data_root, **kw)
    times['data'] = time.time() - t0

    pre_dir = osp.join(args.work_dir, 'pretrain')
    pre_epochs = args.epochs or Config.fromfile(PRETRAIN_CFG).train_cfg[
        'max_epochs']
    pre_ckpt = osp.join(pre_dir, f'epoch_{pre_epochs}.pth')
    # a scratch-only run (e.g. the baseline of a study) needs no checkpoint
    need_ckpt = 'pretrained' in args.runs
    if args.skip_pretrain or not need_ckpt:
        if need_ckpt and not osp.isfile(pre_ckpt):
            sys.exit(f'[demo] --skip-pretrain: no {pre_ckpt}')
    else:
        times['pretrain'] = pretrain(args, pre_dir, pre_epochs)

    sub = write_labelled_subset(args.data_root, args.labels_per_class)
    split, n_labelled = sub['split'], sub['num_clips']
    base = data_opts(args.data_root, [('train_dataloader', split),
                                      ('test_dataloader', args.eval_split)])
    runs = []  # (seed, name, result)
    for seed in args.ft_seeds:
        for name, cfg_path, epochs, extra in (
            ('pretrained', FINETUNE_CFG, args.ft_epochs,
             [f'model.backbone.init_cfg.checkpoint={pre_ckpt}',
              *args.ft_cfg_options]),
            ('scratch', SCRATCH_CFG, args.scratch_epochs,
             list(args.scratch_cfg_options)),
        ):
            if name not in args.runs:
                continue
            r = finetune_and_test(args, name, cfg_path, epochs, base + extra,
                                  seed)
            times[f'finetune+test {name} s{seed}'] = r['time_s']
            runs.append((seed, name, r))

    png = osp.join(pre_dir, 'reconstructions', 'probe_curve.png')
    curve = write_probe_curve(pre_dir, png)
    times['total'] = time.time() - t0
    summary, ok = summarize(args, runs, curve, times, n_labelled, split)
    out = osp.join(args.work_dir, 'summary.json')
    with open(out, 'w') as f:
        json.dump(summary, f, indent=1)
    pngs = sorted(glob.glob(osp.join(pre_dir, 'reconstructions', '*.png')))
    print(f'[demo] pretraining checkpoint: {pre_ckpt}')
    print(f'[demo] reconstructions and probe curve ({len(pngs)} PNGs): '
          f'{osp.dirname(png)}')
    print(f'[demo] summary: {out}')
    print('[demo] time: ' + ', '.join(f'{k} {v:.0f}s'
                                      for k, v in times.items()) +
          f' ({times["total"] / 60:.1f} min)')
    pretrained = 'pretrain' in times
    if not ok or pretrained and (not osp.isfile(pre_ckpt) or curve is None):
        sys.exit('[demo] the run did not produce its outputs; see the log')


if __name__ == '__main__':
    main()
