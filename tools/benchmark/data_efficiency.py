# Copyright (c) mmmae contributors. All rights reserved.
"""Data efficiency of VideoMAE: top-1 against the number of labels.

The VideoMAE paper's central claim (its Table 2): masked-autoencoder
pretraining on a small set of videos, then fine-tuning, beats training the
same model from scratch by a wide margin (UCF101 91.3 vs 51.4, HMDB51
62.6 vs 18.0), and the gap grows as data shrinks. This script checks the
direction of that claim at a scale 2 CPU cores can run, with every seed
repeating the whole pipeline:

data
    ``--dataset demo`` (default): the moving-digits set of the main job
    (:mod:`mmmae.datasets.demo.moving_digits`, 6 motion classes, 600
    unlabelled train clips, train / val / test of disjoint handwriting);
    ``--dataset moving-mnist``: 40 classes (digit x motion) of real MNIST
    handwriting at the same geometry (600 train clips).
for every seed
    1. pretrain VideoMAE on all train clips WITHOUT labels (the demo
       pretraining config; its ProbeHook logs a 10-NN probe on val);
    2. for each number of labels per class, fine-tune on the first N train
       clips of every class from the pretrained encoder (the demo recipe)
       and, as the baseline, from scratch (the scratch recipe: its own lr
       and 4x the epochs, chosen on val for scratch); test the LAST
       checkpoint of each on the test split (2 clips x 3 crops);
    3. linear probe: logistic regression on the frozen, mean-pooled
       features of the same N labelled clips per class, for the pretrained
       and for a randomly initialised encoder (L2 strength chosen on val).
summary
    mean +- std over seeds per number of labels, printed as a table;
    ``results.json`` and ``data_efficiency.png`` under ``--work-dir``.

Every run is a real MMEngine ``Runner`` built from the repo configs (data,
seed and length overridden; the schedules follow the length through
:func:`mmmae.engine.follow_train_length`). Nothing is tuned on the test
split: ``--eval-split val`` reports on val instead (for pilots).

Usage::

    python tools/benchmark/data_efficiency.py         # ~50 min, 2 cores
    python tools/benchmark/data_efficiency.py --quick # ~1 min smoke run
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys
import time

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from mmmae.apis.recipes import VIDEO_DEMO_CONFIGS, compare_inits  # noqa: E402
from mmmae.utils.run_logs import epoch_losses  # noqa: E402

PRETRAIN_CFG, FINETUNE_CFG, SCRATCH_CFG = (
    VIDEO_DEMO_CONFIGS[k] for k in ('pretrain', 'finetune', 'scratch'))
# name: (number of classes, default data root)
DATASETS = {'demo': (6, 'data/demo'),
            'moving-mnist': (40, 'data/moving_mnist_15-5-10_32f64px')}
CONDITIONS = (('finetune', 'pretrained'), ('finetune', 'scratch'),
              ('probe', 'pretrained'), ('probe', 'random'))

DEFAULTS = dict(seeds=[0, 1, 2], labels_per_class=[1, 2, 4],
                pretrain_epochs=None, finetune_epochs=None,
                scratch_epochs=None)
# smoke run: 24 / 12 / 12 clips, 3 short epochs (the numbers mean nothing)
QUICK = dict(seeds=[0], labels_per_class=[1], pretrain_epochs=3,
             finetune_epochs=2, scratch_epochs=2)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--work-dir', default='work_dirs/data_efficiency')
    p.add_argument('--dataset', choices=list(DATASETS), default='demo')
    p.add_argument('--data-root', default=None,
                   help='dataset folder (default: per --dataset)')
    p.add_argument('--quick', action='store_true',
                   help='smoke run: tiny data, 1 seed, 1 label per class, '
                   '2-3 epochs each (the numbers mean nothing)')
    p.add_argument('--seeds', type=int, nargs='+')
    p.add_argument('--labels-per-class', type=int, nargs='+')
    p.add_argument('--pretrain-epochs', type=int,
                   help='default: the pretraining config (30)')
    p.add_argument('--finetune-epochs', type=int,
                   help='default: the fine-tuning config (30)')
    p.add_argument('--scratch-epochs', type=int,
                   help='default: the scratch config (120)')
    p.add_argument('--eval-split', choices=('test', 'val'), default='test',
                   help='split the accuracies are reported on (use val for '
                   'pilots, so that nothing is chosen on test)')
    p.add_argument('--runs', nargs='+', choices=('pretrained', 'scratch'),
                   default=['pretrained', 'scratch'],
                   help='which fine-tuning runs to make (for pilots)')
    p.add_argument('--reuse-pretrain', action='store_true',
                   help='reuse WORK_DIR/seed<S>/pretrain/epoch_<E>.pth when '
                   'it exists (pilots of the fine-tuning recipe)')
    p.add_argument('--skip-probe', action='store_true')
    p.add_argument('--num-workers', type=int, default=None,
                   help='dataloader workers (default 1; 0 with --quick)')
    args = p.parse_args(argv)
    settings = dict(DEFAULTS, **(QUICK if args.quick else {}))
    for key in settings:
        value = getattr(args, key, None)
        if value is not None:
            settings[key] = value
    args.settings = settings
    if args.num_workers is None:
        args.num_workers = 0 if args.quick else 1
    return args


def _data(loader, data_root, split, num_workers=None):
    loader.dataset.ann_file = osp.join(data_root, f'{split}.txt')
    loader.dataset.data_prefix = dict(video=data_root)
    if num_workers is not None:
        loader.num_workers = num_workers
        loader.persistent_workers = num_workers > 0


def _length(cfg, path, epochs):
    """Set the run length; the schedulers that ended with the config's own
    run follow (as ``tools/train.py --cfg-options`` does)."""
    from mmengine.config import Config

    from mmmae.engine import follow_train_length
    if epochs:
        cfg.train_cfg.max_epochs = epochs
        follow_train_length(cfg, Config.fromfile(osp.join(ROOT, path)))
    return cfg.train_cfg.max_epochs


def pretrain_config(data_root, work_dir, seed, epochs, num_workers):
    """The demo pretraining config on ``data_root`` (its ProbeHook: bank =
    the first 120 train clips, scored = val)."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, PRETRAIN_CFG))
    _data(cfg.train_dataloader, data_root, 'train', num_workers)
    hooks = []
    for h in cfg.custom_hooks:
        if 'ReconstructionVisHook' in h['type']:
            continue  # pictures: the demo writes them
        if 'ProbeHook' in h['type']:
            _data(h.train_dataloader, data_root, 'train')
            _data(h.val_dataloader, data_root, 'val')
        hooks.append(h)
    cfg.custom_hooks = hooks
    epochs = _length(cfg, PRETRAIN_CFG, epochs)
    cfg.default_hooks.checkpoint.update(interval=epochs, max_keep_ckpts=1)
    return _finish(cfg, work_dir, seed), epochs


