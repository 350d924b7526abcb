# Copyright (c) mmmae contributors. All rights reserved.
"""Build-time checks for model configs.

Each check raises a ``ValueError`` naming the component, the field, the bad
value and the allowed values, so a wrong config fails when the model is
built rather than as a shape error inside the first forward pass.
"""
import difflib
import re
from typing import List, Optional, Sequence, Tuple, Union

import torch.nn as nn

__all__ = ['check_divisible', 'build_component', 'suggest_registered']

IntOrSeq = Union[int, Sequence[int]]


def _as_tuple(x: IntOrSeq, n: int) -> Tuple[int, ...]:
    return tuple(x) if isinstance(x, (tuple, list)) else (x, ) * n


def check_divisible(owner: str, field: str, value: IntOrSeq, by_field: str,
                    by: IntOrSeq) -> None:
    """Require ``value`` to be a positive multiple of ``by`` (per axis).

    Args:
        owner (str): Component name for the message, e.g. ``'VideoMAEViT'``.
        field (str): Config field of ``value``, e.g. ``'num_frames'``.
        value (int | Sequence[int]): The size, e.g. ``16`` or ``(224, 224)``.
        by_field (str): Config field of ``by``, e.g. ``'tubelet_size'``.
        by (int | Sequence[int]): The unit, broadcast to ``value``'s length.

    Raises:
        ValueError: ``value`` is not positive or not divisible by ``by``;
            the message names both fields and the nearest allowed values.
    """
    n = len(value) if isinstance(value, (tuple, list)) else 1
    vals, units = _as_tuple(value, n), _as_tuple(by, n)
    if len(units) != n or any(int(u) < 1 for u in units):
        raise ValueError(f'{owner}: {by_field} must be a positive int'
                         f'{" or a tuple of " + str(n) if n > 1 else ""}, '
                         f'got {by!r}')
    if all(int(v) >= 1 and int(v) % int(u) == 0
           for v, u in zip(vals, units)):
        return
    below = tuple(max(int(u), int(v) // int(u) * int(u))
                  for v, u in zip(vals, units))
    above = tuple(max(int(u), -(-int(v) // int(u)) * int(u))
                  for v, u in zip(vals, units))
    if n == 1:
        below, above, unit = below[0], above[0], int(units[0])
    else:
        unit = tuple(int(u) for u in units)
    near = f'{below} or {above}' if below != above else f'{below}'
    raise ValueError(f'{owner}: {field}={value!r} is not divisible by '
                     f'{by_field}={by!r}; allowed {field}: positive '
                     f'multiples of {unit}{" per axis" if n > 1 else ""} '
                     f'(e.g. {near})')


_NOT_REGISTERED = re.compile(r'^(\S+) is not in the (\S+) registry')


def suggest_registered(name: str, registry, n: int = 3) -> List[str]:
    """Registered names close to ``name``, scope-prefixed (``mmmae.X``).

    Searches ``registry``, its root and the root's scopes (mmaction, mmseg,
    mmpretrain, ... as far as they are imported).

    Args:
        name (str): The unknown type, with or without ``scope.`` prefix.
        registry (Registry): Where it was looked up.
        n (int): At most this many suggestions. Defaults to 3.

    Returns:
        list[str]: Closest first; empty when nothing is similar.
    """
    registry.import_from_location()
    root = registry
    while root.parent is not None:
        root = root.parent
    candidates = {key: key for key in root.module_dict}
    for scope, child in root.children.items():
        for key in child.module_dict:
            candidates.setdefault(key, f'{scope}.{key}')
            candidates[f'{scope}.{key}'] = f'{scope}.{key}'
    short = name.split('.', 1)[1] if '.' in name else name
    pool = {c.lower(): c for c in candidates}
    hits = difflib.get_close_matches(
        name.lower(), list(pool), n=n, cutoff=0.6) or \
        difflib.get_close_matches(short.lower(), list(pool), n=n, cutoff=0.6)
    out: List[str] = []
    for h in hits:
        full = candidates[pool[h]]
        if full not in out:
            out.append(full)
    return out[:n]


def build_component(cfg: Union[dict, nn.Module],
                    owner: str,
                    field: str,
                    registry=None,
                    example: Optional[str] = None) -> nn.Module:
    """Build a sub-module config field, with errors naming the field.

    Args:
        cfg (dict | nn.Module): The field's value; a module is returned as is.
        owner (str): The component holding the field, e.g. ``'VideoMAE'``.
        field (str): The field name, e.g. ``'backbone'``.
        registry (Registry, optional): Defaults to ``mmmae.registry.MODELS``.
        example (str, optional): An example type for the message.

    Returns:
        nn.Module: The built module.

    Raises:
        TypeError: ``cfg`` is neither a dict with ``type`` nor a module.
        KeyError: An unregistered ``type`` (here or nested); the message
            adds the closest registered names.
    """
    if isinstance(cfg, nn.Module):
        return cfg
    if registry is None:
        from mmmae.registry import MODELS as registry
    eg = f"dict(type='{example}', ...)" if example else \
        "dict(type='mmmae.<RegisteredName>', ...)"
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise TypeError(
            f'{owner}: config field `{field}` is required and must be a '
            f'dict with a registered `type` (e.g. {eg}) or an nn.Module, '
            f'got {cfg!r}')
    try:
        return registry.build(cfg)
    except KeyError as exc:
        msg = exc.args[0] if exc.args else ''
        match = _NOT_REGISTERED.match(msg) if isinstance(msg, str) else None
        if match is None:  # also: already rewritten by a nested build
            raise
        bad, where = match.groups()
        close = suggest_registered(bad, registry)
        hint = (f'did you mean {" or ".join(repr(c) for c in close)}?'
                if close else 'no registered name is similar; check the '
                'spelling and the scope prefix (mmmae., mmaction., mmseg.)')
        place = (f'{owner}: config field `{field}`' if bad == cfg['type']
                 else f'{owner}: config field `{field}` (nested)')
        raise KeyError(f'{place}: type {bad!r} is not in the {where} '
                       f'registry; {hint}') from None
