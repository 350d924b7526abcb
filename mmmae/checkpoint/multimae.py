# Copyright (c) mmmae contributors. All rights reserved.
"""Official MultiMAE / MultiViT checkpoints -> mmmae state dicts.

The mmmae module tree mirrors the official one:

========================================  ===================================
official                                  mmmae
========================================  ===================================
``global_tokens``                         ``backbone.global_tokens``
``input_adapters.{d}.*``                  ``backbone.input_adapters.{d}.*``
``encoder.{i}.*``                         ``backbone.encoder.{i}.*``
``output_adapters.cls.{norm,head}.*``     ``head.{norm,head}.*``
                                          (:class:`MultiMAELinearHead`)
``output_adapters.{task}.*`` (spatial)    ``neck.output_adapters.{task}.*``
========================================  ===================================

Unknown keys (fine-tuning heads such as ConvNeXt/DPT adapters, ...) raise a
``KeyError`` listing them, or with ``strict=False`` are warned about and
left out.

:func:`multimae_to_timm` / :func:`timm_to_multimae` convert the rgb part of
a MultiViT encoder to and from a timm ``VisionTransformer`` state dict, as
the official ``tools/multimae2vit_converter.py`` /
``vit2multimae_converter.py`` do, but report the keys they leave out instead
of dropping them silently:

========================================  ===================================
MultiViT (= bare :class:`MultiMAEViT`)    timm
========================================  ===================================
``global_tokens`` (1, 1, D)               ``cls_token`` (its ``pos_embed``
                                          row is added on the way back and
                                          written as zeros on the way out)
``input_adapters.rgb.pos_emb`` (1,D,h,w)  ``pos_embed`` (1, 1 + h*w, D)
``input_adapters.rgb.proj.*``             ``patch_embed.proj.*``
``encoder.{i}.*``                         ``blocks.{i}.*``
(none: MultiMAE has no final norm)        ``norm.*`` / ``fc_norm.*``
(none)                                    ``head.*``
========================================  ===================================

The global token sits after the patch tokens in MultiMAE and first in timm;
it has no positional embedding, so attention gives the same values up to
that token order.
"""
import math
import re
import warnings
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch

from .videomae import _finish, unwrap_checkpoint

__all__ = [
    'convert_official_multimae', 'multimae_to_timm', 'timm_to_multimae'
]

StateDict = Dict[str, torch.Tensor]

_BLOCK = (r'(norm1|norm2|attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)'
          r'\.(weight|bias)')
_BACKBONE = re.compile(
    r'^(global_tokens|'
    r'input_adapters\.[^.]+\.(pos_emb|proj\.(weight|bias)|class_emb\.weight)|'
    rf'encoder\.\d+\.{_BLOCK})$')
_SPATIAL = re.compile(
    r'^output_adapters\.[^.]+\.('
    r'mask_token|pos_emb|task_embeddings\.[^.]+|'
    r'(proj_context|out_proj|decoder\.(q|kv|proj)|mlp\.fc1|mlp\.fc2|'
    r'query_norm|context_norm|out_norm)\.(weight|bias)|'
    rf'decoder_transformer\.\d+\.{_BLOCK})$')
_CLS = re.compile(r'^output_adapters\.cls\.((norm|head)\.(weight|bias))$')


def convert_official_multimae(
    state_dict: Mapping,
    strict: bool = True,
    return_unknown: bool = False
) -> Union[StateDict, Tuple[StateDict, StateDict]]:
    """Convert an official MultiMAE (pre-training) or MultiViT checkpoint.

    Args:
        state_dict (Mapping): Official state dict or checkpoint (``model``
            wrapper and ``module.`` prefixes are removed).
        strict (bool): Raise on unknown keys; with False they are warned
            about and left out. Defaults to True.
        return_unknown (bool): Also return the unknown entries.

    Returns:
        OrderedDict | tuple: mmmae state dict (``backbone.*``, ``neck.*``,
        ``head.*``), plus the unknown entries when ``return_unknown``.

    Raises:
        KeyError: Unknown keys with ``strict=True``.
    """
    state_dict = unwrap_checkpoint(state_dict)
    out: StateDict = OrderedDict()
    unknown: StateDict = OrderedDict()
    for key, value in state_dict.items():
        cls = _CLS.match(key)
        if cls:
            out['head.' + cls.group(1)] = value
        elif _BACKBONE.match(key):
            out['backbone.' + key] = value
        elif _SPATIAL.match(key):
            out['neck.' + key] = value
        else:
            unknown[key] = value
    return _finish(out, unknown, strict, return_unknown, 'mmmae MultiMAE')