def finetune_config(data_root, split, eval_split, work_dir, seed, checkpoint,
                    num_classes, epochs, num_workers):
    """The demo fine-tuning config (``checkpoint``: pretrained encoder) or
    its scratch twin (``checkpoint=None``) on the list ``split``."""
    from mmengine.config import Config
    path = FINETUNE_CFG if checkpoint else SCRATCH_CFG
    cfg = Config.fromfile(osp.join(ROOT, path))
    if checkpoint:
        cfg.model.backbone.init_cfg.checkpoint = checkpoint
    cfg.model.cls_head.num_classes = num_classes
    for aug in cfg.model.data_preprocessor.blending.augments:
        aug.num_classes = num_classes
    _data(cfg.train_dataloader, data_root, split, num_workers)
    _data(cfg.test_dataloader, data_root, eval_split, num_workers)
    # the probe's loader: one centre clip per video, as the val pipeline
    cfg.probe_dataloader = copy.deepcopy(cfg.val_dataloader)
    _data(cfg.probe_dataloader, data_root, split, 0)
    # tested once, after training, never for selection
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.train_cfg.pop('val_interval', None)
    epochs = _length(cfg, path, epochs)
    cfg.default_hooks.checkpoint.update(interval=epochs, max_keep_ckpts=1,
                                        save_last=True)
    return _finish(cfg, work_dir, seed)


