# Copyright (c) mmmae contributors. All rights reserved.
"""Convert HuggingFace ``transformers`` VideoMAE state dicts to mmmae.

Supported sources (any of them may be loaded from ``pytorch_model.bin`` or
``model.safetensors``):

* ``VideoMAEForPreTraining`` -> the :class:`mmmae.models.VideoMAE` algorithm
  layout (``backbone.*`` + ``neck.*``, see ``docs/design.md``).
* ``VideoMAEForVideoClassification`` -> ``backbone.*`` + ``cls_head.fc_cls.*``
  (an MMAction2 recognizer with a linear head).
* ``VideoMAEModel`` (no ``videomae.`` prefix) -> ``backbone.*``.

HuggingFace stores the attention as three Linears. The encoder/decoder blocks
of mmmae (like the official code) use one fused ``qkv`` weight plus separate
``q_bias``/``v_bias`` with an implicit zero k bias, so the weights are
concatenated as ``[q; k; v]`` along the output dimension. Two bias layouts
exist:

* transformers v4: ``attention.attention.q_bias`` / ``v_bias``;
* transformers v5: ``attention.attention.query.bias`` / ``value.bias``.

A ``key.bias`` (only in transformers versions whose v5 refactor gave the key
projection a bias) is accepted only when it is all zeros, because the mmmae
attention has no k bias to put it in.

Things a weight conversion cannot carry over (they are config values, not
tensors) and that the user has to set on the mmmae side:

* ``layer_norm_eps``: HF defaults to 1e-12, the official models (and mmmae)
  use 1e-6; HF's ``fc_norm`` and ``decoder.norm`` use PyTorch's 1e-5.
* ``use_mean_pooling``: with ``use_mean_pooling=True`` (the *default* of
  ``VideoMAEConfig``) HF builds **no** final ``videomae.layernorm``: its
  encoder output is un-normalized. mmmae's ``VideoMAEViT(use_mean_pooling=
  False)`` always applies ``backbone.norm``; such a checkpoint therefore only
  matches ``VideoMAEViT(use_mean_pooling=True)`` (no final norm; ``fc_norm``
  after mean pooling). See :func:`inspect_hf_videomae`.
* ``VideoMAEForVideoClassification`` with ``use_mean_pooling=False`` (hub
  configs of pretrain-only models carry it) classifies from the *first patch
  token* after ``videomae.layernorm``, not from a CLS token nor a mean:
  mmmae/MMAction2 heads mean-pool, so such a classifier does not transfer.
"""
import re
import warnings
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Tuple

import torch

__all__ = [
    'is_hf_videomae', 'convert_hf_videomae', 'inspect_hf_videomae',
    'hf_bias_layout', 'HFConversionError'
]

Tensor = torch.Tensor

# The HF encoder may come with (ForPreTraining / ForVideoClassification) or
# without (VideoMAEModel) the ``videomae.`` prefix.
_ENC_LAYER = re.compile(r'^(?:videomae\.)?encoder\.layer\.(\d+)\.(.+)$')
_DEC_LAYER = re.compile(r'^decoder\.decoder_layers\.(\d+)\.(.+)$')
_HF_MARKERS = (
    re.compile(r'^(?:videomae\.)?embeddings\.patch_embeddings\.projection\.'),
    _ENC_LAYER,
    _DEC_LAYER,
)

# Per-block renames except the attention projections, which are fused.
_BLOCK_RENAMES = {
    'layernorm_before': 'norm1',
    'layernorm_after': 'norm2',
    'attention.output.dense': 'attn.proj',
    'intermediate.dense': 'mlp.fc1',
    'output.dense': 'mlp.fc2',
}
_ATTN = 'attention.attention.'
# HF attention parameter name -> role in the fused attention.
_ATTN_PARTS = {
    'query.weight': 'q_w',
    'key.weight': 'k_w',
    'value.weight': 'v_w',
    'query.bias': 'q_b',  # transformers v5
    'value.bias': 'v_b',
    'q_bias': 'q_b',  # transformers v4
    'v_bias': 'v_b',
    'key.bias': 'k_b',  # must be zero
}

