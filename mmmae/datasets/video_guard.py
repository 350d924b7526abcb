# Copyright (c) mmmae contributors. All rights reserved.
"""Find out *why* a video cannot be used, and decode it without hanging.

Shared by :class:`~mmmae.datasets.VideoMAEDataset` (load time) and
``tools/misc/check_dataset.py`` (offline scan):

- :func:`file_reason`: cheap structural diagnosis of a file on disk
  (``missing``, ``empty``, ``not a video``, ``truncated``) from its size,
  its magic bytes and, for MP4/MOV and AVI, the container's own size fields.
- :class:`GuardedCaller` / :func:`call_with_timeout`: run a function in a
  forked helper process that is killed (``SIGKILL``) after ``timeout``
  seconds. Unlike a thread timeout or ``SIGALRM``, this stops a decoder
  stuck inside C code (decord can loop forever on some files,
  dmlc/decord#363) and survives a decoder segfault.
- :func:`probe_video`: open a video with decord, read its claimed frame
  count and decode sampled indices including the last claimed frame.
- :func:`cross_check`: compare decord random access with PyAV sequential
  decoding (ground truth) at sampled indices; decord returns wrong frames
  for some files (AVI with B-frames).
"""
import os
import os.path as osp
import pickle
import select
import signal
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

__all__ = [
    'REASONS', 'BadVideoError', 'LoadTimeout', 'ChildCrashed', 'file_reason',
    'file_diagnosis', 'sniff_container', 'GuardedCaller', 'call_with_timeout',
    'probe_video', 'cross_check'
]

#: Every reason a video can be reported bad, in report order.
REASONS = ('missing', 'empty', 'not a video', 'truncated', 'too short',
           'frame count mismatch', 'timeout', 'crashed', 'wrong frames',
           'corrupt', 'error')


class BadVideoError(RuntimeError):
    """A video cannot be used; the message names the file, the reason and
    the fix. (One ``str`` argument, so DataLoader workers can re-raise it.)
    """


class LoadTimeout(Exception):
    """The guarded call did not finish in time (its child was killed)."""


class ChildCrashed(Exception):
    """The guarded call's child process died without a result (a segfault
    or abort inside the decoder)."""


# ----------------------------------------------------------- file structure
def sniff_container(head: bytes) -> Optional[str]:
    """Container format from the first bytes of a file, or None.

    Args:
        head (bytes): at least the first 16 bytes (376 for MPEG-TS).

    Returns:
        str | None: ``'mp4'`` (ISO BMFF / QuickTime), ``'avi'``, ``'mkv'``
        (Matroska / WebM), ``'flv'``, ``'mpegts'``, ``'mpegps'``,
        ``'ogg'``, ``'asf'``, ``'gif'``, or None when no video container
        is recognised.
    """
    if len(head) >= 12 and head[4:8] in (b'ftyp', b'moov', b'mdat', b'free',
                                         b'wide', b'skip', b'pnot'):
        return 'mp4'
    if head[:4] == b'RIFF' and head[8:12] in (b'AVI ', b'AVIX'):
        return 'avi'
    if head[:4] == b'\x1a\x45\xdf\xa3':
        return 'mkv'
    if head[:3] == b'FLV':
        return 'flv'
    if head[:4] == b'\x00\x00\x01\xba':
        return 'mpegps'
    if head[:4] == b'OggS':
        return 'ogg'
    if head[:4] == b'\x30\x26\xb2\x75':
        return 'asf'
    if head[:6] in (b'GIF87a', b'GIF89a'):
        return 'gif'
    # MPEG-TS: a 0x47 sync byte every 188 bytes (two in a row to be sure).
    if len(head) > 376 and head[0] == head[188] == head[376] == 0x47:
        return 'mpegts'
    return None


