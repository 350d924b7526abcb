# Copyright (c) mmmae contributors. All rights reserved.
"""Export an mmmae checkpoint to the official VideoMAE (V1/V2) layout.

Usage::

    python tools/model_converters/mmmae2videomae.py SRC DST \
        [--kind auto|pretrain|finetune] [--wrapper auto|model|module|none] \
        [--config CONFIG] [--strict] [--trust-pickle]

    # e.g. a fine-tuned recognizer -> {'module': sd} (official --model_key)
    python tools/model_converters/mmmae2videomae.py \
        work_dirs/x/best_acc_top1_epoch_75.pth official_ft.pth

The inverse of ``videomae2mmmae.py``. Key table and ``--kind auto``:
:mod:`mmmae.checkpoint.official_export`; the checks of the input:
:mod:`mmmae.checkpoint.convert_videomae`
(:func:`~mmmae.checkpoint.convert_videomae.export_to_official_file` is this
tool in Python).

Exit status: 0 written; 1 nothing written: the source cannot be loaded, a
tensor has no official counterpart, the input does not match the model it
must come from (``--config``, else the model its weights imply; every bad
key is named), or with ``--strict`` the official model class could not
load the result strictly; 2 bad arguments.
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
    WRAPPERS, export_to_official_file, save_with_report)
from mmmae.checkpoint.io import add_trust_pickle_argument  # noqa: E402
from mmmae.checkpoint.official_export import KINDS  # noqa: E402
from mmmae.checkpoint.videomae import ConversionError  # noqa: E402
from mmmae.utils.cli import run_cli  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export an mmmae checkpoint to the official VideoMAE '
        '(V1/V2) key layout.')
    parser.add_argument('src', help='mmmae / MMEngine checkpoint (.pth)')
    parser.add_argument('dst', help='output official checkpoint (.pth)')
    parser.add_argument(
        '--kind',
        choices=KINDS,
        default='auto',
        help='official layout: pretraining (encoder/decoder) or fine-tuned '
        '(blocks/fc_norm/head). auto picks from the keys.')
    parser.add_argument(
        '--wrapper',
        choices=WRAPPERS,
        default='auto',
        help="top-level key: auto = 'model' for pretrain, 'module' for "
        "finetune (the official --model_key); 'none' saves the bare state "
        'dict')
    parser.add_argument(
        '--config',
        default=None,
        help='mmmae/MMAction2 config whose `model` SRC must match (keys and '
        'shapes); default: the model the weights of SRC imply')
    parser.add_argument(
        '--strict',
        action='store_true',
        help='also fail when the official model could not load the result '
        'strictly (missing classifier/decoder, non-official keys)')
    add_trust_pickle_argument(parser)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    """Export ``args.src`` into ``args.dst`` and print the report.

    Returns:
        int: Exit status (0 ok, 1 failure).
    """
    report = export_to_official_file(
        args.src,
        kind=args.kind,
        wrapper=args.wrapper,
        config=args.config,
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
