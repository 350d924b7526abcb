# Copyright (c) mmmae contributors. All rights reserved.
"""Main job: demo data -> VideoMAE pretraining -> fine-tuning -> test.

1. make (or reuse) the moving-digits video set (6 motion classes);
2. pretrain a tiny VideoMAE on the training clips WITHOUT labels
   (reconstruction images are written every few epochs);
3. fine-tune it on the labelled training clips (``pretrained``) and, with
   the very same recipe, schedule and budget, a randomly initialised copy
   (``scratch``, the official fine-tuning init);
4. test both on the demo test split (= the val split: 2 clips x 3 crops);
5. print a summary: pretraining loss per epoch, top-1 of both runs, paths.

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
PRETRAIN_CFG = ('configs/videomae/'
                'videomae_vit-tiny-p8_1xb8-20e_moving-digits.py')
FT_DIR = 'configs/videomae/finetune/'
# the two fine-tuning runs: the scratch config only swaps the encoder init
FINETUNE_CFG = FT_DIR + ('vit-tiny-p8_videomae-moving-digits-pre-20e_'
                         '1xb8-8x4x1-12e_moving-digits-rgb.py')
SCRATCH_CFG = FT_DIR + ('vit-tiny-p8_scratch_1xb8-8x4x1-12e_'
                        'moving-digits-rgb.py')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--data-root', default='data/demo')
    p.add_argument('--work-dir', default='work_dirs/demo')
    p.add_argument('--epochs', type=int, default=None,
                   help='override max_epochs of the pretraining config')
    p.add_argument('--ft-epochs', type=int, default=None,
                   help='override max_epochs of both fine-tuning runs')
    p.add_argument('--seed', type=int, default=0,
                   help='seed of the pretraining run')
    p.add_argument('--ft-seeds', type=int, nargs='+', default=[0, 1],
                   help='one pretrained + one scratch fine-tuning run per '
                   'seed (both runs of a pair share the seed)')
    p.add_argument('--labels-per-class', type=int, default=20,
                   help='fine-tune on the first N training clips of each '
                   'class (the labelled subset; pretraining uses every '
                   'training clip without labels). 0: all')
    p.add_argument('--num-train', type=int, default=None)
    p.add_argument('--num-val', type=int, default=None)
    p.add_argument('--skip-pretrain', action='store_true',
                   help='reuse WORK_DIR/pretrain/epoch_<E>.pth')
    p.add_argument('--cfg-options', nargs='+', default=[],
                   help='extra key=value overrides for the pretraining '
                   'tools/train.py call')
    return p.parse_args(argv)


def _newest(pattern):
    found = sorted(glob.glob(pattern))
    return found[-1] if found else None


def read_losses(work_dir):
    """Per-epoch mean training loss from the newest MMEngine json log."""
    log = _newest(osp.join(work_dir, '*', 'vis_data', '*.json'))
    if log is None:
        return {}
    per_epoch = {}
    with open(log) as f:
        for line in f:
            rec = json.loads(line)
            if 'loss' in rec and 'epoch' in rec:
                per_epoch.setdefault(rec['epoch'], []).append(rec['loss'])
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


def labelled_subset(data_root, per_class):
    """Write the first ``per_class`` training clips of every class to
    ``train_<per_class>pc.txt``; return its split name."""
    if per_class <= 0:
        return 'train', None
    with open(osp.join(data_root, 'train.txt')) as f:
        lines = [ln for ln in f.read().splitlines() if ln.strip()]
    taken, keep = {}, []
    for ln in lines:
        label = ln.split()[-1]
        if taken.get(label, 0) < per_class:
            taken[label] = taken.get(label, 0) + 1
            keep.append(ln)
    split = f'train_{per_class}pc'
    with open(osp.join(data_root, split + '.txt'), 'w') as f:
        f.write('\n'.join(keep) + '\n')
    return split, len(keep)


def data_opts(prefix, data_root, splits):
    opts = []
    for loader, split in splits:
        opts += [
            f'{loader}.dataset.ann_file={data_root}/{split}.txt',
            f'{loader}.dataset.data_prefix.video={data_root}'
        ]
    return opts


def main(argv=None):
    args = parse_args(argv)
    os.chdir(ROOT)
    t0 = time.time()
    times = {}
    from mmengine.config import Config

    from mmmae.datasets.demo import make_demo_dataset
    kw = {}
    if args.num_train is not None:
        kw['num_train'] = args.num_train
    if args.num_val is not None:
        kw['num_val'] = args.num_val
    print('[demo] 1/4 data: moving digits (class = motion only)', flush=True)
    make_demo_dataset(args.data_root, **kw)
    times['data'] = time.time() - t0

    # -- 2. self-supervised pretraining (no labels) ---------------------
    pre_dir = osp.join(args.work_dir, 'pretrain')
    pre_epochs = args.epochs or Config.fromfile(PRETRAIN_CFG).train_cfg[
        'max_epochs']
    pre_ckpt = osp.join(pre_dir, f'epoch_{pre_epochs}.pth')
    if args.skip_pretrain:
        times['pretrain'] = 0.
        if not osp.isfile(pre_ckpt):
            sys.exit(f'[demo] --skip-pretrain: no {pre_ckpt}')
    else:
        opts = data_opts(None, args.data_root, [('train_dataloader', 'train')])
        opts += [
            f'train_cfg.max_epochs={pre_epochs}',
            f'randomness.seed={args.seed}'
        ]
        opts += args.cfg_options
        times['pretrain'] = run([
            sys.executable, 'tools/train.py', PRETRAIN_CFG, '--work-dir',
            pre_dir, '--cfg-options', *opts
        ], '2/4 VideoMAE pretraining (labels unused)')

    # -- 3./4. fine-tune + test: pretrained encoder vs from scratch -----
    ft_split, n_labelled = labelled_subset(args.data_root,
                                           args.labels_per_class)
    if n_labelled is not None:
        print(f'[demo] fine-tuning on {n_labelled} labelled clips '
              f'({args.labels_per_class} per class, {ft_split}.txt); '
              'pretraining used every training clip without labels',
              flush=True)
    base_opts = data_opts(None, args.data_root,
                          [('train_dataloader', ft_split),
                           ('val_dataloader', 'val'),
                           ('test_dataloader', 'val')])
    if args.ft_epochs is not None:
        base_opts += [
            f'train_cfg.max_epochs={args.ft_epochs}',
            f'train_cfg.val_interval={args.ft_epochs}'
        ]
    runs = []  # (encoder, seed, result)
    for seed in args.ft_seeds:
        ft_opts = base_opts + [f'randomness.seed={seed}']
        for name, cfg_path, extra in (
            ('pretrained', FINETUNE_CFG,
             [f'model.backbone.init_cfg.checkpoint={pre_ckpt}']),
            ('scratch', SCRATCH_CFG, []),
        ):
            tag = f'{name}, seed {seed}'
            wd = osp.join(args.work_dir, f'finetune_{name}_seed{seed}')
            t_ft = run([
                sys.executable, 'tools/train.py', cfg_path, '--work-dir', wd,
                '--cfg-options', *ft_opts, *extra
            ], f'3/4 fine-tuning ({tag})')
            # the LAST checkpoint is tested: the val split is also the test
            # split, so no checkpoint is picked by its val score
            epochs = args.ft_epochs or Config.fromfile(
                cfg_path).train_cfg['max_epochs']
            ckpt = osp.join(wd, f'epoch_{epochs}.pth')
            test_dir = osp.join(wd, 'test')
            t_test = run([
                sys.executable, 'tools/test.py', cfg_path, ckpt,
                '--work-dir', test_dir, '--cfg-options', *ft_opts
            ], f'4/4 test ({tag}, 2 clips x 3 crops)')
            times[f'finetune+test {name} s{seed}'] = t_ft + t_test
            metrics = read_test_metrics(test_dir)
            runs.append((name, seed,
                         dict(top1=metrics.get('acc/top1'),
                              top5=metrics.get('acc/top5'),
                              mean1=metrics.get('acc/mean1'),
                              losses=read_losses(wd),
                              ckpt=ckpt,
                              time=t_ft + t_test)))

    # -- summary --------------------------------------------------------
    losses = read_losses(pre_dir)
    pngs = sorted(glob.glob(osp.join(pre_dir, 'reconstructions', '*.png')))
    total = time.time() - t0
    print('\n[demo] ===== summary =====')
    if losses:
        print('[demo] pretraining loss (mean per epoch, L2 on '
              'per-patch normalized pixels):')
        items = list(losses.items())
        for i in range(0, len(items), 8):
            print('[demo]   ' + '  '.join(f'{e:>2}: {v:.4f}'
                                          for e, v in items[i:i + 8]))
    print('[demo] fine-tuning: same config, schedule, augmentation, seeds '
          'and budget; only the encoder init differs')
    print(f'[demo]   labelled clips: {n_labelled or "all"} '
          f'({ft_split}.txt); test split: {args.num_val or 60} clips, '
          '6 classes (chance 16.7%), 2 clips x 3 crops, last checkpoint')

    def fmt(v):
        return f'{100 * v:6.1f}%' if v is not None else '    n/a'

    print(f'[demo]   {"encoder":<11}{"seed":>5}{"top-1":>8}{"top-5":>8}'
          f'{"mean-1":>8}{"last ft loss":>14}  time')
    for name, seed, r in runs:
        ft_last = list(r['losses'].values())[-1] if r['losses'] else None
        loss_s = f'{ft_last:14.4f}' if ft_last is not None else ' ' * 14
        print(f'[demo]   {name:<11}{seed:>5} {fmt(r["top1"])} '
              f'{fmt(r["top5"])} {fmt(r["mean1"])}{loss_s}'
              f'  {r["time"]:.0f}s')
    top1 = {
        n: [r['top1'] for m, _, r in runs if m == n]
        for n in ('pretrained', 'scratch')
    }
    ok = all(v is not None for vs in top1.values() for v in vs)
    if ok:
        mean = {n: sum(v) / len(v) for n, v in top1.items()}
        diff = 100 * (mean['pretrained'] - mean['scratch'])
        wins = sum(p > s for p, s in zip(top1['pretrained'],
                                         top1['scratch']))
        verdict = ('pretraining helped' if diff > 0 else
                   'pretraining did NOT help' if diff < 0 else
                   'no difference')
        k = len(args.ft_seeds)
        print(f'[demo]   {"mean":<11}{k:>4}x {fmt(mean["pretrained"])} '
              f'(pretrained) vs {fmt(mean["scratch"])} (scratch)')
        print(f'[demo] {verdict}: {diff:+.1f} points mean top-1 over {k} '
              f'fine-tuning seed(s); pretrained ahead in {wins} of {k}. '
              'One clip = 1.7 points: small gaps are noise.')
    print(f'[demo] pretraining checkpoint: {pre_ckpt}')
    for name, seed, r in runs:
        print(f'[demo] fine-tuned ({name}, seed {seed}): {r["ckpt"]}')
    print(f'[demo] reconstruction images ({len(pngs)}): '
          f'{osp.dirname(pngs[-1]) if pngs else "none"}')
    print('[demo] time: ' + ', '.join(f'{k} {v:.0f}s'
                                      for k, v in times.items()) +
          f'; total {total:.0f}s ({total / 60:.1f} min)')
    if (not osp.isfile(pre_ckpt) or (not pngs and not args.skip_pretrain)
            or not ok):
        sys.exit('[demo] the run did not produce its outputs; see the log')


if __name__ == '__main__':
    main()
