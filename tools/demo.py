# Copyright (c) mmmae contributors. All rights reserved.
"""Main job: demo data -> VideoMAE pretraining -> reconstructions -> summary.

Run through ``bash tools/demo.sh`` (which sets up the environment first).
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
PRETRAIN_CFG = 'configs/videomae/videomae_vit-tiny-p8_1xb8-30e_moving-digits.py'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--data-root', default='data/demo')
    p.add_argument('--work-dir', default='work_dirs/demo')
    p.add_argument('--epochs', type=int, default=None,
                   help='override max_epochs of the pretraining config')
    p.add_argument('--num-train', type=int, default=None)
    p.add_argument('--num-val', type=int, default=None)
    p.add_argument('--cfg-options', nargs='+', default=[],
                   help='extra key=value overrides for tools/train.py')
    return p.parse_args(argv)


def read_losses(work_dir):
    """Per-epoch mean training loss from the newest MMEngine json log."""
    logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', '*.json')))
    if not logs:
        return {}
    per_epoch = {}
    with open(logs[-1]) as f:
        for line in f:
            rec = json.loads(line)
            if 'loss' in rec and 'epoch' in rec:
                per_epoch.setdefault(rec['epoch'], []).append(rec['loss'])
    return {e: sum(v) / len(v) for e, v in sorted(per_epoch.items())}


def main(argv=None):
    args = parse_args(argv)
    os.chdir(ROOT)
    t0 = time.time()
    from mmmae.datasets.demo import make_demo_dataset
    kw = {}
    if args.num_train is not None:
        kw['num_train'] = args.num_train
    if args.num_val is not None:
        kw['num_val'] = args.num_val
    make_demo_dataset(args.data_root, **kw)

    pre_dir = osp.join(args.work_dir, 'pretrain')
    opts = [
        f'train_dataloader.dataset.ann_file={args.data_root}/train.txt',
        f'train_dataloader.dataset.data_prefix.video={args.data_root}'
    ]
    if args.epochs is not None:
        opts.append(f'train_cfg.max_epochs={args.epochs}')
    opts += args.cfg_options
    cmd = [sys.executable, 'tools/train.py', PRETRAIN_CFG, '--work-dir',
           pre_dir, '--cfg-options', *opts]
    print('[demo] ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True)

    losses = read_losses(pre_dir)
    pngs = sorted(glob.glob(osp.join(pre_dir, 'reconstructions', '*.png')))
    ckpts = sorted(glob.glob(osp.join(pre_dir, 'epoch_*.pth')))
    print('\n[demo] ===== summary =====')
    if losses:
        first, last = next(iter(losses.items())), list(losses.items())[-1]
        print(f'[demo] pretraining loss: epoch {first[0]} {first[1]:.4f} -> '
              f'epoch {last[0]} {last[1]:.4f}')
    print(f'[demo] checkpoints: {ckpts[-1] if ckpts else "none"}')
    print(f'[demo] reconstruction images ({len(pngs)}): '
          f'{osp.dirname(pngs[-1]) if pngs else "none"}')
    print(f'[demo] total time {time.time() - t0:.0f}s')
    if not losses or not pngs or not ckpts:
        sys.exit('[demo] the run did not produce its outputs; see the log')


if __name__ == '__main__':
    main()