def _mp4_truncated(f, size: int) -> Optional[str]:
    """Why an ISO BMFF file is cut short, or None. Walks the top-level
    boxes: one that ends past the end of the file, or no ``moov`` box (the
    index a non-faststart writer puts last, lost when the tail is cut)."""
    pos, has_moov = 0, False
    while pos + 8 <= size:
        f.seek(pos)
        hdr = f.read(16)
        box_size = int.from_bytes(hdr[:4], 'big')
        kind = hdr[4:8]
        if box_size == 1 and len(hdr) >= 16:  # 64-bit size
            box_size = int.from_bytes(hdr[8:16], 'big')
        elif box_size == 0:  # box runs to the end of the file
            box_size = size - pos
        if box_size < 8:
            return f'invalid {kind!r} box size {box_size} at byte {pos}'
        if kind == b'moov':
            has_moov = True
        if pos + box_size > size:
            return (f'{kind.decode("latin-1")!r} box needs '
                    f'{pos + box_size} bytes, file has {size}')
        pos += box_size
    return None if has_moov else 'no moov box (the index is missing)'


def file_reason(path: str) -> Optional[str]:
    """Structural problem of a local video file, or None if it looks fine.

    Cheap (a ``stat`` and a few small reads): used to name the cause after a
    decoder failed. ``None`` does not mean the video decodes.

    Args:
        path (str): local file path.

    Returns:
        str | None: ``'missing'``, ``'empty'``, ``'not a video'`` (no known
        container signature), ``'truncated'`` (an MP4/MOV box or the AVI
        ``RIFF`` chunk claims more bytes than the file has, or an MP4 has
        no ``moov`` index), or None.
    """
    return file_diagnosis(path)[0]


def file_diagnosis(path: str) -> tuple:
    """``(reason, detail)`` behind :func:`file_reason` (both None when the
    file looks fine)."""
    try:
        st = os.stat(path)
    except OSError:
        return 'missing', 'no such file'
    if not osp.isfile(path):
        return 'missing', 'not a regular file'
    if st.st_size == 0:
        return 'empty', '0 bytes'
    try:
        with open(path, 'rb') as f:
            head = f.read(512)
            kind = sniff_container(head)
            if kind is None:
                return 'not a video', (
                    f'no video container signature in the first bytes '
                    f'{head[:12]!r}')
            if kind == 'mp4':
                why = _mp4_truncated(f, st.st_size)
                if why is not None:
                    return 'truncated', why
            elif kind == 'avi':
                riff = int.from_bytes(head[4:8], 'little') + 8
                if riff > st.st_size:
                    return 'truncated', (f'RIFF chunk needs {riff} bytes, '
                                         f'file has {st.st_size}')
    except OSError as err:
        return 'missing', f'cannot read: {err}'
    return None, None


# ------------------------------------------------------------ guarded call
_HEADER = 8  # bytes of the big-endian length prefix of every message


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _write_msg(fd: int, payload: bytes) -> None:
    _write_all(fd, len(payload).to_bytes(_HEADER, 'big') + payload)


def _read_exact(fd: int, num: int,
                deadline: Optional[float]) -> Optional[bytes]:
    """``num`` bytes from ``fd``; None at end of file; raises
    :class:`LoadTimeout` once ``deadline`` (``time.monotonic``) passes."""
    chunks, got = [], 0
    while got < num:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LoadTimeout('deadline passed')
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
        chunk = os.read(fd, min(num - got, 1 << 22))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b''.join(chunks)


def _read_msg(fd: int, deadline: Optional[float] = None) -> Optional[bytes]:
    head = _read_exact(fd, _HEADER, deadline)
    if head is None:
        return None
    return _read_exact(fd, int.from_bytes(head, 'big'), deadline)


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        return True
    except Exception:  # noqa: BLE001  (any reason it cannot be sent)
        return False


