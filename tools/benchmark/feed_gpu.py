# Copyright (c) mmmae contributors. All rights reserved.
"""End to end vs model only: how much of the training step the data
pipeline lets a run use, with the augmentation on the CPU workers and on the
device.

Writes ``--videos`` realistic H.264 clips (``data_pipeline.make_video``,
320x240 or 1280x720; reused from ``--video-dir``), then for each recipe
(the eager pretraining config and its ``-devaug`` variant by default):

1. builds MMEngine's Runner from the config (data pointed at the videos,
   ``--batch`` clips per step, ``--workers`` DataLoader workers, bf16
   autocast with ``--amp``);
2. **end to end**: ``--iters`` timed ``model.train_step`` calls on batches
   from the real DataLoader (after ``--warmup``), the device synchronised
   at the ends: clips/s;
3. **model only**: the same number of steps on one batch already in host
   memory (the H2D copy and the data preprocessor included, so the
   ``-devaug`` recipe pays its device augmentation here too): clips/s;

and prints clips/s of both and their ratio per recipe, all in one process.

``device-augment-cache-rep4`` is the ``-devaug`` recipe reading a
pre-decoded frame cache of the same videos (``.npy``, short side 256, built
once and untimed) with ``num_repeats=4`` (a batch of ``--batch`` clips is
``--batch / 4`` reads): the lightest load on the workers.
Run it on the GPU machine with the host's cores as workers
(``tools/benchmark/gpu_feed_check.sh``); on a CPU it only checks that the
script works.

Usage::

    python tools/benchmark/feed_gpu.py --device cuda --batch 32 \\
        --workers 14 --amp --iters 30
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile
import time

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(_REPO, 'tools', 'benchmark'))
sys.path.insert(0, _REPO)

CONFIGS = {
    'cpu-augment':
    'configs/videomae/videomae_vit-base-p16_64xb32-800e_kinetics400.py',
    'device-augment':
    'configs/videomae/videomae_vit-base-p16_64xb32-devaug-800e_'
    'kinetics400.py',
}
#: recipe -> (the recipe whose config it uses, repeats); reads the cache
CACHED = {'device-augment-cache-rep4': ('device-augment', 4)}
CACHE_SHORT_SIDE = 256


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--recipes', nargs='+', default=list(CONFIGS),
                   help='names of CONFIGS or CACHED, or NAME=CONFIG pairs')
    p.add_argument('--device', default='cuda')
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--workers', type=int, default=os.cpu_count() - 2)
    p.add_argument('--amp', action='store_true', help='bf16 autocast')
    p.add_argument('--iters', type=int, default=30)
    p.add_argument('--warmup', type=int, default=5)
    p.add_argument('--videos', type=int, default=32)
    p.add_argument('--res', choices=('240', '720'), default='240')
    p.add_argument('--video-dir', help='test videos (created, reused)')
    p.add_argument('--cfg-options', nargs='*', default=[],
                   help='extra key=value overrides for every recipe (e.g. '
                   'a smaller model for a CPU smoke run)')
    p.add_argument('--json', help='write the results here')
    return p.parse_args(argv)


def _cfg_value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def build_runner(config: str,
                 args,
                 ann: str,
                 video_dir: str,
                 work: str,
                 repeats: int = 1):
    """The Runner of ``config`` on the test videos; with ``repeats`` > 1,
    on their frame cache (``video_dir`` holds it) with that many clips per
    read, still ``args.batch`` clips per step."""
    from mmmae.apis.runner import build_runner as build
    from mmmae.apis.runner import prepare_train_config
    options = {
        'train_dataloader.batch_size': args.batch // repeats,
        'train_dataloader.num_workers': args.workers,
        'train_dataloader.persistent_workers': args.workers > 0,
        'train_dataloader.dataset.ann_file': ann,
        'train_dataloader.dataset.data_prefix.video': video_dir,
        'train_dataloader.drop_last': True,
    }
    if args.amp:
        options['optim_wrapper.dtype'] = 'bfloat16'
    for item in args.cfg_options:
        key, value = item.split('=', 1)
        options[key] = _cfg_value(value)
    cfg = prepare_train_config(config, work_dir=work, amp=args.amp,
                               cfg_options=options)
    if repeats > 1:
        data = cfg.train_dataloader
        data.dataset.num_repeats = repeats
        data.collate_fn = dict(type='repeat_pseudo_collate')
        data.dataset.pipeline = [
            dict(type='mmmae.FrameCacheInit')
            if t['type'].split('.')[-1] == 'VideoInit' else t
            for t in data.dataset.pipeline
        ]
    return build(cfg)


def time_steps(runner, batches, device, iters: int) -> float:
    """Seconds for ``iters`` train steps on the batches the iterable
    gives (the device synchronised before and after)."""
    import torch
    model, optim = runner.model, runner.optim_wrapper
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        model.train_step(next(batches), optim)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


def measure(name: str,
            config: str,
            args,
            ann: str,
            video_dir: str,
            work: str,
            repeats: int = 1) -> dict:
    import itertools

    import torch
    runner = build_runner(config, args, ann, video_dir,
                          osp.join(work, name), repeats)
    runner.model.to(args.device)
    runner.model.train()
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    device = torch.device(args.device)
    loader = iter(itertools.cycle(runner.train_dataloader))
    time_steps(runner, loader, device, args.warmup)
    e2e = time_steps(runner, loader, device, args.iters)
    one = next(loader)
    model_only = time_steps(runner, itertools.repeat(one), device,
                            args.iters)
    clips = args.batch * args.iters
    out = dict(config=config, repeats=repeats, e2e_clips_per_s=clips / e2e,
               model_only_clips_per_s=clips / model_only)
    out['e2e_vs_model_only'] = model_only / e2e
    print(f'[feed] {name}: end to end {out["e2e_clips_per_s"]:.1f} '
          f'clips/s, model only {out["model_only_clips_per_s"]:.1f} '
          f'clips/s, ratio {100 * out["e2e_vs_model_only"]:.0f}%',
          flush=True)
    del runner, loader
    return out


def _cycled(ann: str, num: int, tag: str) -> str:
    """An annotation list of at least ``num`` entries cycling through those
    of ``ann``, written next to it."""
    with open(ann) as f:
        names = [line.split()[0] for line in f if line.strip()]
    out = osp.join(osp.dirname(ann), f'feed_{tag}.txt')
    with open(out, 'w') as f:
        f.write(''.join(f'{names[i % len(names)]} 0\n'
                        for i in range(max(num, len(names)))))
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    from data_pipeline import prepare_videos
    video_dir = args.video_dir or tempfile.mkdtemp(prefix='mmmae_feed_')
    os.makedirs(video_dir, exist_ok=True)
    t0 = time.perf_counter()
    ann = prepare_videos(video_dir, args.res, args.videos)
    recipes = {}
    for item in args.recipes:
        name, _, path = item.partition('=')
        base, repeats = CACHED.get(name, (name, 1))
        recipes[name] = (path or CONFIGS[base], repeats)
    data = dict(videos=(ann, video_dir))
    if any(repeats > 1 for _, repeats in recipes.values()):
        from mmmae.datasets.frame_cache import cache_dataset
        cache_root = osp.join(video_dir,
                              f'cache_{args.res}_{CACHE_SHORT_SIDE}')
        cache_ann, failed = cache_dataset(
            ann, video_dir, cache_root, short_side=CACHE_SHORT_SIDE)
        if failed:
            raise RuntimeError(f'could not cache {failed}')
        data['cache'] = (cache_ann, cache_root)
    # enough entries for warm-up + timed steps without an epoch boundary
    need = args.batch * (args.warmup + args.iters + 2)
    for name, (path, root) in data.items():
        data[name] = (_cycled(path, need, name), root)
    print(f'[feed] {args.videos} videos at {args.res}p ready '
          f'({time.perf_counter() - t0:.0f} s); batch {args.batch}, '
          f'{args.workers} workers, {args.iters} timed steps', flush=True)
    work = tempfile.mkdtemp(prefix='mmmae_feed_work_')
    results = dict(
        argv=sys.argv[1:],
        date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
        cpus=os.cpu_count(),
        recipes={
            name: measure(name, path, args,
                          *data['cache' if repeats > 1 else 'videos'], work,
                          repeats)
            for name, (path, repeats) in recipes.items()
        })
    print('| recipe | end to end clips/s | model only clips/s | '
          'end to end / model only |\n|---|---|---|---|')
    for name, r in results['recipes'].items():
        print(f'| {name} | {r["e2e_clips_per_s"]:.1f} | '
              f'{r["model_only_clips_per_s"]:.1f} | '
              f'{100 * r["e2e_vs_model_only"]:.0f}% |')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
