# Copyright (c) mmmae contributors. All rights reserved.
"""Infer a model config from the shapes of a state dict, by majority vote.

The converters and the exporter check a checkpoint against the model its
weights imply, so that every tensor that does not fit is named. Reading a
hyper-parameter off *one* tensor makes that check useless exactly when it is
needed: if that tensor is the broken one, the inferred model is wrong and
every other tensor is reported instead (one mis-shaped
``patch_embed.proj.weight`` gave "54 shape mismatches"; a missing
``blocks.0`` made the whole encoder look bias-free). Here every tensor that
shows a hyper-parameter casts a vote for its value, the most common value
wins, and the few tensors that disagree are the ones the shape comparison
names. Structure (depth, optional parts) is read from the union of all keys,
never from block 0 alone.
"""
import copy
import math
import re
from collections import Counter
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch

__all__ = [
    'Votes', 'block_votes', 'max_index', 'infer_videomae_config',
    'videomae_target_shapes', 'heads_for'
]

StateDict = Mapping[str, torch.Tensor]

#: Standard ViT widths -> attention heads (heads never change a shape).
_HEADS = {
    192: 3, 384: 6, 512: 8, 640: 8, 768: 12, 1024: 16, 1280: 16, 1408: 16
}

# Sub-keys of a transformer block whose single dimension is the width.
_WIDTH_1D = ('norm1.weight', 'norm1.bias', 'norm2.weight', 'norm2.bias',
             'attn.q_bias', 'attn.v_bias', 'attn.proj.bias', 'mlp.fc2.bias',
             'gamma_1', 'gamma_2')


class Votes:
    """The values one hyper-parameter takes according to each tensor.

    Args:
        name (str): What is voted on (for messages), e.g. ``'embed_dims'``.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._votes: List[Tuple[Any, str]] = []

    def add(self, value: Any, key: str) -> None:
        """Record that tensor ``key`` implies ``value``."""
        self._votes.append((value, key))

    def __bool__(self) -> bool:
        return bool(self._votes)

    def __len__(self) -> int:
        return len(self._votes)

    def winner(self, default: Any = None) -> Any:
        """The most common value (the first recorded one on a tie: callers
        record the most telling tensor first), or ``default``."""
        if not self._votes:
            return default
        counts = Counter(v for v, _ in self._votes)
        best = max(counts.values())
        for value, _ in self._votes:
            if counts[value] == best:
                return value
        return default  # pragma: no cover

    def dissenters(self) -> List[str]:
        """Keys whose value is not the winner's."""
        win = self.winner()
        return [k for v, k in self._votes if v != win]


def max_index(sd: StateDict, prefix: str) -> int:
    """``1 + `` the largest ``N`` of the ``{prefix}N.*`` keys (0 if none).

    The union of every key is used, so a checkpoint missing ``blocks.0`` (or
    any other block) still has the depth of the blocks it has.
    """
    pat = re.compile(rf'^{re.escape(prefix)}(\d+)\.')
    return 1 + max((int(m.group(1)) for m in map(pat.match, sd) if m),
                   default=-1)


