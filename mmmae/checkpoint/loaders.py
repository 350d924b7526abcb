# Copyright (c) mmmae contributors. All rights reserved.
"""Backbone loaders: the encoder of any checkpoint layout into a backbone.

:func:`load_backbone_checkpoint` (VideoMAE: mmmae, official V1/V2,
MMAction2, HuggingFace) and :func:`load_multimae_backbone` (MultiMAE:
official MultiMAE/MultiViT, mmmae, timm) detect the layout from the keys,
convert it, load what fits and report every group of keys they did not use.

The backbone classes call these lazily from ``init_weights``; this module
imports :mod:`mmmae.models` only inside functions, so ``mmmae.checkpoint``
and ``mmmae.models`` can be imported in either order.
"""
import os.path as osp
from collections import OrderedDict
from typing import TYPE_CHECKING, Dict, Mapping, Tuple, Union

import torch

from .io import load_checkpoint_or_url
from .multimae import timm_to_multimae
from .videomae import compare_shapes, convert_any_videomae, unwrap_checkpoint

if TYPE_CHECKING:  # pragma: no cover
    from mmmae.models.backbones.multimae_vit import MultiMAEViT
    from mmmae.models.backbones.videomae_vit import VideoMAEViT

__all__ = ['load_backbone_checkpoint', 'load_multimae_backbone']


def load_backbone_checkpoint(backbone: 'VideoMAEViT',
                             checkpoint: Union[str, Mapping],
                             map_location: str = 'cpu',
                             strict: bool = False) -> Dict[str, list]:
    """Load the encoder weights of any VideoMAE checkpoint into a backbone.

    The layout is detected from the keys (mmmae pretraining or recognizer,
    official V1/V2 pretraining or fine-tuned, MMAction2, HuggingFace) and
    converted. Everything that is not an encoder weight is reported by
    group, never dropped silently:

    * decoder, ``mask_token``, ``encoder_to_decoder`` and classifier keys;
    * the pretraining encoder's final ``norm`` when the backbone uses mean
      pooling (``norm`` is an Identity there and ``fc_norm`` starts fresh,
      exactly as the official fine-tuning does).

    The positional table is never loaded: it is recomputed for the
    backbone's ``num_frames``/``img_size`` and interpolated at run time for
    other clip sizes.

    Args:
        backbone (VideoMAEViT): Target module.
        checkpoint (str | Mapping): Path/URL (anything MMEngine's
            ``CheckpointLoader`` reads; local files go through
            :func:`~mmmae.checkpoint.io.load_checkpoint_file`) or an
            already loaded checkpoint.
        map_location (str): Device for loading. Defaults to ``'cpu'``.
        strict (bool): Raise when backbone keys are missing. Defaults to
            False (a fresh ``fc_norm`` is expected when fine-tuning from a
            pretraining checkpoint).

    Returns:
        dict: ``format``, ``missing``, ``unexpected`` and ``dropped`` keys.

    Raises:
        FileNotFoundError: ``checkpoint`` is a path that does not exist.
        CorruptCheckpointError: The file is empty, truncated, corrupt or not
            a checkpoint (names the file, the fault and the fix).
        RuntimeError: Shape mismatch (names the checkpoint), or missing keys
            with ``strict=True``.
    """
    from mmengine.logging import print_log

    name = checkpoint if isinstance(checkpoint, str) else '<state dict>'
    if isinstance(checkpoint, str) and '://' not in checkpoint \
            and not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'pretrained checkpoint {checkpoint} does not exist: set '
            'model.backbone.init_cfg.checkpoint to your pretraining '
            'checkpoint (e.g. --cfg-options model.backbone.init_cfg.'
            'checkpoint=PATH); to train from scratch, use the '
            'fine-tuning init of configs/_base_/models/'
            'vit-base-p16_videomae-recognizer.py as init_cfg')
    if isinstance(checkpoint, str):
        checkpoint = load_checkpoint_or_url(checkpoint, map_location)
    converted, fmt, notes = convert_any_videomae(
        unwrap_checkpoint(checkpoint))

    state_dict, dropped = OrderedDict(), OrderedDict()
    for key, value in converted.items():
        if key.startswith('backbone.'):
            state_dict[key[len('backbone.'):]] = value
        else:
            group = key.split('.')[0] + '.*'
            if key.startswith('neck.'):
                group = ('decoder (neck.*: blocks, mask_token, '
                         'encoder_to_decoder)')
            dropped.setdefault(group, []).append(key)
    if backbone.use_mean_pooling and 'fc_norm.weight' not in state_dict:
        norm = [k for k in state_dict if k.startswith('norm.')]
        if norm:
            dropped['final encoder norm (mean pooling uses a fresh fc_norm,'
                    ' as the official fine-tuning)'] = norm
            for k in norm:
                state_dict.pop(k)
    elif not backbone.use_mean_pooling:
        fc_norm = [k for k in state_dict if k.startswith('fc_norm.')]
        if fc_norm:
            dropped['fc_norm (backbone has use_mean_pooling=False)'] = fc_norm
            for k in fc_norm:
                state_dict.pop(k)
    mismatch = compare_shapes(state_dict, {
        k: v.shape
        for k, v in backbone.state_dict().items()
    })[2]
    if mismatch:
        # one entry per key with both shapes, before any tensor is copied
        raise RuntimeError(
            f'{name}: its weights do not fit this VideoMAEViT (check arch, '
            f'patch_size, tubelet_size, in_channels); {len(mismatch)} '
            'mismatched key(s): ' + '; '.join(mismatch))
    result = backbone.load_state_dict(state_dict, strict=False)
    missing, unexpected = list(result.missing_keys), list(
        result.unexpected_keys)
    lines = [f'loaded {len(state_dict) - len(unexpected)} encoder tensors '
             f'from {name} ({fmt} layout)']
    for group, keys in dropped.items():
        lines.append(f'  not used: {len(keys)} {group}')
    if missing:
        lines.append(f'  missing, left at their init: {missing}')
    if unexpected:
        lines.append(f'  unexpected, ignored: {unexpected}')
    lines += [f'  note: {n}' for n in notes]
    print_log('\n'.join(lines), logger='current')
    if strict and missing:
        raise RuntimeError(f'{name}: missing backbone keys {missing}')
    return dict(format=fmt, missing=missing, unexpected=unexpected,
                dropped=[k for keys in dropped.values() for k in keys])