def _finish(cfg, work_dir, seed):
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    # unique names: several Runners live in this one process, and MMEngine
    # shares loggers / visualizers / scopes by experiment name
    cfg.experiment_name = (f'{osp.basename(work_dir)}_'
                           f'{time.strftime("%H%M%S")}_{time.time_ns()}')
    cfg.log_level = 'WARNING' if os.environ.get('MMMAE_QUIET') else 'INFO'
    return cfg


def train_and_test(cfg, test=True):
    """Train with a real MMEngine Runner; return (runner, metrics, losses).
    """
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test() if test else {}
    log = osp.join(runner.log_dir, 'vis_data', 'scalars.json')
    losses = list(epoch_losses(log).values()) if osp.isfile(log) else []
    return runner, metrics, losses


def probe_features(cfg, data_root, splits, seed):
    """Mean-pooled features of the frozen encoder a fine-tuning run starts
    from (pretrained or, for the scratch config, the random init of
    ``seed``), one centre clip per video.

    Returns:
        dict[str, tuple[np.ndarray, np.ndarray]]: per split, features
        ``(N, D)`` and labels ``(N,)``.
    """
    import torch
    from mmaction.registry import MODELS
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner

    from mmmae.evaluation.probe import pooled_features
    out = {}
    torch.manual_seed(seed)
    with DefaultScope.overwrite_default_scope('mmaction'):
        model = MODELS.build(cfg.model)
        model.init_weights()
        for split in splits:
            loader = copy.deepcopy(cfg.probe_dataloader)
            _data(loader, data_root, split)
            out[split] = pooled_features(model,
                                         Runner.build_dataloader(loader))
    return out


def run_seed(args, data_root, num_classes, seed, log):
    """Pretrain once; fine-tune and probe for every label count."""
    s, nw = args.settings, args.num_workers
    wd = osp.join(args.work_dir, f'seed{seed}')
    res, times = dict(labels={}), {}
    from mmmae.datasets.demo import write_labelled_subset
    from mmmae.evaluation.probe import linear_top1
    from mmmae.utils.run_logs import read_probe_curve

    tic = time.time()
    cfg, epochs = pretrain_config(data_root, osp.join(wd, 'pretrain'), seed,
                                  s['pretrain_epochs'], nw)
    ckpt = osp.join(wd, 'pretrain', f'epoch_{epochs}.pth')
    if args.reuse_pretrain and osp.isfile(ckpt):
        log(f'seed {seed}: reusing {ckpt}')
    else:
        runner, _, losses = train_and_test(cfg, test=False)
        res['pretrain_loss'] = losses
        scalars = osp.join(runner.log_dir, 'vis_data', 'scalars.json')
        res['pretrain_probe'] = read_probe_curve(scalars)
        times['pretrain'] = time.time() - tic
        curve = res['pretrain_probe']
        log(f'seed {seed}: pretrained {epochs} epochs in '
            f'{times["pretrain"]:.0f}s; loss {losses[0]:.3f} -> '
            f'{losses[-1]:.3f}; 10-NN probe on val '
            f'{100 * (curve["random"] or 0):.1f}% (random init) -> '
            + ' / '.join(f'{100 * v:.1f}' for v in curve['values'][1:]))

    probe_feats = {}
    for k in s['labels_per_class']:
        sub = write_labelled_subset(data_root, k)
        r = res['labels'][str(k)] = dict(num_clips=sub['num_clips'])
        for init, checkpoint in (('pretrained', ckpt), ('scratch', None)):
            if init not in args.runs:
                continue
            tic = time.time()
            ft = finetune_config(
                data_root, sub['split'], args.eval_split,
                osp.join(wd, f'{k}pc_{init}'), seed, checkpoint, num_classes,
                s['finetune_epochs' if checkpoint else 'scratch_epochs'], nw)
            _, metrics, losses = train_and_test(ft)
            took = times[f'{k}pc_{init}'] = time.time() - tic
            r[f'finetune/{init}'] = dict(
                top1=float(metrics['acc/top1']), epochs=len(losses),
                final_train_loss=losses[-1] if losses else None)
            log(f'seed {seed}, {k} label(s)/class: fine-tune ({init}) '
                f'top-1 {100 * metrics["acc/top1"]:.1f}%, final train loss '
                f'{losses[-1]:.3f}, {took:.0f}s')
            if args.skip_probe:
                continue
            probe = 'pretrained' if checkpoint else 'random'
            if probe not in probe_feats:  # train / val / eval: once a seed
                splits = sorted({'train', 'val', args.eval_split})
                probe_feats[probe] = probe_features(ft, data_root, splits,
                                                    seed)
            f = probe_feats[probe]
            keep = _rows(data_root, sub['split'])
            r[f'probe/{probe}'] = dict(top1=linear_top1(
                f['train'][0][keep], f['train'][1][keep],
                *f[args.eval_split], cs=(0.01, 0.1, 1.0), val=f['val']))
            log(f'seed {seed}, {k} label(s)/class: linear probe ({probe}) '
                f'top-1 {100 * r[f"probe/{probe}"]["top1"]:.1f}%')
    res['time_s'] = times
    return res


