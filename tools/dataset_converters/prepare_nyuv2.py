# Copyright (c) mmmae contributors. All rights reserved.
"""Convert the labelled NYU Depth v2 set to mmmae's NYUv2 layout.

Usage::

    python tools/dataset_converters/prepare_nyuv2.py \\
        --mat nyu_depth_v2_labeled.mat --splits splits.mat \\
        --class-mapping classMapping40.mat [--labels40 labels40.mat] \\
        --out data/nyuv2 [--raw-depth] [--overwrite]

Inputs, layout and units are described in
``mmmae.datasets.converters.nyuv2`` and ``docs/datasets/nyuv2.md``; the
Python function is ``mmmae.datasets.converters.prepare_nyuv2``.

Exit status: 0 when done, 1 on a missing or malformed input (the message
names the file and the fix).
"""
import argparse
import sys
from typing import Optional, Sequence

from mmmae.datasets.converters import ConverterError, prepare_nyuv2
from mmmae.utils.cli import run_cli


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description='Convert nyu_depth_v2_labeled.mat to the mmmae NYUv2 '
        'layout (rgb/, depth/ in mm, labels40/, mask_valid/).')
    p.add_argument('--mat', required=True,
                   help='nyu_depth_v2_labeled.mat (MATLAB v7.3)')
    p.add_argument('--splits', required=True,
                   help='splits.mat with trainNdxs/testNdxs (1-based)')
    p.add_argument('--class-mapping', default=None,
                   help='classMapping40.mat (mapClass: 894 -> 40)')
    p.add_argument('--labels40', default=None,
                   help='labels40.mat (precomputed H x W x N 40-class '
                   'labels)')
    p.add_argument('--out', required=True, help='output data_root')
    p.add_argument('--raw-depth', action='store_true',
                   help='write rawDepths (zeros = invalid) instead of the '
                   'inpainted depths')
    p.add_argument('--overwrite', action='store_true',
                   help='allow writing into a non-empty output folder')
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the conversion.

    Returns:
        int: Exit status (0 done, 1 input error).
    """
    args = parse_args(argv)

    def work() -> None:
        prepare_nyuv2(
            args.mat, args.splits, args.out,
            class_mapping=args.class_mapping, labels40=args.labels40,
            raw_depth=args.raw_depth, overwrite=args.overwrite)

    return run_cli(work, ConverterError, status=1, prefix='error: ')


if __name__ == '__main__':
    sys.exit(main())