def block_votes(sd: StateDict, prefix: str, width: Votes,
                hidden: Votes) -> None:
    """Votes of the transformer blocks ``{prefix}N.*`` for their width and
    MLP hidden width.

    Understands the mmmae/official block layout: ``norm1``, ``norm2``,
    ``attn.qkv.weight`` ``(3D, D)`` with a fused ``attn.qkv.bias`` or
    ``attn.q_bias``/``attn.v_bias``, ``attn.proj``, ``mlp.fc1``,
    ``mlp.fc2``, ``gamma_1``/``gamma_2``.

    Args:
        sd (Mapping): State dict.
        prefix (str): e.g. ``'backbone.blocks.'``.
        width (Votes): Receives ``D`` votes.
        hidden (Votes): Receives MLP hidden width votes.
    """
    pat = re.compile(rf'^{re.escape(prefix)}\d+\.(.+)$')
    for key, value in sd.items():
        m = pat.match(key)
        if m is None or not isinstance(value, torch.Tensor):
            continue
        rest, shape = m.group(1), tuple(value.shape)
        if rest in _WIDTH_1D and len(shape) == 1:
            width.add(shape[0], key)
        elif rest == 'attn.qkv.weight' and len(shape) == 2:
            width.add(shape[1], key)
        elif rest == 'attn.qkv.bias' and len(shape) == 1 and \
                shape[0] % 3 == 0:
            width.add(shape[0] // 3, key)
        elif rest == 'attn.proj.weight' and len(shape) == 2:
            width.add(shape[0], key)
        elif rest == 'mlp.fc1.weight' and len(shape) == 2:
            hidden.add(shape[0], key)
            width.add(shape[1], key)
        elif rest == 'mlp.fc1.bias' and len(shape) == 1:
            hidden.add(shape[0], key)
        elif rest == 'mlp.fc2.weight' and len(shape) == 2:
            width.add(shape[0], key)
            hidden.add(shape[1], key)


def heads_for(dims: int, table: Optional[Mapping[int, int]] = None,
              head_dims: int = 64) -> int:
    """Standard head count for a width (``head_dims``-wide heads
    otherwise, 1 when that does not divide)."""
    table = _HEADS if table is None else table
    if dims in table:
        return table[dims]
    return dims // head_dims if dims >= head_dims and \
        dims % head_dims == 0 else 1


def _add_1d(sd: StateDict, keys, votes: Votes) -> None:
    for key in keys:
        value = sd.get(key)
        if isinstance(value, torch.Tensor) and value.dim() == 1:
            votes.add(int(value.shape[0]), key)


def _any(sd: StateDict, pattern: str) -> bool:
    pat = re.compile(pattern)
    return any(pat.match(k) for k in sd)


def _patch_geometry(first: Optional[Tuple[int, int, int, int]],
                    out: Votes) -> Tuple[int, int, int, int]:
    """``(in_channels, tubelet, patch_h, patch_w)`` of the patch embedding,
    agreeing with the decoder's pixels per token when it has more votes.

    ``first`` is read off ``patch_embed.proj.weight`` (None when absent).
    When the decoder head (weight and bias) says a token holds another
    number of pixels, the fewest fields of the embedding are changed to
    match it (patch size first, then channels, then tubelet), so the one
    broken tensor is the one reported.
    """
    if first is None:
        first = (3, 2, 16, 16)
        if not out:
            return first
    c, t, ph, pw = first
    target = out.winner(c * t * ph * pw)
    if target == c * t * ph * pw:
        return first
    candidates = []
    p = math.isqrt(max(target // (c * t), 0))
    if ph == pw and c * t * p * p == target:
        candidates.append((c, t, p, p))
    if target % (t * ph * pw) == 0:
        candidates.append((target // (t * ph * pw), t, ph, pw))
    if target % (c * ph * pw) == 0:
        candidates.append((c, target // (c * ph * pw), ph, pw))
    return candidates[0] if candidates else first


def infer_videomae_config(sd: StateDict,
                          use_mean_pooling: Optional[bool] = None) -> dict:
    """mmmae VideoMAE config matching the shapes of a state dict.

    Heads are not stored in weights (the standard ViT table is used);
    ``num_frames``/``img_size`` are not either (the positional table is
    recomputed).

    Args:
        sd (Mapping): State dict in the mmmae algorithm layout
            (``backbone.*``, optionally ``neck.*`` and ``cls_head.fc_cls.*``).
        use_mean_pooling (bool, optional): Decide the backbone's final norm
            when the weights have neither ``norm`` nor ``fc_norm``; by default
            a backbone with ``fc_norm`` or without ``norm`` mean-pools.

    Returns:
        dict: ``backbone`` (``mmmae.VideoMAEViT`` config), ``neck``
        (``mmmae.VideoMAEPretrainDecoder`` config or None) and
        ``num_classes`` (or None).
    """
    dims, ffn = Votes('embed_dims'), Votes('feedforward_channels')
    ddims, dffn = Votes('decoder_embed_dims'), Votes('decoder hidden')
    out, classes = Votes('pixels per token'), Votes('num_classes')
    pe = sd.get('backbone.patch_embed.proj.weight')
    first = None
    if isinstance(pe, torch.Tensor) and pe.dim() == 5:
        d, c, t, ph, pw = (int(s) for s in pe.shape)
        first = (c, t, ph, pw)
        dims.add(d, 'backbone.patch_embed.proj.weight')
        out.add(c * t * ph * pw, 'backbone.patch_embed.proj.weight')
    _add_1d(sd, ('backbone.patch_embed.proj.bias', 'backbone.norm.weight',
                 'backbone.norm.bias', 'backbone.fc_norm.weight',
                 'backbone.fc_norm.bias'), dims)
    block_votes(sd, 'backbone.blocks.', dims, ffn)

    e2d = sd.get('neck.encoder_to_decoder.weight')
    if isinstance(e2d, torch.Tensor) and e2d.dim() == 2:
        ddims.add(int(e2d.shape[0]), 'neck.encoder_to_decoder.weight')
        dims.add(int(e2d.shape[1]), 'neck.encoder_to_decoder.weight')
    token = sd.get('neck.mask_token')
    if isinstance(token, torch.Tensor) and token.dim() >= 1:
        ddims.add(int(token.shape[-1]), 'neck.mask_token')
    _add_1d(sd, ('neck.norm.weight', 'neck.norm.bias'), ddims)
    head = sd.get('neck.head.weight')
    if isinstance(head, torch.Tensor) and head.dim() == 2:
        out.add(int(head.shape[0]), 'neck.head.weight')
        ddims.add(int(head.shape[1]), 'neck.head.weight')
    _add_1d(sd, ('neck.head.bias', ), out)
    block_votes(sd, 'neck.blocks.', ddims, dffn)

    fc = sd.get('cls_head.fc_cls.weight')
    if isinstance(fc, torch.Tensor) and fc.dim() == 2:
        classes.add(int(fc.shape[0]), 'cls_head.fc_cls.weight')
        dims.add(int(fc.shape[1]), 'cls_head.fc_cls.weight')
    _add_1d(sd, ('cls_head.fc_cls.bias', ), classes)

    if not dims:
        from .videomae import ConversionError
        raise ConversionError(
            'no backbone weights to infer the model from (expected '
            'backbone.patch_embed.* / backbone.blocks.*)')
    width = dims.winner()
    in_ch, tub, ph, pw = _patch_geometry(first, out)
    depth = max_index(sd, 'backbone.blocks.')
    if use_mean_pooling is None or _any(sd, r'^backbone\.(fc_norm|norm)\.'):
        use_mean_pooling = _any(sd, r'^backbone\.fc_norm\.') or \
            not _any(sd, r'^backbone\.norm\.')
    backbone = dict(
        type='mmmae.VideoMAEViT',
        arch=dict(
            embed_dims=width,
            num_layers=depth,
            num_heads=heads_for(width),
            feedforward_channels=ffn.winner(4 * width)),
        patch_size=ph if ph == pw else (ph, pw),
        tubelet_size=tub,
        in_channels=in_ch,
        # any block with q/v biases: a block missing them is then named
        qkv_bias=_any(sd, r'^backbone\.blocks\.\d+\.attn\.[qv]_bias$')
        or depth == 0,
        use_mean_pooling=bool(use_mean_pooling))
    if _any(sd, r'^backbone\.blocks\.\d+\.gamma_[12]$'):
        backbone['layer_scale_init_value'] = 0.1
    cfg = dict(backbone=backbone, neck=None, num_classes=classes.winner())
    if _any(sd, r'^neck\.'):
        dwidth = ddims.winner(width)
        ddepth = max_index(sd, 'neck.blocks.')
        neck = dict(
            type='mmmae.VideoMAEPretrainDecoder',
            embed_dims=width,
            decoder_embed_dims=dwidth,
            decoder_depth=ddepth,
            decoder_num_heads=heads_for(dwidth),
            mlp_ratio=float(dffn.winner(4 * dwidth)) / dwidth,
            patch_size=ph,
            tubelet_size=tub,
            in_channels=in_ch)
        if ddepth > 0 and not _any(sd,
                                   r'^neck\.blocks\.\d+\.attn\.[qv]_bias$'):
            neck['qkv_bias'] = False
        if _any(sd, r'^neck\.blocks\.\d+\.gamma_[12]$'):
            neck['layer_scale_init_value'] = 0.1
        cfg['neck'] = neck
    return cfg


def _shapes(model: torch.nn.Module, prefix: str = '') -> Dict[str,
                                                              torch.Size]:
    return {
        prefix + k: v.shape
        for k, v in model.state_dict().items()
        if not k.startswith('data_preprocessor.')
    }


def videomae_target_shapes(cfg: dict, to: str) -> Dict[str, torch.Size]:
    """State-dict shapes of the model :func:`infer_videomae_config` found.

    Args:
        cfg (dict): From :func:`infer_videomae_config`.
        to (str): ``'algorithm'`` (``backbone.*`` + ``neck.*``),
            ``'recognizer'`` (``backbone.*`` + ``cls_head.fc_cls.*``) or
            ``'backbone'`` (no prefix).

    Returns:
        dict: key -> shape.
    """
    from mmmae.registry import MODELS
    bcfg = copy.deepcopy(cfg['backbone'])
    # Smallest valid clip: the (non-persistent) table does not matter here.
    ps = bcfg['patch_size']
    ph, pw = (ps, ps) if isinstance(ps, int) else ps
    bcfg.update(img_size=(ph, pw), num_frames=bcfg['tubelet_size'])
    if to == 'algorithm':
        model = MODELS.build(
            dict(
                type='mmmae.VideoMAE',
                backbone=bcfg,
                neck=copy.deepcopy(cfg['neck']),
                head=dict(
                    type='mmmae.VideoMAEPretrainHead',
                    patch_size=ph,
                    tubelet_size=bcfg['tubelet_size'])))
        return _shapes(model)
    shapes = _shapes(MODELS.build(bcfg))
    if to == 'backbone':
        return shapes
    shapes = {'backbone.' + k: v for k, v in shapes.items()}
    if cfg.get('num_classes') is not None:
        dims = bcfg['arch']['embed_dims']
        shapes['cls_head.fc_cls.weight'] = torch.Size(
            (cfg['num_classes'], dims))
        shapes['cls_head.fc_cls.bias'] = torch.Size((cfg['num_classes'], ))
    return shapes
