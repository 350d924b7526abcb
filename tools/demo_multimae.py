# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAE demo: does multi-modal pretraining pay off with few labels?

Pretrains a tiny MultiMAE on rendered scenes without labels, fine-tunes
segmentation (RGB, RGB-D) and depth (RGB) on the first ``--labelled``
images from it and from scratch, and writes ``WORK_DIR/summary.json`` and
``WORK_DIR/pretrain/probe_curve.png``; the steps: :mod:`mmmae.apis.recipes`
and docs/multimae_downstream.md. ``--quick``: a 1-2 minute smoke run in
its own folders (its numbers mean nothing).

Usage::

    python tools/demo_multimae.py [--work-dir work_dirs/demo_multimae]
    python tools/demo_multimae.py --quick

Exit status: 0 when every run gave its metric; 1 when one did not, or
``--skip-pretrain`` finds no checkpoint (one ``[demo]`` line on stderr); 2
for bad options; a failing training run stops it with its traceback.
"""
import argparse
import os
import os.path as osp
import sys
import time

from mmmae.apis.recipes import (DenseTask, RecipeError, add_run_args,
                                check_outputs, format_times,
                                pretraining_needed, probe_hook_index,
                                report_summary, run_command,
                                summarize_dense_demo, tool_command)
from mmmae.utils.cli import run_cli
from mmmae.utils.run_logs import (read_final_loss, read_last_record,
                                  read_losses)
from mmmae.visualization.probe_curve import plot_run_probe_curves

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PRETRAIN_CFGS = {
    'rgb-depth': 'configs/multimae/multimae_vit-tiny-p8_1xb16-60e_'
    'scenes-rgbd.py',
    'rgb-depth-semseg': 'configs/multimae/multimae_vit-tiny-p8_1xb16-60e_'
    'scenes.py',
}
SEG_CFG = ('configs/multimae/segmentation/multimae_vit-tiny-p8_convnext_'
           '1xb16-20e_scenes-{}-64x64.py')
TASKS = {
    'seg-rgb': DenseTask(SEG_CFG.format('rgb'), 'mIoU',
                         'segmentation from RGB', ('aAcc', 'mAcc')),
    'seg-rgbd': DenseTask(SEG_CFG.format('rgbd'), 'mIoU',
                          'segmentation from RGB-D', ('aAcc', 'mAcc')),
    'depth': DenseTask('configs/multimae/depth/multimae_vit-tiny-p8_dpt_'
                       '1xb16-20e_scenes-64x64.py', 'd1', 'depth from RGB',
                       ('abs_rel', 'rmse'), lower_columns=('abs_rel', )),
}
PROBE_KEYS = ('probe/linear_miou', 'probe/linear_top1', 'probe/knn_miou',
              'probe/knn_top1')  # the first is plotted and summarised
PROBE_KEY = PROBE_KEYS[0]
# None in parse_args = these, or QUICK's with --quick
DEFAULTS = dict(data_root='data/scenes', work_dir='work_dirs/demo_multimae',
                num_train=1000, labelled=100, num_val=100, num_test=100,
                seeds=[0, 1])
QUICK = dict(data_root='data/scenes_quick',
             work_dir='work_dirs/demo_multimae_quick', num_train=32,
             labelled=16, num_val=8, num_test=8, seeds=[0],
             pretrain_epochs=6, ft_epochs=3)  # just past the warmups
SETTINGS = ('num_train', 'labelled', 'num_val', 'num_test', 'eval_split',
            'pretrain_modalities', 'pretrain_epochs', 'ft_epochs',
            'scratch_epochs', 'seeds', 'pretrain_seed', 'runs', 'quick',
            'cfg_options', 'ft_cfg_options', 'scratch_cfg_options')


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


def pretrain(args, cfg_path, pre_dir, epochs):
    """Run tools/train.py on the pretraining config; return its time."""
    hook = f'custom_hooks.{probe_hook_index(cfg_path)}'
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
    return run_command(
        tool_command('tools/train.py', cfg_path, '--work-dir', pre_dir,
                     cfg_options=opts + args.cfg_options),
        f'2/3 MultiMAE pretraining on {args.num_train} images '
        f'({args.pretrain_modalities}; probe on val)')


def finetune(args, task, name, seed, ckpt):
    """Fine-tune one encoder init on the labelled images, score it on the
    eval split; return its metrics, final loss and time."""
    spec = TASKS[task]
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
    took = run_command(
        tool_command('tools/train.py', spec.config, '--work-dir', wd,
                     cfg_options=opts),
        f'3/3 {spec.title} from {name}, seed {seed} (scored on '
        f'{args.eval_split})')
    rec = read_last_record(wd, spec.metric)
    return dict(metrics={k: rec.get(k) for k in (spec.metric, *spec.extra)},
                final_train_loss=read_final_loss(wd), time_s=took)


def demo(args):
    """Data, pretraining, fine-tuning per task, summary (see __doc__)."""
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
    if pretraining_needed(args.runs, args.skip_pretrain, pre_ckpt):
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
    curves = plot_run_probe_curves(
        pre_dir, png, PROBE_KEYS, ylabel='patch mIoU (%)',
        title='linear patch probe on val, frozen encoder, RGB input'
    ) if need_ckpt else {}
    pre_losses = read_losses(pre_dir) if need_ckpt else {}
    times['total'] = time.time() - t0
    summary, ok, lines = summarize_dense_demo(
        results, {t: TASKS[t] for t in args.tasks},
        {k: getattr(args, k) for k in SETTINGS}, curves, pre_losses, times,
        PROBE_KEY)
    out = report_summary(summary, lines, args.work_dir)
    if curves:
        print(f'[demo] probe curve: {png}')
    print(f'[demo] summary: {out}')
    print(f'[demo] time: {format_times(times)}')
    check_outputs(ok, 'pretrain' in times, pre_ckpt, PROBE_KEY in curves)


def main(argv=None):
    args = parse_args(argv)
    return run_cli(lambda: demo(args), RecipeError, prefix='[demo] ')


if __name__ == '__main__':
    sys.exit(main())
