# Copyright (c) mmmae contributors. All rights reserved.
"""mmmae state dicts -> official VideoMAE (V1/V2) checkpoints.

The inverse of :mod:`mmmae.checkpoint.videomae`: the mmmae module
tree mirrors the official one, so the export is a key prefix rename and the
round trips official -> mmmae -> official and mmmae -> official -> mmmae are
lossless (same keys, same tensors, same dtypes; tensors are shared, not
copied).

=====================================  =====================================
mmmae                                  official
=====================================  =====================================
pretraining (``kind='pretrain'``, saved as ``{'model': sd}``)
---------------------------------------------------------------------------
``backbone.*``                         ``encoder.*``
``neck.{blocks,norm,head}.*``          ``decoder.*``
``neck.encoder_to_decoder.weight``     ``encoder_to_decoder.weight``
``neck.mask_token``                    ``mask_token``
fine-tuned (``kind='finetune'``, saved as ``{'module': sd}``)
---------------------------------------------------------------------------
``backbone.*``                         ``*`` (``patch_embed``, ``blocks``,
                                       ``fc_norm`` or ``norm``)
``cls_head.fc_cls.{weight,bias}``      ``head.{weight,bias}``
=====================================  =====================================

``backbone.*`` covers ``patch_embed.proj.*``, ``blocks.{i}.*`` (``norm1``,
``attn.qkv.weight``, ``attn.q_bias``, ``attn.v_bias``, ``attn.proj``,
``norm2``, ``mlp.fc1``, ``mlp.fc2``, ``gamma_1``/``gamma_2``), ``norm.*`` and
``fc_norm.*``. A bare :class:`~mmmae.models.VideoMAEViT` state dict (no
prefix) is treated as ``backbone.*``.

``kind='auto'`` decides from the keys:

* ``neck.*`` present -> ``pretrain`` (an ``mmmae.VideoMAE`` algorithm);
* else ``cls_head.*`` present -> ``finetune`` (a ``Recognizer3D``);
* else (backbone only, prefixed or bare) -> ``finetune`` when
  ``fc_norm.*`` is present (a mean-pooling classifier backbone, the layout of
  every released fine-tuned model), otherwise ``pretrain`` with the encoder
  only (``encoder.*``): the official pretraining encoder always ends with
  ``norm``, and the official fine-tuning script strips the ``encoder.``
  prefix when it initialises from such a file. This is also exactly the
  layout the importer turns into a backbone-only mmmae state dict, so encoder
  dumps round-trip. Pass ``kind`` explicitly to override.

Keys that are not weights of the official model are handled as follows:

* ``data_preprocessor.*`` (mean/std buffers of training checkpoints) are
  normalisation constants: they are left out and reported (their values are
  in :attr:`OfficialExport.left_out` and the warning); set them in the
  official data pipeline instead.
* a ``pos_embed`` buffer (``backbone.pos_embed``, ``neck.pos_embed`` or a
  bare ``pos_embed``) never appears in mmmae state dicts (it is
  non-persistent, as in the official code). If one is present and equals the
  fixed sin-cos table it is dropped with a log line; any other value is an
  unknown key.
* everything else that has no official counterpart in the chosen layout
  (e.g. ``neck.*`` with ``kind='finetune'``, ``cls_head.*`` with
  ``kind='pretrain'``, heads other than ``cls_head.fc_cls``) is unknown:
  :class:`KeyError` listing them, or with ``strict=False`` a warning and the
  entries returned separately.

Only the ``state_dict`` of an MMEngine checkpoint is exported; ``meta``,
``optimizer``, ``param_schedulers`` and ``message_hub`` are not part of an
official model file. With MMEngine's ``EMAHook`` the saved ``state_dict``
already holds the averaged (EMA) weights and ``ema_state_dict`` the raw
ones (the hook swaps them before saving); the ``state_dict`` is exported and
a note says so.
"""
import re
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple, Union

import torch

from .videomae import _is_fixed_sincos, unwrap_checkpoint

__all__ = [
    'OfficialExport', 'detect_mmmae_kind', 'export_to_official',
    'convert_mmmae_to_official', 'wrap_official', 'official_wrapper_key',
    'KINDS'
]

StateDict = Dict[str, torch.Tensor]

KINDS = ('auto', 'pretrain', 'finetune')
_WRAPPER_KEY = {'pretrain': 'model', 'finetune': 'module'}
_MMMAE_PREFIXES = ('backbone.', 'neck.', 'cls_head.')
_PREPROCESSOR = 'data_preprocessor.'
_POS_EMBED_KEYS = ('pos_embed', 'backbone.pos_embed', 'neck.pos_embed')

