# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAE checkpoint files -> mmmae, with the model config they imply.

What ``tools/model_converters/multimae2mmmae.py`` does, callable from
Python: :func:`convert_multimae_file` / :func:`convert_multimae_checkpoint`
return a :class:`MultiMAEConversion` whose ``errors`` say why the result
must not be written (``save`` refuses it then).

**Sources** (detected from the keys, not the file name):

* official MultiMAE pretraining checkpoints (``{'model': sd}``,
  ``global_tokens``, ``input_adapters.*``, ``encoder.*``,
  ``output_adapters.{rgb,depth,semseg,norm_rgb}.*``);
* official MultiViT checkpoints, with or without the classifier
  ``output_adapters.cls.{norm,head}`` (also bare ``MultiMAEViT`` dumps:
  the key names are the same);
* timm ``VisionTransformer`` state dicts (``cls_token``, ``pos_embed``,
  ``patch_embed.proj``, ``blocks.N``, ``norm``, ``head``), e.g. the official
  ``*_timm-*.pth`` releases: they become an rgb-only ``MultiMAEViT``
  (``cls_token + pos_embed[:, 0]`` -> ``global_tokens``); ``norm.*`` /
  ``fc_norm.*`` (MultiMAE has no final norm) and ``head.*`` are dropped and
  REPORTED;
* mmmae checkpoints (re-targeted only).

Wrappers ``model``/``module``/``state_dict``/``model_state`` and the key
prefixes ``module.``/``_orig_mod.`` are removed.

**Targets** (``to``):

* ``algorithm``: ``backbone.*`` + ``neck.*`` for ``mmmae.MultiMAE`` (needs
  the pre-training decoders in the source);
* ``backbone``: the bare ``mmmae.MultiMAEViT`` state dict (no prefix);
* ``classifier``: ``backbone.*`` + ``head.*`` (``mmmae.MultiMAELinearHead``,
  from a MultiViT ``output_adapters.cls``);
* ``auto``: ``algorithm`` when there are decoders, else ``classifier`` when
  there is a MultiViT classifier, else ``backbone``.

**The model the weights imply** (:func:`infer_multimae_config`): widths,
depth, modalities, channels, classes, patch and image size and decoder
widths are majority votes of every tensor that shows them
(:class:`~mmmae.checkpoint.arch.Votes`), and the structure comes from the
union of the keys, so a missing or mis-shaped tensor is named by the
comparison with that model instead of changing the model. The number of
attention heads never changes a shape: it is taken from the standard ViT
table (192: 3, 384: 6, 768: 12, 1024: 16, ...; 64-wide heads otherwise)
unless given (``num_heads`` / ``decoder_num_heads``). The ``stride_level``
of a decoder whose task has no input adapter is not stored either (see
:func:`_output_stride`). Every such guess is listed in ``guessed``.

