# Copyright (c) mmmae contributors. All rights reserved.
"""Crash-safe checkpoints.

MMEngine 0.10.7 writes a checkpoint with ``LocalBackend.put`` (``open(path,
'wb').write(...)``) and the ``last_checkpoint`` pointer with a plain
``open(..., 'w')``; :class:`~mmengine.hooks.CheckpointHook` also deletes the
oldest checkpoint *before* writing the new one. A job killed mid-write (OOM
killer, preemption, SIGKILL) therefore leaves a truncated ``iter_N.pth``,
possibly a pointer to it, and with ``max_keep_ckpts=1`` no good checkpoint at
all. Here:

- :class:`AtomicLocalBackend` (file backend ``'atomic_local'``) writes to a
  temporary file in the destination directory, flushes, ``fsync``s and
  ``os.replace``s it onto the target (atomic on POSIX and Windows within one
  file system), then ``fsync``s the directory so the rename survives a power
  cut. A reader sees the old file or the complete new one, never a prefix.
- :class:`AtomicCheckpointHook` (``type='mmmae.AtomicCheckpointHook'``, the
  default in ``configs/_base_/default_runtime.py``) saves through that
  backend, replaces ``last_checkpoint`` atomically *after* the checkpoint is
  complete, and only then deletes outdated checkpoints.
- A job killed between writing the temporary file and the rename leaves a
  hidden ``.<name>.tmp-XXXXXXXX`` behind (the checkpoint itself is intact).
  :func:`remove_stale_temp_files` deletes such leftovers: the hook calls it
  for its checkpoint and work directories before each save and when a run
  resumes. It only touches names of exactly the form :func:`atomic_write`
  creates, only in that directory, and never a file an
  :func:`atomic_write` of this process is still writing.
- Loading a local checkpoint that cannot be read (empty, truncated by a
  copy or a full disk, not a checkpoint at all) raises
  :class:`~mmmae.checkpoint.io.CorruptCheckpointError` (a
  ``RuntimeError``) naming the file, the fault and the fix instead of
  torch's bare ``EOFError`` / "failed finding central directory".
"""
import os
import os.path as osp
import re
import tempfile
import threading
from pathlib import Path
from typing import List, Set, Union

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook
from mmengine.runner.checkpoint import CheckpointLoader

from mmmae.checkpoint.io import (READ_ERRORS, CorruptCheckpointError,
                                 UntrustedCheckpointError,
                                 corrupt_checkpoint_error)
from mmmae.registry import HOOKS

__all__ = [
    'atomic_write', 'AtomicLocalBackend', 'AtomicCheckpointHook',
    'remove_stale_temp_files'
]

# Temporary files atomic_write is writing right now (absolute paths), so a
# cleanup running in another thread of this process (e.g. an async
# checkpoint writer) never deletes one under its writer's feet.
_LIVE_TEMPS: Set[str] = set()
_LIVE_LOCK = threading.Lock()
_TEMP_INFIX = '.tmp-'
# `.<name>.tmp-` + tempfile.mkstemp's 8 random characters: exactly the
# names atomic_write creates, nothing a user would name a file.
_TEMP_NAME = re.compile(r'^\..+\.tmp-[a-z0-9_]{8}$')