_BLOCK_REST = (r'blocks\.\d+\.(norm1\.(weight|bias)|norm2\.(weight|bias)|'
               r'attn\.qkv\.weight|attn\.q_bias|attn\.v_bias|'
               r'attn\.proj\.(weight|bias)|mlp\.fc1\.(weight|bias)|'
               r'mlp\.fc2\.(weight|bias)|gamma_1|gamma_2)')
# Sub-names of ``backbone.*`` (= official encoder / fine-tuned model).
_BACKBONE_KEY = re.compile(
    r'^(patch_embed\.proj\.(weight|bias)|(norm|fc_norm)\.(weight|bias)|' +
    _BLOCK_REST + r')$')
# Sub-names of ``neck.*`` that live under ``decoder.``.
_DECODER_KEY = re.compile(r'^((norm|head)\.(weight|bias)|' + _BLOCK_REST +
                          r')$')


@dataclass
class OfficialExport:
    """Result of :func:`export_to_official`.

    Attributes:
        state_dict (OrderedDict): Official state dict (unwrapped).
        kind (str): ``'pretrain'`` or ``'finetune'``.
        layout (str): ``'pretrain'`` (encoder + decoder),
            ``'pretrain-encoder'`` (``encoder.*`` only) or ``'finetune'``.
        unknown (OrderedDict): mmmae entries without an official counterpart
            (only non-empty with ``strict=False``).
        left_out (OrderedDict): Known non-weight entries that were left out
            on purpose (``data_preprocessor.*``).
        dropped (list[str]): ``pos_embed`` buffers equal to the fixed sin-cos
            table.
        notes (list[str]): Informational remarks (EMA, ignored top-level
            checkpoint entries, left-out values).
        caveats (list[str]): Reasons why the official model class would not
            load the result with ``strict=True`` (missing classifier,
            non-official ``encoder.fc_norm``, ...). Conversion still
            succeeds; the CLI fails on them with ``--strict``.
    """
    state_dict: StateDict
    kind: str
    layout: str
    unknown: StateDict = field(default_factory=OrderedDict)
    left_out: StateDict = field(default_factory=OrderedDict)
    dropped: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    caveats: List[str] = field(default_factory=list)

    @property
    def wrapper_key(self) -> str:
        """``'model'`` for pretraining, ``'module'`` for fine-tuned."""
        return official_wrapper_key(self.kind)


def official_wrapper_key(kind: str) -> str:
    """Top-level key the official loaders expect for ``kind``.

    Args:
        kind (str): ``'pretrain'`` or ``'finetune'``.

    Returns:
        str: ``'model'`` (official pretraining saves) or ``'module'``
        (DeepSpeed fine-tuning saves, the released fine-tuned files).
    """
    if kind not in _WRAPPER_KEY:
        raise ValueError(
            f"kind must be 'pretrain' or 'finetune', got {kind!r}")
    return _WRAPPER_KEY[kind]


def wrap_official(state_dict: Mapping[str, torch.Tensor],
                  kind: str) -> dict:
    """Wrap an official state dict the way the official code saves it.

    Args:
        state_dict (Mapping[str, Tensor]): Official state dict.
        kind (str): ``'pretrain'`` -> ``{'model': sd}``; ``'finetune'`` ->
            ``{'module': sd}`` (the official loaders' ``--model_key``).

    Returns:
        dict: The wrapped checkpoint.
    """
    return {official_wrapper_key(kind): state_dict}


def _strip_backbone(key: str, bare: bool) -> Optional[str]:
    """Backbone sub-name of an mmmae key, or None if not a backbone key."""
    if bare:
        return key
    if key.startswith('backbone.'):
        return key[len('backbone.'):]
    return None


def _is_bare(keys: List[str]) -> bool:
    """A bare backbone state dict: no mmmae prefix anywhere."""
    weights = [k for k in keys if not k.startswith(_PREPROCESSOR)]
    return bool(weights) and not any(
        k.startswith(_MMMAE_PREFIXES) for k in weights)


def detect_mmmae_kind(state_dict: Mapping[str, torch.Tensor]) -> str:
    """Official layout an mmmae state dict exports to by default.

    See the module docstring for the rules.

    Args:
        state_dict (Mapping[str, Tensor]): Unwrapped mmmae state dict.

    Returns:
        str: ``'pretrain'`` or ``'finetune'``.
    """
    keys = list(state_dict)
    if any(k.startswith('neck.') for k in keys):
        return 'pretrain'
    if any(k.startswith('cls_head.') for k in keys):
        return 'finetune'
    bare = _is_bare(keys)
    has_fc_norm = any(
        _strip_backbone(k, bare) in ('fc_norm.weight', 'fc_norm.bias')
        for k in keys)
    return 'finetune' if has_fc_norm else 'pretrain'


