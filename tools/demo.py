# Copyright (c) mmmae contributors. All rights reserved.
"""Main job: does VideoMAE pretraining pay off with few labels?

Makes the moving-digits clips, pretrains a tiny VideoMAE on every training
clip without labels (probe curve, reconstructions), fine-tunes it and a
scratch baseline on a few labelled clips per seed, tests both and writes
``WORK_DIR/summary.json``. The steps: :mod:`mmmae.apis.recipes`; results
and how the settings were chosen (``--eval-split val``):
docs/experiments.md.

Usage::

    bash tools/demo.sh               # sets up the environment first
    python tools/demo.py --eval-split val --runs scratch --ft-seeds 0

Exit status: 0 when every run gave its outputs; 1 when one did not, or
``--skip-pretrain`` finds no checkpoint (one ``[demo]`` line on stderr);
a failing training or test run stops the demo with its traceback.
"""
import argparse
import glob
import os
import os.path as osp
import sys
import time

from mmmae.apis.recipes import (VIDEO_DEMO_CONFIGS, RecipeError,
                                add_run_args, check_outputs, format_times,
                                pretraining_needed, probe_hook_index,
                                report_summary, run_command,
                                summarize_video_demo, tool_command,
                                video_list_options)
from mmmae.datasets.demo import (DEMO_CLASSES, make_demo_dataset,
                                 write_labelled_subset)
from mmmae.utils.cli import run_cli
from mmmae.utils.run_logs import read_final_loss, read_test_metrics
from mmmae.visualization.probe_curve import plot_run_probe_curves

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PRETRAIN_CFG, FINETUNE_CFG, SCRATCH_CFG = (
    VIDEO_DEMO_CONFIGS[k] for k in ('pretrain', 'finetune', 'scratch'))
NUM_CLASSES = len(DEMO_CLASSES)


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


def pretrain(args, pre_dir, pre_epochs):
    """Run tools/train.py on the pretraining config; return its time."""
    root = args.data_root
    opts = video_list_options(root, [('train_dataloader', 'train')])
    # the ProbeHook's bank is the train split, it scores the val split
    opts += video_list_options(
        root, [('train_dataloader', 'train'), ('val_dataloader', 'val')],
        prefix=f'custom_hooks.{probe_hook_index(PRETRAIN_CFG)}.')
    opts += [f'train_cfg.max_epochs={pre_epochs}',
             f'randomness.seed={args.seed}']
    return run_command(
        tool_command('tools/train.py', PRETRAIN_CFG, '--work-dir', pre_dir,
                     cfg_options=opts + args.cfg_options),
        '2/4 VideoMAE pretraining (labels unused; probe on val)')


def finetune_and_test(args, name, cfg_path, epochs, opts, seed):
    """Fine-tune one encoder init, test its last checkpoint."""
    tag = f'{name}, seed {seed}'
    wd = osp.join(args.work_dir, f'finetune_{name}_seed{seed}')
    opts = opts + [f'randomness.seed={seed}']
    if epochs is not None:
        opts += [f'train_cfg.max_epochs={epochs}',
                 f'train_cfg.val_interval={epochs}']
    t_ft = run_command(
        tool_command('tools/train.py', cfg_path, '--work-dir', wd,
                     '--no-validate', cfg_options=opts),
        f'3/4 fine-tuning ({tag})')
    from mmengine.config import Config
    epochs = epochs or Config.fromfile(cfg_path).train_cfg['max_epochs']
    ckpt = osp.join(wd, f'epoch_{epochs}.pth')
    test_dir = osp.join(wd, 'test')
    t_test = run_command(
        tool_command('tools/test.py', cfg_path, ckpt, '--work-dir', test_dir,
                     cfg_options=opts),
        f'4/4 test ({tag}, {args.eval_split} split, 2 clips x 3 crops)')
    return dict(top1=read_test_metrics(test_dir).get('acc/top1'),
                final_train_loss=read_final_loss(wd),
                epochs=epochs,
                ckpt=ckpt,
                time_s=t_ft + t_test)


def demo(args):
    """Data, pretraining, fine-tuning and tests, summary (see __doc__)."""
    os.chdir(ROOT)
    t0 = time.time()
    times = {}
    from mmengine.config import Config
    kw = {k: getattr(args, k) for k in ('num_train', 'num_val', 'num_test')
          if getattr(args, k) is not None}
    print('[demo] 1/4 data: moving digits (class = motion only)', flush=True)
    make_demo_dataset(args.data_root, **kw)
    times['data'] = time.time() - t0

    pre_dir = osp.join(args.work_dir, 'pretrain')
    pre_epochs = args.epochs or Config.fromfile(PRETRAIN_CFG).train_cfg[
        'max_epochs']
    pre_ckpt = osp.join(pre_dir, f'epoch_{pre_epochs}.pth')
    if pretraining_needed(args.runs, args.skip_pretrain, pre_ckpt):
        times['pretrain'] = pretrain(args, pre_dir, pre_epochs)

    sub = write_labelled_subset(args.data_root, args.labels_per_class)
    split, n_labelled = sub['split'], sub['num_clips']
    base = video_list_options(args.data_root,
                              [('train_dataloader', split),
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
    curve = plot_run_probe_curves(
        pre_dir, png, chance=1 / NUM_CLASSES,
        title='10-NN top-1 on val, frozen mean-pooled encoder').get(
            'probe/knn_top1')
    times['total'] = time.time() - t0
    summary, ok, lines = summarize_video_demo(
        runs, curve, times, seeds=args.ft_seeds, eval_split=args.eval_split,
        num_classes=NUM_CLASSES, labelled_clips=n_labelled,
        labelled_split=split, labels_per_class=args.labels_per_class)
    out = report_summary(summary, lines, args.work_dir)
    pngs = sorted(glob.glob(osp.join(pre_dir, 'reconstructions', '*.png')))
    print(f'[demo] pretraining checkpoint: {pre_ckpt}')
    print(f'[demo] reconstructions and probe curve ({len(pngs)} PNGs): '
          f'{osp.dirname(png)}')
    print(f'[demo] summary: {out}')
    print(f'[demo] time: {format_times(times)}')
    check_outputs(ok, 'pretrain' in times, pre_ckpt, curve is not None)


def main(argv=None):
    args = parse_args(argv)
    return run_cli(lambda: demo(args), RecipeError, prefix='[demo] ')


if __name__ == '__main__':
    sys.exit(main())
