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

A file that is not a readable checkpoint at all (0 bytes, cut short by a
kill / full disk / interrupted copy, random bytes, an HTML login page saved
by a download, a Git LFS pointer) raises :class:`CorruptCheckpointError`,
naming the file, what is wrong with it (:func:`checkpoint_fault`) and the
fix, instead of torch's bare ``EOFError`` / "failed finding central
directory" / a misleading "Weights only load failed".
"""
import argparse
import json
import os
import os.path as osp
import pickle
import zipfile
from typing import Any, Callable, List, Optional, Sequence, Union

import numpy as np
import torch

__all__ = [
    'TRUST_ENV', 'UntrustedCheckpointError', 'CorruptCheckpointError',
    'add_trust_pickle_argument', 'checkpoint_fault',
    'checkpoint_safe_globals', 'corrupt_checkpoint_error',
    'is_trusted_checkpoint', 'load_checkpoint_file', 'load_checkpoint_or_url'
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


class CorruptCheckpointError(RuntimeError):
    """A checkpoint file exists but is not a readable checkpoint.

    Raised for empty, truncated and corrupt files and for files that are
    something else (an HTML page, a Git LFS pointer, random bytes). The
    message is one line: the file, the fault and the fix.

    Attributes:
        path (str): The file.
        fault (str): What is wrong with it, e.g. ``'0 bytes (an empty
            file)'``, ``'truncated: ...'`` or ``"not a PyTorch checkpoint
            (starts with b'<!DOCTYPE html>')"``.
    """

    def __init__(self, path: str, fault: str, fix: str = ''):
        self.path = path
        self.fault = fault
        super().__init__(
            f'cannot load checkpoint {path}: {fault}. '
            f'{fix or _FIX_DAMAGED}')


# How to recover from a damaged (empty / cut short / bit-rotten) file; one
# text for every loader, so resume, load_from, init_cfg and the converters
# all give the same advice.
_FIX_DAMAGED = (
    'The file is truncated or corrupt. Fix: copy or download it again '
    '(compare its size with the source), or use an earlier checkpoint that '
    'is complete (`--resume work_dir/iter_N.pth`, or write the name of a '
    'complete one into work_dir/last_checkpoint); checkpoints written by '
    'mmmae.AtomicCheckpointHook are never truncated.')
_FIX_FOREIGN = (
    'Fix: point to the real checkpoint, a file written by torch.save '
    '(.pth/.pt/.bin) or a .safetensors file.')

#: First bytes of torch's legacy (non-zip) format: pickle protocol 2 and
#: the pickled magic number 0x1950a86a20f9469cfc6c.
_LEGACY_MAGIC = b'\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19.'
_ZIP_MAGIC = (b'PK\x03\x04', b'PK\x05\x06')
#: Errors torch.load / safetensors raise on a file they cannot parse.
READ_ERRORS = (RuntimeError, EOFError, OSError, ValueError,
               pickle.UnpicklingError, zipfile.BadZipFile)


def _short(err: Optional[BaseException], limit: int = 120) -> str:
    """``'Type: first line'`` of an error, for the message (one line)."""
    if err is None:
        return ''
    text = ' '.join(str(err).split())
    # torch appends paragraphs of generic advice: its first sentence is
    # the informative part
    text = text.split('. ', 1)[0].rstrip('.')
    if len(text) > limit:
        text = text[:limit - 3] + '...'
    return f' ({type(err).__name__}: {text})' if text else \
        f' ({type(err).__name__})'


def _foreign_hint(head: bytes) -> str:
    """What a non-checkpoint file most likely is, from its first bytes."""
    text = head.lstrip().lower()
    if text.startswith((b'<!doctype html', b'<html', b'<head', b'<?xml')):
        return (' Its content is a web page: the download saved a login, '
                'error or redirect page instead of the file. Download it '
                'again from the direct link (and check it is not behind a '
                'login).')
    if text.startswith(b'version https://git-lfs'):
        return (' It is a Git LFS pointer, not the weights: run '
                '`git lfs pull` in its repository.')
    if text.startswith((b'{', b'[')):
        return ' It looks like JSON text (a config or an index?).'
    return ''


def _zip_fault(path: str, size: int, err: Optional[BaseException]):
    """Fault of a file that starts like a zip archive (torch.save's
    format), or None when the archive is intact."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if not any(n == 'data.pkl' or n.endswith('/data.pkl')
                       for n in names):
                return ('foreign', 'not a PyTorch checkpoint (a zip archive '
                        f'without data.pkl; entries: {names[:3]})')
            # Reads every member: only ever run after a load failed.
            bad = zf.testzip()
    except (zipfile.BadZipFile, EOFError, OSError, ValueError):
        # A file cut short loses the central directory, which a zip keeps
        # at its very end.
        return ('damaged', f'truncated: {size} bytes of a zip archive (the '
                'torch.save format) that ends before its central directory'
                f'{_short(err)}')
    except Exception as exc:  # zlib.error and friends: damaged data
        return ('damaged', f'corrupt: the data of its zip archive cannot be '
                f'read ({type(exc).__name__}: {exc})')
    if bad is not None:
        return ('damaged', f'corrupt: zip member {bad!r} fails its CRC check '
                f'({size} bytes)')
    return None


