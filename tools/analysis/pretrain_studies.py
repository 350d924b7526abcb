# Copyright (c) mmmae contributors. All rights reserved.
"""The VideoMAE paper's ablations at demo scale: masking and pretraining data.

Each study is one command (``<= 60 min`` on 2 quiet CPU cores) that runs the
main job (``tools/demo.py``) once per variant, all with the same number of
pretraining *steps*, and compares the variants by

* the probe during pretraining: 10-NN top-1 of the frozen, mean-pooled
  encoder on the demo's val clips (bank: the first 120 demo train clips),
  every 250 steps and for the random init;
* fine-tuning: the pretrained encoder fine-tuned on 2 labelled demo clips
  per class (the demo recipe), top-1 on **val**, one run per seed;
* a scratch baseline (the demo's scratch recipe, no pretraining).

Studies::

    mask   tube masking at ratio 0.5 / 0.75 / 0.9 vs random (per-token)
           masking at 0.9 (paper: tube masking at 90% works best; very
           high ratios still work);
    data   pretraining set size and domain: 600 vs 150 in-domain demo clips
           vs 600 / 2400 clips of another domain (moving MNIST: other
           handwriting, translation only, no rotation or zoom) (paper:
           domain shift matters more than quantity).

Usage::

    python tools/analysis/pretrain_studies.py mask
    python tools/analysis/pretrain_studies.py data --work-dir work_dirs/x

Writes ``WORK_DIR/results.json`` (per variant: probe curve, fine-tuning
top-1 per seed, times) and ``WORK_DIR/<study>.png`` (probe curves and
fine-tuning top-1).
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = 'tools/demo.py'
PRETRAIN_CFG = ('configs/videomae/'
                'videomae_vit-tiny-p8_1xb8-30e_moving-digits.py')
DEMO_ROOT = 'data/demo'
NUM_CLASSES = 6
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


def _pipeline_index(cfg, type_name):
    types = [t['type'].split('.')[-1]
             for t in cfg.train_dataloader.dataset.pipeline]
    return types.index(type_name)


def _probe_index(cfg):
    return next(i for i, h in enumerate(cfg.custom_hooks)
                if 'ProbeHook' in h['type'])


def mask_variants(cfg):
    """(name, description, pretraining set, cfg-options) per variant."""
    i = _pipeline_index(cfg, 'TubeMaskGenerator')
    key = f'train_dataloader.dataset.pipeline.{i}'
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
    return [f'train_dataloader.dataset.ann_file={root}/train.txt',
            f'train_dataloader.dataset.data_prefix.video={root}']


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
    wd = osp.join(args.work_dir, name)
    done = osp.join(wd, 'summary.json')
    if args.resume and osp.isfile(done):
        print(f'[study] {name}: reusing {done}', flush=True)
        with open(done) as f:
            return json.load(f)
    cmd = demo_command(args, name, pre_opts, epochs, runs)
    print(f'[study] {name}: ' + ' '.join(cmd), flush=True)
    tic = time.time()
    subprocess.run(cmd, check=True)
    with open(done) as f:
        summary = json.load(f)
    summary['wall_s'] = time.time() - tic
    with open(done, 'w') as f:
        json.dump(summary, f, indent=1)
    return summary


def plot(results, path, title):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    names = [n for n in results if n != 'scratch']
    for n in names:
        c = results[n]['probe']
        ax.plot(c['steps'], [100 * v for v in c['values']], 'o-', ms=3,
                label=n)
    ax.axhline(100 / NUM_CLASSES, color='r', ls=':', label='chance')
    ax.set_xlabel('pretraining step')
    ax.set_ylabel('10-NN top-1 on val (%)')
    ax.set_title('probe during pretraining (step 0: random init)',
                 fontsize=9)
    ax.legend(fontsize=8)
    bars = names + (['scratch'] if 'scratch' in results else [])
    for i, n in enumerate(bars):
        vals = [100 * v for v in results[n]['top1']]
        ax2.bar(i, sum(vals) / len(vals), alpha=0.7,
                color='tab:gray' if n == 'scratch' else 'tab:blue')
        ax2.plot([i] * len(vals), vals, 'k.')
    ax2.set_xticks(range(len(bars)), bars, fontsize=8)
    ax2.set_ylabel('fine-tuned top-1 on val (%)')
    ax2.set_title('2 labels per class, one dot per seed', fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    os.chdir(ROOT)
    t0 = time.time()
    import mmmae  # noqa: F401  (registries, compat workarounds)
    from mmengine.config import Config

    from mmmae.datasets.demo import make_demo_dataset
    if not args.dry_run:
        make_demo_dataset(DEMO_ROOT)
    cfg = Config.fromfile(PRETRAIN_CFG)
    p = _probe_index(cfg)
    # the probe every 250 steps, so that the curves share their x values
    probe = [f'custom_hooks.{p}.by_epoch=False',
             f'custom_hooks.{p}.interval={min(250, args.steps // 2)}']
    variants = (mask_variants if args.study == 'mask' else data_variants)(cfg)
    if args.variants:
        unknown = set(args.variants) - {v[0] for v in variants}
        if unknown:
            sys.exit(f'unknown variants {sorted(unknown)}; choose from '
                     f'{[v[0] for v in variants]}')
        variants = [v for v in variants if v[0] in args.variants]
    if args.dry_run:
        for name, desc, pset, opts in variants:
            kind, clips = pset or ('demo', 600)
            epochs, sched = schedule(clips, args.steps)
            pre = pretraining_set(kind, clips, make=False) + sched + probe
            print(json.dumps(dict(
                name=name, epochs=epochs, steps=epochs * (clips // BATCH),
                cmd=demo_command(args, name, pre + opts, epochs,
                                 ['pretrained']))))
        return
    os.makedirs(args.work_dir, exist_ok=True)
    results = {}
    for name, desc, pset, opts in variants:
        kind, clips = pset or ('demo', 600)
        epochs, sched = schedule(clips, args.steps)
        pre = pretraining_set(kind, clips) + sched + probe + opts
        s = run_variant(args, name, pre, epochs, ['pretrained'])
        results[name] = dict(description=desc, pretrain_set=[kind, clips],
                             epochs=epochs, steps=epochs * (clips // BATCH),
                             probe=s['probe'], top1=s['pretrained'],
                             final_train_loss=s['final_train_loss'],
                             wall_s=s['wall_s'])
    if not args.no_scratch:
        s = run_variant(args, 'scratch', [], None, ['scratch'])
        results['scratch'] = dict(description='no pretraining (demo scratch '
                                  'recipe)', top1=s['scratch'],
                                  final_train_loss=s['final_train_loss'],
                                  wall_s=s['wall_s'])
    wall = time.time() - t0
    out = dict(study=args.study, steps=args.steps, ft_seeds=args.ft_seeds,
               eval_split='val', variants=results, wall_s=wall,
               command='python tools/analysis/pretrain_studies.py ' +
               ' '.join(sys.argv[1:] if argv is None else argv))
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(out, f, indent=1)
    png = osp.join(args.work_dir, f'{args.study}.png')
    plot(results, png, f'VideoMAE {args.study} study, moving digits, '
         f'{args.steps} pretraining steps')
    print(f'\n[study] {args.study}: probe (10-NN top-1 on val) and '
          f'fine-tuned top-1 on val (2 labels per class)')
    print('| variant | steps | probe: random -> 500 / 1000 / last | '
          'fine-tune top-1 per seed | mean |')
    print('|---|---|---|---|---|')
    for n, r in results.items():
        ft = [100 * v for v in r['top1']]
        pr = '-'
        if 'probe' in r:
            c = dict(zip(r['probe']['steps'], r['probe']['values']))
            pts = [c.get(500), c.get(1000), r['probe']['values'][-1]]
            pr = f'{100 * r["probe"]["random"]:.1f} -> ' + ' / '.join(
                '-' if v is None else f'{100 * v:.1f}' for v in pts)
        print(f'| {n} | {r.get("steps", "-")} | {pr} | '
              + ' / '.join(f'{v:.1f}' for v in ft)
              + f' | {sum(ft) / len(ft):.1f} |')
    print(f'wall time {wall / 60:.1f} min; wrote {png} and '
          f'{osp.join(args.work_dir, "results.json")}')


if __name__ == '__main__':
    main()
