# Copyright (c) mmmae contributors. All rights reserved.
"""Export an mmmae checkpoint to the official VideoMAE (V1/V2) layout.

Usage::

    python tools/model_converters/mmmae2videomae.py SRC DST \
        [--kind auto|pretrain|finetune] [--wrapper auto|model|module|none] \
        [--config CONFIG] [--strict]

The inverse of ``videomae2mmmae.py`` (see
``mmmae/checkpoint/official_export.py`` for the key table):

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

The input is checked against the mmmae model it must come from: the model
of ``--config CONFIG`` when given, else the one its weights imply (every
size a majority vote over the tensors that show it, see
``mmmae/checkpoint/arch.py``, so one broken tensor is named rather
than skewing the model). Missing keys, unexpected keys and shape mismatches
are all named, with both shapes.

The tool exits with status 1, naming the keys and writing nothing, when any
tensor has no official counterpart (it would be dropped) or the input does
not match that model (an incomplete or mis-shaped checkpoint would export to
an official file that fails to load, or loads wrongly). With ``--strict`` it
also fails when the official model class could not load the result strictly
(missing classifier, encoder without decoder, ``fc_norm`` in a pretraining
encoder, ...).
"""
import argparse
import copy
import os
import os.path as osp
import sys
from typing import Dict, List, Mapping, Optional, Tuple

import torch

_HERE = osp.dirname(osp.abspath(__file__))
_REPO = osp.dirname(osp.dirname(_HERE))
if _REPO not in sys.path:  # run as a script from a source checkout
    sys.path.insert(0, _REPO)

import mmmae  # noqa: E402,F401  (compat patches)
from mmmae.checkpoint.arch import (  # noqa: E402
    infer_videomae_config, videomae_target_shapes)
from mmmae.checkpoint.io import add_trust_pickle_argument  # noqa: E402
from mmmae.checkpoint.official_export import (  # noqa: E402
    export_to_official, official_wrapper_key)
from mmmae.checkpoint.videomae import (  # noqa: E402
    ConversionError, compare_shapes, format_key_list, load_checkpoint_file,
    unwrap_checkpoint)

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


# --------------------------------------------------------------------------
# the model the input must come from
# --------------------------------------------------------------------------
_SKIP = ('data_preprocessor.', )
_TABLES = ('pos_embed', 'backbone.pos_embed', 'neck.pos_embed')
Shapes = Dict[str, torch.Size]


def _weights(sd: Mapping[str, torch.Tensor]) -> Tuple[dict, bool]:
    """The model weights of an unwrapped mmmae state dict, prefixed
    (``backbone.*`` for a bare backbone), and whether it was bare.

    Normalisation buffers and fixed sin-cos tables are not weights (the
    export reports them separately)."""
    keys = [k for k in sd if not k.startswith(_SKIP) and k not in _TABLES]
    bare = bool(keys) and not any(
        k.startswith(('backbone.', 'neck.', 'cls_head.')) for k in keys)
    return {('backbone.' + k if bare else k): sd[k] for k in keys}, bare


def config_shapes(config: str, bare: bool) -> Shapes:
    """State-dict shapes of ``config``'s ``model`` (built on the meta
    device: shapes only, no memory or init time).

    Args:
        config (str): Config file.
        bare (bool): The checkpoint is a bare backbone: compare with the
            model's ``backbone.*`` only.

    Returns:
        dict: key -> shape, ``backbone.`` prefixed.
    """
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope
    cfg = Config.fromfile(config)
    model_cfg = copy.deepcopy(cfg.model)
    scope = cfg.get('default_scope', None) or 'mmmae'
    with DefaultScope.overwrite_default_scope(scope):
        try:
            with torch.device('meta'):
                model = MODELS.build(model_cfg)
        except Exception:  # e.g. an init that needs real tensors
            model = MODELS.build(copy.deepcopy(cfg.model))
    shapes = {
        k: v.shape
        for k, v in model.state_dict().items()
        if not k.startswith(_SKIP) and k not in _TABLES
    }
    if bare:
        shapes = {k: v for k, v in shapes.items() if k.startswith('backbone.')}
    return shapes


