# Copyright (c) mmmae contributors. All rights reserved.
"""Export an mmmae checkpoint to the official VideoMAE (V1/V2) layout.

Usage::

    python tools/model_converters/mmmae2videomae.py SRC DST \
        [--kind auto|pretrain|finetune] [--wrapper auto|model|module|none] \
        [--strict]

The inverse of ``videomae2mmmae.py`` (see
``mmmae/utils/official_export.py`` for the key table):

* ``pretrain``: an ``mmmae.VideoMAE`` algorithm (``backbone.*`` +
  ``neck.*``) becomes ``encoder.*``, ``decoder.*``, ``encoder_to_decoder``,
  ``mask_token``, saved as ``{'model': sd}`` (official pretraining
  checkpoints; ``--model_key model``). A backbone alone becomes an
  encoder-only ``encoder.*`` file, which the official fine-tuning script can
  initialise from.
* ``finetune``: a recognizer (``backbone.*`` + ``cls_head.fc_cls.*``) becomes
  ``patch_embed``/``blocks``/``fc_norm``/``head``, saved as
  ``{'module': sd}`` (DeepSpeed fine-tuned checkpoints; ``--model_key
  module``).
* ``auto`` (default): ``pretrain`` when there is a decoder (``neck.*``),
  ``finetune`` when there is a classifier (``cls_head.*``); a backbone alone
  is ``finetune`` when it has ``fc_norm`` (mean pooling), else ``pretrain``
  (encoder only).

``--wrapper`` overrides the top-level key (``none`` saves the bare state
dict). Only the ``state_dict`` of an MMEngine checkpoint is written; with
``EMAHook`` that is already the EMA-averaged model. ``data_preprocessor.*``
buffers (normalisation constants) are reported and left out.

The tool exits with status 1, naming the keys, when any tensor has no
official counterpart (it would be dropped). With ``--strict`` it also fails
when the official model class could not load the result strictly (missing
classifier, encoder without decoder, ``fc_norm`` in a pretraining encoder,
...).
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

import torch

_HERE = osp.dirname(osp.abspath(__file__))
_REPO = osp.dirname(osp.dirname(_HERE))
if _REPO not in sys.path:  # run as a script from a source checkout
    sys.path.insert(0, _REPO)

import mmmae  # noqa: E402,F401  (compat patches)
from mmmae.utils.checkpoint_io import add_trust_pickle_argument  # noqa: E402,E501
from mmmae.utils.checkpoint_converters import (  # noqa: E402
    ConversionError, format_key_list, load_checkpoint_file)
from mmmae.utils.official_export import (export_to_official,  # noqa: E402
                                         official_wrapper_key)

_KINDS = ('auto', 'pretrain', 'finetune')
_WRAPPERS = ('auto', 'model', 'module', 'none')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export an mmmae checkpoint to the official VideoMAE '
        '(V1/V2) key layout.')
    parser.add_argument('src', help='mmmae / MMEngine checkpoint (.pth)')
    parser.add_argument('dst', help='output official checkpoint (.pth)')
    parser.add_argument(
        '--kind',
        choices=_KINDS,
        default='auto',
        help='official layout: pretraining (encoder/decoder) or fine-tuned '
        '(blocks/fc_norm/head). auto picks from the keys.')
    parser.add_argument(
        '--wrapper',
        choices=_WRAPPERS,
        default='auto',
        help="top-level key: auto = 'model' for pretrain, 'module' for "
        "finetune (the official --model_key); 'none' saves the bare state "
        'dict')
    parser.add_argument(
        '--strict',
        action='store_true',
        help='also fail when the official model could not load the result '
        'strictly (missing classifier/decoder, non-official keys)')
    add_trust_pickle_argument(parser)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    """Convert ``args.src`` into ``args.dst``; see the module docstring.

    Returns:
        int: Exit status (0 ok, 1 failure).
    """
    obj, notes = load_checkpoint_file(
        args.src, trusted=getattr(args, 'trust_pickle', False))
    try:
        res = export_to_official(obj, kind=args.kind, strict=True)
    except (KeyError, TypeError, ValueError) as exc:
        msg = exc.args[0] if exc.args else str(exc)
        print(f'ERROR: {msg}', file=sys.stderr)
        print('nothing written', file=sys.stderr)
        return 1
    notes = notes + res.notes
    wrapper = (official_wrapper_key(res.kind)
               if args.wrapper == 'auto' else args.wrapper)

    print(f'source: {args.src}')
    print(f'target: official {res.layout}, {len(res.state_dict)} tensors, '
          f"wrapper {wrapper if wrapper != 'none' else '(none)'}")
    if wrapper not in ('none', official_wrapper_key(res.kind)):
        notes.append(f"wrapper {wrapper!r}: the official {res.kind} files use "
                     f"{official_wrapper_key(res.kind)!r}; pass --model_key "
                     f'{wrapper} to the official scripts')
    if res.dropped:
        print(f'  dropped (fixed sin-cos tables the official code '
              f'recomputes): {format_key_list(res.dropped)}')
    if res.left_out:
        print(f'  left out (not model weights): '
              f'{format_key_list(list(res.left_out))}')
    for note in notes:
        print(f'  note: {note}')
    for caveat in res.caveats:
        print(f'  caveat: {caveat}')
    if args.strict and res.caveats:
        for caveat in res.caveats:
            print(f'ERROR: --strict: {caveat}', file=sys.stderr)
        print('nothing written', file=sys.stderr)
        return 1

    out = res.state_dict if wrapper == 'none' else {wrapper: res.state_dict}
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(out, args.dst)
    print(f'saved {len(res.state_dict)} tensors to {args.dst}')
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Command-line entry point.

    Args:
        argv (list[str], optional): Arguments without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        int: Exit status (0 success, 1 conversion error).
    """
    try:
        return run(parse_args(argv))
    except ConversionError as exc:  # e.g. a pickle outside the allow-list
        print(f'ERROR: {exc}', file=sys.stderr)
        print('nothing written', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
