# Copyright (c) mmmae contributors. All rights reserved.
"""Convert MultiMAE checkpoints (official MultiMAE / MultiViT, timm ViT) to
the mmmae key layout.

Usage::

    python tools/model_converters/multimae2mmmae.py SRC DST \
        [--to auto|algorithm|backbone|classifier] [--strict] \
        [--num-heads N] [--decoder-num-heads N] [--stride-level TASK=S] \
        [--trust-pickle]

    # e.g. the official MultiMAE-B release -> mmmae.MultiMAE
    python tools/model_converters/multimae2mmmae.py \
        multimae-b_98_rgb+-depth-semseg_1600e_multivit-afff3f8c.pth \
        multimae_b.pth

Sources, targets, the inferred config (heads and strides are not in the
weights: guessed and reported unless given) and the checks:
:mod:`mmmae.checkpoint.convert_multimae`
(:func:`~mmmae.checkpoint.convert_multimae.convert_multimae_file` is this
tool in Python).

Exit status: 0 written; 1 nothing written: the source cannot be loaded or
converted, a source tensor would be dropped without being asked for (the
keys are named), or with ``--strict`` the target model would miss keys; 2
bad arguments.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional, Tuple

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:  # run as a script from a source checkout
    sys.path.insert(0, _REPO)

import mmmae  # noqa: E402,F401  (registers the models)
from mmmae.checkpoint.convert_multimae import (  # noqa: E402
    TARGETS, convert_multimae_file)
from mmmae.checkpoint.convert_videomae import save_with_report  # noqa: E402
from mmmae.checkpoint.io import add_trust_pickle_argument  # noqa: E402
from mmmae.checkpoint.videomae import ConversionError  # noqa: E402
from mmmae.utils.cli import run_cli  # noqa: E402


def _stride_pair(text: str) -> Tuple[str, int]:
    name, sep, value = text.partition('=')
    if not sep or not name or not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(
            f'expected TASK=S with a positive integer S, got {text!r}')
    return name, int(value)


class _MergeDict(argparse.Action):
    """Collect repeated ``NAME=VALUE`` pairs into one dict."""

    def __call__(self, parser, namespace, values, option_string=None):
        merged = dict(getattr(namespace, self.dest, None) or {})
        merged[values[0]] = values[1]
        setattr(namespace, self.dest, merged)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert MultiMAE checkpoints (official MultiMAE / '
        'MultiViT, timm ViT, mmmae) to mmmae.')
    parser.add_argument('src',
                        help='source checkpoint (.pth/.pt/.bin/'
                        '.safetensors)')
    parser.add_argument('dst', help='output MMEngine checkpoint (.pth)')
    parser.add_argument(
        '--to',
        choices=TARGETS,
        default='auto',
        help='what to write: the MultiMAE algorithm (backbone+neck), the '
        'bare MultiMAEViT backbone, or backbone+MultiMAELinearHead '
        '(classifier). auto picks algorithm/classifier/backbone from what '
        'the source holds.')
    parser.add_argument(
        '--strict',
        action='store_true',
        help='also fail when the target model would have missing keys')
    parser.add_argument(
        '--num-heads',
        type=int,
        default=None,
        help='encoder attention heads (not stored in the weights; default: '
        'standard ViT table by width)')
    parser.add_argument(
        '--decoder-num-heads',
        type=int,
        default=None,
        help='decoder attention heads (default: 8 for 256 wide, else '
        '32-wide heads)')
    parser.add_argument(
        '--stride-level',
        type=_stride_pair,
        action=_MergeDict,
        default=None,
        metavar='TASK=S',
        help='stride_level of a decoder whose task has no input adapter '
        '(e.g. semseg=4: a 1/4-resolution map); repeatable. Default: the '
        'official MultiMAE value for the name (semseg 4, others 1) when the '
        'weights allow it')
    add_trust_pickle_argument(parser)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    """Convert ``args.src`` into ``args.dst`` and print the report.

    Returns:
        int: Exit status (0 ok, 1 failure).
    """
    report = convert_multimae_file(
        args.src,
        to=args.to,
        num_heads=args.num_heads,
        decoder_num_heads=args.decoder_num_heads,
        stride_levels=args.stride_level,
        strict=args.strict,
        trusted=args.trust_pickle)
    return save_with_report(report, args.dst)


def main(argv: Optional[List[str]] = None) -> int:
    """Command-line entry point.

    Args:
        argv (list[str], optional): Arguments without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        int: Exit status (0 success, 1 conversion error).
    """
    args = parse_args(argv)
    return run_cli(lambda: run(args), ConversionError,
                   suffix=' (nothing written)')


if __name__ == '__main__':
    sys.exit(main())
