# Copyright (c) mmmae contributors. All rights reserved.
"""The VideoMAE paper's ablations at demo scale: masking and pretraining data.

Runs ``tools/demo.py`` once per variant, all with the same number of
pretraining steps; compares the 10-NN probe on val during pretraining (every
250 steps), the fine-tuned top-1 on val (2 labels per class, per seed) and
a scratch baseline. Studies (results: docs/experiments.md)::

    mask   tube masking at ratio 0.5 / 0.75 / 0.9 vs random masking at 0.9;
    data   600 vs 150 in-domain demo clips vs 600 / 2400 moving-MNIST clips.

Usage::

    python tools/analysis/pretrain_studies.py mask
    python tools/analysis/pretrain_studies.py data --work-dir work_dirs/x

Writes ``WORK_DIR/results.json`` (per variant: probe curve, fine-tuning
top-1 per seed, times) and ``WORK_DIR/<study>.png``. Exit status: 0; 1 for
an unknown ``--variants`` name (one line on stderr); 2 for bad options; a
failing run stops the study with its traceback.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

from mmmae.apis.recipes import (VIDEO_DEMO_CONFIGS, RecipeError,
                                probe_hook_index, run_command, study_table,
                                video_list_options, write_json)
from mmmae.datasets.demo import DEMO_CLASSES, make_demo_dataset
from mmmae.utils.cli import run_cli
from mmmae.visualization.probe_curve import plot_study

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = 'tools/demo.py'
PRETRAIN_CFG = VIDEO_DEMO_CONFIGS['pretrain']
DEMO_ROOT = 'data/demo'
NUM_CLASSES = len(DEMO_CLASSES)
BATCH = 8  # the pretraining config's batch size (drop_last=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('study', choices=('mask', 'data'))
    p.add_argument('--work-dir', default=None,
                   help='default: work_dirs/study_<study>')
    p.add_argument('--steps', type=int, default=1500,
                   help='pretraining steps of every variant')
    p.add_argument('--ft-seeds', type=int, nargs='+', default=[0, 1])
    p.add_argument('--variants', nargs='+', default=None,
                   help='run only these variants (names as in the table)')
    p.add_argument('--no-scratch', action='store_true',
                   help='skip the scratch baseline')
    p.add_argument('--resume', action='store_true',
                   help='reuse the runs whose WORK_DIR/<variant>/summary.json '
                   'exists (an interrupted study, or the same variant of '
                   'another study copied there)')
    p.add_argument('--dry-run', action='store_true',
                   help='print the tools/demo.py command of every run as '
                   'JSON lines and exit')
    p.add_argument('--quick', action='store_true',
                   help='smoke run: 40 steps, 1 seed, 2 fine-tuning epochs '
                   '(the numbers mean nothing)')
    args = p.parse_args(argv)
    args.ft_epochs = None
    if args.quick:
        args.steps, args.ft_seeds, args.ft_epochs = 40, [0], 2
    args.work_dir = args.work_dir or f'work_dirs/study_{args.study}'
    return args


def mask_variants(cfg):
    """(name, description, pretraining set, cfg-options) per variant."""
    types = [t['type'].split('.')[-1]
             for t in cfg.train_dataloader.dataset.pipeline]
    key = ('train_dataloader.dataset.pipeline.'
           f'{types.index("TubeMaskGenerator")}')
    out = [(f'tube-{r}', f'tube mask, ratio {r}', None,
            [f'{key}.mask_ratio={r}']) for r in (0.5, 0.75, 0.9)]
    out.append(('random-0.9', 'random (per-token) mask, ratio 0.9', None,
                [f'{key}.type=RandomMaskGenerator', f'{key}.mask_ratio=0.9']))
    return out


def data_variants(cfg):
    """(name, description, pretraining set, cfg-options) per variant; a set
    is ``(kind, number of clips)``."""
    return [
        ('demo-600', '600 in-domain clips (the demo set)', ('demo', 600), []),
        ('demo-150', '150 in-domain clips', ('demo', 150), []),
        ('mnist-600', '600 clips of another domain (moving MNIST)',
         ('mnist', 600), []),
        ('mnist-2400', '2400 clips of another domain (moving MNIST)',
         ('mnist', 2400), []),
    ]


def pretraining_set(kind, clips, make=True):
    """cfg-options that point pretraining at ``clips`` clips of ``kind``
    (the probe keeps scoring the demo's own val clips); ``make`` generates
    the other-domain clips."""
    if kind == 'demo':
        return [f'train_dataloader.dataset.indices={clips}']
    per_class = clips // 40
    root = osp.abspath(f'data/moving_mnist_{per_class}pc_32f64px')
    if make:
        from mmmae.datasets.demo.moving_mnist import \
            make_moving_mnist_dataset

        # the demo's geometry: 32 frames of 64 x 64 (8 sampled every 4th)
        make_moving_mnist_dataset(root, per_class, 1, 1, num_frames=32,
                                  size=64)
    return video_list_options(root, [('train_dataloader', 'train')])


def schedule(clips, steps):
    """Epochs giving ~``steps`` steps on ``clips`` clips, and cfg-options
    that keep the warmup near 150 steps (the demo's 2 epochs of 75)."""
    per_epoch = clips // BATCH
    epochs = max(round(steps / per_epoch), 3)
    warmup = min(max(round(150 / per_epoch), 1), epochs - 1)
    return epochs, [f'param_scheduler.0.end={warmup}',
                    f'param_scheduler.1.begin={warmup}']


def demo_command(args, name, pre_opts, epochs, runs):
    """The ``tools/demo.py`` command line of one variant."""
    wd = osp.join(args.work_dir, name)
    cmd = [sys.executable, DEMO, '--work-dir', wd, '--eval-split', 'val',
           '--runs', *runs, '--ft-seeds', *map(str, args.ft_seeds)]
    if args.ft_epochs:
        cmd += ['--ft-epochs', str(args.ft_epochs), '--scratch-epochs',
                str(args.ft_epochs)]
    if epochs:
        cmd += ['--epochs', str(epochs), '--cfg-options', *pre_opts]
    return cmd


def run_variant(args, name, pre_opts, epochs, runs):
    """One ``tools/demo.py`` run; returns its summary dict."""
    done = osp.join(args.work_dir, name, 'summary.json')
    if args.resume and osp.isfile(done):
        print(f'[study] {name}: reusing {done}', flush=True)
        with open(done) as f:
            return json.load(f)
    took = run_command(demo_command(args, name, pre_opts, epochs, runs),
                       name, tag='[study]', report_done=False)
    with open(done) as f:
        summary = json.load(f)
    summary['wall_s'] = took
    write_json(summary, done)
    return summary


def study(args, argv):
    """Every variant's demo run (or command), results and plot."""
    os.chdir(ROOT)
    t0 = time.time()
    from mmengine.config import Config
    if not args.dry_run:
        make_demo_dataset(DEMO_ROOT)
    cfg = Config.fromfile(PRETRAIN_CFG)
    p = probe_hook_index(cfg)
    # the probe every 250 steps, so that the curves share their x values
    probe = [f'custom_hooks.{p}.by_epoch=False',
             f'custom_hooks.{p}.interval={min(250, args.steps // 2)}']
    variants = (mask_variants if args.study == 'mask' else data_variants)(cfg)
    if args.variants:
        unknown = set(args.variants) - {v[0] for v in variants}
        if unknown:
            raise RecipeError(f'unknown variants {sorted(unknown)}; choose '
                              f'from {[v[0] for v in variants]}')
        variants = [v for v in variants if v[0] in args.variants]
    results = {}
    for name, desc, pset, opts in variants:
        kind, clips = pset or ('demo', 600)
        epochs, sched = schedule(clips, args.steps)
        pre = pretraining_set(kind, clips, make=not args.dry_run) + sched
        steps = epochs * (clips // BATCH)
        if args.dry_run:
            print(json.dumps(dict(
                name=name, epochs=epochs, steps=steps,
                cmd=demo_command(args, name, pre + probe + opts, epochs,
                                 ['pretrained']))))
            continue
        s = run_variant(args, name, pre + probe + opts, epochs,
                        ['pretrained'])
        results[name] = dict(description=desc, pretrain_set=[kind, clips],
                             epochs=epochs, steps=steps, probe=s['probe'],
                             top1=s['pretrained'],
                             final_train_loss=s['final_train_loss'],
                             wall_s=s['wall_s'])
    if args.dry_run:
        return
    if not args.no_scratch:
        s = run_variant(args, 'scratch', [], None, ['scratch'])
        results['scratch'] = dict(description='no pretraining (demo scratch '
                                  'recipe)', top1=s['scratch'],
                                  final_train_loss=s['final_train_loss'],
                                  wall_s=s['wall_s'])
    wall = time.time() - t0
    out = write_json(
        dict(study=args.study, steps=args.steps, ft_seeds=args.ft_seeds,
             eval_split='val', variants=results, wall_s=wall,
             command='python tools/analysis/pretrain_studies.py ' +
             ' '.join(sys.argv[1:] if argv is None else argv)),
        osp.join(args.work_dir, 'results.json'))
    png = osp.join(args.work_dir, f'{args.study}.png')
    plot_study(results, png, f'VideoMAE {args.study} study, moving digits, '
               f'{args.steps} pretraining steps', chance=1 / NUM_CLASSES,
               probe_label='10-NN top-1 on val (%)',
               top1_label='fine-tuned top-1 on val (%)',
               top1_title='2 labels per class, one dot per seed')
    print(f'\n[study] {args.study}: probe (10-NN top-1 on val) and '
          f'fine-tuned top-1 on val (2 labels per class)')
    print('\n'.join(study_table(results)))
    print(f'wall time {wall / 60:.1f} min; wrote {png} and {out}')


def main(argv=None):
    args = parse_args(argv)
    return run_cli(lambda: study(args, argv), RecipeError, prefix='')


if __name__ == '__main__':
    sys.exit(main())
