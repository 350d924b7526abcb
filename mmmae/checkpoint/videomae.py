# Copyright (c) mmmae contributors. All rights reserved.
"""Official VideoMAE (V1/V2) checkpoints -> mmmae state dicts.

The mmmae module tree mirrors the official one, so conversion is a key
prefix rename:

=================================  ======================================
official pretraining               mmmae ``VideoMAE``
=================================  ======================================
``encoder.{patch_embed,blocks,norm,fc_norm}.*``  ``backbone.*``
``decoder.{blocks,norm,head}.*``   ``neck.*``
``encoder_to_decoder.weight``      ``neck.encoder_to_decoder.weight``
``mask_token``                     ``neck.mask_token``
=================================  ======================================

Official fine-tuned models (``{patch_embed,blocks,fc_norm,norm}.*``,
``head.*``) become ``backbone.*`` and ``cls_head.fc_cls.*`` (the name of
MMAction2's ``TimeSformerHead`` classifier).

Fixed sin-cos ``pos_embed`` tables are normally absent. If a checkpoint holds
one that equals the table mmmae recomputes, it is dropped (with a log line);
any other value is an unknown key. Unknown keys are never dropped silently:
they raise, or with ``strict=False`` are warned about and returned.
"""
import re
import warnings
from collections import OrderedDict
from typing import Dict, List, Mapping, Tuple, Union

import torch

__all__ = [
    'unwrap_checkpoint', 'convert_official_videomae', 'official_to_backbone',
    'strip_prefixes', 'ConversionError', 'detect_videomae_format',
    'convert_mmaction2_videomae', 'convert_any_videomae',
    'load_checkpoint_file', 'format_key_list', 'compare_shapes'
]

WRAPPER_KEYS = ('model', 'module', 'state_dict', 'model_state')
STRIP_PREFIXES = ('module.', '_orig_mod.')

_BACKBONE_PARTS = ('patch_embed.', 'blocks.', 'norm.', 'fc_norm.')
_BLOCK_KEY = re.compile(
    r'^blocks\.\d+\.(norm1\.(weight|bias)|norm2\.(weight|bias)|'
    r'attn\.qkv\.weight|attn\.q_bias|attn\.v_bias|attn\.proj\.(weight|bias)|'
    r'mlp\.fc1\.(weight|bias)|mlp\.fc2\.(weight|bias)|gamma_1|gamma_2)$')
_SIMPLE_KEY = re.compile(
    r'^(patch_embed\.proj\.(weight|bias)|(norm|fc_norm)\.(weight|bias))$')

StateDict = Dict[str, torch.Tensor]


def _is_state_dict(obj) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(
        isinstance(v, torch.Tensor) for v in obj.values())