_TIMM_BLOCK = re.compile(rf'^blocks\.(\d+)\.{_BLOCK}$')
#: timm keys with no MultiMAE counterpart that are left out on purpose:
#: the final norm (MultiMAE has none) and the classifier.
_TIMM_DROPPABLE = re.compile(r'^(norm|fc_norm|head)\.(weight|bias)$')
_MULTIVIT_BLOCK = re.compile(rf'^encoder\.(\d+)\.{_BLOCK}$')


def _strip_backbone_prefix(state_dict: Mapping) -> StateDict:
    """Official MultiViT keys from an official, bare-backbone or mmmae
    (``backbone.*``) state dict; other mmmae parts keep their prefix."""
    sd = unwrap_checkpoint(state_dict)
    if any(k.startswith('backbone.') for k in sd):
        out: StateDict = OrderedDict()
        for k, v in sd.items():
            out[k[len('backbone.'):] if k.startswith('backbone.') else k] = v
        return out
    return sd


def multimae_to_timm(
    state_dict: Mapping,
    modality: str = 'rgb',
    return_dropped: bool = False
) -> Union[StateDict, Tuple[StateDict, List[str]]]:
    """MultiViT / MultiMAE encoder -> timm ``VisionTransformer`` state dict.

    Only the ``modality`` input adapter is kept (timm has one patch
    embedding). ``global_tokens`` becomes ``cls_token`` and the cls row of
    ``pos_embed`` is zero (the official ``multimae2vit_converter``), so the
    timm model computes the same tokens (cls first instead of last). The
    timm model has a final ``norm`` the MultiMAE encoder lacks: load with
    ``strict=False`` and keep ``norm`` at its identity init (or use
    ``global_pool='avg'`` + ``fc_norm``).

    Args:
        state_dict (Mapping): Official MultiMAE / MultiViT state dict, bare
            :class:`MultiMAEViT` state dict or mmmae checkpoint
            (``backbone.*``); wrappers are removed.
        modality (str): Input adapter to export. Defaults to ``'rgb'``.
        return_dropped (bool): Also return the source keys left out (other
            adapters, decoders, heads). Defaults to False.

    Returns:
        OrderedDict | tuple: timm state dict (``cls_token``, ``pos_embed``,
        ``patch_embed.proj.*``, ``blocks.*``), plus the dropped keys.

    Raises:
        KeyError: Missing ``global_tokens`` / adapter keys, or encoder keys
            with no timm counterpart.
        ValueError: More than one global token, or a non-patched adapter.
    """
    sd = _strip_backbone_prefix(state_dict)
    prefix = f'input_adapters.{modality}.'
    need = ['global_tokens', prefix + 'pos_emb', prefix + 'proj.weight']
    absent = [k for k in need if k not in sd]
    if absent:
        raise KeyError(f'not a MultiViT/MultiMAE encoder with a {modality!r} '
                       f'adapter: missing {absent}')
    if prefix + 'class_emb.weight' in sd:
        raise ValueError(f'input adapter {modality!r} embeds class ids; timm '
                         'ViTs take images')
    glob = sd['global_tokens']
    if glob.dim() != 3 or glob.shape[1] != 1:
        raise ValueError(
            f'global_tokens {tuple(glob.shape)}: timm has exactly one cls '
            'token, so only num_global_tokens=1 converts')
    pos = sd[prefix + 'pos_emb']
    if pos.dim() != 4:
        raise ValueError(f'{prefix}pos_emb must be (1, D, h, w), got '
                         f'{tuple(pos.shape)}')
    dims = pos.shape[1]
    grid = pos.flatten(2).transpose(1, 2)  # (1, h*w, D) row-major
    out: StateDict = OrderedDict()
    out['cls_token'] = glob.clone()
    out['pos_embed'] = torch.cat([grid.new_zeros(1, 1, dims), grid], dim=1)
    dropped: List[str] = []
    unknown: List[str] = []
    for k, v in sd.items():
        if k in ('global_tokens', prefix + 'pos_emb'):
            continue
        if k.startswith(prefix + 'proj.'):
            out['patch_embed.' + k[len(prefix):]] = v
        elif _MULTIVIT_BLOCK.match(k):
            out['blocks.' + k[len('encoder.'):]] = v
        elif k.startswith(('input_adapters.', 'output_adapters.', 'neck.',
                           'head.', 'data_preprocessor.')):
            dropped.append(k)
        else:
            unknown.append(k)
    if unknown:
        raise KeyError(f'{len(unknown)} key(s) have no timm counterpart: '
                       f'{unknown}')
    if return_dropped:
        return out, dropped
    return out