def _rows(data_root, split):
    """Row indices in ``train.txt`` of the clips listed in ``split``."""
    def read(name):
        with open(osp.join(data_root, f'{name}.txt')) as f:
            return [ln.split()[0] for ln in f.read().splitlines()
                    if ln.strip()]
    index = {path: i for i, path in enumerate(read('train'))}
    return np.asarray([index[path] for path in read(split)])


def summarize(runs, labels):
    """Mean and sample std (ddof=1) of top-1 over seeds, per label count
    and condition, with the seeds where pretraining is ahead."""
    summary = {}
    for k in map(str, labels):
        per = summary[k] = {}
        for kind, init in CONDITIONS:
            key = f'{kind}/{init}'
            vals = [r['labels'][k][key]['top1'] for r in runs.values()
                    if key in r['labels'].get(k, {})]
            if vals:
                per[key] = dict(
                    mean=float(np.mean(vals)), values=vals,
                    std=float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.)
        cmp = compare_inits({i: per.get(f'finetune/{i}', {}).get('values')
                             for i in ('pretrained', 'scratch')}, scale=100)
        if cmp:
            per['gap_points'], per['seeds_ahead'] = cmp['gap'], cmp['ahead']
    return summary


def format_table(summary, n_seeds, split, num_classes):
    lines = ['| labels / class | fine-tune pretrained | fine-tune scratch | '
             'gap (seeds ahead) | linear probe pretrained | linear probe '
             'random |', '|---|---|---|---|---|---|']

    def cell(m):
        return f'{100 * m["mean"]:.1f} +- {100 * m["std"]:.1f}' if m \
            else 'n/a'

    for k, per in summary.items():
        gap = (f'{per["gap_points"]:+.1f} ({per["seeds_ahead"]}/{n_seeds})'
               if 'gap_points' in per else 'n/a')
        lines.append(
            f'| {k} | {cell(per.get("finetune/pretrained"))} | '
            f'{cell(per.get("finetune/scratch"))} | {gap} | '
            f'{cell(per.get("probe/pretrained"))} | '
            f'{cell(per.get("probe/random"))} |')
    lines.append(f'(top-1 on {split} in %, mean +- std over {n_seeds} '
                 f'seed(s); {num_classes} classes, chance '
                 f'{100 / num_classes:.1f}%)')
    return '\n'.join(lines)


