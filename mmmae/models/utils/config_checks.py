# Copyright (c) mmmae contributors. All rights reserved.
"""Build-time checks for model configs.

Each check raises a ``ValueError`` naming the component, the field, the bad
value and the allowed values, so a wrong config fails when the model is
built rather than as a shape error inside the first forward pass.
"""
from typing import Any, List, Optional, Sequence, Tuple, Union

import torch.nn as nn

__all__ = [
    'to_ntuple', 'check_divisible', 'check_fields_agree', 'build_component',
    'suggest_registered'
]

IntOrSeq = Union[int, Sequence[int]]


def _as_tuple(x: IntOrSeq, n: int) -> Tuple[int, ...]:
    return tuple(x) if isinstance(x, (tuple, list)) else (x, ) * n


def to_ntuple(x: IntOrSeq, n: int) -> Tuple[int, ...]:
    """``8 -> (8, 8)`` (for ``n=2``); a sequence must have ``n`` values.

    Raises:
        ValueError: A sequence of another length.
    """
    if isinstance(x, int):
        return (x, ) * n
    x = tuple(x)
    if len(x) != n:
        raise ValueError(f'expected {n} values, got {x}')
    return x


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


def _normalise(value: Any) -> Any:
    """Comparable form: ``8`` and ``(8, 8)`` are the same patch size."""
    if isinstance(value, (tuple, list)):
        items = tuple(value)
        if len(set(items)) == 1:
            return items[0]
        return items
    return value


def check_fields_agree(owner: str,
                       pairs: Sequence[Tuple[str, Any, str, Any]],
                       why: str = '') -> None:
    """Require pairs of config fields of different components to be equal.

    A field that is None (the component has no such attribute) is not
    compared. An int and a tuple of equal ints are equal (``8`` ==
    ``(8, 8)``).

    Args:
        owner (str): The model, e.g. ``'VideoMAE'``.
        pairs (Sequence[tuple]): ``(field, value, other_field,
            other_value)``, e.g. ``('neck.patch_size', 8,
            'backbone.patch_size', 16)``.
        why (str): What the fields decide, appended to the message.

    Raises:
        ValueError: Naming every disagreeing pair with both values, e.g.
            ``'VideoMAE: neck.patch_size=8 but backbone.patch_size=16'``.
    """
    bad = [
        f'{field}={value!r} but {other}={other_value!r}'
        for field, value, other, other_value in pairs
        if value is not None and other_value is not None
        and _normalise(value) != _normalise(other_value)
    ]
    if bad:
        raise ValueError(f'{owner}: ' + '; '.join(bad) + '. ' + (
            why or 'Set them to the same value.'))


def suggest_registered(name: str, registry, n: int = 3) -> List[str]:
    """Registered names close to ``name``, scope-prefixed (``mmmae.X``).

    Kept for callers of the old name: see
    :func:`mmmae.registry.suggest_type`.

    Args:
        name (str): The unknown type, with or without ``scope.`` prefix.
        registry (Registry): Where it was looked up.
        n (int): At most this many suggestions. Defaults to 3.

    Returns:
        list[str]: Closest first; empty when nothing is similar.
    """
    from mmmae.registry import suggest_type
    return suggest_type(registry, name, n)


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
        UnknownTypeError: An unregistered ``type`` (here or nested; a
            ``KeyError``); the message names the field and the closest
            registered names.
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
        from mmmae.registry import explain_unknown_type
        err = explain_unknown_type(exc, cfg, registry, owner=owner,
                                   prefix=field)
        if err is None:
            raise
        raise err from None