def _backbone_keys(sd: Mapping[str, torch.Tensor]
                   ) -> Tuple[Dict[str, torch.Tensor], Dict[str, int], str]:
    """MultiViT-named encoder weights of any MultiMAE checkpoint layout.

    Returns:
        tuple: ``(state dict, dropped group -> count, layout name)``.
    """
    dropped: Dict[str, int] = {}

    def drop(key: str) -> None:
        group = key.split('.')[0]
        if group == 'output_adapters':
            group = '.'.join(key.split('.')[:2])
        dropped[group] = dropped.get(group, 0) + 1

    if 'cls_token' in sd and 'pos_embed' in sd:
        out, left = timm_to_multimae(sd, strict=False, return_dropped=True)
        for k in left:
            drop(k)
        return out, dropped, 'timm'
    if any(k.startswith('backbone.') for k in sd):
        out, layout = OrderedDict(), 'mmmae'
        for k, v in sd.items():
            if k.startswith('backbone.'):
                out[k[len('backbone.'):]] = v
            else:
                drop(k)
        return out, dropped, layout
    out = OrderedDict()
    for k, v in sd.items():
        if k.startswith(('global_tokens', 'input_adapters.', 'encoder.')):
            out[k] = v
        else:
            drop(k)
    return out, dropped, 'official MultiMAE/MultiViT'