def _safetensors_fault(path: str, size: int, head: bytes):
    """Fault of a ``.safetensors`` file, or None when it looks intact."""
    if size < 8:
        return ('damaged', f'truncated: {size} bytes, less than the 8-byte '
                'safetensors header length')
    n = int.from_bytes(head[:8], 'little')
    if head[8:9] != b'{':
        return ('foreign', f'not a safetensors file (starts with '
                f'{head[:16]!r})')
    if 8 + n > size:
        return ('damaged', f'truncated: {size} bytes, but its header alone '
                f'declares {8 + n} bytes')
    try:
        with open(path, 'rb') as f:
            f.seek(8)
            header = json.loads(f.read(n))
        end = max([
            int(v['data_offsets'][1]) for v in header.values()
            if isinstance(v, dict) and 'data_offsets' in v
        ] or [0])
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        return ('damaged', f'corrupt: its safetensors header is not valid '
                f'JSON ({type(exc).__name__}: {exc})')
    if 8 + n + end > size:
        return ('damaged', f'truncated: {size} bytes, but its header '
                f'describes {8 + n + end} bytes of tensors')
    return None


def _diagnose(path: str, err: Optional[BaseException] = None):
    """``(kind, fault)`` for a file that is not a readable checkpoint, else
    None; ``kind`` is ``'damaged'`` or ``'foreign'``.

    Looks at the file's size and first bytes (and, for a zip, its central
    directory); ``err`` is what the failed load raised, if any.
    """
    try:
        size = osp.getsize(path)
        with open(path, 'rb') as f:
            head = f.read(64)
    except OSError:
        return None  # unreadable for another reason: keep the OS error
    if size == 0:
        return ('damaged', '0 bytes (an empty file: the save, copy or '
                'download wrote nothing)')
    if path.endswith('.safetensors') or head[8:10] == b'{"':
        return _safetensors_fault(path, size, head)
    if head.startswith(_ZIP_MAGIC):
        return _zip_fault(path, size, err)
    if head.startswith(_LEGACY_MAGIC):
        # The legacy format has no directory to check; trust the error.
        text = str(err).lower() if err is not None else ''
        if isinstance(err, EOFError) or any(
                w in text for w in ('truncated', 'eof', 'corrupt')):
            return ('damaged', f'truncated: {size} bytes of a legacy '
                    '(non-zip) torch.save file that ends before its data '
                    f'does{_short(err)}')
        return None
    if head[:1] == b'\x80' and head[1:2] in (b'\x02', b'\x03', b'\x04',
                                             b'\x05'):
        return ('foreign', 'not a PyTorch checkpoint (a plain Python pickle, '
                f'starts with {head[:16]!r}; torch.load reads files written '
                'by torch.save)')
    return ('foreign', f'not a PyTorch checkpoint (starts with '
            f'{head[:16]!r}).{_foreign_hint(head)}'.rstrip('.'))