# Top-level (non-block) renames. ``None`` marks deterministic tables that are
# recomputed by mmmae (non-persistent buffers) and never need to be stored.
_TOP_RENAMES = {
    'embeddings.patch_embeddings.projection.weight':
    'backbone.patch_embed.proj.weight',
    'embeddings.patch_embeddings.projection.bias':
    'backbone.patch_embed.proj.bias',
    'layernorm.weight': 'backbone.norm.weight',
    'layernorm.bias': 'backbone.norm.bias',
}
_HEAD_RENAMES = {
    'fc_norm.weight': 'backbone.fc_norm.weight',
    'fc_norm.bias': 'backbone.fc_norm.bias',
    'encoder_to_decoder.weight': 'neck.encoder_to_decoder.weight',
    'mask_token': 'neck.mask_token',
    'decoder.norm.weight': 'neck.norm.weight',
    'decoder.norm.bias': 'neck.norm.bias',
    'decoder.head.weight': 'neck.head.weight',
    'decoder.head.bias': 'neck.head.bias',
    'classifier.weight': 'cls_head.fc_cls.weight',
    'classifier.bias': 'cls_head.fc_cls.bias',
}
# Fixed sin-cos tables (not persistent in any transformers release, but
# accepted so that a state dict dumped with them does not fail).
_RECOMPUTED = re.compile(
    r'^(?:videomae\.)?(?:embeddings\.)?position_embeddings$')


class HFConversionError(ValueError):
    """A HuggingFace state dict that cannot be converted without loss."""


def _strip_videomae(key: str) -> str:
    return key[len('videomae.'):] if key.startswith('videomae.') else key


def is_hf_videomae(state_dict: Mapping[str, Tensor]) -> bool:
    """Whether ``state_dict`` uses the HuggingFace VideoMAE key layout.

    Args:
        state_dict (Mapping[str, Tensor]): A flat state dict (already
            unwrapped from ``{'model': ...}``-style containers).

    Returns:
        bool: True when any key has the HF layout (``[videomae.]embeddings.
        patch_embeddings.projection.*``, ``[videomae.]encoder.layer.{i}.*``
        or ``decoder.decoder_layers.{i}.*``).
    """
    return any(
        isinstance(k, str) and any(p.match(k) for p in _HF_MARKERS)
        for k in state_dict)


def _fuse_attention(parts: Dict[str, Tensor], where: str,
                    prefix: str) -> Dict[str, Tensor]:
    """Fuse one block's q/k/v Linears into ``qkv.weight`` + ``q/v_bias``.

    Args:
        parts (dict): role (``q_w``, ``k_w``, ``v_w``, ``q_b``, ``v_b``,
            ``k_b``) -> tensor.
        where (str): Source key prefix, for error messages.
        prefix (str): Destination prefix, e.g. ``backbone.blocks.0.attn.``.

    Returns:
        dict: The destination tensors.
    """
    missing = [r for r in ('q_w', 'k_w', 'v_w') if r not in parts]
    if missing:
        names = {'q_w': 'query.weight', 'k_w': 'key.weight',
                 'v_w': 'value.weight'}
        raise HFConversionError(
            f'{where}: incomplete attention, missing '
            f'{[where + _ATTN + names[m] for m in missing]}')
    q_w, k_w, v_w = parts['q_w'], parts['k_w'], parts['v_w']
    if not (q_w.shape == k_w.shape == v_w.shape) or q_w.dim() != 2:
        raise HFConversionError(
            f'{where}: query/key/value weights have different shapes '
            f'{tuple(q_w.shape)}, {tuple(k_w.shape)}, {tuple(v_w.shape)}')
    out = {prefix + 'qkv.weight': torch.cat([q_w, k_w, v_w], dim=0)}
    k_b = parts.get('k_b')
    if k_b is not None and torch.count_nonzero(k_b).item() > 0:
        raise HFConversionError(
            f'{where}{_ATTN}key.bias is nonzero (max |b| = '
            f'{k_b.abs().max().item():.3g}); mmmae/official VideoMAE '
            'attention has no key bias (it is fixed at 0), so this '
            'checkpoint cannot be represented. (The softmax is invariant to '
            'a k bias only per query row, which is not what HF computes '
            'after training the k bias.)')
    has_q, has_v = 'q_b' in parts, 'v_b' in parts
    if has_q != has_v:
        raise HFConversionError(
            f'{where}: only one of the q/v biases is present '
            f'(q: {has_q}, v: {has_v}); cannot build q_bias/v_bias')
    if has_q:
        out[prefix + 'q_bias'] = parts['q_b']
        out[prefix + 'v_bias'] = parts['v_b']
    return out


