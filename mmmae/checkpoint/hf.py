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

Config values that are not tensors, and how the converted model gets them:

* LayerNorm epsilon: HF uses ``config.layer_norm_eps`` (default 1e-12) in
  the encoder and decoder blocks and ``videomae.layernorm``, and PyTorch's
  1e-5 in ``fc_norm`` and ``decoder.norm`` (hard-coded); the official models
  and mmmae default to 1e-6. :func:`inspect_hf_videomae` returns mmmae
  kwargs with ``norm_eps`` / ``fc_norm_eps`` (``VideoMAEViT``) and
  ``norm_eps`` / ``final_norm_eps`` (``VideoMAEPretrainDecoder``) set to
  HF's values (``layer_norm_eps`` from the ``config.json`` you pass, else
  the ``VideoMAEConfig`` default 1e-12). Without them the outputs differ by
  about 1e-5.
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

The other direction, mmmae -> HF ``from_pretrained`` folders, is
:func:`export_to_hf`.
"""
import math
import re
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch

__all__ = [
    'is_hf_videomae', 'convert_hf_videomae', 'inspect_hf_videomae',
    'hf_bias_layout', 'HFConversionError', 'load_hf_config',
    'HF_LAYER_NORM_EPS', 'HF_FIXED_NORM_EPS', 'HFExportError', 'HFExport',
    'export_to_hf', 'compare_with_hf', 'load_model_for_export'
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


#: ``VideoMAEConfig.layer_norm_eps`` default (all MCG-NJU hub configs).
HF_LAYER_NORM_EPS = 1e-12
#: HF builds ``fc_norm`` and ``decoder.norm`` as ``nn.LayerNorm(dim)``:
#: PyTorch's default eps, whatever ``layer_norm_eps`` says.
HF_FIXED_NORM_EPS = 1e-5


def load_hf_config(hf_config) -> Optional[dict]:
    """The fields of a HF VideoMAE config as a plain dict.

    Args:
        hf_config: None, a ``transformers.PretrainedConfig``, a mapping (the
            parsed ``config.json``), a ``config.json`` path or the folder
            that holds it.

    Returns:
        dict | None: The config fields (None when ``hf_config`` is None).

    Raises:
        HFConversionError: A path without a ``config.json``, or a config of
            another model type.
    """
    import json
    import os.path as osp
    if hf_config is None:
        return None
    if isinstance(hf_config, str):
        path = osp.join(hf_config, 'config.json') if osp.isdir(
            hf_config) else hf_config
        if not osp.isfile(path):
            raise HFConversionError(f'no HF config at {path}')
        with open(path, encoding='utf-8') as f:
            cfg = json.load(f)
    elif hasattr(hf_config, 'to_dict'):
        cfg = hf_config.to_dict()
    elif isinstance(hf_config, Mapping):
        cfg = dict(hf_config)
    else:
        raise HFConversionError(
            f'hf_config must be a path, a mapping or a PretrainedConfig, got '
            f'{type(hf_config).__name__}')
    if cfg.get('model_type', 'videomae') != 'videomae':
        raise HFConversionError(
            f"HF config of model_type {cfg.get('model_type')!r}, expected "
            "'videomae'")
    return cfg


def _hw(value) -> Optional[Tuple[int, int]]:
    if value is None:
        return None
    if isinstance(value, int):
        return value, value
    h, w = value
    return int(h), int(w)


def inspect_hf_videomae(state_dict: Mapping[str, Tensor],
                        hf_config=None) -> dict:
    """Infer what a HF VideoMAE state dict is and the matching mmmae config.

    Shapes give the sizes. The values weights do not hold come from
    ``hf_config`` (the model's ``config.json``) when given: the heads,
    ``layer_norm_eps``, the clip size. Without it the heads are guessed from
    the width with the standard ViT table (``dim // 64``; heads never change
    a parameter shape) and ``layer_norm_eps`` is taken to be the
    ``VideoMAEConfig`` default 1e-12; a note says so.

    Args:
        state_dict (Mapping[str, Tensor]): HF state dict.
        hf_config (optional): The HF config (see :func:`load_hf_config`).

    Returns:
        dict: ``kind`` (``'pretrain'``, ``'classification'`` or
        ``'encoder'``), ``bias_layout`` (``'v4'``, ``'v5'`` or ``None``),
        ``backbone`` (kwargs for ``mmmae.VideoMAEViT``, including
        ``norm_eps``/``fc_norm_eps``, and ``img_size``/``num_frames`` when
        the config gives them), ``neck`` (kwargs for
        ``mmmae.VideoMAEPretrainDecoder`` including ``norm_eps``/
        ``final_norm_eps``, or None), ``num_classes`` (or None),
        ``norm_pix`` (the config's ``norm_pix_loss``, or None) and ``notes``
        (list of str: facts the user must act on).
    """
    cfg = load_hf_config(hf_config)
    sd = {_strip_videomae(k): v for k, v in state_dict.items()}
    notes: List[str] = []
    proj = sd.get('embeddings.patch_embeddings.projection.weight')
    info: dict = dict(kind='encoder', bias_layout=None, backbone=None,
                      neck=None, num_classes=None, norm_pix=None,
                      notes=notes)
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
    if cfg is not None:
        eps = float(cfg.get('layer_norm_eps', HF_LAYER_NORM_EPS))
        heads = int(cfg.get('num_attention_heads',
                            _guess_heads(int(embed_dims))))
        if cfg.get('hidden_act', 'gelu') != 'gelu':
            notes.append(
                f"hidden_act={cfg.get('hidden_act')!r}: mmmae blocks use the "
                "exact GELU ('gelu'); the outputs will differ")
        if 'use_mean_pooling' in cfg and \
                bool(cfg['use_mean_pooling']) != use_mean_pooling:
            notes.append(
                f"config.json says use_mean_pooling={cfg['use_mean_pooling']}"
                f' but the weights {"lack" if use_mean_pooling else "have"} '
                'videomae.layernorm; the weights decide')
    else:
        eps = HF_LAYER_NORM_EPS
        heads = _guess_heads(int(embed_dims))
        notes.append(
            'no HF config given: layer_norm_eps is taken to be the '
            'VideoMAEConfig default 1e-12 and the heads are guessed from the '
            'widths; pass the config.json to read them')
    info['backbone'] = dict(
        arch=dict(
            embed_dims=int(embed_dims),
            num_layers=int(depth),
            num_heads=heads,
            feedforward_channels=ffn),
        patch_size=int(patch),
        tubelet_size=int(tubelet),
        in_channels=int(in_channels),
        qkv_bias=info['bias_layout'] is not None,
        use_mean_pooling=use_mean_pooling,
        norm_eps=eps)
    if use_mean_pooling:
        info['backbone']['fc_norm_eps'] = HF_FIXED_NORM_EPS
    if cfg is not None:
        hw = _hw(cfg.get('image_size'))
        if hw is not None:
            info['backbone']['img_size'] = hw[0] if hw[0] == hw[1] else hw
        if cfg.get('num_frames') is not None:
            info['backbone']['num_frames'] = int(cfg['num_frames'])
        if 'norm_pix_loss' in cfg:
            info['norm_pix'] = bool(cfg['norm_pix_loss'])
    if is_pretrain:
        e2d = sd.get('encoder_to_decoder.weight')
        dec_depth = 1 + max((int(m.group(1)) for m in map(_DEC_LAYER.match, sd)
                             if m), default=-1)
        dec_dims = int(e2d.shape[0]) if e2d is not None else None
        dfc1 = sd.get('decoder.decoder_layers.0.intermediate.dense.weight')
        dec_heads = _guess_heads(dec_dims or 64)
        if cfg is not None and 'decoder_num_attention_heads' in cfg:
            dec_heads = int(cfg['decoder_num_attention_heads'])
        neck = dict(
            embed_dims=int(embed_dims),
            decoder_embed_dims=dec_dims,
            decoder_depth=int(dec_depth),
            decoder_num_heads=dec_heads,
            patch_size=int(patch),
            tubelet_size=int(tubelet),
            in_channels=int(in_channels),
            norm_eps=eps,
            final_norm_eps=HF_FIXED_NORM_EPS)
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
        f'LayerNorm eps is not stored in weights: this config uses HF\'s '
        f'(norm_eps={eps:g} for the blocks and the final norm, 1e-05 for '
        'fc_norm / the decoder norm); the official models and the mmmae '
        'default use 1e-6 everywhere (outputs then differ by ~1e-5).')
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


# --------------------------------------------------------------------------
# mmmae -> HuggingFace (export)
# --------------------------------------------------------------------------
class HFExportError(ValueError):
    """An mmmae model that HuggingFace VideoMAE cannot represent."""


@dataclass
class HFExport:
    """Result of :func:`export_to_hf`.

    Attributes:
        model: The ``transformers`` model (``VideoMAEForPreTraining`` or
            ``VideoMAEForVideoClassification``) holding the exported
            weights, in eval mode.
        kind (str): ``'pretrain'`` or ``'classification'``.
        notes (list[str]): What the export changed or could not carry over
            (folded parameters, eps differences, loss-only settings, ...).
        left_out (list[str]): mmmae state-dict keys with no place in the HF
            model that do not affect its outputs (e.g. the unused
            ``backbone.fc_norm`` of a pretraining model).
        max_abs_diff (float, optional): Largest absolute difference between
            the mmmae and the HF outputs on a random clip (None when not
            verified).
        out_dir (str, optional): Where ``save_pretrained`` wrote the model.
    """
    model: Any
    kind: str
    notes: List[str] = field(default_factory=list)
    left_out: List[str] = field(default_factory=list)
    max_abs_diff: Optional[float] = None
    out_dir: Optional[str] = None


_HF_ATTN = 'attention.attention.'


def _exact_gelu(act: torch.nn.Module) -> bool:
    return type(act) is torch.nn.GELU and act.approximate == 'none'


def _block_eps(blocks) -> List[float]:
    return sorted({float(m.eps) for b in blocks for m in (b.norm1, b.norm2)})


def _check_blocks(blocks, where: str, width: int) -> dict:
    """What a stack of mmmae ``TransformerBlock`` s needs from the HF config.

    Args:
        blocks (Sequence[TransformerBlock]): The blocks.
        where (str): Their state-dict prefix, for messages.
        width (int): Token width.

    Returns:
        dict: ``heads``, ``ffn`` (None when there are no blocks),
        ``has_bias`` (any q/v or fused bias), ``eps`` (sorted distinct
        LayerNorm eps), ``layer_scale``/``qk_scale``/``k_bias`` (whether
        they had to be folded or dropped).

    Raises:
        HFExportError: A block HF cannot represent.
    """
    info = dict(heads=None, ffn=None, has_bias=False, eps=_block_eps(blocks),
                layer_scale=False, qk_scale=False, k_bias=False)
    for i, blk in enumerate(blocks):
        attn, mlp = blk.attn, blk.mlp
        name = f'{where}.{i}'
        if attn.head_dims * attn.num_heads != width:
            raise HFExportError(
                f'{name}.attn: {attn.num_heads} heads of {attn.head_dims} '
                f'channels != width {width} (head_dims override); HF '
                'VideoMAE splits the width evenly over the heads')
        if not _exact_gelu(mlp.act):
            raise HFExportError(
                f'{name}.mlp: activation {mlp.act!r}; HF VideoMAE is '
                "exported with hidden_act='gelu' (exact GELU)")
        ffn = mlp.fc1.out_features
        if info['heads'] not in (None, attn.num_heads) or \
                info['ffn'] not in (None, ffn):
            raise HFExportError(
                f'{name}: heads/MLP width differ between blocks; HF uses one '
                'value for every block')
        info['heads'], info['ffn'] = attn.num_heads, ffn
        info['has_bias'] |= attn.q_bias is not None or \
            attn.qkv.bias is not None
        info['layer_scale'] |= blk.gamma_1 is not None
        info['qk_scale'] |= not math.isclose(
            attn.scale, attn.head_dims**-0.5, rel_tol=1e-12)
        if attn.q_bias is None and attn.qkv.bias is not None:
            k_b = attn.qkv.bias.detach().chunk(3)[1]
            info['k_bias'] |= bool(torch.count_nonzero(k_b))
    return info


def _export_blocks(blocks, dst: str, bias_layout: Optional[str],
                   out: 'OrderedDict[str, Tensor]') -> None:
    """Write ``blocks`` in the HF ``VideoMAELayer`` layout.

    The fused ``qkv`` weight is split into query/key/value. Things HF has
    no parameter for are folded into the weights, which leaves the function
    unchanged: a ``qk_scale`` other than ``head_dim ** -0.5`` scales the
    query projection (``(s q) . k = s (q . k)``), layer scale
    (``gamma_1``/``gamma_2``) scales the rows of ``attn.proj`` / ``mlp.fc2``
    (``g * (W x + b) = (g W) x + g b``), and a fused key bias is dropped (it
    adds ``q . b_k`` to every logit of a query row, which softmax cancels).
    A block without q/v biases gets zeros when HF expects them.

    Args:
        blocks (Sequence[TransformerBlock]): mmmae blocks.
        dst (str): HF prefix, e.g. ``'videomae.encoder.layer.'``.
        bias_layout (str, optional): ``'v4'`` (``q_bias``/``v_bias``),
            ``'v5'`` (``query.bias``/``value.bias``) or None (no biases).
        out (OrderedDict): Receives the tensors.
    """
    for i, blk in enumerate(blocks):
        p = f'{dst}{i}.'
        attn = blk.attn
        q_w, k_w, v_w = attn.qkv.weight.detach().float().chunk(3)
        if attn.q_bias is not None:
            q_b, v_b = attn.q_bias.detach().float(), attn.v_bias.detach(
            ).float()
        elif attn.qkv.bias is not None:
            q_b, _, v_b = attn.qkv.bias.detach().float().chunk(3)
        else:
            q_b = v_b = torch.zeros(q_w.shape[0])
        ratio = attn.scale / attn.head_dims**-0.5
        if ratio != 1:
            q_w, q_b = q_w * ratio, q_b * ratio
        proj_w = attn.proj.weight.detach().float()
        proj_b = attn.proj.bias.detach().float()
        fc2_w = blk.mlp.fc2.weight.detach().float()
        fc2_b = blk.mlp.fc2.bias.detach().float()
        if blk.gamma_1 is not None:
            g1 = blk.gamma_1.detach().float()
            g2 = blk.gamma_2.detach().float()
            proj_w, proj_b = proj_w * g1[:, None], proj_b * g1
            fc2_w, fc2_b = fc2_w * g2[:, None], fc2_b * g2
        out[p + _HF_ATTN + 'query.weight'] = q_w.clone()
        out[p + _HF_ATTN + 'key.weight'] = k_w.clone()
        out[p + _HF_ATTN + 'value.weight'] = v_w.clone()
        if bias_layout == 'v4':
            out[p + _HF_ATTN + 'q_bias'] = q_b.clone()
            out[p + _HF_ATTN + 'v_bias'] = v_b.clone()
        elif bias_layout == 'v5':
            out[p + _HF_ATTN + 'query.bias'] = q_b.clone()
            out[p + _HF_ATTN + 'value.bias'] = v_b.clone()
        out[p + 'attention.output.dense.weight'] = proj_w.clone()
        out[p + 'attention.output.dense.bias'] = proj_b.clone()
        for src, name in ((blk.norm1, 'layernorm_before'),
                          (blk.norm2, 'layernorm_after'),
                          (blk.mlp.fc1, 'intermediate.dense')):
            out[f'{p}{name}.weight'] = src.weight.detach().float().clone()
            out[f'{p}{name}.bias'] = src.bias.detach().float().clone()
        out[p + 'output.dense.weight'] = fc2_w.clone()
        out[p + 'output.dense.bias'] = fc2_b.clone()


def _block_keys(prefix: str, n: int) -> List[str]:
    """mmmae state-dict keys a block stack may hold."""
    subs = ('norm1.weight', 'norm1.bias', 'norm2.weight', 'norm2.bias',
            'attn.qkv.weight', 'attn.qkv.bias', 'attn.q_bias', 'attn.v_bias',
            'attn.proj.weight', 'attn.proj.bias', 'mlp.fc1.weight',
            'mlp.fc1.bias', 'mlp.fc2.weight', 'mlp.fc2.bias', 'gamma_1',
            'gamma_2')
    return [f'{prefix}{i}.{s}' for i in range(n) for s in subs]


def _norm_note(what: str, ours: float, hf: float, hf_src: str) -> str:
    return (f'{what}: mmmae eps {ours:g}, HF {hf_src} {hf:g}. The HF model '
            'cannot hold the mmmae value, so its outputs differ slightly '
            '(see the verified difference); the smaller the variance of '
            'the normalised features, the larger the difference')


def _inspect_for_hf(model: torch.nn.Module) -> Tuple[str, dict, List[str]]:
    """Decide the HF class and config of an mmmae model.

    Args:
        model (nn.Module): An ``mmmae.VideoMAE`` pretraining algorithm (with
            a ``VideoMAEPretrainDecoder``) or an MMAction2 recognizer whose
            backbone is an ``mmmae.VideoMAEViT`` with mean pooling and whose
            head is one linear ``fc_cls``.

    Returns:
        tuple: (``'pretrain'`` | ``'classification'``, ``VideoMAEConfig``
        kwargs, notes).

    Raises:
        HFExportError: What HF VideoMAE cannot represent, with the reason.
    """
    from mmmae.models.backbones.videomae_vit import VideoMAEViT
    from mmmae.models.necks.videomae_decoder import VideoMAEPretrainDecoder
    notes: List[str] = []
    bb = getattr(model, 'backbone', None)
    if not isinstance(bb, VideoMAEViT):
        raise HFExportError(
            f'{type(model).__name__}: the backbone is '
            f'{type(bb).__name__}, not mmmae.VideoMAEViT; only VideoMAE '
            'models have a HF VideoMAE counterpart')
    neck = getattr(model, 'neck', None)
    cls_head = getattr(model, 'cls_head', None)
    if neck is not None and cls_head is None:
        kind = 'pretrain'
        if not isinstance(neck, VideoMAEPretrainDecoder):
            raise HFExportError(
                f'neck {type(neck).__name__}: HF VideoMAEForPreTraining has '
                'the VideoMAE decoder only (mmmae.VideoMAEPretrainDecoder)')
    elif cls_head is not None:
        kind = 'classification'
        if neck is not None:
            raise HFExportError(
                f'{type(model).__name__} has a neck '
                f'({type(neck).__name__}); HF VideoMAEForVideoClassification '
                'puts the classifier right after fc_norm')
        if getattr(bb, 'return_feat_map', False):
            raise HFExportError(
                'the backbone has return_feat_map=True: its head pools the '
                'normalised token map itself; HF '
                'VideoMAEForVideoClassification only mean-pools (then '
                'fc_norm) or takes the first token')
        if not bb.use_mean_pooling:
            raise HFExportError(
                'the backbone has use_mean_pooling=False: HF '
                'VideoMAEForVideoClassification then classifies the FIRST '
                'PATCH TOKEN after the final norm, not what an mmmae '
                'recognizer computes; only mean-pooling backbones '
                '(use_mean_pooling=True, fc_norm) export')
        keys = sorted(cls_head.state_dict())
        fc = getattr(cls_head, 'fc_cls', None)
        if not isinstance(fc, torch.nn.Linear) or \
                keys != ['fc_cls.bias', 'fc_cls.weight']:
            raise HFExportError(
                f'cls_head {type(cls_head).__name__} with {keys}: HF '
                'VideoMAEForVideoClassification has one biased Linear '
                "classifier (cls_head.fc_cls, e.g. mmaction's "
                'TimeSformerHead)')
        if type(cls_head).__name__ != 'TimeSformerHead':
            notes.append(
                f'cls_head {type(cls_head).__name__}: exported as '
                'classifier = fc_cls(features); check the verified '
                'difference (TimeSformerHead is the known-equal head)')
    else:
        raise HFExportError(
            f'{type(model).__name__}: neither a VideoMAE pretraining '
            'algorithm (backbone + neck) nor a recognizer (backbone + '
            'cls_head)')

    width = bb.embed_dims
    ps = bb.patch_size
    ph, pw = (ps, ps) if isinstance(ps, int) else tuple(ps)
    if ph != pw:
        raise HFExportError(
            f'patch_size {(ph, pw)}: HF VideoMAE needs square patches (its '
            'decoder head and loss use patch_size ** 2)')
    enc = _check_blocks(bb.blocks, 'backbone.blocks', width)
    blocks_info = [enc]
    img_h, img_w = bb.img_size
    kw = dict(
        image_size=img_h if img_h == img_w else [img_h, img_w],
        patch_size=ph,
        num_channels=bb.in_channels,
        num_frames=bb.num_frames,
        tubelet_size=bb.tubelet_size,
        hidden_size=width,
        num_hidden_layers=bb.num_layers,
        num_attention_heads=enc['heads'] or bb.num_heads,
        intermediate_size=enc['ffn'] or bb.feedforward_channels,
        hidden_act='gelu',
        hidden_dropout_prob=0.,
        attention_probs_dropout_prob=0.,
        use_mean_pooling=bool(bb.use_mean_pooling))
    eps = enc['eps'][0] if enc['eps'] else float(bb.norm_eps)
    if kind == 'pretrain':
        dec = _check_blocks(neck.blocks, 'neck.blocks',
                            neck.decoder_embed_dims)
        blocks_info.append(dec)
        dwidth = neck.decoder_embed_dims
        kw.update(
            decoder_hidden_size=dwidth,
            decoder_num_hidden_layers=len(neck.blocks),
            # a decoder without blocks has no heads to read; any divisor
            decoder_num_attention_heads=dec['heads'] or 1,
            decoder_intermediate_size=dec['ffn'] or 4 * dwidth,
            norm_pix_loss=bool(getattr(model.head, 'norm_pix', True)))
        if (neck.patch_size, neck.tubelet_size, neck.in_channels) != (
                ph, bb.tubelet_size, bb.in_channels):
            raise HFExportError(
                'the decoder predicts patches of another geometry than the '
                'encoder embeds; HF derives both from one config')
        if bb.in_channels != 3 and not kw['norm_pix_loss']:
            raise HFExportError(
                f'{bb.in_channels} input channels with norm_pix=False: HF '
                'VideoMAEForPreTraining computes its loss in every forward '
                'and refuses to un-normalise non-RGB clips')
        notes += _pretrain_loss_notes(model)
    kw['qkv_bias'] = any(i['has_bias'] for i in blocks_info)
    all_eps = sorted({e for i in blocks_info for e in i['eps']})
    if len(all_eps) > 1:
        notes.append(
            f'the blocks use LayerNorm eps {all_eps}; HF has one '
            f'layer_norm_eps for the encoder and the decoder: exported '
            f'with {eps:g}')
    kw['layer_norm_eps'] = eps
    if not bb.use_mean_pooling and not math.isclose(
            bb.norm.eps, eps, rel_tol=1e-9):
        notes.append(
            _norm_note('backbone.norm', bb.norm.eps, eps, 'layer_norm_eps'))
    if kind == 'classification' and bb.fc_norm.eps != HF_FIXED_NORM_EPS:
        notes.append(_norm_note('backbone.fc_norm', bb.fc_norm.eps,
                                HF_FIXED_NORM_EPS, 'fc_norm (fixed)'))
    if kind == 'pretrain' and neck.norm.eps != HF_FIXED_NORM_EPS:
        notes.append(_norm_note('neck.norm', neck.norm.eps,
                                HF_FIXED_NORM_EPS, 'decoder.norm (fixed)'))
    notes.append(_input_note(model))
    if any(i['layer_scale'] for i in blocks_info):
        notes.append(
            'layer scale (gamma_1/gamma_2) folded into '
            'attention.output.dense and output.dense (HF has no layer '
            'scale): same function; further HF training trains the '
            'product')
    if any(i['qk_scale'] for i in blocks_info):
        notes.append('qk_scale folded into the query projection (HF always '
                     'scales by head_dim ** -0.5): same function')
    if any(i['k_bias'] for i in blocks_info):
        notes.append('fused key bias dropped: it shifts every logit of a '
                     'query row by the same amount, which softmax cancels')
    if kw['qkv_bias'] and not all(i['has_bias'] for i in blocks_info
                                  if i['heads'] is not None):
        notes.append('blocks without q/v biases get zero biases (HF has one '
                     'qkv_bias setting for encoder and decoder)')
    return kind, kw, notes


def _input_note(model: torch.nn.Module) -> str:
    """How HF inputs must be prepared to match the mmmae model."""
    bb = model.backbone
    dp = getattr(model, 'data_preprocessor', None)
    mean, std = getattr(dp, 'mean', None), getattr(dp, 'std', None)
    note = (f'HF input: pixel_values (B, T={bb.num_frames}, '
            f'C={bb.in_channels}, H={bb.img_size[0]}, W={bb.img_size[1]}) '
            '(mmmae: B, C, T, H, W)')
    if isinstance(mean, Tensor) and isinstance(std, Tensor):
        mean01 = [round(v / 255, 4) for v in mean.flatten().tolist()]
        std01 = [round(v / 255, 4) for v in std.flatten().tolist()]
        note += (f', normalised as the mmmae data preprocessor does: '
                 f'(pixels / 255 - {mean01}) / {std01}')
    return note


def _pretrain_loss_notes(model: torch.nn.Module) -> List[str]:
    """Settings of the mmmae pretraining loss HF's built-in loss lacks.

    They change ``outputs.loss`` of the HF model, not its ``logits``.
    """
    notes = []
    head = getattr(model, 'head', None)
    if getattr(head, 'std_floor', 0) > 0:
        notes.append(
            f'head std_floor={head.std_floor}: HF norm_pix_loss has no floor '
            'under the patch std (HF loss differs; logits are equal)')
    if not math.isclose(getattr(head, 'eps', 1e-6), 1e-6):
        notes.append(f'head eps={head.eps}: HF norm_pix_loss adds 1e-6 '
                     '(HF loss differs; logits are equal)')
    dp = getattr(model, 'data_preprocessor', None)
    mean, std = getattr(dp, 'mean', None), getattr(dp, 'std', None)
    if isinstance(mean, Tensor) and isinstance(std, Tensor):
        mean01 = [round(v / 255, 4) for v in mean.flatten().tolist()]
        std01 = [round(v / 255, 4) for v in std.flatten().tolist()]
        imagenet = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
        if len(mean01) != 3 or any(
                abs(a - b) > 1e-3
                for a, b in zip(mean01 + std01, imagenet[0] + imagenet[1])):
            notes.append(
                f'data mean/std {mean01}/{std01} (0-1 units): HF '
                'un-normalises the clip with the ImageNet constants for its '
                'loss targets (HF loss differs; logits are equal)')
    notes.append('HF VideoMAEForPreTraining has no decoder masking: a V2 '
                 'model runs as V1 (predicts every masked token)')
    return notes


def _hf_state_dict(model: torch.nn.Module, kind: str,
                   bias_layout: Optional[str]
                   ) -> Tuple['OrderedDict[str, Tensor]', List[str]]:
    """The HF state dict of an mmmae model (the inverse of
    :func:`convert_hf_videomae`, plus the folds of :func:`_export_blocks`).

    Args:
        model (nn.Module): Checked by :func:`_inspect_for_hf`.
        kind (str): ``'pretrain'`` or ``'classification'``.
        bias_layout (str, optional): Of the HF model being filled.

    Returns:
        tuple: (HF state dict, mmmae keys left out on purpose).

    Raises:
        HFExportError: mmmae weights that would be lost.
    """
    bb = model.backbone
    out: 'OrderedDict[str, Tensor]' = OrderedDict()

    def put(dst: str, module: torch.nn.Module) -> None:
        out[dst + '.weight'] = module.weight.detach().float().clone()
        if getattr(module, 'bias', None) is not None:
            out[dst + '.bias'] = module.bias.detach().float().clone()

    used = {
        'backbone.patch_embed.proj.weight', 'backbone.patch_embed.proj.bias'
    }
    put('videomae.embeddings.patch_embeddings.projection', bb.patch_embed.proj)
    _export_blocks(bb.blocks, 'videomae.encoder.layer.', bias_layout, out)
    used.update(_block_keys('backbone.blocks.', len(bb.blocks)))
    if not bb.use_mean_pooling:
        put('videomae.layernorm', bb.norm)
        used.update({'backbone.norm.weight', 'backbone.norm.bias'})
    left_out: List[str] = []
    if kind == 'classification':
        put('fc_norm', bb.fc_norm)
        put('classifier', model.cls_head.fc_cls)
        used.update({'backbone.fc_norm.weight', 'backbone.fc_norm.bias',
                     'cls_head.fc_cls.weight', 'cls_head.fc_cls.bias'})
    else:
        neck = model.neck
        out['encoder_to_decoder.weight'] = \
            neck.encoder_to_decoder.weight.detach().float().clone()
        out['mask_token'] = neck.mask_token.detach().float().clone()
        _export_blocks(neck.blocks, 'decoder.decoder_layers.', bias_layout,
                       out)
        put('decoder.norm', neck.norm)
        put('decoder.head', neck.head)
        used.update(_block_keys('neck.blocks.', len(neck.blocks)))
        used.update({'neck.encoder_to_decoder.weight', 'neck.mask_token',
                     'neck.norm.weight', 'neck.norm.bias',
                     'neck.head.weight', 'neck.head.bias'})
        # The pretraining forward never uses fc_norm (mean pooling only
        # happens without a mask), and HF's pretraining model has none.
        left_out = [k for k in ('backbone.fc_norm.weight',
                                'backbone.fc_norm.bias')
                    if k in model.state_dict()]
        used.update(left_out)
    lost = [k for k in model.state_dict()
            if k not in used and not k.startswith('data_preprocessor.')]
    if lost:
        raise HFExportError(
            f'{len(lost)} mmmae tensors have no place in the HF model '
            f'(refusing to drop them): {lost}')
    return out, left_out


def _random_tube_mask(batch: int, grid: Tuple[int, int, int],
                      gen: torch.Generator) -> torch.Tensor:
    """``(B, N)`` bool tube masks, ~75% masked, a different spatial pattern
    per sample and the same count (HF needs one count per batch)."""
    t, h, w = grid
    hw = h * w
    num_masked = min(max(1, int(round(0.75 * hw))), hw - 1) if hw > 1 else 0
    rows = []
    for _ in range(batch):
        frame = torch.zeros(hw, dtype=torch.bool)
        frame[torch.randperm(hw, generator=gen)[:num_masked]] = True
        rows.append(frame.repeat(t))
    return torch.stack(rows)


def compare_with_hf(model: torch.nn.Module,
                    hf_model: torch.nn.Module,
                    kind: str,
                    batch: int = 2,
                    seed: int = 0) -> float:
    """Run the mmmae and the HF model on one random clip.

    Pretraining: the decoder predictions of the same tube masks
    (``logits``); classification: the class logits. Both models run in
    eval mode without gradients; their modes are restored.

    Args:
        model (nn.Module): The mmmae model.
        hf_model (nn.Module): The exported HF model.
        kind (str): ``'pretrain'`` or ``'classification'``.
        batch (int): Clips. Defaults to 2.
        seed (int): Seed of the clip and masks. Defaults to 0.

    Returns:
        float: The largest absolute difference.
    """
    bb = model.backbone
    gen = torch.Generator().manual_seed(seed)
    h, w = bb.img_size
    x = torch.randn(batch, bb.in_channels, bb.num_frames, h, w,
                    generator=gen)
    device = next(model.parameters()).device
    hf_device = next(hf_model.parameters()).device
    modes = model.training, hf_model.training
    model.eval()
    hf_model.eval()
    try:
        with torch.no_grad():
            pixel_values = x.permute(0, 2, 1, 3, 4).contiguous()
            if kind == 'pretrain':
                mask = _random_tube_mask(batch, bb.grid_size, gen)
                ours = model.neck(bb(x.to(device), mask.to(device)),
                                  mask.to(device))
                ref = hf_model(
                    pixel_values=pixel_values.to(hf_device),
                    bool_masked_pos=mask.to(hf_device)).logits
            else:
                ours = model.cls_head(bb(x.to(device)))
                ref = hf_model(pixel_values=pixel_values.to(hf_device)).logits
    except Exception as exc:
        # e.g. a head that expects a feature map, not the pooled features
        what = type(model.cls_head).__name__ if kind != 'pretrain' else \
            type(model).__name__
        raise HFExportError(
            f'running the mmmae ({what}) and the HF model on a random clip '
            f'failed ({type(exc).__name__}: {exc}); the export would not '
            'compute what the mmmae model computes') from exc
    finally:
        model.train(modes[0])
        hf_model.train(modes[1])
    if ours.shape != ref.shape:
        raise HFExportError(f'output shapes differ: mmmae {tuple(ours.shape)}'
                            f', HF {tuple(ref.shape)}')
    return (ours.float().cpu() - ref.float().cpu()).abs().max().item()


def export_to_hf(model: torch.nn.Module,
                 out_dir: Optional[str] = None,
                 labels: Optional[Sequence[str]] = None,
                 verify: bool = True,
                 atol: Optional[float] = None,
                 seed: int = 0) -> HFExport:
    """Export an mmmae VideoMAE model to a HuggingFace ``transformers`` one.

    * an ``mmmae.VideoMAE`` pretraining algorithm -> ``VideoMAEForPreTraining``
      (``logits`` = the decoder's predictions of the masked tokens);
    * a recognizer with an ``mmmae.VideoMAEViT(use_mean_pooling=True)``
      backbone and one linear ``cls_head.fc_cls`` (the shipped fine-tuning
      configs: ``TimeSformerHead``) -> ``VideoMAEForVideoClassification``.

    The HF config takes the sizes, the clip size (``num_frames``,
    ``img_size``: HF does not interpolate its positional table), the
    LayerNorm eps of the blocks (``layer_norm_eps``) and ``use_mean_pooling``
    from the model. Layer scale, a ``qk_scale`` and a fused key bias have
    no HF parameter and are folded into the weights (same function, see
    :func:`_export_blocks`). HF fixes the eps of ``fc_norm`` and
    ``decoder.norm`` at 1e-5; other values are reported. Anything else HF
    cannot represent raises :class:`HFExportError` with the reason.

    HF takes clips as ``(B, T, C, H, W)`` (mmmae: ``(B, C, T, H, W)``),
    normalised as the mmmae data preprocessor does.

    Args:
        model (nn.Module): The mmmae model, weights loaded.
        out_dir (str, optional): Write ``config.json`` and the weights
            there with ``save_pretrained`` (only after a passed check).
        labels (Sequence[str], optional): Class names (``id2label``) of a
            classifier, in class-index order.
        verify (bool): Compare the outputs on a random clip
            (:func:`compare_with_hf`). Defaults to True.
        atol (float, optional): Refuse (write nothing) when the verified
            difference exceeds it.
        seed (int): Seed of the verification clip.

    Returns:
        HFExport: The HF model and the report.

    Raises:
        HFExportError: The model cannot be represented, the HF model did not
            take the weights, or the difference exceeds ``atol``.
        ImportError: ``transformers`` is not installed.
    """
    import transformers
    kind, kw, notes = _inspect_for_hf(model)
    if kind == 'classification':
        num = model.cls_head.fc_cls.out_features
        kw['num_labels'] = num
        if labels is not None:
            labels = [str(x) for x in labels]
            if len(labels) != num:
                raise HFExportError(f'{len(labels)} labels for {num} '
                                    'classes')
            kw['id2label'] = {i: name for i, name in enumerate(labels)}
            kw['label2id'] = {name: i for i, name in enumerate(labels)}
        cls = transformers.VideoMAEForVideoClassification
    else:
        cls = transformers.VideoMAEForPreTraining
    config = transformers.VideoMAEConfig(**kw)
    hf = cls(config).eval()
    hf_sd = hf.state_dict()
    layout = hf_bias_layout(hf_sd)
    sd, left_out = _hf_state_dict(model, kind, layout)
    missing = sorted(set(hf_sd) - set(sd))
    unexpected = sorted(set(sd) - set(hf_sd))
    mismatch = [f'{k}: {tuple(sd[k].shape)} vs HF {tuple(hf_sd[k].shape)}'
                for k in sd if k in hf_sd and sd[k].shape != hf_sd[k].shape]
    if missing or unexpected or mismatch:
        raise HFExportError(
            f'the installed transformers {transformers.__version__} '
            f'{cls.__name__} does not take the exported weights: missing '
            f'{missing}, unexpected {unexpected}, shape mismatches '
            f'{mismatch}')
    hf.load_state_dict(sd, strict=True)
    res = HFExport(model=hf, kind=kind, notes=notes, left_out=left_out)
    if left_out:
        notes.append(f'left out {left_out}: unused by the pretraining '
                     'forward, no place in VideoMAEForPreTraining')
    if verify:
        res.max_abs_diff = compare_with_hf(model, hf, kind, seed=seed)
        if atol is not None and not res.max_abs_diff <= atol:
            raise HFExportError(
                f'the HF model differs from the mmmae model by up to '
                f'{res.max_abs_diff:.3g} (> atol {atol:g}) on a random clip'
                + ('; ' + '; '.join(notes) if notes else ''))
    if out_dir is not None:
        hf.save_pretrained(out_dir)
        res.out_dir = out_dir
    return res


def load_model_for_export(config: str,
                          checkpoint: str,
                          trusted: bool = False
                          ) -> Tuple[torch.nn.Module, List[str]]:
    """Build ``config``'s model and load an mmmae checkpoint into it.

    The model is built in its config's ``default_scope`` (``mmaction`` for
    the recognizers) on the CPU, without its ``init_cfg`` (no pretrained
    download or file); every weight must come from ``checkpoint``: a missing
    or unexpected key raises (normalisation buffers of the data
    preprocessor excepted).

    Args:
        config (str): mmmae / MMAction2 config file.
        checkpoint (str): MMEngine checkpoint (or bare state dict) in the
            mmmae layout; loaded without running pickled code unless
            ``trusted``.
        trusted (bool): Load the checkpoint as a full pickle.

    Returns:
        tuple: (the model in eval mode, notes).

    Raises:
        HFExportError: A checkpoint that does not fit the model.
    """
    import copy

    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope

    from .videomae import (ConversionError, load_checkpoint_file,
                           unwrap_checkpoint)
    cfg = Config.fromfile(config)
    scope = cfg.get('default_scope', None) or 'mmmae'
    if scope == 'mmaction':
        import mmaction.models  # noqa: F401  (registers Recognizer3D)
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(copy.deepcopy(cfg.model))
    try:
        obj, notes = load_checkpoint_file(checkpoint, trusted=trusted)
        sd = unwrap_checkpoint(obj)
    except (ConversionError, KeyError, TypeError) as exc:
        raise HFExportError(exc.args[0] if exc.args else str(exc)) from exc
    if isinstance(obj, Mapping) and 'ema_state_dict' in obj:
        notes.append('the checkpoint has an ema_state_dict: its state_dict '
                     '(exported) holds the EMA-averaged weights')
    res = model.load_state_dict(sd, strict=False)
    missing = [k for k in res.missing_keys
               if not k.startswith('data_preprocessor.')]
    unexpected = [k for k in res.unexpected_keys
                  if not k.startswith('data_preprocessor.')]
    if missing or unexpected:
        hint = ''
        if not any(k.startswith(('backbone.', 'neck.', 'cls_head.'))
                   for k in sd):
            hint = (' (not an mmmae checkpoint? convert it first with '
                    'tools/model_converters/videomae2mmmae.py)')
        raise HFExportError(
            f'{checkpoint} does not fit the model of {config}: missing '
            f'{missing}, unexpected {unexpected}' + hint)
    return model.eval(), notes