A source tensor that would be dropped without being asked for (unknown
keys, keys the target model does not have, shape mismatches) is an error
naming the keys. Format-inherent drops (timm ``norm``/``head``) and parts
left out on purpose (decoders with ``to='backbone'``) are reported, not
errors. ``strict`` also makes missing keys errors.
"""
import copy
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple

import torch

from .arch import Votes, _any, _shapes, block_votes, heads_for, max_index
from .convert_videomae import (ConversionReport, _convert_file,
                               _select_target, unwrap_for_conversion)
from .multimae import convert_official_multimae, timm_to_multimae
from .videomae import ConversionError

__all__ = [
    'MultiMAEConversion', 'detect_multimae_format', 'convert_any_multimae',
    'select_multimae_target', 'infer_multimae_config',
    'multimae_target_shapes', 'convert_multimae_checkpoint',
    'convert_multimae_file'
]

Tensor = torch.Tensor
StateDict = Dict[str, Tensor]

#: Values of ``to`` for :func:`convert_multimae_checkpoint`.
TARGETS = ('auto', 'algorithm', 'backbone', 'classifier')
_PARTS = ('backbone.', 'neck.', 'head.')
#: Standard ViT widths -> heads (encoders).
_ENCODER_HEADS = {192: 3, 384: 6, 768: 12, 1024: 16, 1280: 16, 1408: 16}
#: MultiMAE decoders: 256 wide with 8 heads (32-wide heads).
_DECODER_HEADS = {256: 8, 512: 16}


def detect_multimae_format(sd: Mapping[str, Tensor]) -> str:
    """Name the MultiMAE key layout of a flat state dict.

    Returns:
        str: ``'mmmae'``, ``'official-multimae'`` (with pre-training
        decoders), ``'official-multivit'`` (encoder, optionally the ``cls``
        classifier; also a bare mmmae ``MultiMAEViT``), ``'timm'`` or
        ``'unknown'``.
    """
    keys = list(sd)
    if 'backbone.global_tokens' in sd or any(
            k.startswith('backbone.input_adapters.') for k in keys):
        return 'mmmae'
    if 'global_tokens' in sd or any(
            k.startswith('input_adapters.') for k in keys):
        spatial = any(
            k.startswith('output_adapters.')
            and not k.startswith('output_adapters.cls.') for k in keys)
        return 'official-multimae' if spatial else 'official-multivit'
    if 'cls_token' in sd or ('patch_embed.proj.weight' in sd
                             and any(k.startswith('blocks.') for k in keys)):
        return 'timm'
    return 'unknown'


def convert_any_multimae(
        sd: Mapping[str, Tensor]
) -> Tuple[StateDict, str, List[str], List[str]]:
    """Detect the layout and convert to the mmmae algorithm layout.

    Args:
        sd (Mapping): Unwrapped state dict (official MultiMAE / MultiViT,
            timm ViT or mmmae).

    Returns:
        tuple: (state dict with ``backbone.``/``neck.``/``head.`` keys,
        detected format, dropped source keys, notes).

    Raises:
        ConversionError: Unknown layout or keys.
    """
    fmt = detect_multimae_format(sd)
    notes: List[str] = []
    dropped: List[str] = []
    if fmt.startswith('official'):
        try:
            out = convert_official_multimae(sd, strict=True)
        except KeyError as exc:
            raise ConversionError(
                f'{exc.args[0]} (they would be silently dropped)') from exc
        if fmt == 'official-multivit':
            notes.append('a bare mmmae MultiMAEViT state dict has the same '
                         'keys as an official MultiViT one')
    elif fmt == 'timm':
        pw = sd.get('patch_embed.proj.weight')
        if pw is not None and pw.dim() != 4:
            raise ConversionError(
                f'patch_embed.proj.weight has shape {tuple(pw.shape)}: not '
                'an image ViT (a VideoMAE checkpoint? use '
                'tools/model_converters/videomae2mmmae.py)')
        try:
            bb, dropped = timm_to_multimae(sd,
                                           strict=True,
                                           return_dropped=True)
        except KeyError as exc:
            raise ConversionError(
                f'{exc.args[0]} (they would be silently dropped)') from exc
        except ValueError as exc:
            raise ConversionError(str(exc)) from exc
        out = OrderedDict(('backbone.' + k, v) for k, v in bb.items())
        notes.append('timm ViT -> rgb-only MultiMAEViT: global_tokens = '
                     'cls_token + pos_embed[:, 0] (MultiMAE adds no position '
                     'to global tokens, and puts them after the patch '
                     'tokens); the learned pos_embed becomes the rgb '
                     'pos_emb, which MultiMAEViT keeps frozen')
        if any(k.startswith(('norm.', 'fc_norm.')) for k in dropped):
            notes.append('MultiMAE has no final encoder norm: timm '
                         'norm.*/fc_norm.* are dropped (a classifier head '
                         'brings its own norm)')
    elif fmt == 'mmmae':
        out = OrderedDict()
        for k, v in sd.items():
            if k.startswith('data_preprocessor.'):
                dropped.append(k)  # normalization constants, from the config
            else:
                out[k] = v
        notes.append('already in mmmae layout; only re-targeted')
    else:
        raise ConversionError('unrecognized checkpoint layout; first keys: '
                              f'{list(sd)[:15]}')
    unknown = [k for k in out if not k.startswith(_PARTS)]
    if unknown:
        raise ConversionError(
            f'{len(unknown)} tensors have no mmmae counterpart (they would '
            f'be silently dropped): {unknown}')
    return out, fmt, dropped, notes


def select_multimae_target(sd: Mapping[str, Tensor],
                           to: str) -> Tuple[StateDict, str, List[str]]:
    """Keep the part of a converted MultiMAE checkpoint that ``to`` asks
    for (see the module docstring).

    Args:
        sd (Mapping): Converted weights (``backbone.*``, ``neck.*``,
            ``head.*``).
        to (str): One of :data:`TARGETS`.

    Returns:
        tuple: (target state dict, resolved target, discarded keys).

    Raises:
        ConversionError: A target whose part the weights lack, or
            ``algorithm`` with a classifier it would drop.
    """
    return _select_target(
        sd,
        to,
        'head.',
        'classifier',
        no_neck='--to algorithm needs a pre-training checkpoint with '
        'decoders (output_adapters.{rgb,depth,...}); this one has none (use '
        '--to backbone or classifier)',
        both='the checkpoint has both decoders and a classifier; --to '
        'algorithm would drop head.*: ',
        no_head='--to classifier needs a MultiViT classifier '
        '(output_adapters.cls.*); this checkpoint has none')


# --------------------------------------------------------------------------
# config inference
# --------------------------------------------------------------------------
def _ordered_names(sd: StateDict, prefix: str) -> List[str]:
    """``name`` of ``{prefix}{name}.*`` keys in order of first appearance."""
    names: List[str] = []
    for k in sd:
        if k.startswith(prefix):
            name = k[len(prefix):].split('.', 1)[0]
            if name not in names:
                names.append(name)
    return names


def _context_tasks(sd: StateDict, prefixes: List[str],
                   inputs: List[str]) -> List[str]:
    """Task-embedding names of all decoders, in input-adapter order (a
    ParameterDict may have stored them sorted), then any others."""
    names: List[str] = []
    for prefix in prefixes:
        for n in _ordered_names(sd, prefix + 'task_embeddings.'):
            if n not in names:
                names.append(n)
    return [n for n in inputs if n in names
            ] + [n for n in names if n not in inputs]


def _shape(sd: StateDict, key: str, dim: int) -> Optional[Tuple[int, ...]]:
    """Shape of ``sd[key]`` when it is a ``dim``-D tensor, else None."""
    v = sd.get(key)
    return tuple(int(s) for s in v.shape) if isinstance(
        v, Tensor) and v.dim() == dim else None


def _vote(votes: Votes, sd: StateDict, key: str, dim: int,
          axis: int) -> None:
    shape = _shape(sd, key, dim)
    if shape is not None:
        votes.add(shape[axis], key)


def infer_multimae_config(
        sd: Mapping[str, Tensor],
        num_heads: Optional[int] = None,
        decoder_num_heads: Optional[int] = None,
        stride_levels: Optional[Dict[str, int]] = None) -> dict:
    """mmmae model config matching the shapes of a converted state dict.

    Every size is a majority vote of all the tensors that show it
    (:class:`mmmae.checkpoint.arch.Votes`) and the structure comes from
    the union of the keys, so a missing or mis-shaped tensor is named by the
    comparison with the model instead of changing the model.

    Args:
        sd (dict): Converted state dict (algorithm layout, ``backbone.*``).
        num_heads (int, optional): Encoder heads; guessed from the width
            when None (heads never change a shape).
        decoder_num_heads (int, optional): Decoder heads, likewise.
        stride_levels (dict, optional): ``stride_level`` of decoders whose
            task has no input adapter (e.g. ``{'semseg': 4}``), by decoder
            or task name; guessed when absent (official MultiMAE: semseg 4,
            others 1).

    Returns:
        dict: ``backbone``, ``neck`` (or None), ``head`` (or None) configs
        and ``guessed`` (the values that could not be read from weights).
    """
    guessed: List[str] = []
    names = _ordered_names(sd, 'backbone.input_adapters.')
    if not names:
        raise ConversionError('no backbone.input_adapters.* in the weights')
    dims, ffn = Votes('embed_dims'), Votes('feedforward_channels')
    patch, grid = Votes('patch_size'), Votes('token grid')
    _vote(dims, sd, 'backbone.global_tokens', 3, 2)
    for name in names:
        p = f'backbone.input_adapters.{name}.'
        _vote(dims, sd, p + 'proj.weight', 4, 0)
        _vote(dims, sd, p + 'proj.bias', 1, 0)
        _vote(dims, sd, p + 'pos_emb', 4, 1)
        pos = _shape(sd, p + 'pos_emb', 4)
        if pos is not None:
            grid.add(pos[2:], p + 'pos_emb')
        w = _shape(sd, p + 'proj.weight', 4)
        if w is not None and p + 'class_emb.weight' not in sd:
            # full-resolution patch size: from the patched (float map)
            # adapters
            patch.add(w[2:], p + 'proj.weight')
    block_votes(sd, 'backbone.encoder.', dims, ffn)
    decs = _ordered_names(sd, 'neck.output_adapters.')
    for name in decs:
        p = f'neck.output_adapters.{name}.'
        _vote(dims, sd, p + 'proj_context.weight', 2, 1)
        # A full-resolution decoder of a patched input predicts C * p * p
        # pixels per token: its out_proj weight and bias vote for the patch
        # size too, so one broken adapter kernel is outvoted.
        src = _shape(sd, f'backbone.input_adapters.{name}.proj.weight', 4)
        if src is None or \
                f'backbone.input_adapters.{name}.class_emb.weight' in sd:
            continue
        for key, dim in ((p + 'out_proj.weight', 2), (p + 'out_proj.bias', 1)):
            rows = _shape(sd, key, dim)
            side = math.isqrt(rows[0] // src[1]) if rows and src[1] else 0
            if side and src[1] * side * side == rows[0]:
                patch.add((side, side), key)
        pos = _shape(sd, p + 'pos_emb', 4)
        if pos is not None:
            grid.add(pos[2:], p + 'pos_emb')
    hw = _shape(sd, 'head.head.weight', 2)
    if hw is not None:
        dims.add(hw[1], 'head.head.weight')
    if not dims:
        raise ConversionError('no encoder weights to infer the model from')
    width = dims.winner()
    depth = max_index(sd, 'backbone.encoder.')
    glob = _shape(sd, 'backbone.global_tokens', 3)
    num_global = glob[1] if glob is not None else 1
    if num_heads is None:
        num_heads = heads_for(width, _ENCODER_HEADS, 64)
        guessed.append(f'num_heads={num_heads} (width {width})')

    patch_hw = patch.winner()
    adapters = {}
    for name in names:
        p = f'backbone.input_adapters.{name}.'
        w = _shape(sd, p + 'proj.weight', 4)
        emb = _shape(sd, p + 'class_emb.weight', 2)
        if emb is None:
            if w is None:
                guessed.append(f'{name}: in_channels=3 ({p}proj.weight is '
                               'missing)')
            adapters[name] = dict(type='mmmae.PatchedInputAdapter',
                                  in_channels=w[1] if w is not None else 3)
            continue
        cfg = dict(type='mmmae.SemSegInputAdapter',
                   num_classes=emb[0],
                   dim_class_emb=emb[1])
        k = w[2] if w is not None else None
        if patch_hw is None:
            cfg['stride_level'] = 4
            if k is not None:
                patch_hw = (4 * k, 4 * w[3])
            guessed.append(f'{name}: stride_level=4 (no patched adapter to '
                           'read the full-resolution patch size from)')
        elif k is not None and k > 0:
            if patch_hw[0] % k:
                raise ConversionError(
                    f'{name}: kernel {k} does not divide the patch size '
                    f'{patch_hw}')
            cfg['stride_level'] = patch_hw[0] // k
        adapters[name] = cfg
    if patch_hw is None:
        patch_hw = (16, 16)
        guessed.append('patch_size=16 (no input adapter weights)')
    patch_size = patch_hw[0] if patch_hw[0] == patch_hw[1] else patch_hw
    grid_hw = grid.winner((224 // patch_hw[0], 224 // patch_hw[1]))
    img = (grid_hw[0] * patch_hw[0], grid_hw[1] * patch_hw[1])
    img_size = img[0] if img[0] == img[1] else img
    if _any(sd, r'^backbone\.encoder\.\d+\.attn\.qkv\.bias$') or \
            depth == 0:
        qkv_bias = 'qkv'
    elif _any(sd, r'^backbone\.encoder\.\d+\.attn\.[qv]_bias$'):
        qkv_bias = True
    else:
        qkv_bias = False
    backbone = dict(
        type='mmmae.MultiMAEViT',
        input_adapters=adapters,
        arch=dict(
            embed_dims=width,
            num_layers=depth,
            num_heads=num_heads,
            feedforward_channels=ffn.winner(4 * width)),
        img_size=img_size,
        patch_size=patch_size,
        num_global_tokens=num_global,
        qkv_bias=qkv_bias)
    cfg = dict(backbone=backbone, neck=None, head=None, guessed=guessed)

    if decs:
        cfg['neck'] = _infer_decoders(sd, decs, adapters, width, patch_hw,
                                      patch_size, img_size,
                                      decoder_num_heads, guessed,
                                      stride_levels)
    if hw is not None:
        classes = Votes('num_classes')
        classes.add(hw[0], 'head.head.weight')
        _vote(classes, sd, 'head.head.bias', 1, 0)
        cfg['head'] = dict(type='mmmae.MultiMAELinearHead',
                           in_channels=width,
                           num_classes=classes.winner())
    return cfg


#: ``stride_level`` of the official MultiMAE domain configs
#: (``DOMAIN_CONF``): semseg maps are 1/4 resolution, every other domain is
#: full resolution.
_OFFICIAL_STRIDES = {'semseg': 4}


def _output_stride(name: str, task: str, rows: Votes,
                   patch_hw: Tuple[int, int], given: Dict[str, int],
                   guessed: List[str]) -> int:
    """``stride_level`` of a decoder whose task has no input adapter.

    ``out_proj`` predicts ``C * (ph / s) * (pw / s)`` values per token and
    neither ``C`` nor ``s`` is stored elsewhere, so the weights allow every
    ``s`` that divides the patch and leaves a whole ``C``. Order of choice:
    ``--stride-level``, the official MultiMAE stride of the task name
    (semseg 4, others 1) when the weights allow it, else the smallest
    allowed stride. Anything but ``--stride-level`` is reported as guessed.

    Args:
        name (str): Decoder name (``neck.output_adapters.{name}``).
        task (str): Its task (``name`` or, for ``norm_rgb``, ``rgb``).
        rows (Votes): Votes for the ``out_proj`` rows.
        patch_hw (tuple): Full-resolution patch size.
        given (dict): ``--stride-level`` values by decoder or task name.
        guessed (list): Receives the guess, if one was made.

    Returns:
        int: The stride.

    Raises:
        ConversionError: No stride fits the weights (or the given one does
            not).
    """
    ph, pw = patch_hw
    n = rows.winner()
    if n is None:  # no out_proj: the caller names the missing weight
        return given.get(name, given.get(task, 1))
    allowed = [
        s for s in range(1, min(ph, pw) + 1)
        if ph % s == 0 and pw % s == 0 and n % ((ph // s) * (pw // s)) == 0
    ]
    for key in (name, task):
        if key in given:
            if given[key] not in allowed:
                raise ConversionError(
                    f'--stride-level {key}={given[key]} does not fit '
                    f'neck.output_adapters.{name}.out_proj ({n} rows, patch '
                    f'{patch_hw}): the weights allow strides {allowed}')
            return given[key]
    if not allowed:
        raise ConversionError(
            f'neck.output_adapters.{name}.out_proj.weight has {n} rows: no '
            f'stride_level makes it channels x pixels of a patch {patch_hw}')
    official = _OFFICIAL_STRIDES.get(task, 1)
    stride = official if official in allowed else allowed[0]
    why = ('the official MultiMAE stride of ' + repr(task)
           if stride == official else 'the smallest the weights allow')
    channels = n // ((ph // stride) * (pw // stride))
    guessed.append(
        f'{name}: stride_level={stride} ({channels}'
        f' channels; no {task!r} input adapter to read it from, {why}; the '
        f'weights allow {allowed}: pass --stride-level {name}=S)')
    return stride


def _infer_decoders(sd: StateDict,
                    decs: List[str],
                    adapters: dict,
                    width: int,
                    patch_hw: Tuple[int, int],
                    patch_size,
                    img_size,
                    decoder_num_heads: Optional[int],
                    guessed: List[str],
                    stride_levels: Optional[Dict[str, int]] = None) -> dict:
    """``mmmae.MultiMAEDecoder`` config of the ``neck.output_adapters.*``
    weights; the shared sizes are votes over every decoder.

    ``stride_levels`` (decoder or task name -> stride) sets the resolution
    of decoders whose task has no input adapter (see
    :func:`_output_stride`)."""
    ddims, dffn = Votes('decoder embed_dims'), Votes('decoder hidden')
    prefixes = [f'neck.output_adapters.{name}.' for name in decs]
    for p in prefixes:
        _vote(ddims, sd, p + 'mask_token', 3, 2)
        _vote(ddims, sd, p + 'proj_context.weight', 2, 0)
        _vote(ddims, sd, p + 'proj_context.bias', 1, 0)
        _vote(ddims, sd, p + 'pos_emb', 4, 1)
        _vote(ddims, sd, p + 'out_proj.weight', 2, 1)
        for t in _ordered_names(sd, p + 'task_embeddings.'):
            _vote(ddims, sd, f'{p}task_embeddings.{t}', 3, 2)
        for part in ('context_norm', 'query_norm', 'out_norm'):
            _vote(ddims, sd, f'{p}{part}.weight', 1, 0)
            _vote(ddims, sd, f'{p}{part}.bias', 1, 0)
        for part in ('q', 'proj'):
            _vote(ddims, sd, f'{p}decoder.{part}.weight', 2, 1)
        _vote(dffn, sd, p + 'mlp.fc1.weight', 2, 0)
        _vote(dffn, sd, p + 'mlp.fc1.bias', 1, 0)
        _vote(ddims, sd, p + 'mlp.fc1.weight', 2, 1)
        _vote(ddims, sd, p + 'mlp.fc2.weight', 2, 0)
        _vote(dffn, sd, p + 'mlp.fc2.weight', 2, 1)
        block_votes(sd, p + 'decoder_transformer.', ddims, dffn)
    dwidth = ddims.winner(256)
    if decoder_num_heads is None:
        decoder_num_heads = heads_for(dwidth, _DECODER_HEADS, 32)
        guessed.append(f'decoder_num_heads={decoder_num_heads} '
                       f'(width {dwidth})')
    common = dict(encoder_dims=width,
                  embed_dims=dwidth,
                  num_layers=max(
                      max_index(sd, p + 'decoder_transformer.')
                      for p in prefixes),
                  num_heads=decoder_num_heads,
                  mlp_ratio=float(dffn.winner(4 * dwidth)) / dwidth,
                  qkv_bias=any(p + 'decoder.q.bias' in sd for p in prefixes),
                  img_size=img_size,
                  patch_size=patch_size,
                  context_tasks=_context_tasks(sd, prefixes, list(adapters)))
    out_adapters = {}
    for name, p in zip(decs, prefixes):
        task = name
        if name not in adapters:
            base = [n for n in adapters if name.endswith('_' + n)]
            if base:  # official norm_rgb: the rgb queries
                task = base[0]
        rows = Votes(f'{name} output rows')
        _vote(rows, sd, p + 'out_proj.weight', 2, 0)
        _vote(rows, sd, p + 'out_proj.bias', 1, 0)
        if task in adapters:
            stride = adapters[task].get('stride_level', 1)
        else:
            # An output-only task (e.g. semseg predicted from rgb-depth):
            # no input adapter tells its resolution.
            stride = _output_stride(name, task, rows, patch_hw,
                                    stride_levels or {}, guessed)
        per = (patch_hw[0] // stride) * (patch_hw[1] // stride)
        in_ch = adapters.get(task, {}).get('in_channels')
        if in_ch is not None:
            # a float map is reconstructed with its own channels
            rows.add(in_ch * per, f'backbone.input_adapters.{task}')
        if not rows:
            raise ConversionError(f'{p}out_proj.weight missing')
        if rows.winner() % per:
            raise ConversionError(
                f'{p}out_proj.weight has {rows.winner()} rows, not a '
                f'multiple of the {per} pixels of a patch at stride '
                f'{stride}')
        acfg = dict(num_channels=rows.winner() // per)
        if stride != 1:
            acfg['stride_level'] = stride
        if task != name:
            acfg['task'] = task
        out_adapters[name] = acfg
    return dict(type='mmmae.MultiMAEDecoder',
                output_adapters=out_adapters,
                common=common)


def multimae_target_shapes(cfg: dict, to: str) -> Dict[str, torch.Size]:
    """State-dict shapes of the model :func:`infer_multimae_config` found.

    Built on the ``meta`` device (shapes only, no memory or init time).

    Args:
        cfg (dict): From :func:`infer_multimae_config`.
        to (str): Resolved target: ``'algorithm'`` (``backbone.*`` +
            ``neck.*``), ``'classifier'`` (``backbone.*`` + ``head.*``) or
            ``'backbone'`` (no prefix).

    Returns:
        dict: key -> shape.
    """
    from mmmae.registry import MODELS
    with torch.device('meta'):
        if to == 'algorithm':
            return _shapes(
                MODELS.build(
                    dict(type='mmmae.MultiMAE',
                         backbone=copy.deepcopy(cfg['backbone']),
                         neck=copy.deepcopy(cfg['neck']))))
        backbone = MODELS.build(copy.deepcopy(cfg['backbone']))
        if to == 'backbone':
            return _shapes(backbone)
        shapes = _shapes(backbone, 'backbone.')
        if to == 'classifier' and cfg['head'] is not None:
            shapes.update(
                _shapes(MODELS.build(copy.deepcopy(cfg['head'])), 'head.'))
    return shapes


# --------------------------------------------------------------------------
# the whole conversion
# --------------------------------------------------------------------------
@dataclass
class MultiMAEConversion(ConversionReport):
    """:class:`~mmmae.checkpoint.convert_videomae.ConversionReport` of a
    MultiMAE import.

    Attributes:
        guessed (list[str]): Config values not stored in the weights
            (heads, strides), with what was assumed.
    """
    guessed: List[str] = field(default_factory=list)

    converter = 'tools/model_converters/multimae2mmmae.py'
    dropped_why = 'no mmmae MultiMAE counterpart'

    def config_lines(self) -> List[str]:
        """The inferred config as lines."""
        lines = super().config_lines()
        if self.target == 'algorithm':
            lines.append(f'  neck={self.inferred_config["neck"]}')
        if self.target == 'classifier':
            lines.append(f'  head={self.inferred_config["head"]}')
        return lines

    def meta(self) -> dict:
        """``meta`` of the written checkpoint."""
        meta = super().meta()
        meta.update(dropped=self.dropped, guessed=self.guessed)
        return meta


def convert_multimae_checkpoint(
        ckpt: Mapping,
        to: str = 'auto',
        *,
        num_heads: Optional[int] = None,
        decoder_num_heads: Optional[int] = None,
        stride_levels: Optional[Dict[str, int]] = None,
        strict: bool = False) -> MultiMAEConversion:
    """Convert a loaded MultiMAE checkpoint to mmmae and check it against
    the model its weights imply.

    Args:
        ckpt (Mapping): Loaded checkpoint or state dict, any layout of the
            module docstring.
        to (str): One of :data:`TARGETS`. Defaults to ``'auto'``.
        num_heads (int, optional): Encoder heads (not stored in weights);
            default: the standard ViT table by width.
        decoder_num_heads (int, optional): Decoder heads; default: 8 for
            256 wide, else 32-wide heads.
        stride_levels (dict, optional): ``stride_level`` of decoders whose
            task has no input adapter, by decoder or task name.
        strict (bool): Missing keys are errors too.

    Returns:
        MultiMAEConversion: The weights and the report; ``errors`` non-empty
        when they must not be written.

    Raises:
        ConversionError: No state dict, an unknown layout or keys, a target
            the weights cannot give, or strides the weights cannot have.
    """
    if to not in TARGETS:
        raise ConversionError(f'to must be one of {TARGETS}, got {to!r}')
    sd = unwrap_for_conversion(ckpt)
    conv, fmt, dropped, notes = convert_any_multimae(sd)
    out, to, discarded = select_multimae_target(conv, to)
    cfg = infer_multimae_config(conv, num_heads, decoder_num_heads,
                                stride_levels)
    guessed = cfg.pop('guessed')
    report = MultiMAEConversion(
        state_dict=out,
        source_format=fmt,
        target=to,
        num_source_tensors=len(sd),
        inferred_config=cfg,
        discarded=discarded,
        dropped=dropped,
        notes=notes,
        guessed=guessed)
    try:
        shapes = multimae_target_shapes(cfg, to)
    except Exception as exc:  # inconsistent shapes the config cannot hold
        report.errors.append(
            f'could not build the target model from the inferred shapes '
            f'({type(exc).__name__}: {exc})')
    else:
        report.check_shapes(shapes, strict)
    for guess in guessed:
        if 'pass --' in guess:  # names its own option
            notes.append(f'guessed {guess}')
        else:
            notes.append(f'guessed {guess}: not stored in the weights; check '
                         'it or pass --num-heads/--decoder-num-heads')
    return report


def convert_multimae_file(src: str,
                          dst: Optional[str] = None,
                          *,
                          to: str = 'auto',
                          num_heads: Optional[int] = None,
                          decoder_num_heads: Optional[int] = None,
                          stride_levels: Optional[Dict[str, int]] = None,
                          strict: bool = False,
                          trusted: bool = False) -> MultiMAEConversion:
    """Convert a MultiMAE checkpoint file (official MultiMAE / MultiViT,
    timm ViT, mmmae) to mmmae; what
    ``tools/model_converters/multimae2mmmae.py`` does.

    Args:
        src (str): Source checkpoint (``.pth``/``.pt``/``.bin``/
            ``.safetensors``).
        dst (str, optional): Where to write the MMEngine checkpoint; None
            only converts (write it later with ``report.save(dst)``).
        to, num_heads, decoder_num_heads, stride_levels, strict: See
            :func:`convert_multimae_checkpoint`.
        trusted (bool): Load ``src`` as a full pickle (only for files you
            trust).

    Returns:
        MultiMAEConversion: The weights and the report.

    Raises:
        ConversionError: ``src`` cannot be loaded or converted, or ``dst``
            is given and the report has errors (nothing written).
    """
    return _convert_file(
        convert_multimae_checkpoint,
        src,
        dst,
        trusted,
        to=to,
        num_heads=num_heads,
        decoder_num_heads=decoder_num_heads,
        stride_levels=stride_levels,
        strict=strict)
