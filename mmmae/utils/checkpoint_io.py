# Copyright (c) mmmae contributors. All rights reserved.
"""Safe checkpoint loading.

A ``.pth`` file is a pickle: unpickling it can run arbitrary code. Every
checkpoint mmmae reads (MMEngine ``resume``/``load_from``, backbone
``init_cfg`` pretrained weights, the model converters) goes through
:func:`load_checkpoint_file`, which uses ``torch.load(weights_only=True)``
plus an allow-list of the few harmless non-tensor objects real checkpoints
hold:

* MMEngine checkpoints: numpy scalars/arrays/dtypes (``meta`` and the numpy
  RNG state), :class:`~mmengine.logging.HistoryBuffer` (``message_hub``),
  :class:`~mmengine.config.ConfigDict` (dataset meta from a config), and the
  ``getattr(HistoryBuffer, 'mean')``-style references HistoryBuffer pickles
  for its statistics methods (allowed *only* for those methods; a general
  ``getattr`` would reach ``ndarray.tofile`` and friends).
* Official VideoMAE / MultiMAE training checkpoints: ``argparse.Namespace``
  (their ``args``).

Anything else is refused with :class:`UntrustedCheckpointError`, which names
the file, the rejected globals and the opt-in for a file you trust:
``trusted=True`` here, ``--trust-pickle`` in the converters, or the
``MMMAE_TRUSTED_CHECKPOINTS`` environment variable (paths separated by
``os.pathsep``, or ``*`` for every file) for loads driven by a config
(``resume``, ``load_from``, ``init_cfg``).
"""
import argparse
import os
import os.path as osp
import pickle
from typing import Any, Callable, List, Optional, Sequence, Union

import numpy as np
import torch

__all__ = [
    'TRUST_ENV', 'UntrustedCheckpointError', 'add_trust_pickle_argument',
    'checkpoint_safe_globals', 'is_trusted_checkpoint', 'load_checkpoint_file'
]

#: Environment variable listing checkpoint files trusted as full pickles.
TRUST_ENV = 'MMMAE_TRUSTED_CHECKPOINTS'

MapLocation = Union[None, str, torch.device, Callable, dict]


class UntrustedCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds Python objects outside the safe allow-list.

    Attributes:
        path (str): The refused file.
        rejected (list[str]): Fully qualified names of the refused globals
            (empty when they could not be listed).
    """

    def __init__(self, path: str, rejected: Sequence[str], detail: str):
        self.path = path
        self.rejected = list(rejected)
        what = (f'the global(s) {self.rejected}' if self.rejected else
                'a Python object outside the allow-list')
        super().__init__(
            f'{path}: refused to unpickle {what}. mmmae loads checkpoints '
            'with torch.load(weights_only=True) because unpickling an '
            'arbitrary file can run code. If you trust where this file '
            'came from, opt in to loading it as a full pickle: '
            'load_checkpoint_file(path, trusted=True), --trust-pickle for '
            f'tools/model_converters/*, or {TRUST_ENV}={path} for '
            'resume/load_from/init_cfg (or re-save it as a plain state '
            f'dict). torch said: {_unpickler_reason(detail)}')


def _unpickler_reason(message: str) -> str:
    """The informative part of torch's long ``weights_only`` error."""
    marker = 'WeightsUnpickler error:'
    if marker in message:
        message = message.split(marker, 1)[1]
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    # Skip torch's generic preamble about the 2.6 default change.
    specific = [ln for ln in lines
                if 'GLOBAL' in ln or 'global' in ln or 'reduce' in ln]
    return (specific or lines or [message])[0][:300]


def _history_buffer_statistic(obj: Any, name: str) -> Any:
    """``getattr`` restricted to ``HistoryBuffer``'s statistics methods.

    MMEngine's ``HistoryBuffer`` pickles its ``_statistics_methods`` dict as
    ``getattr(HistoryBuffer, 'mean')`` etc. A general ``getattr`` in the
    allow-list would let a crafted file reach methods with side effects, so
    only these lookups are answered.
    """
    from mmengine.logging import HistoryBuffer
    # The built-ins are only added to the class dict by the first
    # HistoryBuffer(), so they are listed here as well.
    allowed = {'mean', 'max', 'min', 'current'}
    allowed |= set(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and isinstance(name, str) and name in allowed \
            and callable(vars(HistoryBuffer).get(name)):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'GLOBAL builtins.getattr is only allowed for HistoryBuffer '
        f'statistics {sorted(allowed)}, got getattr({obj!r}, {name!r})')