def _map_key(key: str, kind: str, bare: bool) -> Optional[str]:
    """Official name of an mmmae key in the ``kind`` layout (None: unknown)."""
    rest = _strip_backbone(key, bare)
    if rest is not None:
        if not _BACKBONE_KEY.match(rest):
            return None
        return 'encoder.' + rest if kind == 'pretrain' else rest
    if kind == 'pretrain':
        if key == 'neck.mask_token':
            return 'mask_token'
        if key == 'neck.encoder_to_decoder.weight':
            return 'encoder_to_decoder.weight'
        if key.startswith('neck.') and _DECODER_KEY.match(key[5:]):
            return 'decoder.' + key[5:]
        return None
    if key in ('cls_head.fc_cls.weight', 'cls_head.fc_cls.bias'):
        return 'head.' + key[len('cls_head.fc_cls.'):]
    return None


def _unknown_hint(unknown: List[str], kind: str) -> str:
    if any(k.startswith(('encoder.', 'decoder.')) for k in unknown):
        return (' (this looks like an official checkpoint already; use '
                'tools/model_converters/videomae2mmmae.py for the other '
                'direction)')
    if kind == 'finetune' and any(k.startswith('neck.') for k in unknown):
        return (" (decoder weights have no place in a fine-tuned checkpoint;"
                " use kind='pretrain')")
    if kind == 'pretrain' and any(k.startswith('cls_head.') for k in unknown):
        return (' (official pretraining checkpoints have no classifier; '
                "use kind='finetune', or export the algorithm and the "
                'recognizer separately)')
    if any(k.startswith('cls_head.') for k in unknown):
        return (' (only a linear cls_head.fc_cls maps to the official '
                '``head``)')
    return ''


def _fmt_values(value: torch.Tensor) -> str:
    if value.numel() <= 8:
        return str([round(float(x), 6) for x in value.flatten().tolist()])
    return f'<tensor {tuple(value.shape)}>'


def export_to_official(state_dict_or_ckpt: Mapping,
                       kind: str = 'auto',
                       strict: bool = True) -> OfficialExport:
    """Convert an mmmae state dict or checkpoint, with a full report.

    Nothing is logged or warned here; :func:`convert_mmmae_to_official` and
    the CLI report the result.

    Args:
        state_dict_or_ckpt (Mapping): mmmae state dict (algorithm,
            recognizer or bare backbone) or an MMEngine checkpoint
            ``{'state_dict': ..., 'meta': ...}``; prefixes ``module.`` and
            ``_orig_mod.`` are removed.
        kind (str): ``'auto'``, ``'pretrain'`` or ``'finetune'``. See the
            module docstring. Defaults to ``'auto'``.
        strict (bool): Raise on unknown keys. With False they are left out
            and returned in :attr:`OfficialExport.unknown`. Defaults to True.

    Returns:
        OfficialExport: The official state dict and what happened to the
        other entries.

    Raises:
        ValueError: Unsupported ``kind``.
        KeyError: Unknown keys with ``strict=True`` (all of them listed) or
            an official name produced twice.
    """
    if kind not in KINDS:
        raise ValueError(f'kind must be one of {KINDS}, got {kind!r}')
    notes: List[str] = []
    if isinstance(state_dict_or_ckpt, Mapping):
        extra = [
            str(k) for k in state_dict_or_ckpt
            if k in ('meta', 'optimizer', 'param_schedulers', 'message_hub',
                     'ema_state_dict')
        ]
        if 'ema_state_dict' in state_dict_or_ckpt:
            notes.append(
                'the checkpoint has an ema_state_dict: with MMEngine\'s '
                'EMAHook the exported state_dict holds the EMA-averaged '
                'weights and ema_state_dict the raw ones (not exported)')
        if extra:
            notes.append(f'not exported (no official counterpart): '
                         f'top-level {extra}')
    sd = unwrap_checkpoint(state_dict_or_ckpt)
    resolved = detect_mmmae_kind(sd) if kind == 'auto' else kind
    bare = _is_bare(list(sd))

    out: StateDict = OrderedDict()
    unknown: StateDict = OrderedDict()
    left_out: StateDict = OrderedDict()
    dropped: List[str] = []
    for key, value in sd.items():
        if key.startswith(_PREPROCESSOR):
            left_out[key] = value
            continue
        if key in _POS_EMBED_KEYS and (bare or key != 'pos_embed'):
            if _is_fixed_sincos(value):
                dropped.append(key)
            else:
                unknown[key] = value
            continue
        new = _map_key(key, resolved, bare)
        if new is None:
            unknown[key] = value
            continue
        if new in out:
            raise KeyError(f'two keys map to the official name {new!r}')
        out[new] = value

    if unknown and strict:
        raise KeyError(
            f'{len(unknown)} key(s) have no counterpart in the official '
            f'{resolved} layout: {list(unknown)}' +
            _unknown_hint(list(unknown), resolved))
    for key, value in left_out.items():
        notes.append(f'left out {key} = {_fmt_values(value)} (normalisation '
                     'constants, not model weights; set them in the official '
                     'data pipeline)')

    caveats: List[str] = []
    if resolved == 'pretrain':
        has_decoder = any(k.startswith('decoder.') for k in out)
        layout = 'pretrain' if has_decoder else 'pretrain-encoder'
        if not has_decoder:
            caveats.append(
                'encoder only (no decoder): the official '
                'PretrainVisionTransformer cannot load it strictly; the '
                'official fine-tuning script can initialise from it (it '
                "strips 'encoder.')")
        fc = [k for k in out if k.startswith('encoder.fc_norm.')]
        if fc:
            caveats.append(
                f'{fc}: the official pretraining encoder has no fc_norm '
                '(mmmae backbone built with use_mean_pooling=True); the '
                'official loaders ignore it')
        if 'encoder.norm.weight' not in out:
            caveats.append('no encoder.norm: the official pretraining '
                           'encoder always has a final norm')
    else:
        layout = 'finetune'
        if 'head.weight' not in out:
            caveats.append('no classifier (cls_head.fc_cls): the official '
                           'fine-tuned model will miss head.weight/head.bias')
        if 'norm.weight' in out and 'fc_norm.weight' not in out:
            caveats.append(
                'norm.* instead of fc_norm.*: the official '
                'VisionTransformer(use_mean_pooling=False) classifies the '
                'FIRST PATCH TOKEN (there is no cls token), not the mean '
                'that mmmae heads usually see')
    return OfficialExport(
        state_dict=out,
        kind=resolved,
        layout=layout,
        unknown=unknown,
        left_out=left_out,
        dropped=dropped,
        notes=notes,
        caveats=caveats)