def load_multimae_backbone(backbone: 'MultiMAEViT',
                           checkpoint: Union[str, Mapping],
                           map_location: str = 'cpu') -> Dict[str, list]:
    """Load the encoder of any MultiMAE checkpoint for fine-tuning.

    Accepts the official MultiMAE / MultiViT layout (``model`` wrapper),
    mmmae pre-training or downstream checkpoints (``backbone.*``; decoders,
    heads and segmentor parts are dropped) and timm ViTs (converted with
    :func:`~mmmae.checkpoint.multimae.timm_to_multimae`). Like the
    official fine-tuning it then

    * resizes every ``pos_emb`` to the backbone's grid (bicubic for patched
      adapters, bilinear for semseg);
    * copies the rows of the semseg ``class_emb`` that both tables have
      (a fine-tuning label set with more classes keeps fresh extra rows);
    * leaves adapters that the checkpoint lacks at their fresh init
      (e.g. depth when fine-tuning RGB-D from an RGB-only MAE);

    and reports each group of keys it did not use, with counts.

    Args:
        backbone (MultiMAEViT): Target module.
        checkpoint (str | Mapping): Path/URL or a loaded checkpoint.
        map_location (str): Device for loading. Defaults to ``'cpu'``.

    Returns:
        dict: ``missing``, ``unexpected`` (adapters the backbone lacks),
        ``resized`` and ``dropped`` (``group: count`` strings).

    Raises:
        FileNotFoundError: ``checkpoint`` is a path that does not exist.
        CorruptCheckpointError: The file is empty, truncated, corrupt or not
            a checkpoint (names the file, the fault and the fix).
        RuntimeError: Weights that do not fit the backbone (every offending
            key named with both shapes).
    """
    from mmengine.logging import print_log

    from mmmae.models.utils import resize_pos_emb_2d
    name = checkpoint if isinstance(checkpoint, str) else '<state dict>'
    if isinstance(checkpoint, str):
        if '://' not in checkpoint and not osp.isfile(checkpoint):
            raise FileNotFoundError(
                f'pretrained checkpoint {checkpoint} does not exist: set '
                'model.backbone.init_cfg.checkpoint to a MultiMAE checkpoint '
                '(e.g. --cfg-options model.backbone.init_cfg.checkpoint='
                'PATH), or init_cfg=None to train from scratch')
        checkpoint = load_checkpoint_or_url(checkpoint, map_location)
    sd, dropped, layout = _backbone_keys(unwrap_checkpoint(checkpoint))
    own = backbone.state_dict()
    load, resized, errors = OrderedDict(), [], []
    for key, value in sd.items():
        if key not in own:
            continue
        target = own[key]
        if key.endswith('.pos_emb') and value.shape != target.shape:
            adapter = backbone.input_adapters[key.split('.')[1]]
            if value.dim() != 4 or value.shape[1] != target.shape[1]:
                errors.append(f'{key}: checkpoint {tuple(value.shape)} vs '
                              f'model {tuple(target.shape)}')
                continue
            value = resize_pos_emb_2d(
                value.float(), target.shape[-2:],
                adapter.pos_mode).transpose(1, 2).reshape(target.shape)
            resized.append(f'{key} {tuple(sd[key].shape[-2:])}->'
                           f'{tuple(target.shape[-2:])}')
        elif key.endswith('class_emb.weight') and \
                value.shape[1:] == target.shape[1:] and \
                value.shape[0] != target.shape[0]:
            n = min(value.shape[0], target.shape[0])
            merged = target.clone()
            merged[:n] = value[:n]
            resized.append(f'{key} rows {value.shape[0]}->{target.shape[0]}')
            value = merged
        elif value.shape != target.shape:
            errors.append(f'{key}: checkpoint {tuple(value.shape)} vs model '
                          f'{tuple(target.shape)}')
            continue
        load[key] = value.to(target.dtype)
    if errors:
        raise RuntimeError(
            f'{name} ({layout} layout) does not fit this MultiMAEViT; '
            f'{len(errors)} mismatched key(s): ' + '; '.join(errors) +
            '. Check the backbone arch/patch_size/input_adapters against '
            'the checkpoint.')
    if not load:
        raise RuntimeError(
            f'{name} holds no MultiMAE encoder weights ({layout} layout; '
            f'groups: {sorted(dropped)}); is it the right file?')
    backbone.load_state_dict(load, strict=False)
    missing = [k for k in own if k not in load]
    unexpected = [k for k in sd if k not in own]
    report = dict(
        missing=missing,
        unexpected=unexpected,
        resized=resized,
        dropped=[f'{g}: {n}' for g, n in sorted(dropped.items())])
    msg = [f'MultiMAEViT: loaded {len(load)} tensors from {name} '
           f'({layout} layout)']
    if missing:
        adapters = sorted({k.split('.')[1] for k in missing
                           if k.startswith('input_adapters.')})
        msg.append(f'missing (fresh init) {len(missing)}: '
                   + (f'adapters {adapters}; ' if adapters else '')
                   + ', '.join(missing[:8]))
    if unexpected:
        msg.append(f'unused (no such adapter here) {len(unexpected)}: '
                   + ', '.join(unexpected[:8]))
    if resized:
        msg.append('resized: ' + ', '.join(resized))
    if dropped:
        msg.append('dropped: ' + ', '.join(report['dropped']))
    print_log('\n  '.join(msg), logger='current')
    return report
