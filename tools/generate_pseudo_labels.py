# Copyright (c) mmmae contributors. All rights reserved.
"""Generate MultiMAE pseudo-labels (depth or semseg) with an mmseg model.

Reads every image under ``ROOT/SPLIT/rgb/`` (recursively) and writes one
single-channel PNG per image to ``ROOT/SPLIT/<modality>/<same relative
path>.png`` plus ``ROOT/SPLIT/<modality>/manifest.json``. When ``rgb/``
holds videos instead, every frame is labelled and each video gets one
``<modality>/<name>.npz`` (``frames``: ``(T, H, W)``, the layout of
``docs/multimodal_video.md``). Resumable. The recipe, the formats and the
manifest: :mod:`mmmae.pseudo_label.generate` (Python:
``generate_pseudo_labels``) and ``docs/pseudo_labels.md``.

Exit status: 0 when every image has a label, 1 when some images could not be
read or labelled (listed in the manifest's ``failed``), 2 on a setup error
(including a manifest of another labeller / checkpoint / task in the output
folder without ``--overwrite``).

Examples::

    python tools/generate_pseudo_labels.py data/in1k --split train \\
        --task semseg --config mask2former_swin-s_coco-panoptic.py \\
        --checkpoint m2f_swin-s.pth --device cuda --batch-size 16
    python tools/generate_pseudo_labels.py data/scenes --split val \\
        --task depth --config my_depth_estimator.py --checkpoint d.pth \\
        --out-modality pseudo_depth --depth-scale 1000
    python tools/generate_pseudo_labels.py data/scene_videos --split train \
        --task semseg --config seg.py --checkpoint seg.pth \
        --out-modality pseudo_semseg --device cuda --batch-size 32
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _REPO not in sys.path:  # run as a script from a source checkout
    sys.path.insert(0, _REPO)

from mmmae.pseudo_label import (PSEUDO_LABEL_TASKS,  # noqa: E402
                                PseudoLabelSetupError,
                                generate_pseudo_labels)
from mmmae.utils.cli import run_cli  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(
        description='Generate MultiMAE pseudo-labels (depth / semseg) for '
        'the images or videos of ROOT/SPLIT/rgb/** with an mmseg model.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='Examples::' + __doc__.split('Examples::')[-1])
    p.add_argument('root', help='dataset root (holds SPLIT/rgb/...)')
    p.add_argument('--split', default='train', help='split folder')
    p.add_argument('--task', choices=sorted(PSEUDO_LABEL_TASKS),
                   required=True)
    p.add_argument('--config', required=True, help='mmseg model config')
    p.add_argument('--checkpoint', default=None,
                   help='weights (default: none, random init; smoke tests)')
    p.add_argument('--batch-size', type=int, default=8,
                   help='images of the same size (or video frames) per '
                   'forward pass')
    p.add_argument('--device', default='cpu', help='e.g. cpu, cuda, cuda:1')
    p.add_argument('--out-modality', default=None,
                   help='output folder name (default: the task)')
    p.add_argument('--src-modality', default='rgb',
                   help='input folder name (default: rgb)')
    p.add_argument('--depth-scale', type=float, default=None,
                   help='PNG value = depth * scale (default: auto from the '
                   'first batch, or the existing manifest)')
    p.add_argument('--size-divisor', type=int, default=32)
    p.add_argument('--max-side', type=int, default=None,
                   help='downscale so the long side is at most this first')
    p.add_argument('--min-side', type=int, default=None,
                   help='upscale so the short side is at least this first')
    p.add_argument('--overwrite', action='store_true',
                   help='relabel every image, discarding old labels')
    p.add_argument('--video-backend', default='pyav',
                   choices=('pyav', 'decord'),
                   help='video reader, as mmmae.VideoInit (default: pyav)')
    p.add_argument('--no-compress', action='store_true',
                   help='write uncompressed video .npz files (bigger, '
                   'memory-mapped when read)')
    p.add_argument('--no-progress', action='store_true')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value')
    args = p.parse_args(argv)
    if args.batch_size < 1:
        p.error('--batch-size must be >= 1')
    if args.depth_scale is not None and args.depth_scale <= 0:
        p.error('--depth-scale must be > 0')
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns the exit status (see the module docstring)."""
    args = parse_args(argv)

    def work() -> int:
        summary = generate_pseudo_labels(
            args.root, split=args.split, task=args.task, config=args.config,
            checkpoint=args.checkpoint, out_modality=args.out_modality,
            src_modality=args.src_modality, batch_size=args.batch_size,
            device=args.device, depth_scale=args.depth_scale,
            size_divisor=args.size_divisor, max_side=args.max_side,
            min_side=args.min_side, overwrite=args.overwrite,
            cfg_options=args.cfg_options, progress=not args.no_progress,
            video_backend=args.video_backend, compress=not args.no_compress)
        return 1 if summary['failed'] else 0

    return run_cli(work, PseudoLabelSetupError, status=2, prefix='error: ')


if __name__ == '__main__':
    sys.exit(main())