def timm_to_multimae(
    state_dict: Mapping,
    modality: str = 'rgb',
    grid_size: Optional[Sequence[int]] = None,
    strict: bool = True,
    return_dropped: bool = False
) -> Union[StateDict, Tuple[StateDict, List[str]]]:
    """timm ``VisionTransformer`` -> MultiViT / bare :class:`MultiMAEViT`.

    ``cls_token + pos_embed[:, 0]`` becomes ``global_tokens`` (MultiMAE adds
    no position to global tokens), the patch rows of ``pos_embed`` the
    ``(1, D, h, w)`` grid of the ``modality`` adapter, ``patch_embed.proj``
    its ``proj`` and ``blocks.`` ``encoder.``. The final ``norm``/``fc_norm``
    and ``head`` have no MultiMAE counterpart and are left out (listed with
    ``return_dropped``); other keys (layer scale, register tokens, ...) are
    unknown.

    The result has the official MultiViT key names, which are also the
    :class:`MultiMAEViT` names: load it into a backbone with one patched
    ``rgb`` adapter (``img_size = grid * patch_size``), or add ``backbone.``
    for a whole model.

    Args:
        state_dict (Mapping): timm state dict or checkpoint (wrappers and
            ``module.`` prefixes are removed).
        modality (str): Name of the input adapter. Defaults to ``'rgb'``.
        grid_size (Sequence[int], optional): Patch grid ``(h, w)``; by
            default the positional table must be square.
        strict (bool): Raise on unknown keys; with False they are warned
            about and left out. Defaults to True.
        return_dropped (bool): Also return the keys left out (dropped and
            unknown). Defaults to False.

    Returns:
        OrderedDict | tuple: MultiViT state dict, plus the dropped keys.

    Raises:
        KeyError: Missing ``cls_token``/``pos_embed``/``patch_embed``, or
            unknown keys with ``strict=True``.
        ValueError: A positional table that does not fit the grid.
    """
    sd = unwrap_checkpoint(state_dict)
    absent = [k for k in ('cls_token', 'pos_embed', 'patch_embed.proj.weight')
              if k not in sd]
    if absent:
        raise KeyError(f'not a timm ViT state dict: missing {absent}')
    cls_token, pos = sd['cls_token'], sd['pos_embed']
    if cls_token.dim() != 3 or cls_token.shape[1] != 1 or pos.dim() != 3:
        raise ValueError(f'cls_token {tuple(cls_token.shape)} / pos_embed '
                         f'{tuple(pos.shape)}: expected (1, 1, D) and '
                         '(1, [1 +] N, D)')
    dims = pos.shape[-1]
    rows = pos.shape[1]
    if grid_size is None:
        n = int(round(math.sqrt(rows - 1))) if rows > 1 else 0
        if n * n == rows - 1:
            grid_size = (n, n)
        else:
            n = int(round(math.sqrt(rows)))
            if n * n != rows:
                raise ValueError(
                    f'pos_embed has {rows} rows: not 1 + a square grid; '
                    'pass grid_size')
            grid_size = (n, n)
    h, w = (int(g) for g in grid_size)
    if rows == h * w + 1:  # cls row (timm default)
        glob = cls_token + pos[:, :1]
        patch_pos = pos[:, 1:]
    elif rows == h * w:  # no_embed_class=True: the cls token has no position
        glob = cls_token.clone()
        patch_pos = pos
    else:
        raise ValueError(f'pos_embed has {rows} rows, grid {(h, w)} needs '
                         f'{h * w} or {h * w + 1}')
    prefix = f'input_adapters.{modality}.'
    out: StateDict = OrderedDict()
    out['global_tokens'] = glob
    out[prefix + 'pos_emb'] = patch_pos.transpose(1, 2).reshape(
        1, dims, h, w).contiguous()
    dropped: List[str] = []
    unknown: List[str] = []
    for k, v in sd.items():
        if k in ('cls_token', 'pos_embed'):
            continue
        if k in ('patch_embed.proj.weight', 'patch_embed.proj.bias'):
            out[prefix + k[len('patch_embed.'):]] = v
        elif _TIMM_BLOCK.match(k):
            out['encoder.' + k[len('blocks.'):]] = v
        elif _TIMM_DROPPABLE.match(k):
            dropped.append(k)
        else:
            unknown.append(k)
    if unknown:
        msg = (f'{len(unknown)} timm key(s) have no MultiMAE counterpart: '
               f'{unknown}')
        if strict:
            raise KeyError(msg)
        warnings.warn(msg + ' (left out)')
    if return_dropped:
        return out, dropped + unknown
    return out
