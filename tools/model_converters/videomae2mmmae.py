# Copyright (c) mmmae contributors. All rights reserved.
"""Convert VideoMAE checkpoints (official V1/V2, HuggingFace, MMAction2) to
the mmmae key layout.

Usage::

    python tools/model_converters/videomae2mmmae.py SRC DST \
        [--to auto|algorithm|backbone|recognizer] [--strict] \
        [--hf-config CONFIG_JSON]

Sources (detected from the keys, not the file name):

* official VideoMAE V1/V2 pretraining checkpoints (``{'model': sd}``,
  ``encoder.*`` / ``decoder.*`` / ``encoder_to_decoder`` / ``mask_token``),
  also encoder-only dumps (``encoder.*`` without a decoder);
* official fine-tuned checkpoints (DeepSpeed ``{'module': sd}``,
  ``blocks.*`` / ``fc_norm`` / ``head``);
* HuggingFace ``VideoMAEForPreTraining`` / ``VideoMAEForVideoClassification``
  / ``VideoMAEModel`` (``pytorch_model.bin`` or ``model.safetensors``;
  transformers v4 ``q_bias`` and v5 ``query.bias`` layouts). The
  ``config.json`` next to the file (or ``--hf-config``) gives the values the
  weights do not hold (``layer_norm_eps``, heads, clip size); the inferred
  config carries HF's LayerNorm epsilons (``norm_eps``, ``fc_norm_eps``,
  ``final_norm_eps``) either way;
* MMAction2 ``VisionTransformer`` (``vit_mae``) recognizers;
* mmmae checkpoints (re-targeted only).

Wrappers ``state_dict``/``model``/``module``/``model_state`` and the key
prefixes ``module.`` (DDP) and ``_orig_mod.`` (``torch.compile``) are removed.

Targets (``--to``):

* ``algorithm``: ``backbone.*`` + ``neck.*`` for ``mmmae.VideoMAE``
  (needs a decoder in the source);
* ``recognizer``: ``backbone.*`` (+ ``cls_head.fc_cls.*`` when the source has
  a classifier) for an MMAction2 ``Recognizer3D`` with a linear head;
* ``backbone``: the ``mmmae.VideoMAEViT`` state dict (no prefix), loadable
  with ``init_cfg=dict(type='Pretrained', checkpoint=DST)``;
* ``auto`` (default): ``algorithm`` when there is a decoder, else
  ``recognizer`` when there is a classifier, else ``backbone``.

The output is an MMEngine checkpoint ``{'state_dict': ..., 'meta': {...}}``.
The tool exits with status 1, naming the keys, when any source tensor would
be dropped without being asked for (unknown keys, keys the target model does
not have, shape mismatches). Discarding a part on purpose (the decoder with
``--to backbone``) is reported, not an error. With ``--strict`` the target
model must also be complete (no missing keys) and any caveat in the notes
(e.g. HF first-token pooling) is an error.
"""
import argparse
import os
import os.path as osp
import sys
import time
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:  # run as a script from a source checkout
    sys.path.insert(0, _REPO)

import mmmae  # noqa: E402,F401  (compat patches)
from mmmae.checkpoint.arch import (  # noqa: E402
    infer_videomae_config, videomae_target_shapes)
from mmmae.checkpoint.io import add_trust_pickle_argument  # noqa: E402
from mmmae.checkpoint.videomae import (  # noqa: E402
    ConversionError, compare_shapes, convert_any_videomae,
    detect_videomae_format, format_key_list, load_checkpoint_file)

Tensor = torch.Tensor
StateDict = Dict[str, Tensor]

_WRAPPERS = ('state_dict', 'model', 'module', 'model_state')
_PREFIXES = ('module.', '_orig_mod.')
_TARGETS = ('auto', 'algorithm', 'backbone', 'recognizer')


# --------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------
def _is_state_dict(obj) -> bool:
    return isinstance(obj, dict) and len(obj) > 0 and all(
        isinstance(k, str) for k in obj) and any(
            isinstance(v, torch.Tensor) for v in obj.values())