def checkpoint_fault(path: str,
                     error: Optional[BaseException] = None) -> Optional[str]:
    """Say what is wrong with a checkpoint file that cannot be loaded.

    Args:
        path (str): The file.
        error (Exception, optional): What the failed load raised; it decides
            the legacy (non-zip) format, which has no directory to check.

    Returns:
        str | None: e.g. ``'0 bytes (an empty file: ...)'``,
        ``'truncated: 703 bytes of a zip archive ...'``, ``"not a PyTorch
        checkpoint (starts with b'<!DOCTYPE html><h')..."``; None when the
        file looks like an intact checkpoint (the failure is elsewhere).
    """
    found = _diagnose(osp.expanduser(str(path)), error)
    return None if found is None else found[1]


def corrupt_checkpoint_error(
        path: str,
        error: Optional[BaseException] = None
) -> Optional[CorruptCheckpointError]:
    """:class:`CorruptCheckpointError` for ``path`` if the file is damaged
    or not a checkpoint, else None (see :func:`checkpoint_fault`)."""
    path = osp.expanduser(str(path))
    found = _diagnose(path, error)
    if found is None:
        return None
    kind, fault = found
    return CorruptCheckpointError(
        path, fault, _FIX_DAMAGED if kind == 'damaged' else _FIX_FOREIGN)


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
        IsADirectoryError: ``path`` is a directory.
        CorruptCheckpointError: The file is empty, truncated, corrupt or not
            a checkpoint; names the file, the fault and the fix.
        UntrustedCheckpointError: The file pickles objects outside the
            allow-list (see the module docstring); names them and the opt-in.
    """
    path = osp.expanduser(str(path))
    if osp.isdir(path):
        raise IsADirectoryError(
            f'{path} is a directory, not a checkpoint file (a DeepSpeed / '
            'FSDP sharded checkpoint? those load through their runner)')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} can not be found.')
    if osp.getsize(path) == 0:  # nothing to parse; torch says only EOFError
        raise corrupt_checkpoint_error(path)
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        device = map_location if isinstance(map_location, str) else 'cpu'
        try:
            return load_file(path, device=device)
        except Exception as exc:
            _raise_if_damaged(path, exc)
            raise
    if trusted is None:
        trusted = is_trusted_checkpoint(path)
    if trusted:
        from mmengine.logging import print_log
        print_log(f'{path}: loaded as a full pickle (trusted by opt-in)',
                  logger='current')
        try:
            return torch.load(
                path, map_location=map_location, weights_only=False)
        except READ_ERRORS as exc:
            _raise_if_damaged(path, exc)
            raise
    try:
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            return torch.load(
                path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only reports garbage (an HTML page, random bytes) as a
        # refused pickle too: rule out a damaged file first
        _raise_if_damaged(path, exc)
        raise UntrustedCheckpointError(path, _rejected_globals(path),
                                       str(exc)) from None
    except READ_ERRORS as exc:
        _raise_if_damaged(path, exc)
        raise


def _raise_if_damaged(path: str, exc: BaseException) -> None:
    """Raise :class:`CorruptCheckpointError` when ``exc`` came from a file
    that is damaged or not a checkpoint; return otherwise."""
    err = corrupt_checkpoint_error(path, exc)
    if err is not None:
        raise err from exc


def load_checkpoint_or_url(filename: str,
                           map_location: MapLocation = 'cpu') -> Any:
    """Load a local checkpoint with :func:`load_checkpoint_file`, or a URL
    (``http://``, ``s3://``, ...) with MMEngine's ``CheckpointLoader``.

    Local files are read here directly rather than through the scheme MMEngine
    picks for them, so the safe loading and the damaged-file errors do not
    depend on which loader is registered for plain paths.

    Args:
        filename (str): Path or URL.
        map_location: As for ``torch.load``. Defaults to ``'cpu'``.

    Returns:
        object: The loaded checkpoint.
    """
    if '://' in str(filename):
        from mmengine.runner import CheckpointLoader
        return CheckpointLoader.load_checkpoint(
            filename, map_location=map_location)
    return load_checkpoint_file(filename, map_location=map_location)


def add_trust_pickle_argument(parser: argparse.ArgumentParser) -> None:
    """Add the converters' ``--trust-pickle`` opt-in to ``parser``."""
    parser.add_argument(
        '--trust-pickle',
        action='store_true',
        help='load SRC as a full pickle (torch.load(weights_only=False)) '
        'when it holds objects outside the safe allow-list; this can run '
        'code from the file: only for checkpoints you trust')
