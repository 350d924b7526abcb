# Copyright (c) mmmae contributors. All rights reserved.
"""Draw a multi-modal video MAE's (cross-modal) predictions of clips.

One PNG per clip, ``OUT/<clip>_<maskmode>.png`` (``vis-rgb`` for
``--visible rgb``): for every predicted modality a block of rows,
``input`` (grey where its tubes are hidden), ``prediction`` and ``truth``,
and one column per shown frame (``--frames``, evenly spaced). rgb is
un-normalised with the preprocessor's mean/std (a norm-pix prediction with
the true tubelet mean/std: it leaks the answer); depth is mapped back to
metres with the clip's standardisation statistics and coloured like the
truth (viridis over its 10-90 % range, black = no depth); semseg is the
argmax through the ``classes.json`` palette. The hidden-tube errors
(rgb MSE, depth abs-rel and L1, semseg pixel accuracy) are printed.

DATA_ROOT is a multi-modal video dataset (``docs/multimodal_video.md``);
CHECKPOINT ``none`` keeps the random init.

Examples::

    python tools/visualize_multimodal_video.py CONFIG CKPT data/scene_videos \\
        --out vis --visible rgb --max-clips 4
    python tools/visualize_multimodal_video.py CONFIG CKPT data/scene_videos \\
        --out vis --visible rgb depth:0.25

Exit status: 0 on success, 2 for a usage error (a missing path, a config
without a video MultiMAE, a bad --visible); the message names the culprit.
The work is :func:`mmmae.apis.visualize_multimodal_video`.
"""
import argparse
import os.path as osp
import sys

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _REPO not in sys.path:  # run as a script from a source checkout
    sys.path.insert(0, _REPO)

TAG = '[visualize_multimodal_video]'


def parse_args(argv=None):
    from mmmae.utils.cli import add_device_and_cfg_options
    p = argparse.ArgumentParser(
        description='Visualize multi-modal video MAE (cross-modal) '
        'predictions.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('Examples::')[-1])
    p.add_argument('config', help='video MultiMAE config file')
    p.add_argument('checkpoint', help="checkpoint file, or 'none' (random "
                   'init, for smoke tests)')
    p.add_argument('data_root', help='multi-modal video dataset root')
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--split', default='val', help='split to draw')
    p.add_argument(
        '--visible', nargs='+', default=['rgb'], metavar='MOD[:FRAC]',
        help='modalities shown to the encoder: MOD all its tubes, MOD:FRAC '
        'that fraction of them; the others are hidden (default: rgb)')
    p.add_argument('--max-clips', type=int, default=4,
                   help='at most this many clips')
    p.add_argument('--frames', type=int, default=8,
                   help='frames (columns) shown per clip')
    p.add_argument('--seed', type=int, default=0,
                   help='seed of MOD:FRAC masks (clip k uses seed + k)')
    add_device_and_cfg_options(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Entry point; returns the exit status (0 ok, 2 usage error)."""
    from mmmae.apis import visualize_multimodal_video
    from mmmae.utils.cli import run_input_tool
    return run_input_tool(
        parse_args, argv,
        lambda args: visualize_multimodal_video(
            args.config, args.checkpoint, args.data_root, args.out,
            split=args.split, visible=args.visible,
            max_clips=args.max_clips, frames_shown=args.frames,
            seed=args.seed, device=args.device,
            cfg_options=args.cfg_options),
        TAG)


if __name__ == '__main__':
    sys.exit(main())
