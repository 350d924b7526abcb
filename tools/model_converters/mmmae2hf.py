# Copyright (c) mmmae contributors. All rights reserved.
"""Export an mmmae VideoMAE model to a HuggingFace ``transformers`` folder.

Usage::

    python tools/model_converters/mmmae2hf.py CONFIG CHECKPOINT OUT_DIR \
        [--labels FILE] [--atol 1e-4] [--no-verify] [--trust-pickle]

* an ``mmmae.VideoMAE`` pretraining config -> ``VideoMAEForPreTraining``;
* a recognizer config (``mmmae.VideoMAEViT`` with mean pooling + a linear
  ``cls_head``, the shipped fine-tuning configs) ->
  ``VideoMAEForVideoClassification``.

OUT_DIR gets ``config.json`` and the weights (``save_pretrained``); load it
with ``VideoMAEForPreTraining.from_pretrained(OUT_DIR)`` /
``VideoMAEForVideoClassification.from_pretrained(OUT_DIR)``. HF takes clips
as ``(B, T, C, H, W)``, normalised with the mean/std of the mmmae data
preprocessor, at exactly the config's ``num_frames`` and ``img_size``.

Before anything is written, both models run on a random clip and the
largest output difference is printed; above ``--atol`` the tool fails and
writes nothing. What HF cannot represent is refused with the reason
(exit status 1); what it represents only approximately or only in its loss
(LayerNorm eps of ``fc_norm``/``decoder.norm``, which HF fixes at 1e-5;
``std_floor``; non-ImageNet mean/std) is reported. The logic is
:func:`mmmae.checkpoint.hf.export_to_hf`.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:  # run as a script from a source checkout
    sys.path.insert(0, _REPO)

import mmmae  # noqa: E402,F401  (compat patches, registers the models)
from mmmae.checkpoint.hf import (HFExportError,  # noqa: E402
                                 export_to_hf, load_model_for_export)
from mmmae.checkpoint.io import add_trust_pickle_argument  # noqa: E402
from mmmae.utils.cli import run_cli  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export an mmmae VideoMAE pretraining model or '
        'fine-tuned recognizer to a HuggingFace transformers folder.')
    parser.add_argument('config', help='mmmae / MMAction2 config file')
    parser.add_argument('checkpoint', help='mmmae checkpoint of that model')
    parser.add_argument('out_dir', help='output folder (config.json + '
                        'weights)')
    parser.add_argument(
        '--labels',
        default=None,
        help='text file with one class name per line, in class-index order '
        '(id2label of a classifier; default LABEL_0, LABEL_1, ...)')
    parser.add_argument(
        '--atol',
        type=float,
        default=1e-4,
        help='largest output difference (mmmae vs HF, random clip) allowed '
        'before writing; default 1e-4')
    parser.add_argument(
        '--no-verify',
        action='store_true',
        help='skip the output comparison (it runs both models once on CPU)')
    add_trust_pickle_argument(parser)
    return parser.parse_args(argv)


def read_labels(path: Optional[str]) -> Optional[List[str]]:
    """Class names of ``path``, one per non-empty line."""
    if path is None:
        return None
    with open(path, encoding='utf-8') as f:
        return [line.strip() for line in f if line.strip()]


def run(args: argparse.Namespace) -> int:
    """Export ``args.checkpoint``; see the module docstring.

    Returns:
        int: Exit status (0 ok, 1 refused or failed).
    """
    model, notes = load_model_for_export(
        args.config, args.checkpoint,
        trusted=getattr(args, 'trust_pickle', False))
    res = export_to_hf(
        model,
        out_dir=args.out_dir,
        labels=read_labels(args.labels),
        verify=not args.no_verify,
        atol=None if args.no_verify else args.atol)
    hf = res.model
    print(f'source: {args.config} + {args.checkpoint}')
    print(f'target: {type(hf).__name__} (transformers), '
          f'{len(hf.state_dict())} tensors')
    for note in notes + res.notes:
        print(f'  note: {note}')
    if res.max_abs_diff is not None:
        print(f'  max |mmmae - HF| on a random clip: {res.max_abs_diff:.3g} '
              f'(atol {args.atol:g})')
    print(f'saved to {res.out_dir} (load with {type(hf).__name__}'
          '.from_pretrained)')
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Command-line entry point.

    Args:
        argv (list[str], optional): Arguments without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        int: Exit status (0 success, 1 refused or failed).
    """
    args = parse_args(argv)
    return run_cli(
        lambda: run_cli(lambda: run(args), HFExportError,
                        suffix=' (nothing written)'),
        ImportError,
        suffix=': the export needs HuggingFace transformers (pip install '
        'transformers) (nothing written)')


if __name__ == '__main__':
    sys.exit(main())
