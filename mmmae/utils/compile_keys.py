# Copyright (c) mmmae contributors. All rights reserved.
"""State-dict keys that survive ``torch.compile``.

``torch.compile(module)`` returns an ``OptimizedModule`` whose state dict
puts ``_orig_mod.`` in front of every key (``backbone._orig_mod.`` when only
a submodule was compiled), so a checkpoint saved from a compiled model does
not load strictly into an uncompiled one, nor the other way round.
(MMEngine's ``compile=True`` compiles the ``train_step`` *method*, not the
module, so its checkpoints have clean keys already.)

The fix is at load time, in one pre-hook: :func:`register_compiled_keys_hook`
makes a module rename incoming keys to the names it uses itself, whether
they carry ``_orig_mod.`` segments and it has none, or the reverse. mmmae's
algorithms (``VideoMAE``, ``MultiMAE``) register it on construction, so
``model.load_state_dict``, MMEngine's ``load_checkpoint`` / ``load_from`` /
``resume`` all accept either form. A model compiled as a whole is the outer
``OptimizedModule``, which torch builds without the hook: compile it with
:func:`compile_model` (``torch.compile`` plus the hook) to load clean
checkpoints into it.
"""
from typing import Dict

import torch
import torch.nn as nn

__all__ = [
    'COMPILE_SEGMENT', 'strip_compile_segments', 'register_compiled_keys_hook',
    'compile_model'
]

#: the attribute name ``OptimizedModule`` keeps the original module under
COMPILE_SEGMENT = '_orig_mod'


def strip_compile_segments(key: str) -> str:
    """``'a._orig_mod.b'`` -> ``'a.b'``, ``'_orig_mod.a'`` -> ``'a'``."""
    parts = [p for p in key.split('.') if p != COMPILE_SEGMENT]
    return '.'.join(parts)


def _own_keys(module: nn.Module) -> Dict[str, str]:
    """Clean name -> the name ``module`` saves it under.

    Walks the parameters and persistent buffers instead of calling
    ``state_dict()``, which under FSDP would run collectives inside a load.
    """
    own = {}
    for mod_name, mod in module.named_modules():
        pre = mod_name + '.' if mod_name else ''
        tensors = [n for n, p in mod._parameters.items() if p is not None]
        tensors += [
            n for n, b in mod._buffers.items()
            if b is not None and n not in mod._non_persistent_buffers_set
        ]
        for n in tensors:
            own[strip_compile_segments(pre + n)] = pre + n
    return own


def _has_compiled_part(module: nn.Module) -> bool:
    return any(COMPILE_SEGMENT in name.split('.')
               for name, _ in module.named_modules())


def _compiled_keys_pre_hook(module, state_dict, prefix, local_metadata,
                            strict, missing_keys, unexpected_keys,
                            error_msgs) -> None:
    """Rename ``prefix``-ed keys of ``state_dict`` in place to ``module``'s
    own names when they differ only by ``_orig_mod.`` segments.

    A no-op (no traversal of the keys' targets) unless the incoming keys or
    the module have such segments: the common case costs one pass over the
    key names.
    """
    keys = [k for k in state_dict if k.startswith(prefix)]
    incoming = any(COMPILE_SEGMENT in k[len(prefix):].split('.')
                   for k in keys)
    if not keys or not (incoming or _has_compiled_part(module)):
        return
    own = _own_keys(module)
    for key in keys:
        rest = key[len(prefix):]
        target = own.get(strip_compile_segments(rest), None)
        if target is None or target == rest:
            continue  # unknown keys stay, for strict loading to report
        if prefix + target in state_dict:
            raise KeyError(
                f'state dict holds both {key!r} and {prefix + target!r} '
                '(one tensor with and without torch.compile prefixes)')
        state_dict[prefix + target] = state_dict.pop(key)


def register_compiled_keys_hook(module: nn.Module) -> nn.Module:
    """Make ``module`` load state dicts saved with or without
    ``torch.compile`` prefixes (idempotent).

    Args:
        module (nn.Module): The module that receives state dicts (a model,
            or the ``OptimizedModule`` of a compiled model).

    Returns:
        nn.Module: ``module``.
    """
    # __dict__, not getattr: OptimizedModule forwards unknown attributes to
    # the module it wraps, which may carry the flag already
    if not module.__dict__.get('_mmmae_compiled_keys_hook', False):
        module.register_load_state_dict_pre_hook(_compiled_keys_pre_hook)
        module.__dict__['_mmmae_compiled_keys_hook'] = True
    return module


def compile_model(module: nn.Module, **kwargs) -> nn.Module:
    """``torch.compile(module, **kwargs)`` that still loads clean keys.

    Args:
        module (nn.Module): Module to compile.
        **kwargs: ``torch.compile`` options, e.g. ``backend='inductor'``.

    Returns:
        nn.Module: The compiled ``OptimizedModule``, with
        :func:`register_compiled_keys_hook` applied.
    """
    return register_compiled_keys_hook(torch.compile(module, **kwargs))