def _fsync_dir(dirname: str) -> None:
    """Persist a rename in ``dirname`` (no-op where directories cannot be
    opened, e.g. Windows)."""
    try:
        fd = os.open(dirname, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(data: Union[bytes, str],
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
    """Write ``data`` to ``filepath`` so that no reader ever sees a partial
    file.

    The bytes go to a temporary ``.<name>.tmp-XXXX`` file in the same
    directory (same file system, so the rename is atomic), are flushed and
    ``fsync``ed, and the file is ``os.replace``d onto ``filepath``. If the
    process dies before the rename, ``filepath`` keeps its previous content
    and only the hidden temporary file is left behind; if writing raises,
    the temporary file is removed.

    Args:
        data (bytes | str): the content; ``str`` is encoded with
            ``encoding``.
        filepath (str | Path): the destination; its directory is created.
        encoding (str): text encoding. Defaults to 'utf-8'.
    """
    filepath = os.fspath(filepath)
    if isinstance(data, str):
        data = data.encode(encoding)
    dirname = osp.dirname(osp.abspath(filepath))
    os.makedirs(dirname, exist_ok=True)
    with _LIVE_LOCK:
        fd, tmp = tempfile.mkstemp(
            prefix=f'.{osp.basename(filepath)}{_TEMP_INFIX}', dir=dirname)
        _LIVE_TEMPS.add(tmp)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        # also on KeyboardInterrupt: never leave a stray temporary file
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    finally:
        with _LIVE_LOCK:
            _LIVE_TEMPS.discard(tmp)
    _fsync_dir(dirname)


def remove_stale_temp_files(dirname: Union[str, Path]) -> List[str]:
    """Delete the temporary files killed :func:`atomic_write` calls left in
    ``dirname``.

    Only regular files named ``.<name>.tmp-XXXXXXXX`` (the exact pattern
    :func:`atomic_write` creates) directly in ``dirname`` are removed, and
    never one that an :func:`atomic_write` of this process is writing.

    Args:
        dirname (str | Path): A checkpoint or work directory.

    Returns:
        list[str]: The removed paths (empty when there were none or the
        directory does not exist).
    """
    dirname = osp.abspath(os.fspath(dirname))
    try:
        names = os.listdir(dirname)
    except OSError:
        return []
    removed = []
    for name in names:
        if _TEMP_INFIX not in name or not _TEMP_NAME.match(name):
            continue
        path = osp.join(dirname, name)
        # Holding the lock: atomic_write cannot create and register a new
        # temporary file between the check and the removal.
        with _LIVE_LOCK:
            if path in _LIVE_TEMPS or osp.islink(path) or \
                    not osp.isfile(path):
                continue
            try:
                os.remove(path)
            except OSError:
                continue  # gone already, or not ours to delete
        removed.append(path)
    if removed:
        from mmengine.logging import print_log
        print_log(
            f'removed {len(removed)} leftover temporary checkpoint file(s) '
            f'of an interrupted save: {removed}', logger='current')
    return removed


class AtomicLocalBackend(LocalBackend):
    """:class:`mmengine.fileio.LocalBackend` whose ``put``/``put_text`` are
    atomic (see :func:`atomic_write`).

    Registered as the file backend ``'atomic_local'`` (without a path
    prefix, so plain paths still default to ``LocalBackend``); select it with
    ``backend_args=dict(backend='atomic_local')``.
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Atomically write bytes to ``filepath``."""
        atomic_write(obj, filepath)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """Atomically write text to ``filepath``."""
        atomic_write(obj, filepath, encoding=encoding)


register_backend('atomic_local', AtomicLocalBackend, force=True)


def _is_local(path: str) -> bool:
    return '://' not in path


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """:class:`~mmengine.hooks.CheckpointHook` that a kill cannot corrupt.

    Same arguments and behaviour as ``CheckpointHook``, except:

    1. with a local ``out_dir`` and no ``backend_args``, checkpoints are
       written by :class:`AtomicLocalBackend` (temp file, fsync, rename);
    2. ``work_dir/last_checkpoint`` is replaced atomically, after the new
       checkpoint is complete, so auto-resume (``--resume``) always finds a
       whole file;
    3. outdated checkpoints (``max_keep_ckpts``) are deleted *after* the new
       one is written (MMEngine deletes first, so a kill during the write
       with ``max_keep_ckpts=1`` leaves nothing to resume from).

    Remote ``out_dir`` (``s3://...``) and explicit ``backend_args`` are left
    as configured (object stores publish a ``put`` atomically).
    """

    def before_train(self, runner) -> None:
        """Pick the atomic backend, then let ``CheckpointHook`` set up."""
        out_dir = self.out_dir if self.out_dir is not None else \
            runner.work_dir
        if (self.backend_args is None and self.file_client_args is None
                and _is_local(str(out_dir))):
            self.backend_args = dict(backend='atomic_local')
        super().before_train(runner)
        if getattr(runner, '_resume', False):
            # a resumed run follows a killed one: clear what its
            # interrupted save left behind
            self._remove_stale_temp_files(runner)

    def _remove_stale_temp_files(self, runner) -> None:
        """Delete leftover ``atomic_write`` temporary files in the
        directories this hook writes to (checkpoints and
        ``last_checkpoint``); main process only, local directories only."""
        if not is_main_process():
            return
        dirs = {osp.abspath(runner.work_dir)}
        out_dir = getattr(self, 'out_dir', None)
        if out_dir is not None and _is_local(str(out_dir)):
            dirs.add(osp.abspath(str(out_dir)))
        for d in sorted(dirs):
            remove_stale_temp_files(d)

    def _save_checkpoint_with_step(self, runner, step, meta):
        # Mirrors CheckpointHook._save_checkpoint_with_step with the order
        # changed to write -> point -> delete.
        self._remove_stale_temp_files(runner)
        outdated = None
        if self.max_keep_ckpts > 0 and not (len(self.keep_ckpt_ids) > 0 and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)

        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)

        if not is_main_process():
            return
        atomic_write(self.last_ckpt, osp.join(runner.work_dir,
                                              'last_checkpoint'))
        if outdated is not None and outdated != step:
            path = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(outdated))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                # checkpoints saved by deepspeed are directories
                self.file_backend.rmtree(path)


def _wrap_local_loader() -> None:
    """Register :func:`load_from_local_checked` around the local loader in
    place now (MMEngine's, or the allow-listed ``weights_only=True`` one
    that ``mmmae.utils.compat`` registers on ``import mmmae``)."""
    inner = CheckpointLoader._schemes.get('')
    if inner is None or getattr(inner, '__mmmae_checked__', False):
        return

    def load_from_local_checked(filename: str, map_location=None):
        """The local checkpoint loader with a clear error for unreadable
        files (registered for the empty prefix, i.e. every local path).

        The diagnosis is :func:`mmmae.checkpoint.io.
        corrupt_checkpoint_error`, the one the safe loader uses itself; this
        wrapper only matters when the inner loader is MMEngine's own (a
        fixed MMEngine, where ``mmmae.utils.compat`` registers nothing).

        Args:
            filename (str): local checkpoint path.
            map_location: as :func:`torch.load`.

        Returns:
            dict: the loaded checkpoint.

        Raises:
            FileNotFoundError: the file does not exist.
            CorruptCheckpointError: the file is empty, truncated, corrupt or
                not a checkpoint (a ``RuntimeError``); the message names it,
                the fault and how to recover.
        """
        try:
            return inner(filename, map_location)
        except (UntrustedCheckpointError, CorruptCheckpointError):
            raise  # the safe loader's messages already name the file
        except READ_ERRORS as err:
            path = osp.expanduser(filename)
            damaged = corrupt_checkpoint_error(path, err) \
                if osp.isfile(path) else None
            if damaged is None:
                raise  # not a damaged file (e.g. a bad map_location)
            raise damaged from err

    load_from_local_checked.__mmmae_checked__ = True
    CheckpointLoader.register_scheme(
        prefixes='', force=True)(load_from_local_checked)


_wrap_local_loader()