def unwrap(obj) -> Tuple[StateDict, List[str]]:
    """Find the state dict inside a checkpoint and strip wrapper prefixes.

    Tries ``mmmae.checkpoint.videomae.unwrap_checkpoint`` first,
    then the wrappers ``state_dict``, ``model``, ``module``, ``model_state``,
    then the raw dict. Strips leading ``module.`` and ``_orig_mod.`` prefixes
    (repeatedly, in any order) and inner ``._orig_mod.`` segments.

    Args:
        obj: What ``torch.load`` returned.

    Returns:
        tuple: (flat state dict, notes).
    """
    notes = []
    sd = None
    try:
        from mmmae.checkpoint.videomae import unwrap_checkpoint
        sd = unwrap_checkpoint(obj)
    except ImportError:
        pass
    except (KeyError, ValueError, TypeError):
        sd = None  # e.g. non-tensor entries next to the weights
    if sd is None or not _is_state_dict(sd):
        sd = None
        node = obj
        for _ in range(3):  # e.g. {'model': {'module': sd}}
            if _is_state_dict(node) and not any(
                    w in node and isinstance(node[w], dict)
                    for w in _WRAPPERS):
                sd = node
                break
            if not isinstance(node, dict):
                break
            for w in _WRAPPERS:
                if isinstance(node.get(w), dict):
                    notes.append(f'state dict found under {w!r}')
                    node = node[w]
                    break
            else:
                break
        if sd is None and _is_state_dict(node):
            sd = node
    if sd is None:
        keys = list(obj)[:20] if isinstance(obj, dict) else type(obj)
        raise ConversionError(
            f'no state dict found in the checkpoint (top level: {keys}); '
            f'expected a flat dict or one under {list(_WRAPPERS)}')
    out = OrderedDict()
    stripped = set()
    for k, v in sd.items():
        nk = k
        changed = True
        while changed:
            changed = False
            for p in _PREFIXES:
                if nk.startswith(p):
                    nk = nk[len(p):]
                    stripped.add(p)
                    changed = True
            # torch.compile of a submodule: 'encoder._orig_mod.blocks...'
            if '._orig_mod.' in nk:
                nk = nk.replace('._orig_mod.', '.')
                stripped.add('_orig_mod.')
                changed = True
        if nk in out:
            raise ConversionError(
                f'two keys collapse to {nk!r} after removing prefixes '
                f'{sorted(stripped)}')
        out[nk] = v
    if stripped:
        notes.append(f'removed key prefixes {sorted(stripped)}')
    non_tensors = [k for k, v in out.items() if not isinstance(v, Tensor)]
    if non_tensors:
        raise ConversionError(
            f'non-tensor entries in the state dict: {non_tensors[:20]}')
    return out, notes


# --------------------------------------------------------------------------
# detection and conversion
# --------------------------------------------------------------------------
def select_target(sd: StateDict,
                  to: str) -> Tuple[StateDict, str, List[str]]:
    """Keep the part of the converted checkpoint that ``to`` asks for.

    Returns:
        tuple: (target state dict, resolved target, discarded keys).
    """
    has_neck = any(k.startswith('neck.') for k in sd)
    has_head = any(k.startswith('cls_head.') for k in sd)
    if to == 'auto':
        to = 'algorithm' if has_neck else (
            'recognizer' if has_head else 'backbone')
    if to == 'algorithm':
        if not has_neck:
            raise ConversionError(
                '--to algorithm needs a pretraining checkpoint with a '
                'decoder; this one has none (use --to backbone or '
                'recognizer)')
        keep = ('backbone.', 'neck.')
    elif to == 'recognizer':
        keep = ('backbone.', 'cls_head.')
    else:
        keep = ('backbone.', )
    out = OrderedDict()
    discarded = []
    for k, v in sd.items():
        if k.startswith(keep):
            out[k[len('backbone.'):] if to == 'backbone' else k] = v
        else:
            discarded.append(k)
    if to == 'algorithm' and has_head:
        raise ConversionError(
            'the checkpoint has both a decoder and a classifier; '
            '--to algorithm would drop cls_head.*: '
            f"{[k for k in discarded if k.startswith('cls_head.')]}")
    return out, to, discarded