def inspect_hf_videomae(state_dict: Mapping[str, Tensor]) -> dict:
    """Infer what a HF VideoMAE state dict is and the matching mmmae config.

    Only shapes are used. The number of heads cannot be read from weights; it
    is guessed from the width with the standard ViT table (``dim // 64``),
    which never changes any parameter shape.

    Args:
        state_dict (Mapping[str, Tensor]): HF state dict.

    Returns:
        dict: ``kind`` (``'pretrain'``, ``'classification'`` or
        ``'encoder'``), ``bias_layout`` (``'v4'``, ``'v5'`` or ``None``),
        ``backbone`` (kwargs for ``mmmae.VideoMAEViT``), ``neck`` (kwargs for
        ``mmmae.VideoMAEPretrainDecoder`` or None), ``num_classes`` (or None)
        and ``notes`` (list of str: facts the user must act on).
    """
    sd = {_strip_videomae(k): v for k, v in state_dict.items()}
    notes: List[str] = []
    proj = sd.get('embeddings.patch_embeddings.projection.weight')
    info: dict = dict(kind='encoder', bias_layout=None, backbone=None,
                      neck=None, num_classes=None, notes=notes)
    if proj is None or proj.dim() != 5:
        raise HFConversionError(
            'not a HF VideoMAE state dict: no (videomae.)embeddings.'
            'patch_embeddings.projection.weight of rank 5')
    embed_dims, in_channels, tubelet, patch, _ = proj.shape
    depth = 1 + max((int(m.group(1)) for m in map(_ENC_LAYER.match, sd)
                     if m), default=-1)
    fc1 = sd.get('encoder.layer.0.intermediate.dense.weight')
    ffn = int(fc1.shape[0]) if fc1 is not None else 4 * embed_dims
    info['bias_layout'] = hf_bias_layout(sd)
    has_norm = 'layernorm.weight' in sd
    has_fc_norm = 'fc_norm.weight' in sd
    is_pretrain = 'encoder_to_decoder.weight' in sd or any(
        _DEC_LAYER.match(k) for k in sd)
    is_cls = 'classifier.weight' in sd
    if is_pretrain:
        info['kind'] = 'pretrain'
    elif is_cls:
        info['kind'] = 'classification'
        info['num_classes'] = int(sd['classifier.weight'].shape[0])
    use_mean_pooling = not has_norm
    info['backbone'] = dict(
        arch=dict(
            embed_dims=int(embed_dims),
            num_layers=int(depth),
            num_heads=_guess_heads(int(embed_dims)),
            feedforward_channels=ffn),
        patch_size=int(patch),
        tubelet_size=int(tubelet),
        in_channels=int(in_channels),
        qkv_bias=info['bias_layout'] is not None,
        use_mean_pooling=use_mean_pooling)
    if is_pretrain:
        e2d = sd.get('encoder_to_decoder.weight')
        dec_depth = 1 + max((int(m.group(1)) for m in map(_DEC_LAYER.match, sd)
                             if m), default=-1)
        dec_dims = int(e2d.shape[0]) if e2d is not None else None
        dfc1 = sd.get('decoder.decoder_layers.0.intermediate.dense.weight')
        neck = dict(
            embed_dims=int(embed_dims),
            decoder_embed_dims=dec_dims,
            decoder_depth=int(dec_depth),
            decoder_num_heads=_guess_heads(dec_dims or 64),
            patch_size=int(patch),
            tubelet_size=int(tubelet),
            in_channels=int(in_channels))
        if dfc1 is not None and dec_dims:
            neck['mlp_ratio'] = float(dfc1.shape[0]) / dec_dims
        info['neck'] = neck
    if not has_norm:
        if is_pretrain:
            notes.append(
                'no videomae.layernorm: the HF config had use_mean_pooling='
                'True, so its encoder feeds the decoder WITHOUT a final '
                'LayerNorm. Build mmmae.VideoMAEViT(use_mean_pooling=True) '
                '(no final norm; fc_norm is unused in pretraining and stays '
                'freshly initialized) to reproduce it; with '
                'use_mean_pooling=False backbone.norm.* would be missing.')
        elif not has_fc_norm:
            notes.append(
                'no videomae.layernorm and no fc_norm: a VideoMAEModel saved '
                'with use_mean_pooling=True (un-normalized encoder output). '
                'Build mmmae.VideoMAEViT(use_mean_pooling=True); '
                'backbone.fc_norm.* is not in the checkpoint and must be '
                'initialized (as in official fine-tuning).')
    elif is_cls and not has_fc_norm:
        notes.append(
            'VideoMAEForVideoClassification with use_mean_pooling=False: HF '
            'classifies from the FIRST PATCH TOKEN after videomae.layernorm '
            '(there is no CLS token). mmmae/MMAction2 heads mean-pool, so '
            'the converted classifier will not reproduce HF logits; '
            're-fine-tune the head (or keep --to backbone).')
    notes.append(
        'layer_norm_eps is not stored in weights: HF defaults to 1e-12 '
        '(fc_norm/decoder.norm: 1e-5); official VideoMAE and mmmae use 1e-6.')
    return info


