# Copyright (c) mmmae contributors. All rights reserved.
"""Convert the Hypersim download (HDF5) into PNGs for ``HypersimDataset``.

The layout and the conversions (tone map, planar depth, millimetres,
validity) are described in ``mmmae.datasets.converters.hypersim`` and
``docs/datasets/hypersim.md``; the Python function is
``mmmae.datasets.converters.prepare_hypersim``.

Exit status: 0 when every frame was written (or skipped with
``--skip-missing``), 2 on a setup error (missing CSV or frame files).

Example::

    python tools/dataset_converters/prepare_hypersim.py data/hypersim_raw \\
        data/hypersim --workers 8 --splits train val
"""
import argparse
import sys
from typing import Optional, Sequence

from mmmae.datasets.converters import ConverterError, prepare_hypersim
from mmmae.datasets.converters.hypersim import FOCAL_1024, SPLIT_CSV, SPLITS
from mmmae.utils.cli import run_cli


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description='Convert Hypersim HDF5 frames to the PNG layout of '
        'mmmae.HypersimDataset (see docs/datasets/hypersim.md).')
    p.add_argument('root', help='Hypersim download root (holds ai_VVV_NNN/)')
    p.add_argument('out', help='output data_root')
    p.add_argument(
        '--csv',
        default=None,
        help=f'split CSV (default: ROOT/{SPLIT_CSV})')
    p.add_argument(
        '--splits',
        nargs='+',
        default=list(SPLITS),
        choices=SPLITS,
        help='partitions to convert (default: all)')
    p.add_argument(
        '--planar',
        action=argparse.BooleanOptionalAction,
        default=True,
        help='store planar (z) depth instead of the distance to the camera '
        'centre (default: planar)')
    p.add_argument(
        '--focal',
        type=float,
        default=FOCAL_1024,
        help='focal length in px at width 1024 for --planar '
        f'(default {FOCAL_1024})')
    p.add_argument(
        '--mask-label',
        action='store_true',
        help='mask_valid also requires a semantic label')
    p.add_argument(
        '--skip-missing',
        action='store_true',
        help='skip CSV frames whose HDF5 files are missing instead of '
        'stopping')
    p.add_argument(
        '--workers', type=int, default=0,
        help='worker processes (0: convert in this process)')
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the conversion.

    Returns:
        int: Exit status (0 done, 2 setup error).
    """
    args = parse_args(argv)

    def work() -> None:
        prepare_hypersim(
            args.root, args.out, csv_path=args.csv, splits=args.splits,
            planar=args.planar, focal=args.focal,
            mask_label=args.mask_label, skip_missing=args.skip_missing,
            workers=args.workers)

    return run_cli(work, ConverterError, status=2, prefix='error: ')


if __name__ == '__main__':
    sys.exit(main())