def convert_mmmae_to_official(
    state_dict_or_ckpt: Mapping,
    kind: str = 'auto',
    strict: bool = True,
    return_unknown: bool = False
) -> Union[StateDict, Tuple[StateDict, StateDict]]:
    """Convert an mmmae state dict or checkpoint to the official layout.

    The inverse of
    :func:`mmmae.checkpoint.videomae.convert_official_videomae`.
    Left-out ``data_preprocessor.*`` entries and caveats are warned about,
    a dropped sin-cos ``pos_embed`` is logged. Wrap the result with
    :func:`wrap_official` before saving it for the official code.

    Args:
        state_dict_or_ckpt (Mapping): mmmae state dict or MMEngine
            checkpoint.
        kind (str): ``'auto'``, ``'pretrain'`` or ``'finetune'``; see the
            module docstring. Defaults to ``'auto'``.
        strict (bool): Raise on unknown keys. With False they are warned
            about and left out of the result. Defaults to True.
        return_unknown (bool): Also return the unknown entries (mmmae
            names). Defaults to False.

    Returns:
        OrderedDict | tuple: Official state dict, plus the unknown entries
        when ``return_unknown``.

    Raises:
        KeyError: Unknown keys with ``strict=True``.
    """
    res = export_to_official(state_dict_or_ckpt, kind=kind, strict=strict)
    if res.dropped:
        from mmengine.logging import print_log
        print_log(
            f'dropped {res.dropped}: equal to the fixed sin-cos table the '
            'official code recomputes', logger='current')
    if res.left_out:
        warnings.warn(
            f'left out of the official {res.kind} state dict: ' + '; '.join(
                f'{k} = {_fmt_values(v)}' for k, v in res.left_out.items()) +
            ' (normalisation constants, not model weights)')
    for caveat in res.caveats:
        warnings.warn(f'official {res.kind} export: {caveat}')
    if res.unknown:
        warnings.warn(
            f'{len(res.unknown)} key(s) have no counterpart in the official '
            f'{res.kind} layout: {list(res.unknown)} (left out of the '
            'converted state dict)' + _unknown_hint(list(res.unknown),
                                                    res.kind))
    if return_unknown:
        return res.state_dict, res.unknown
    return res.state_dict
