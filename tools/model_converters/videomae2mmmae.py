# Copyright (c) mmmae contributors. All rights reserved.
"""Convert VideoMAE checkpoints (official V1/V2, HuggingFace, MMAction2) to
the mmmae key layout.

Usage::

    python tools/model_converters/videomae2mmmae.py SRC DST \
        [--to auto|algorithm|backbone|recognizer] [--strict] \
        [--hf-config CONFIG_JSON] [--trust-pickle]

    # e.g. an official pretraining checkpoint -> mmmae.VideoMAE
    python tools/model_converters/videomae2mmmae.py checkpoint-799.pth \
        videomae_b_k400.pth

Sources, targets and checks: :mod:`mmmae.checkpoint.convert_videomae`
(:func:`~mmmae.checkpoint.convert_videomae.convert_videomae_file` is this
tool in Python).

Exit status: 0 written; 1 nothing written: the source cannot be loaded or
converted, a source tensor would be dropped without being asked for (the
keys are named), or with ``--strict`` the target model would miss keys or
a caveat was found; 2 bad arguments.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:  # run as a script from a source checkout
    sys.path.insert(0, _REPO)

import mmmae  # noqa: E402,F401  (compat patches)
from mmmae.checkpoint.convert_videomae import (  # noqa: E402
    TARGETS, convert_videomae_file, save_with_report)
from mmmae.checkpoint.io import add_trust_pickle_argument  # noqa: E402
from mmmae.checkpoint.videomae import ConversionError  # noqa: E402
from mmmae.utils.cli import run_cli  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert VideoMAE checkpoints (official V1/V2, '
        'HuggingFace, MMAction2) to mmmae.')
    parser.add_argument('src', help='source checkpoint (.pth/.pt/.bin/'
                        '.safetensors)')
    parser.add_argument('dst', help='output MMEngine checkpoint (.pth)')
    parser.add_argument(
        '--to',
        choices=TARGETS,
        default='auto',
        help='what to write: the VideoMAE algorithm (backbone+neck), a '
        'recognizer (backbone+cls_head), or the bare backbone. auto picks '
        'algorithm/recognizer/backbone from what the source holds.')
    parser.add_argument(
        '--strict',
        action='store_true',
        help='also fail when the target model would have missing keys or a '
        'caveat was found (e.g. HF first-token pooling)')
    parser.add_argument(
        '--hf-config',
        default=None,
        help='HuggingFace config.json of a HF source (default: the '
        'config.json next to SRC, if any): gives layer_norm_eps, the heads '
        'and the clip size, which weights do not hold')
    add_trust_pickle_argument(parser)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    """Convert ``args.src`` into ``args.dst`` and print the report.

    Returns:
        int: Exit status (0 ok, 1 failure).
    """
    report = convert_videomae_file(
        args.src,
        to=args.to,
        hf_config=args.hf_config,
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