def _guess_heads(dims: int) -> int:
    table = {384: 6, 768: 12, 1024: 16, 1280: 16, 1408: 16, 192: 3, 512: 8,
             640: 8}
    if dims in table:
        return table[dims]
    return max(1, dims // 64) if dims % 64 == 0 else 1


def convert_hf_videomae(state_dict: Mapping[str, Tensor],
                        warn: bool = True) -> 'OrderedDict[str, Tensor]':
    """Convert a HF VideoMAE state dict to the mmmae key layout.

    Every source tensor is either mapped or recomputed (the fixed sin-cos
    ``position_embeddings`` tables, if present, are accepted and dropped
    since mmmae rebuilds them). Anything else raises.

    Args:
        state_dict (Mapping[str, Tensor]): A flat HF state dict of
            ``VideoMAEForPreTraining``, ``VideoMAEForVideoClassification`` or
            ``VideoMAEModel``, transformers v4 or v5 layout.
        warn (bool): Emit a ``UserWarning`` for the ``use_mean_pooling``
            implications (see :func:`inspect_hf_videomae`). Default True.

    Returns:
        OrderedDict[str, Tensor]: ``backbone.*``, ``neck.*`` (pretraining)
        and ``cls_head.fc_cls.*`` (classification) tensors.

    Raises:
        HFConversionError: On keys that cannot be mapped (all are listed), on
            incomplete attention weights and on a nonzero ``key.bias``.
    """
    out: 'OrderedDict[str, Tensor]' = OrderedDict()
    attn: Dict[Tuple[str, int], Dict[str, Tensor]] = {}
    attn_src: Dict[Tuple[str, int], str] = {}
    unmapped: List[str] = []
    for key, value in state_dict.items():
        if not isinstance(value, torch.Tensor):
            unmapped.append(f'{key} (not a tensor: {type(value).__name__})')
            continue
        m_enc, m_dec = _ENC_LAYER.match(key), _DEC_LAYER.match(key)
        if m_enc or m_dec:
            m = m_enc or m_dec
            idx, rest = int(m.group(1)), m.group(2)
            group = 'backbone.blocks' if m_enc else 'neck.blocks'
            if rest.startswith(_ATTN) and rest[len(_ATTN):] in _ATTN_PARTS:
                role = _ATTN_PARTS[rest[len(_ATTN):]]
                slot = attn.setdefault((group, idx), {})
                if role in slot:
                    raise HFConversionError(
                        f'{key}: duplicate {role} (both v4 q_bias/v_bias and '
                        'v5 query.bias/value.bias present?)')
                slot[role] = value
                attn_src[(group, idx)] = key[:len(key) - len(rest)]
                continue
            for src, dst in _BLOCK_RENAMES.items():
                if rest in (src + '.weight', src + '.bias'):
                    out[f'{group}.{idx}.{dst}{rest[len(src):]}'] = value
                    break
            else:
                unmapped.append(key)
            continue
        short = _strip_videomae(key)
        if short in _TOP_RENAMES:
            out[_TOP_RENAMES[short]] = value
        elif key in _HEAD_RENAMES:
            out[_HEAD_RENAMES[key]] = value
        elif _RECOMPUTED.match(key):
            continue
        else:
            unmapped.append(key)
    if unmapped:
        raise HFConversionError(
            f'{len(unmapped)} HF VideoMAE tensors have no mmmae counterpart '
            f'(refusing to drop them): {sorted(unmapped)}')
    for (group, idx), parts in sorted(attn.items()):
        out.update(
            _fuse_attention(parts, attn_src[(group, idx)],
                            f'{group}.{idx}.attn.'))
    if not any(k.startswith('backbone.') for k in out):
        raise HFConversionError('no encoder tensors found in the HF state '
                                'dict')
    if warn:
        try:
            notes = inspect_hf_videomae(state_dict)['notes']
        except HFConversionError:
            notes = []
        for note in notes:
            if 'use_mean_pooling' in note:
                warnings.warn(note, UserWarning, stacklevel=2)
    return _sorted(out)


def _sorted(sd: Mapping[str, Tensor]) -> 'OrderedDict[str, Tensor]':
    """Order keys naturally (``blocks.2`` before ``blocks.10``), backbone
    first, then neck, then cls_head."""
    order = {'backbone': 0, 'neck': 1, 'cls_head': 2}

    def sort_key(k: str):
        natural = [(0, int(p), '') if p.isdigit() else (1, 0, p)
                   for p in k.split('.')]
        return (order.get(k.split('.', 1)[0], 3), natural)

    return OrderedDict((k, sd[k]) for k in sorted(sd, key=sort_key))


def hf_bias_layout(state_dict: Mapping[str, Tensor]) -> Optional[str]:
    """``'v4'`` (``q_bias``), ``'v5'`` (``query.bias``) or None (no biases)."""
    keys = list(state_dict)
    if any(k.endswith(_ATTN + 'q_bias') for k in keys):
        return 'v4'
    if any(k.endswith(_ATTN + 'query.bias') for k in keys):
        return 'v5'
    return None