def _encode_result(status: str, value: Any) -> bytes:
    """Pickle ``(status, value)``; unpicklable dict values (an open
    ``video_reader``) are dropped, an unpicklable exception is replaced by
    a ``RuntimeError`` with the same text."""
    try:
        return pickle.dumps((status, value), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001
        pass
    if status == 'ok' and isinstance(value, dict):
        value = {k: v for k, v in value.items() if _picklable(v)}
    elif status == 'err':
        value = RuntimeError(f'{type(value).__name__}: {value}')
    return pickle.dumps((status, value), protocol=pickle.HIGHEST_PROTOCOL)


def _serve(fn: Callable, req_fd: int, res_fd: int) -> None:
    """Helper-process loop: call ``fn`` on each request until end of file
    (the owner closed its end or died)."""
    while True:
        msg = _read_msg(req_fd)
        if msg is None:
            return
        args, kwargs = pickle.loads(msg)
        try:
            payload = _encode_result('ok', fn(*args, **kwargs))
        except BaseException as err:  # noqa: BLE001
            payload = _encode_result('err', err)
        _write_msg(res_fd, payload)


# Owner-side pipe ends of this process's helpers (closed in every new
# helper, see GuardedCaller._start).
_OWNER_FDS: set = set()
_FORK_LOCK = threading.Lock()


class GuardedCaller:
    """Call ``fn`` in a killable helper process, with a timeout per call.

    The helper is forked (``os.fork``) from the caller on first use (so ``fn``
    and everything it refers to, e.g. a dataset's pipeline, is inherited,
    not pickled) and then *reused*: forking a process that has imported
    torch costs ~45 ms of CPU, a message round trip well under that. Only
    the arguments and the result cross the pipe (pickled; dict values that
    are not picklable, such as an open ``video_reader``, are dropped).
    When a call runs past its timeout the helper is killed with
    ``SIGKILL`` (which works even inside C code that never returns to
    Python, unlike ``SIGALRM`` or a thread timeout) and the next call
    forks a fresh one; a helper that dies (decoder segfault) is reported as
    :class:`ChildCrashed` and replaced too.

    ``os.fork`` is used rather than ``multiprocessing`` because DataLoader
    workers are daemonic and may not start ``multiprocessing`` children.
    The helper exits when its owner closes the pipe or dies. A copy of a
    caller (``copy.deepcopy``, pickling, or the object a forked DataLoader
    worker inherits) does not share the helper: check :attr:`usable` and
    build a new one in that process.

    The helper's global RNG state (numpy, ``random``) is its own copy of
    the owner's at fork time and advances there, so random choices inside
    ``fn`` (a clip offset) vary from call to call as they would in process.

    Args:
        fn (callable): the function the helper calls.
    """

    def __init__(self, fn: Optional[Callable]) -> None:
        self.fn = fn
        self._owner = os.getpid()
        self._pid: Optional[int] = None
        self._req: Optional[int] = None
        self._res: Optional[int] = None

    # A copy never shares the live helper (its pipes belong to the owner).
    def __deepcopy__(self, memo: dict) -> 'GuardedCaller':
        return GuardedCaller(None)

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__(None)

    @property
    def usable(self) -> bool:
        """Whether this process owns the caller and it has a function."""
        return self.fn is not None and self._owner == os.getpid()

    def _start(self) -> None:
        # Under the lock no other thread forks while these pipes exist
        # unregistered; every helper closes the owner-side pipe ends of the
        # *other* helpers, so each sees end-of-file when its owner closes.
        with _FORK_LOCK:
            req_r, req_w = os.pipe()
            res_r, res_w = os.pipe()
            pid = os.fork()
            if pid == 0:  # helper: never return into the owner's stack
                code = 0
                try:
                    for fd in list(_OWNER_FDS) + [req_w, res_r]:
                        try:
                            os.close(fd)
                        except OSError:
                            pass
                    _serve(self.fn, req_r, res_w)
                except BaseException:  # noqa: BLE001
                    code = 1
                finally:
                    os._exit(code)
            os.close(req_r)
            os.close(res_w)
            _OWNER_FDS.update((req_w, res_r))
        self._pid, self._req, self._res = pid, req_w, res_r

    def close(self, kill: bool = True) -> Optional[int]:
        """Stop the helper and reap it.

        Args:
            kill (bool): ``SIGKILL`` it (it is idle or stuck between our
                calls, so nothing is lost); False only to collect the exit
                status of a helper that already died.

        Returns:
            int | None: its wait status, or None when none was running or
            this process does not own it.
        """
        pid, self._pid = self._pid, None
        for fd in (self._req, self._res):
            if fd is not None:
                _OWNER_FDS.discard(fd)
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._req = self._res = None
        if pid is None or self._owner != os.getpid():
            return None
        if kill:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return os.waitpid(pid, 0)[1]

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001  (interpreter shutdown)
            pass

    def __call__(self, *args, timeout: float, **kwargs) -> Any:
        """``fn(*args, **kwargs)`` in the helper.

        Args:
            timeout (float): seconds to wait for the result.

        Returns:
            The value ``fn`` returned.

        Raises:
            LoadTimeout: no result in ``timeout`` s (the helper is killed).
            ChildCrashed: the helper died without a result.
            Exception: whatever ``fn`` raised (re-raised here).
        """
        if not self.usable:
            raise RuntimeError('GuardedCaller used outside the process that '
                               'created it, or without a function')
        request = pickle.dumps((args, kwargs),
                               protocol=pickle.HIGHEST_PROTOCOL)
        if self._pid is None:
            self._start()
        try:
            _write_msg(self._req, request)
        except BrokenPipeError:  # the helper died since the last call
            self.close(kill=False)
            self._start()
            _write_msg(self._req, request)
        deadline = time.monotonic() + timeout
        try:
            msg = _read_msg(self._res, deadline)
        except LoadTimeout:
            self.close()
            raise LoadTimeout(f'no result after {timeout:g} s; the decoding '
                              'process was killed') from None
        if msg is None:
            status = self.close(kill=False)
            raise ChildCrashed(_describe_exit(status))
        kind, value = pickle.loads(msg)
        if kind == 'err':
            raise value
        return value


def _describe_exit(status: Optional[int]) -> str:
    if status is not None and os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f'the decoding process died ({name})'
    code = None if status is None else os.waitstatus_to_exitcode(status)
    return f'the decoding process exited (status {code}) without a result'


def call_with_timeout(fn: Callable, timeout: float, *args, **kwargs) -> Any:
    """One-off ``fn(*args, **kwargs)`` in a forked, killable process.

    Same semantics as :class:`GuardedCaller` (use that for many calls: each
    one-off call pays a full ``fork``).

    Args:
        fn (callable): what to run; its result must be picklable.
        timeout (float): seconds before the process is killed.

    Returns:
        The value ``fn`` returned.

    Raises:
        LoadTimeout, ChildCrashed, or whatever ``fn`` raised.
    """
    caller = GuardedCaller(fn)
    try:
        return caller(*args, timeout=timeout, **kwargs)
    finally:
        caller.close()


# ------------------------------------------------------------------ probing
def sample_indices(num_frames: int, num: int) -> np.ndarray:
    """``num`` evenly spaced indices in ``[0, num_frames)``, always
    including the first and the *last claimed* frame (where a container
    that lies about its length fails)."""
    num = max(1, min(num, num_frames))
    return np.unique(np.linspace(0, num_frames - 1, num).round().astype(int))


def probe_video(path: str,
                num_indices: int = 8,
                min_frames: int = 1) -> Dict[str, Any]:
    """Open ``path`` with decord and decode sampled frames.

    Args:
        path (str): video file.
        num_indices (int): how many evenly spaced indices to decode
            (first and last claimed frame included).
        min_frames (int): fewer claimed frames is ``'too short'``.

    Returns:
        dict: ``reason`` (None when fine, else one of :data:`REASONS`),
        ``detail`` (str), ``num_frames`` (claimed, or None), ``fps``.
    """
    reason, detail = file_diagnosis(path)
    if reason in ('missing', 'empty', 'not a video'):
        return dict(reason=reason, detail=detail, num_frames=None, fps=None)
    import decord
    try:
        vr = decord.VideoReader(path, num_threads=1)
    except Exception as err:  # noqa: BLE001
        return dict(reason=reason or 'corrupt',
                    detail=detail or f'cannot open: {short_error(err)}',
                    num_frames=None,
                    fps=None)
    n = len(vr)
    fps = float(vr.get_avg_fps())
    out = dict(reason=None, detail=None, num_frames=n, fps=fps)
    if n < min_frames:
        out.update(reason='too short',
                   detail=f'{n} frames < min_frames={min_frames}')
        return out
    inds = sample_indices(n, num_indices)
    try:
        frames = vr.get_batch(inds.tolist()).asnumpy()
        got = len(frames)
        err_text = None
    except Exception as err:  # noqa: BLE001
        got, err_text = None, short_error(err)
    if err_text is not None or got != len(inds):
        what = (f'decoding failed ({err_text})'
                if err_text else f'only {got} of {len(inds)} decoded')
        out.update(reason=reason or 'frame count mismatch',
                   detail=(detail or f'header claims {n} frames; sampled '
                           f'indices {inds.tolist()}: {what}'))
    return out


def cross_check(path: str,
                num: int = 8,
                threshold: float = 8.0,
                seed: int = 0) -> Dict[str, Any]:
    """Compare decord random access with PyAV sequential decoding.

    ``num`` indices are drawn (seeded) from the frames decord claims and
    read from a fresh decord reader one at a time in shuffled order (random
    access, the way a training sampler seeks); PyAV decodes the stream
    from the start, in order, as ground truth. A frame whose mean absolute
    difference exceeds ``threshold`` (0-255 scale) is wrong; identical
    decoders give 0 here, a wrong frame ~50 on natural video.

    Args:
        path (str): video file (decodable by both).
        num (int): indices to compare.
        threshold (float): mean-absolute-difference limit per frame.
        seed (int): index sampling seed.

    Returns:
        dict: ``ok`` (bool), ``indices``, ``diffs`` (per index, None where
        PyAV has no such frame), ``max_diff``, ``detail``.
    """
    import av
    import decord
    vr = decord.VideoReader(path, num_threads=1)
    n = len(vr)
    rng = np.random.default_rng(seed)
    inds = np.sort(rng.choice(n, size=min(num, n), replace=False))
    order = rng.permutation(len(inds))
    rand_access = {}
    for k in order:
        rand_access[int(inds[k])] = vr[int(inds[k])].asnumpy()
    wanted = set(int(i) for i in inds)
    last = int(inds[-1])
    truth = {}
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = 'NONE'  # frame order must not depend on it
        for i, frame in enumerate(container.decode(stream)):
            if i in wanted:
                truth[i] = frame.to_ndarray(format='rgb24')
            if i >= last:
                break
    diffs: List[Optional[float]] = []
    for i in inds.tolist():
        ref = truth.get(i)
        got = rand_access[i]
        if ref is None or ref.shape != got.shape:
            diffs.append(None)
        else:
            diffs.append(
                float(np.abs(got.astype(np.int16) - ref).mean()))
    valid = [d for d in diffs if d is not None]
    max_diff = max(valid) if valid else None
    wrong = [i for i, d in zip(inds.tolist(), diffs)
             if d is None or d > threshold]
    detail = None
    if wrong:
        detail = (f'decord random access differs from PyAV sequential '
                  f'decode at frames {wrong} (mean |diff| up to '
                  f'{max_diff:.1f} > {threshold:g}, or frame missing)'
                  if max_diff is not None else
                  'PyAV decodes none of the sampled frames')
    return dict(ok=not wrong,
                indices=inds.tolist(),
                diffs=diffs,
                max_diff=max_diff,
                detail=detail)


def short_error(err: BaseException, limit: int = 200) -> str:
    """First line of an exception message, printable ASCII, truncated
    (decord's messages are long and echo bytes of the broken file)."""
    text = str(err).strip().splitlines()
    first = text[0] if text else ''
    first = ''.join(c if c.isprintable() and c.isascii() else '?'
                    for c in first)
    if len(first) > limit:
        first = first[:limit] + '...'
    return f'{type(err).__name__}: {first}' if first else type(err).__name__


def summarize(reasons: Sequence[Optional[str]]) -> Dict[str, int]:
    """Counts per reason in :data:`REASONS` order (absent reasons left
    out; None, the good entries, not counted)."""
    counts = {r: 0 for r in REASONS}
    for r in reasons:
        if r is not None:
            counts[r] = counts.get(r, 0) + 1
    return {r: c for r, c in counts.items() if c}