# --------------------------------------------------------------------------
# target model (shape-inferred) for the missing/unexpected report
# --------------------------------------------------------------------------
def infer_config(sd: StateDict) -> dict:
    """mmmae model config matching the shapes of a converted state dict.

    Every hyper-parameter is a majority vote of all the tensors that show it
    (:func:`mmmae.checkpoint.arch.infer_videomae_config`), so one
    broken or missing tensor is reported by name instead of skewing the
    model it is compared with. Heads cannot be read from weights (they never
    change a shape); the standard ViT table is used. ``num_frames`` /
    ``img_size`` are not stored either (the positional table is
    recomputed); set them in your config.

    Args:
        sd (dict): Converted state dict, algorithm layout.

    Returns:
        dict: ``backbone``, ``neck`` (or None) and ``num_classes`` (or None).
    """
    return infer_videomae_config(sd)


def build_target(cfg: dict, to: str) -> Dict[str, torch.Size]:
    """Build the mmmae target model and return its state-dict shapes.

    Args:
        cfg (dict): From :func:`infer_config`.
        to (str): Resolved target.

    Returns:
        dict: key -> shape of the target model's state dict.
    """
    return videomae_target_shapes(cfg, to)


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------
def _mismatches(n: int) -> str:
    return f'{n} shape mismatch' + ('' if n == 1 else 'es')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert VideoMAE checkpoints (official V1/V2, '
        'HuggingFace, MMAction2) to mmmae.')
    parser.add_argument('src', help='source checkpoint (.pth/.pt/.bin/'
                        '.safetensors)')
    parser.add_argument('dst', help='output MMEngine checkpoint (.pth)')
    parser.add_argument(
        '--to',
        choices=_TARGETS,
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


def find_hf_config(src: str, given: Optional[str]) -> Optional[str]:
    """``given``, else the ``config.json`` of the HF folder SRC is in."""
    if given is not None:
        return given
    path = osp.join(osp.dirname(osp.abspath(src)), 'config.json')
    return path if osp.isfile(path) else None


def apply_hf_config(cfg: dict, sd: StateDict,
                    hf_config: Optional[str]) -> None:
    """Put what HF keeps outside the weights into the inferred config.

    The LayerNorm epsilons (HF: ``layer_norm_eps``, default 1e-12, in the
    blocks and the final norm; 1e-5 in ``fc_norm``/``decoder.norm``) and,
    with a ``config.json``, the heads and the clip size. Without the
    epsilons the converted model is off HF by ~1e-5.

    Args:
        cfg (dict): From :func:`infer_config`; updated in place.
        sd (dict): The unwrapped HF state dict.
        hf_config (str, optional): HF ``config.json``.
    """
    from mmmae.checkpoint.hf import inspect_hf_videomae
    info = inspect_hf_videomae(sd, hf_config=hf_config)
    keys = ('norm_eps', 'fc_norm_eps', 'img_size', 'num_frames')
    for k in keys:
        if k in info['backbone']:
            cfg['backbone'][k] = info['backbone'][k]
    if hf_config is not None:
        cfg['backbone']['arch']['num_heads'] = \
            info['backbone']['arch']['num_heads']
    if cfg.get('neck') is not None and info['neck'] is not None:
        for k in ('norm_eps', 'final_norm_eps'):
            cfg['neck'][k] = info['neck'][k]
        if hf_config is not None:
            cfg['neck']['decoder_num_heads'] = info['neck'][
                'decoder_num_heads']


def run(args: argparse.Namespace) -> int:
    """Convert ``args.src`` into ``args.dst``; see the module docstring.

    Returns:
        int: Exit status (0 ok, 1 failure).
    """
    obj, notes = load_checkpoint_file(
        args.src, trusted=getattr(args, 'trust_pickle', False))
    sd, n = unwrap(obj)
    notes += n
    num_src = len(sd)
    hf_config = None
    if detect_videomae_format(sd) == 'hf':
        hf_config = find_hf_config(args.src, getattr(args, 'hf_config',
                                                     None))
        if hf_config is not None:
            notes.append(f'HF config: {hf_config}')
    conv, fmt, n = convert_any_videomae(sd, hf_config=hf_config)
    notes += n
    out, to, discarded = select_target(conv, args.to)

    print(f'source: {args.src}')
    print(f'  format: {fmt}, {num_src} tensors')
    print(f'target: {to}, {len(out)} tensors')
    if discarded:
        print(f'  discarded on request (--to {to}): {len(discarded)} '
              f'tensors: {format_key_list(discarded)}')

    if to != 'algorithm' and 'backbone.norm.weight' in conv \
            and 'backbone.fc_norm.weight' not in conv:
        notes.append(
            'encoder with a final norm (pretraining layout): the official '
            'fine-tuning recipe uses VideoMAEViT(use_mean_pooling=True), '
            'which has no backbone.norm and a fresh fc_norm; load with '
            'strict=False there (as the official fine-tuning does)')
    errors: List[str] = []
    cfg = infer_config(conv)
    if fmt == 'hf':
        apply_hf_config(cfg, sd, hf_config)
    missing: List[str] = []
    try:
        shapes = build_target(cfg, to)
    except Exception as exc:  # helper model not importable / mismatch
        shapes = None
        msg = (f'could not build the target model from the inferred shapes '
               f'({type(exc).__name__}: {exc}); missing/unexpected keys '
               'not checked')
        notes.append(msg)
        if args.strict:
            errors.append(msg)
    if shapes is not None:
        missing, unexpected, mismatch = compare_shapes(out, shapes)
        print(f'  vs the target model: {len(missing)} missing, '
              f'{len(unexpected)} unexpected, {_mismatches(len(mismatch))}')
        if missing:
            print('  missing (left at their init): '
                  f'{format_key_list(missing)}')
        if unexpected:
            errors.append('unexpected keys (the target model has no place '
                          f'for them; they would be dropped): {unexpected}')
        if mismatch:
            errors.append(
                f'{_mismatches(len(mismatch))} (key: checkpoint '
                'shape vs model shape):\n    ' + '\n    '.join(mismatch))
        if missing and args.strict:
            errors.append(f'--strict: missing keys {missing}')

    for note in notes:
        print(f'  note: {note}')
    if args.strict:
        caveats = [n for n in notes if 'FIRST PATCH TOKEN' in n]
        errors += [f'--strict: {c}' for c in caveats]
    if errors:
        for e in errors:
            print(f'ERROR: {e}', file=sys.stderr)
        print('nothing written', file=sys.stderr)
        return 1

    import copy
    model_cfg = copy.deepcopy(cfg)
    meta = dict(
        mmmae_version=getattr(mmmae, '__version__', None),
        converter='tools/model_converters/videomae2mmmae.py',
        source=osp.abspath(args.src),
        source_format=fmt,
        target=to,
        num_source_tensors=num_src,
        num_tensors=len(out),
        discarded=discarded,
        missing=missing,
        inferred_config=model_cfg,
        notes=notes,
        time=time.strftime('%Y-%m-%d %H:%M:%S'))
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save({'state_dict': out, 'meta': meta}, args.dst)
    if hf_config is not None:
        print(f'inferred config (weights + {hf_config}):')
    else:
        print('inferred config (heads guessed; set num_frames/img_size):')
    print(f'  backbone={cfg["backbone"]}')
    if to == 'algorithm' and cfg['neck'] is not None:
        print(f'  neck={cfg["neck"]}')
    if to == 'recognizer' and cfg['num_classes'] is not None:
        print(f'  num_classes={cfg["num_classes"]}')
    print(f'saved {len(out)} tensors to {args.dst}')
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Command-line entry point.

    Args:
        argv (list[str], optional): Arguments without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        int: Exit status (0 success, 1 conversion error).
    """
    args = parse_args(argv)
    try:
        return run(args)
    except ConversionError as exc:
        # one line, no traceback: the message names the file and the fault
        print(f'ERROR: {exc} (nothing written)', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