def checkpoint_safe_globals() -> List[Any]:
    """The allow-list passed to ``torch.serialization.safe_globals``.

    Returns:
        list: Objects and ``(object, 'qualified.name')`` pairs (a pair makes
        numpy 1.x and 2.x spellings of the same function both resolve).
    """
    from mmengine.config import ConfigDict
    from mmengine.logging import HistoryBuffer
    multiarray = np.core.multiarray if not hasattr(
        np, '_core') else np._core.multiarray
    out: List[Any] = [
        np.dtype, np.ndarray, HistoryBuffer, ConfigDict, argparse.Namespace,
        (_history_buffer_statistic, 'builtins.getattr')
    ]
    for prefix in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        out.append((multiarray._reconstruct, f'{prefix}._reconstruct'))
        out.append((multiarray.scalar, f'{prefix}.scalar'))
    # dtype instances are rebuilt via BUILD on their concrete class
    # (numpy>=1.25: numpy.dtypes.Float64DType, ...).
    dtype_classes = {
        type(np.dtype(t))
        for t in set(np.sctypeDict.values())
        if t is not np.void
    }
    dtype_classes.add(type(np.dtype('V8')))
    out += sorted(dtype_classes, key=lambda c: c.__name__)
    return out


def _allowed_names() -> set:
    names = set()
    for g in checkpoint_safe_globals():
        if isinstance(g, tuple):
            names.add(g[1])
        else:
            names.add(f'{g.__module__}.{g.__qualname__}')
    return names


def is_trusted_checkpoint(path: str) -> bool:
    """Whether ``path`` is listed in :data:`TRUST_ENV` (or it is ``*``)."""
    value = os.environ.get(TRUST_ENV, '').strip()
    if not value:
        return False
    entries = [e for e in value.split(os.pathsep) if e]
    if '*' in entries:
        return True
    real = osp.realpath(osp.expanduser(path))
    return any(osp.realpath(osp.expanduser(e)) == real for e in entries)


def _rejected_globals(path: str) -> List[str]:
    """Globals in ``path`` outside the allow-list (scanned, not executed)."""
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # legacy (non-zip) format or unreadable
        return []
    allowed = _allowed_names()
    return [g for g in found if g not in allowed]


def load_checkpoint_file(path: str,
                         map_location: MapLocation = 'cpu',
                         trusted: Optional[bool] = None) -> Any:
    """Load a checkpoint without executing pickled code.

    Args:
        path (str): ``.pth``/``.pt``/``.bin``/``.ckpt`` (torch) or
            ``.safetensors`` file.
        map_location: As for ``torch.load``. Defaults to ``'cpu'``.
        trusted (bool, optional): True loads the file as a full pickle
            (``weights_only=False``; it can run code: only for files you
            trust). None (default) defers to :data:`TRUST_ENV`.

    Returns:
        object: What the file holds (usually a dict of tensors / a
        checkpoint dict).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UntrustedCheckpointError: The file pickles objects outside the
            allow-list (see the module docstring); names them and the opt-in.
    """
    path = osp.expanduser(str(path))
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} can not be found.')
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        device = map_location if isinstance(map_location, str) else 'cpu'
        return load_file(path, device=device)
    if trusted is None:
        trusted = is_trusted_checkpoint(path)
    if trusted:
        from mmengine.logging import print_log
        print_log(f'{path}: loaded as a full pickle (trusted by opt-in)',
                  logger='current')
        return torch.load(path, map_location=map_location, weights_only=False)
    try:
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            return torch.load(
                path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UntrustedCheckpointError(path, _rejected_globals(path),
                                       str(exc)) from None


def add_trust_pickle_argument(parser: argparse.ArgumentParser) -> None:
    """Add the converters' ``--trust-pickle`` opt-in to ``parser``."""
    parser.add_argument(
        '--trust-pickle',
        action='store_true',
        help='load SRC as a full pickle (torch.load(weights_only=False)) '
        'when it holds objects outside the safe allow-list; this can run '
        'code from the file: only for checkpoints you trust')