def inferred_shapes(weights: Mapping[str, torch.Tensor],
                    kind: str) -> Tuple[Shapes, str]:
    """Shapes of the mmmae model ``weights`` imply, and its description.

    Args:
        weights (Mapping): ``backbone.*`` (+ ``neck.*`` or
            ``cls_head.fc_cls.*``).
        kind (str): Resolved export kind; decides the final norm when the
            weights have neither ``norm`` nor ``fc_norm`` (a pretraining
            encoder ends with ``norm``, a fine-tuned one with ``fc_norm``).

    Returns:
        tuple: (key -> shape, ``backbone.`` prefixed; a one-line summary).
    """
    cfg = infer_videomae_config(weights,
                                use_mean_pooling=kind == 'finetune')
    if any(k.startswith('neck.') for k in weights):
        to = 'algorithm'
    elif any(k.startswith('cls_head.') for k in weights):
        to = 'recognizer'
    else:
        to = 'backbone'
    shapes = videomae_target_shapes(cfg, to)
    if to == 'backbone':
        shapes = {'backbone.' + k: v for k, v in shapes.items()}
    bb = cfg['backbone']
    what = (f"the VideoMAE {to} its weights imply (embed_dims="
            f"{bb['arch']['embed_dims']}, {bb['arch']['num_layers']} blocks, "
            f"patch_size={bb['patch_size']}, tubelet_size="
            f"{bb['tubelet_size']}, in_channels={bb['in_channels']}"
            + (f", decoder_embed_dims={cfg['neck']['decoder_embed_dims']}"
               if to == 'algorithm' else '') + ')')
    return shapes, what


def check_input(obj, kind: str, config: Optional[str] = None) -> List[str]:
    """Compare the input with the model it must come from.

    Args:
        obj: The loaded checkpoint or state dict.
        kind (str): Resolved export kind (``'pretrain'``/``'finetune'``).
        config (str, optional): Config whose model to compare with;
            default: the model the weights imply.

    Returns:
        list[str]: Error lines (empty when everything matches).
    """
    weights, bare = _weights(unwrap_checkpoint(obj))
    if config is not None:
        shapes, what = config_shapes(config, bare), f'the model of {config}'
    else:
        shapes, what = inferred_shapes(weights, kind)
    missing, unexpected, mismatch = compare_shapes(weights, shapes)
    if bare:  # name the keys as they are in the file
        def strip(keys):
            return [k[len('backbone.'):] for k in keys]
        missing, unexpected = strip(missing), strip(unexpected)
        mismatch = [m[len('backbone.'):] for m in mismatch]
    errors = []
    if missing:
        errors.append(f'{len(missing)} missing key(s) (the checkpoint is '
                      f'incomplete for {what}): {_listed(missing)}')
    if unexpected:
        errors.append(f'{len(unexpected)} unexpected key(s) ({what} has no '
                      f'place for them): {_listed(unexpected)}')
    if mismatch:
        n = len(mismatch)
        shown = mismatch[:_SHOW] + ([f'... (+{n - _SHOW} more)']
                                    if n > _SHOW else [])
        errors.append(
            f"{n} shape mismatch{'' if n == 1 else 'es'} with {what} (key: "
            'checkpoint shape vs model shape):\n    ' + '\n    '.join(shown))
    return errors


_SHOW = 20  # a wholly different model would list every tensor


def _listed(keys: List[str]) -> str:
    if len(keys) <= _SHOW:
        return str(keys)
    return str(keys[:_SHOW])[:-1] + f', ... (+{len(keys) - _SHOW} more)]'


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
    errors = check_input(obj, res.kind, getattr(args, 'config', None))
    if errors:
        for e in errors:
            print(f'ERROR: {e}', file=sys.stderr)
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
        # one line, no traceback: the message names the file and the fault
        print(f'ERROR: {exc} (nothing written)', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
