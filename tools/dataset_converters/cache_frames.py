# Copyright (c) mmmae contributors. All rights reserved.
"""Pre-decode a (small) video dataset into memory-mappable frame caches.

Usage::

    python tools/dataset_converters/cache_frames.py \
        data/ucf101/ucf101_train_split_1_videos.txt data/ucf101/videos \
        data/ucf101/frames160 --short-side 160

Every ``path [label]`` line of the annotation list becomes
``OUT/path.npy`` (``(T, H, W, 3)`` uint8 RGB, all frames, short side
resized to ``--short-side``, never upscaled) and a line of ``OUT/<list
name>`` (or ``--out-ann``). Train on it with the same pipeline, replacing
the decoding pair::

    dict(type='mmmae.FrameCacheInit'),          # was DecordInit
    dict(type='mmaction.SampleFrames', ...),
    dict(type='mmmae.VideoDecode'),             # was DecordDecode

and ``ann_file``/``data_prefix`` pointing at the cache. Disk use is
``T * H * W * 3`` bytes per video (see :mod:`mmmae.datasets.frame_cache`);
the tool prints the total. Videos that fail to decode are listed and left
out of the new annotation list. Existing caches are kept unless
``--overwrite`` (so an interrupted run resumes).
"""
import argparse
import os.path as osp
import sys

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('ann_file', help='annotation list: "path [label]" lines')
    p.add_argument('video_root', help='folder the paths are relative to')
    p.add_argument('out_dir', help='folder of the .npy caches')
    p.add_argument('--out-ann', help='annotation list to write '
                   '(default: OUT_DIR/<name of ann_file>)')
    p.add_argument('--short-side', type=int, default=256,
                   help='resize the short side to this (0: keep; never '
                   'upscales). Default 256')
    p.add_argument('--backend', choices=('decord', 'pyav'),
                   default='decord', help='decoder (decord falls back to '
                   'PyAV on failure)')
    p.add_argument('--overwrite', action='store_true')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from tqdm import tqdm

    from mmmae.datasets.frame_cache import cache_dataset
    out_ann, failed = cache_dataset(
        args.ann_file,
        args.video_root,
        args.out_dir,
        out_ann=args.out_ann,
        short_side=args.short_side or None,
        backend=args.backend,
        overwrite=args.overwrite,
        progress=lambda xs: tqdm(xs, desc='caching', unit='video'))
    total, count = 0, 0
    with open(out_ann) as f:
        for line in f:
            if line.strip():
                total += osp.getsize(osp.join(args.out_dir, line.split()[0]))
                count += 1
    print(f'wrote {out_ann}: {count} videos, {total / 2**30:.2f} GiB of '
          f'frames under {args.out_dir}')
    for rel, err in failed:
        print(f'FAILED {rel}: {err}', file=sys.stderr)
    if failed:
        print(f'{len(failed)} videos could not be cached and are not in '
              f'{out_ann}', file=sys.stderr)
    return 1 if failed and not count else 0


if __name__ == '__main__':
    sys.exit(main())