def strip_prefixes(state_dict: Mapping[str, torch.Tensor]) -> StateDict:
    """Remove the wrapper prefixes of a state dict's keys.

    A leading ``module.`` (DDP / DeepSpeed) and ``_orig_mod.``
    (``torch.compile``; also inside names, for compiled submodules) go.

    Args:
        state_dict (Mapping[str, Tensor]): Raw state dict.

    Returns:
        OrderedDict: Same tensors under clean names.

    Raises:
        KeyError: When two keys collapse onto one name.
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        new = key.replace('._orig_mod.', '.')
        changed = True
        while changed:
            changed = False
            for prefix in STRIP_PREFIXES:
                if new.startswith(prefix):
                    new = new[len(prefix):]
                    changed = True
        if new in out:
            raise KeyError(f'keys collide after stripping prefixes: {new!r}')
        out[new] = value
    return out


def unwrap_checkpoint(ckpt: Mapping) -> StateDict:
    """Find the state dict inside a checkpoint and clean its key names.

    Wrappers are looked up in the order ``model`` (official pretraining),
    ``module`` (DeepSpeed fine-tuning), ``state_dict`` (MMEngine),
    ``model_state`` (PySlowFast), repeatedly; a mapping of tensors is taken
    as the state dict itself. Prefixes are removed by :func:`strip_prefixes`.

    Args:
        ckpt (Mapping): Loaded checkpoint or state dict.

    Returns:
        OrderedDict: ``name -> Tensor``.

    Raises:
        TypeError: ``ckpt`` is not a mapping.
        KeyError: No state dict could be found.
    """
    if not isinstance(ckpt, Mapping):
        raise TypeError(f'checkpoint must be a mapping, got {type(ckpt)}')
    obj = ckpt
    while not _is_state_dict(obj):
        for key in WRAPPER_KEYS:
            if isinstance(obj.get(key, None), Mapping):
                obj = obj[key]
                break
        else:
            raise KeyError(
                'no state dict found in the checkpoint (looked for '
                f'{WRAPPER_KEYS} or a mapping of tensors); top-level keys: '
                f'{sorted(map(str, obj.keys()))[:20]}')
    return strip_prefixes(obj)


def _is_fixed_sincos(value: torch.Tensor) -> bool:
    """Whether a stored ``pos_embed`` equals the recomputed sin-cos table."""
    from mmmae.models.utils import get_sinusoid_table
    if value.dim() == 3 and value.shape[0] == 1:
        value = value[0]
    if value.dim() != 2 or not value.is_floating_point():
        return False
    table = get_sinusoid_table(value.shape[0], value.shape[1])
    tol = 1e-6 if value.dtype in (torch.float32, torch.float64) else 2e-3
    return torch.allclose(value.float().cpu(), table, atol=tol, rtol=0)


def _map_backbone(rest: str) -> Union[str, None]:
    if _BLOCK_KEY.match(rest) or _SIMPLE_KEY.match(rest):
        return 'backbone.' + rest
    return None


def _map_key(key: str) -> Union[str, None]:
    """mmmae name of an official key, '' for droppable, None for unknown."""
    if key == 'mask_token':
        return 'neck.mask_token'
    if key == 'encoder_to_decoder.weight':
        return 'neck.encoder_to_decoder.weight'
    if key.startswith('encoder.'):
        return _map_backbone(key[len('encoder.'):])
    if key.startswith('decoder.'):
        rest = key[len('decoder.'):]
        if _BLOCK_KEY.match(rest) or rest in ('norm.weight', 'norm.bias',
                                              'head.weight', 'head.bias'):
            return 'neck.' + rest
        return None
    if key in ('head.weight', 'head.bias'):
        return 'cls_head.fc_cls.' + key[len('head.'):]
    return _map_backbone(key)


def convert_official_videomae(
    state_dict: Mapping,
    strict: bool = True,
    return_unknown: bool = False
) -> Union[StateDict, Tuple[StateDict, StateDict]]:
    """Convert an official VideoMAE / VideoMAE V2 checkpoint.

    Handles pretraining checkpoints (``encoder.*``, ``decoder.*``,
    ``encoder_to_decoder``, ``mask_token``) and fine-tuned ones
    (``patch_embed``/``blocks``/``norm``/``fc_norm``/``head``). A wrapped
    checkpoint (``model``/``module``/...) is unwrapped first.

    Args:
        state_dict (Mapping): Official state dict or checkpoint.
        strict (bool): Raise on unknown keys. With False they are warned
            about and left out of the result. Defaults to True.
        return_unknown (bool): Also return the unknown keys (original
            names). Defaults to False.

    Returns:
        OrderedDict | tuple: mmmae state dict (``backbone.*``, ``neck.*``,
        ``cls_head.fc_cls.*``), plus the unknown entries when
        ``return_unknown``.

    Raises:
        KeyError: Unknown keys with ``strict=True``.
    """
    state_dict = unwrap_checkpoint(state_dict)
    out: StateDict = OrderedDict()
    unknown: StateDict = OrderedDict()
    dropped: List[str] = []
    for key, value in state_dict.items():
        if key in ('pos_embed', 'encoder.pos_embed', 'decoder.pos_embed'):
            if _is_fixed_sincos(value):
                dropped.append(key)
            else:
                unknown[key] = value
            continue
        new = _map_key(key)
        if new is None:
            unknown[key] = value
        else:
            out[new] = value
    if dropped:
        from mmengine.logging import print_log
        print_log(
            f'dropped {dropped}: equal to the fixed sin-cos table mmmae '
            'recomputes', logger='current')
    return _finish(out, unknown, strict, return_unknown, 'mmmae')


def _finish(out: StateDict, unknown: Mapping, strict: bool,
            return_unknown: bool, target: str):
    """End of a key conversion: raise (``strict``) or warn about the keys
    without a ``target`` counterpart, and return ``out`` (and them)."""
    if unknown:
        msg = (f'{len(unknown)} checkpoint key(s) have no {target} '
               f'counterpart: {list(unknown)}')
        if strict:
            raise KeyError(msg)
        warnings.warn(msg + ' (left out of the converted state dict)')
    return (out, unknown) if return_unknown else out


def official_to_backbone(state_dict: Mapping,
                         strict: bool = True) -> StateDict:
    """Bare :class:`~mmmae.models.VideoMAEViT` state dict.

    Works for official pretraining and fine-tuned checkpoints.

    Decoder and classifier weights are known keys that are deliberately not
    part of a backbone; unknown keys are handled as in
    :func:`convert_official_videomae`.

    Args:
        state_dict (Mapping): Official state dict or checkpoint.
        strict (bool): Raise on unknown keys. Defaults to True.

    Returns:
        OrderedDict: ``patch_embed.*``, ``blocks.*``, ``norm.*`` /
        ``fc_norm.*``.
    """
    full = convert_official_videomae(state_dict, strict=strict)
    return OrderedDict((k[len('backbone.'):], v) for k, v in full.items()
                       if k.startswith('backbone.'))


class ConversionError(RuntimeError):
    """Conversion would lose weights or could not be done."""


_MMACTION_RENAMES = (
    (re.compile(r'^backbone\.patch_embed\.projection\.'),
     'backbone.patch_embed.proj.'),
    (re.compile(r'^(backbone\.blocks\.\d+\.mlp\.)layers\.0\.0\.'), r'\1fc1.'),
    (re.compile(r'^(backbone\.blocks\.\d+\.mlp\.)layers\.1\.'), r'\1fc2.'),
)


def detect_videomae_format(sd: StateDict) -> str:
    """Name the key layout of a flat state dict.

    Returns:
        str: ``'hf'``, ``'mmmae'``, ``'mmaction2'``, ``'official-pretrain'``,
        ``'official-encoder'``, ``'official-finetune'`` or ``'unknown'``.
    """
    from .hf import is_hf_videomae
    keys = list(sd)
    if is_hf_videomae(sd):
        return 'hf'
    if ('backbone.patch_embed.projection.weight' in sd
            or 'patch_embed.projection.weight' in sd
            or any('.mlp.layers.' in k for k in keys)):
        return 'mmaction2'
    if any(k.startswith(('backbone.', 'neck.', 'cls_head.', 'head.'))
           for k in keys) and 'backbone.patch_embed.proj.weight' in sd:
        return 'mmmae'
    if 'encoder.patch_embed.proj.weight' in sd:
        if any(k.startswith(('decoder.', 'encoder_to_decoder'))
               for k in keys):
            return 'official-pretrain'
        return 'official-encoder'
    if 'patch_embed.proj.weight' in sd:
        return 'official-finetune'
    return 'unknown'


def _convert_official_checked(sd: StateDict) -> Tuple[StateDict, List[str]]:
    """Official V1/V2 (pretrain, encoder-only or fine-tuned) -> mmmae.

    Uses ``mmmae.checkpoint.videomae.convert_official_videomae``
    (unknown keys raise; a stored ``pos_embed`` is dropped only when it equals
    the recomputed sin-cos table) and double-checks that every other source
    tensor arrived in the output.

    Args:
        sd (dict): Unwrapped official state dict.

    Returns:
        tuple: (converted state dict, notes).
    """
    notes = []
    try:
        out = convert_official_videomae(sd, strict=True)
    except KeyError as exc:  # lists every unknown key
        msg = exc.args[0] if exc.args else str(exc)
        raise ConversionError(
            f'{msg} (they would be silently dropped)') from exc
    out_ids = {id(v) for v in out.values()}

    def arrived(v: torch.Tensor) -> bool:  # same object, or an equal copy
        return id(v) in out_ids or any(
            o.shape == v.shape and torch.equal(o, v) for o in out.values())

    lost = [k for k, v in sd.items() if not arrived(v)]
    tables = [k for k in lost if k.split('.')[-1] == 'pos_embed']
    lost = [k for k in lost if k not in tables]
    if lost:
        raise ConversionError(
            f'{len(lost)} source tensors were not converted (they would be '
            f'silently dropped): {lost}')
    if tables:
        notes.append(f'ignored {tables}: equal to the fixed sin-cos table '
                     'mmmae recomputes')
    return OrderedDict(out), notes


def convert_mmaction2_videomae(sd: StateDict) -> Tuple[StateDict, List[str]]:
    """MMAction2 ``vit_mae`` recognizer/backbone -> mmmae layout.

    ``patch_embed.projection`` -> ``patch_embed.proj``, ``mlp.layers.0.0`` ->
    ``mlp.fc1``, ``mlp.layers.1`` -> ``mlp.fc2``; ``cls_head.*`` is kept.
    The ``pos_embed`` buffer is dropped when it equals the sin-cos table
    mmmae recomputes, and ``data_preprocessor.mean/std`` (normalization
    constants, not weights) are reported and left out.
    """
    out = OrderedDict()
    notes = []
    for k, v in sd.items():
        if k.startswith('data_preprocessor.'):
            notes.append(f'left out {k} = {v.flatten().tolist()} (set it in '
                         'the data_preprocessor config)')
            continue
        if not k.startswith(('backbone.', 'cls_head.')):
            k = 'backbone.' + k  # bare backbone state dict
        if k == 'backbone.pos_embed':
            if not _is_fixed_sincos(v):
                raise ConversionError(
                    f'{k} {tuple(v.shape)} differs from the fixed sin-cos '
                    'table; mmmae has no learnable positional embedding')
            notes.append(f'ignored {k}: the fixed sin-cos table mmmae '
                         'recomputes')
            continue
        nk = k
        for pat, rep in _MMACTION_RENAMES:
            nk = pat.sub(rep, nk)
        out[nk] = v
    return out, notes


def convert_any_videomae(sd: StateDict,
                         hf_config=None) -> Tuple[StateDict, str, List[str]]:
    """Detect the layout and convert to the mmmae algorithm layout.

    Args:
        sd (dict): Unwrapped state dict.
        hf_config (optional): HF ``config.json`` (path, mapping or
            ``PretrainedConfig``) of a HF source, for the notes about values
            weights do not hold (see
            :func:`mmmae.checkpoint.hf.inspect_hf_videomae`).

    Returns:
        tuple: (state dict with ``backbone.``/``neck.``/``cls_head.`` keys,
        detected format, notes).
    """
    fmt = detect_videomae_format(sd)
    notes: List[str] = []
    if fmt == 'hf':
        from .hf import (HFConversionError, convert_hf_videomae,
                         inspect_hf_videomae)
        try:
            info = inspect_hf_videomae(sd, hf_config=hf_config)
        except HFConversionError as exc:
            raise ConversionError(str(exc)) from exc
        notes += [f"HF transformers bias layout: {info['bias_layout']}"]
        notes += info['notes']
        try:
            out = convert_hf_videomae(sd, warn=False)
        except HFConversionError as exc:
            raise ConversionError(str(exc)) from exc
    elif fmt.startswith('official'):
        out, n = _convert_official_checked(sd)
        notes += n
    elif fmt == 'mmaction2':
        out, n = convert_mmaction2_videomae(sd)
        notes += n
    elif fmt == 'mmmae':
        out = OrderedDict()
        for k, v in sd.items():
            if k.startswith('data_preprocessor.'):
                # normalization constants, set by the config, not weights
                notes.append(f'left out {k} = {v.flatten().tolist()}')
            else:
                out[k] = v
        notes.append('already in mmmae layout; only re-targeted')
    else:
        raise ConversionError(
            'unrecognized checkpoint layout; first keys: '
            f'{list(sd)[:15]}')
    unknown = [k for k in out
               if not k.startswith(('backbone.', 'neck.', 'cls_head.'))]
    if unknown:
        raise ConversionError(
            f'{len(unknown)} tensors have no mmmae counterpart (they would '
            f'be silently dropped): {unknown}')
    return out, fmt, notes


def load_checkpoint_file(path: str,
                         trusted: bool = False) -> Tuple[object, List[str]]:
    """Load a checkpoint file for conversion, without running pickled code.

    Goes through :func:`mmmae.checkpoint.io.load_checkpoint_file`:
    ``.safetensors`` via ``safetensors``, anything else with
    ``torch.load(weights_only=True)`` and the allow-list of harmless objects
    real checkpoints hold (official training checkpoints' ``argparse``
    args, MMEngine's message hub and numpy state included).

    Args:
        path (str): Checkpoint path.
        trusted (bool): Load it as a full pickle (``--trust-pickle``); only
            for files you trust. Defaults to False.

    Returns:
        tuple: (loaded object, notes).

    Raises:
        ConversionError: The file does not exist, is empty, truncated,
            corrupt or not a checkpoint (the message names the file, the
            fault and the fix), or pickles other objects (the message names
            the refused globals and ``--trust-pickle``).
    """
    from .io import (CorruptCheckpointError, UntrustedCheckpointError,
                     load_checkpoint_file as _load)
    notes = []
    try:
        obj = _load(path, map_location='cpu', trusted=trusted)
    except (UntrustedCheckpointError, CorruptCheckpointError) as exc:
        raise ConversionError(str(exc)) from None
    except FileNotFoundError:
        raise ConversionError(f'{path}: no such file') from None
    except IsADirectoryError as exc:
        raise ConversionError(str(exc)) from None
    if trusted and not path.endswith('.safetensors'):
        notes.append('loaded as a full pickle (--trust-pickle, '
                     'weights_only=False): only for checkpoints you trust')
    return obj, notes


def format_key_list(keys: List[str], limit: int = 12) -> str:
    """``'a, b, ... (+N more)'`` for reports."""
    if len(keys) <= limit:
        return ', '.join(keys)
    return ', '.join(keys[:limit]) + f', ... (+{len(keys) - limit} more)'


def compare_shapes(state_dict: Mapping[str, torch.Tensor],
                   shapes: Mapping[str, torch.Size]
                   ) -> Tuple[List[str], List[str], List[str]]:
    """Compare a state dict with the shapes of a target model.

    Args:
        state_dict (Mapping): Converted weights.
        shapes (Mapping): Target ``key -> shape``.

    Returns:
        tuple: ``(missing, unexpected, shape mismatches)``; mismatches are
        ``'key: checkpoint (..) vs model (..)'`` strings.
    """
    missing = [k for k in shapes if k not in state_dict]
    unexpected = [k for k in state_dict if k not in shapes]
    mismatch = [
        f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(shapes[k])}'
        for k, v in state_dict.items() if k in shapes and v.shape != shapes[k]
    ]
    return missing, unexpected, mismatch
