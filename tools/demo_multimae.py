# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAE downstream demo: pre-train on rendered scenes, then transfer.

1. make (or reuse) the ray-cast scenes (RGB, exact depth, 6-class semseg);
2. pre-train a tiny MultiMAE on RGB + depth + semseg of the training split
   (``configs/multimae/multimae_vit-tiny-p8_1xb16-60e_scenes.py``);
3. fine-tune, each from the pre-trained encoder and from scratch with the
   same recipe: segmentation from RGB, segmentation from RGB-D, depth from
   RGB (``configs/multimae/{segmentation,depth}/*scenes*``);
4. print mIoU (segmentation) and delta1 (depth) on the validation split,
   pre-trained vs scratch, and write them to ``WORK_DIR/results.json``.

Usage::

    python tools/demo_multimae.py [--work-dir work_dirs/demo_multimae]
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from demo import _newest, read_losses, run  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PRETRAIN_CFG = 'configs/multimae/multimae_vit-tiny-p8_1xb16-60e_scenes.py'
TASKS = {
    'seg-rgb': ('configs/multimae/segmentation/multimae_vit-tiny-p8_'
                'convnext_1xb16-20e_scenes-rgb-64x64.py', 'mIoU'),
    'seg-rgbd': ('configs/multimae/segmentation/multimae_vit-tiny-p8_'
                 'convnext_1xb16-20e_scenes-rgbd-64x64.py', 'mIoU'),
    'depth': ('configs/multimae/depth/multimae_vit-tiny-p8_dpt_1xb16-20e_'
              'scenes-64x64.py', 'd1'),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--data-root', default='data/scenes')
    p.add_argument('--work-dir', default='work_dirs/demo_multimae')
    p.add_argument('--pretrain-epochs', type=int, default=30)
    p.add_argument('--ft-epochs', type=int, default=20)
    p.add_argument('--tasks', nargs='+', default=list(TASKS),
                   choices=list(TASKS))
    p.add_argument('--num-train', type=int, default=200)
    p.add_argument('--num-val', type=int, default=50)
    p.add_argument('--skip-pretrain', action='store_true',
                   help='reuse WORK_DIR/pretrain/epoch_<E>.pth')
    return p.parse_args(argv)


def read_val_metrics(work_dir):
    """The last validation record of the newest MMEngine scalar log."""
    log = _newest(osp.join(work_dir, '*', 'vis_data', '*.json'))
    last = {}
    if log is not None:
        with open(log) as f:
            for line in f:
                rec = json.loads(line)
                if 'loss' not in rec:
                    last = rec
    return last


def main(argv=None):
    args = parse_args(argv)
    os.chdir(ROOT)
    tic = time.time()
    from mmmae.datasets.demo import make_scene_dataset
    make_scene_dataset(args.data_root, num_train=args.num_train,
                       num_val=args.num_val, size=(64, 64))
    py = sys.executable
    pre_dir = osp.join(args.work_dir, 'pretrain')
    ckpt = osp.join(pre_dir, f'epoch_{args.pretrain_epochs}.pth')
    times = {}
    if not (args.skip_pretrain and osp.isfile(ckpt)):
        times['pretrain'] = run([
            py, 'tools/train.py', PRETRAIN_CFG, '--work-dir', pre_dir,
            '--cfg-options', f'train_cfg.max_epochs={args.pretrain_epochs}',
            f'param_scheduler.1.end={args.pretrain_epochs}',
            f'train_dataloader.dataset.data_root={args.data_root}',
            f'default_hooks.checkpoint.interval={args.pretrain_epochs}'
        ], 'pre-training')
    results = {}
    for task in args.tasks:
        cfg, key = TASKS[task]
        for init in ('pretrained', 'scratch'):
            work = osp.join(args.work_dir, f'{task}_{init}')
            init_opt = (f'model.backbone.init_cfg.checkpoint={ckpt}'
                        if init == 'pretrained' else
                        'model.backbone.init_cfg=None')
            e = args.ft_epochs
            times[f'{task}_{init}'] = run([
                py, 'tools/train.py', cfg, '--work-dir', work,
                '--cfg-options', init_opt, f'train_cfg.max_epochs={e}',
                f'train_cfg.val_interval={e}', f'param_scheduler.1.end={e}',
                f'default_hooks.checkpoint.interval={e}',
                f'train_dataloader.dataset.data_root={args.data_root}/train',
                f'val_dataloader.dataset.data_root={args.data_root}/val',
                f'test_dataloader.dataset.data_root={args.data_root}/val'
            ], f'{task} from {init}')
            metrics = read_val_metrics(work)
            results.setdefault(task, {})[init] = metrics.get(key)
    losses = read_losses(pre_dir)
    total = time.time() - tic
    summary = dict(results=results, seconds=times, total_seconds=total,
                   pretrain_loss=losses)
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(summary, f, indent=1)

    print('\n[demo] MultiMAE transfer on the rendered scenes '
          f'({args.num_val} validation images)')
    if losses:
        first, last = losses[min(losses)], losses[max(losses)]
        print(f'  pre-training loss: epoch {min(losses)} {first:.3f} -> '
              f'epoch {max(losses)} {last:.3f}')
    print('  | task | metric | pre-trained | scratch |')
    print('  |---|---|---|---|')
    for task, res in results.items():
        key = TASKS[task][1]

        def fmt(v):
            return '-' if v is None else f'{float(v):.2f}'

        print(f'  | {task} | {key} | {fmt(res.get("pretrained"))} | '
              f'{fmt(res.get("scratch"))} |')
    print(f'  total {total / 60:.1f} min; results in '
          f'{osp.join(args.work_dir, "results.json")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