def plot(runs, summary, path, title, num_classes):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from mmmae.visualization.probe_curve import draw_probe_curves
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ks = [int(k) for k in summary]
    style = {'finetune/pretrained': ('tab:blue', '-'),
             'finetune/scratch': ('tab:gray', '-'),
             'probe/pretrained': ('tab:blue', ':'),
             'probe/random': ('tab:gray', ':')}
    for key, (color, ls) in style.items():
        ms = [summary[str(k)].get(key) for k in ks]
        if not all(ms):
            continue
        ax.errorbar(ks, [100 * m['mean'] for m in ms],
                    yerr=[100 * m['std'] for m in ms], color=color, ls=ls,
                    marker='o', capsize=3, label=key.replace('/', ', '))
        for k, m in zip(ks, ms):
            ax.plot([k] * len(m['values']), [100 * v for v in m['values']],
                    '.', color=color, alpha=0.5)
    ax.axhline(100 / num_classes, color='r', ls=':', lw=1, label='chance')
    ax.set_xscale('log', base=2)
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set_xlabel('labelled clips per class')
    ax.set_ylabel('top-1 (%)')
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    curves = {f'seed {seed}': r.get('pretrain_probe')
              for seed, r in runs.items()}
    draw_probe_curves(ax2, {k: c for k, c in curves.items()
                            if c and c['steps']},
                      xlabel='pretraining step (0: random init)',
                      ylabel='10-NN top-1 on val (%)',
                      title='probe during pretraining (no labels used)')
    ax2.axhline(100 / num_classes, color='r', ls=':', lw=1)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def make_data(args):
    """Generate (or reuse) the dataset; return (root, number of classes)."""
    num_classes, default_root = DATASETS[args.dataset]
    root = osp.abspath(args.data_root or default_root)
    if args.dataset == 'demo':
        from mmmae.datasets.demo import make_demo_dataset
        sizes = dict(num_train=24, num_val=12, num_test=12) if args.quick \
            else {}
        make_demo_dataset(root, **sizes)
    else:
        from mmmae.datasets.demo.moving_mnist import \
            make_moving_mnist_dataset

        # the demo geometry: 32 frames of 64 x 64, 8 sampled every 4th
        sizes = (1, 1, 1) if args.quick else (15, 5, 10)
        make_moving_mnist_dataset(root, *sizes, num_frames=32, size=64)
    return root, num_classes


def main(argv=None):
    args = parse_args(argv)
    s = args.settings
    os.chdir(ROOT)
    import mmmae  # noqa: F401  (registries, compat workarounds)

    def log(msg):
        # print, not the current MMEngine logger: that is the newest
        # Runner's, which may be at WARNING level (MMMAE_QUIET=1)
        print(f'[data-efficiency] {time.strftime("%H:%M:%S")} {msg}',
              flush=True)

    t0 = time.time()
    data_root, num_classes = make_data(args)
    log(f'settings: {json.dumps(s)}; data {data_root} ({num_classes} '
        f'classes); reporting on {args.eval_split}')
    os.makedirs(args.work_dir, exist_ok=True)
    runs = {}
    for seed in s['seeds']:
        runs[seed] = run_seed(args, data_root, num_classes, seed, log)
    summary = summarize(runs, s['labels_per_class'])
    wall = time.time() - t0
    table = format_table(summary, len(runs), args.eval_split, num_classes)
    result = dict(settings=s, dataset=args.dataset, data_root=data_root,
                  eval_split=args.eval_split, num_classes=num_classes,
                  summary=summary, runs={str(k): v for k, v in runs.items()},
                  wall_time_s=wall, torch_threads=_threads(),
                  command='python tools/benchmark/data_efficiency.py ' +
                  ' '.join(sys.argv[1:] if argv is None else argv))
    json_path = osp.join(args.work_dir, 'results.json')
    with open(json_path, 'w') as f:
        json.dump(result, f, indent=1)
    png = osp.join(args.work_dir, 'data_efficiency.png')
    plot(runs, summary, png,
         f'VideoMAE vs scratch, {args.dataset}, {len(runs)} seed(s), '
         f'{args.eval_split} split', num_classes)
    print(table)
    print(f'wall time {wall / 60:.1f} min; wrote {json_path} and {png}')
    return result


def _threads():
    import torch
    return torch.get_num_threads()


if __name__ == '__main__':
    main()
