# Copyright (c) mmmae contributors. All rights reserved.
"""Draw VideoMAE reconstructions of videos with a trained checkpoint.

Each PNG shows, for evenly spaced frames, ``original | masked input |
reconstruction (raw prediction) | reconstruction (GT patch statistics)``.
The last column un-normalizes the prediction with the ground-truth mean/std
of every hidden patch (what upstream ``run_videomae_vis.py`` shows): it leaks
the answer. Judge a model by the raw-prediction column.

The clip is read with the config's training pipeline made deterministic
(:func:`mmmae.apis.make_deterministic_pipeline`): frame sampling in test
mode, random crops replaced by a short-side resize and a center crop to the
model input size, flips/colour jitter dropped; the pipeline's mask generator
is kept (``--mask-ratio`` overrides its ratio) and seeded by ``--seed``. The
work is :func:`mmmae.apis.visualize_reconstructions`.

Examples::

    python tools/visualize_reconstruction.py CONFIG CKPT video.mp4 --out vis/
    python tools/visualize_reconstruction.py CONFIG CKPT videos/ --out vis/
    python tools/visualize_reconstruction.py CONFIG CKPT ann.txt --out vis/ \\
        --max-videos 4 --mask-ratio 0.75
"""
import argparse
import os.path as osp
import sys
from typing import List

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _REPO not in sys.path:  # run as a script from a source checkout
    sys.path.insert(0, _REPO)

TAG = '[visualize_reconstruction]'


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(
        description='Visualize VideoMAE reconstructions of videos.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('Examples::')[-1])
    p.add_argument('config', help='model/training config file')
    p.add_argument('checkpoint', help='checkpoint file')
    p.add_argument(
        'video',
        help='a video file, a folder of videos, or an annotation list '
        '(.txt/.csv, first column = path relative to the list)')
    p.add_argument('--out', required=True, help='output folder for PNGs')
    p.add_argument(
        '--mask-ratio',
        type=float,
        default=None,
        help='override the mask ratio of the pipeline mask generator')
    p.add_argument('--seed', type=int, default=0, help='mask/sampling seed')
    p.add_argument(
        '--num-frames-shown',
        type=int,
        default=None,
        help='frames (rows) per image; default up to 8 evenly spaced')
    p.add_argument('--max-videos',
                   type=int,
                   default=None,
                   help='at most this many videos from a folder or list')
    p.add_argument('--data-root',
                   default=None,
                   help='root for relative paths of an annotation list '
                   '(default: the list folder)')
    p.add_argument(
        '--device',
        default=None,
        help='device, e.g. cpu or cuda:0 (default: cuda:0 when available)')
    p.add_argument('--cfg-options',
                   nargs='+',
                   action=DictAction,
                   help='override config settings, key=value')
    return p.parse_args(argv)


def main(argv=None) -> List[str]:
    """Entry point; returns the paths of the PNGs written."""
    args = parse_args(argv)
    from mmmae.apis import visualize_reconstructions
    paths = visualize_reconstructions(
        args.config, args.checkpoint, args.video, args.out,
        mask_ratio=args.mask_ratio, seed=args.seed,
        num_frames_shown=args.num_frames_shown, max_videos=args.max_videos,
        data_root=args.data_root, device=args.device,
        cfg_options=args.cfg_options)
    if not paths:
        sys.exit(f'{TAG} no image written')
    return paths


if __name__ == '__main__':
    main()
