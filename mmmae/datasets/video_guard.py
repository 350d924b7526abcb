# Copyright (c) mmmae contributors. All rights reserved.
"""Find out *why* a video cannot be used, and decode it without hanging.

Shared by :class:`~mmmae.datasets.VideoMAEDataset` (load time) and
``tools/misc/check_dataset.py`` (offline scan):

- :func:`file_reason`: cheap structural diagnosis of a file on disk
  (``missing``, ``empty``, ``not a video``, ``truncated``) from its size,
  its magic bytes and, for MP4/MOV, AVI and Matroska/WebM, the container's
  own size fields.
- :class:`GuardedCaller` / :func:`call_with_timeout`: run a function in a
  forked helper process that is killed (``SIGKILL``) after ``timeout``
  seconds. Unlike a thread timeout or ``SIGALRM``, this stops a decoder
  stuck inside C code (decord can loop forever on some files,
  dmlc/decord#363) and survives a decoder segfault.
- :func:`probe_video`: open a video the way a training transform does
  (:data:`READERS`), read its claimed frame count and decode sampled
  indices including the last claimed frame.
- :func:`cross_check`: compare a reader's random access with PyAV
  sequential decoding (ground truth) at sampled indices; decord returns
  wrong frames for some files (AVI with B-frames).
- :func:`parse_ann_line`: the annotation-list line format (paths with
  spaces included) shared by the dataset and the tool.
"""
import mmap
import os
import os.path as osp
import pickle
import random
import select
import signal
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

__all__ = [
    'REASONS', 'BadVideoError', 'LoadTimeout', 'ChildCrashed', 'file_reason',
    'file_diagnosis', 'sniff_container', 'GuardedCaller', 'call_with_timeout',
    'probe_video', 'cross_check', 'READERS', 'open_video', 'parse_ann_line'
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


def _avi_truncated(f, size: int) -> Optional[str]:
    """Why a RIFF (AVI) file is cut short, or None.

    Walks the top-level ``RIFF`` chunks rather than checking the first
    one only: an OpenDML AVI over 1 GiB goes on in ``RIFF AVIX`` chunks,
    and a cut lands in the last of them.

    Args:
        f (BinaryIO): the file, opened for reading.
        size (int): its size in bytes.

    Returns:
        str | None: what runs past the end of the file, or None.
    """
    pos = 0
    while pos + 8 <= size:
        f.seek(pos)
        hdr = f.read(12)
        if hdr[:4] != b'RIFF':
            break  # padding or junk after the last chunk, not a cut
        end = pos + 8 + int.from_bytes(hdr[4:8], 'little')
        if end > size:
            where = f' at byte {pos}' if pos else ''
            return (f'RIFF {hdr[8:12].decode("latin-1")!r} chunk{where} '
                    f'needs {end} bytes, file has {size}')
        pos = end + (end & 1)  # RIFF pads every chunk to an even size
    return None


# Matroska / WebM element IDs as stored (length marker bits included).
_EBML_HEADER = 0x1A45DFA3
_MKV_SEGMENT = 0x18538067
_MKV_CLUSTER = 0x1F43B675
_EBML_NAMES = {
    _EBML_HEADER: 'EBML header', _MKV_SEGMENT: 'Segment',
    _MKV_CLUSTER: 'Cluster', 0x114D9B74: 'SeekHead', 0x1549A966: 'Info',
    0x1654AE6B: 'Tracks', 0x1C53BB6B: 'Cues', 0x1254C367: 'Tags',
    0x1043A770: 'Chapters', 0x1941A469: 'Attachments', 0xA3: 'SimpleBlock',
    0xA0: 'BlockGroup', 0xE7: 'Timestamp', 0xEC: 'Void', 0xBF: 'CRC-32'
}


def _ebml_vint_length(first: int, max_length: int) -> int:
    """Bytes in the EBML variable-size integer whose first byte is
    ``first`` (the position of its leading 1 bit), 0 when invalid."""
    for n in range(1, max_length + 1):
        if first & (0x80 >> (n - 1)):
            return n
    return 0


def _ebml_element(f, pos: int):
    """The element header at byte ``pos``.

    Args:
        f (BinaryIO): the file.
        pos (int): where the header starts (before the end of the file).

    Returns:
        tuple | str | None: ``(id, data_start, data_size)`` with
        ``data_size`` None for an unknown size; ``'eof'`` when the file
        ends inside the header; None when these bytes are no EBML header.
    """
    f.seek(pos)
    hdr = f.read(12)  # the longest header: a 4-byte ID and an 8-byte size
    id_len = _ebml_vint_length(hdr[0], 4) if hdr else 0
    if not id_len:
        return None
    if len(hdr) <= id_len:
        return 'eof'
    size_len = _ebml_vint_length(hdr[id_len], 8)
    if not size_len:
        return None
    if len(hdr) < id_len + size_len:
        return 'eof'
    all_ones = (1 << (7 * size_len)) - 1
    value = int.from_bytes(hdr[id_len:id_len + size_len], 'big') & all_ones
    return (int.from_bytes(hdr[:id_len], 'big'), pos + id_len + size_len,
            None if value == all_ones else value)


def _mkv_truncated(f, size: int) -> Optional[str]:
    """Why a Matroska / WebM file is cut short, or None.

    A Segment of known size (what seekable writers such as FFmpeg leave)
    is checked against the file size, which costs two reads. A Segment of
    unknown size (live writers: FFmpeg on a pipe or with ``live=1``,
    browsers' MediaRecorder) says nothing about its end, so its elements
    are walked to the end of the file, stepping into Clusters of unknown
    size too; a cut shows as an element that runs past the end or a header
    the end of the file splits. A cut that falls exactly between two
    elements of such a file cannot be told from a complete file.

    Args:
        f (BinaryIO): the file, opened for reading.
        size (int): its size in bytes.

    Returns:
        str | None: what the end of the file cuts, or None.
    """
    pos, in_live_segment = 0, False
    while pos < size:
        element = _ebml_element(f, pos)
        if element == 'eof':
            return (f'the file ends inside the element header at byte '
                    f'{pos} (file has {size} bytes)')
        if element is None:
            return None  # not EBML: damage is for the decoder to judge
        eid, start, length = element
        # After a Segment of known size only another Segment may follow;
        # anything else is padding whose "size" would mean nothing.
        if not in_live_segment and eid not in (_EBML_HEADER, _MKV_SEGMENT):
            return None
        name = _EBML_NAMES.get(eid, f'0x{eid:X}')
        if length is None:
            if eid not in (_MKV_SEGMENT, _MKV_CLUSTER):
                return None  # no other element may have an unknown size
            in_live_segment = True
            pos = start  # its children follow until the end of the file
            continue
        end = start + length
        if end > size:
            return (f'{name} element at byte {pos} needs {end} bytes, file '
                    f'has {size}')
        pos = end
    return None


# container (sniff_container) -> "why is it cut short" walker
_TRUNCATION_CHECKS = {
    'mp4': _mp4_truncated,
    'avi': _avi_truncated,
    'mkv': _mkv_truncated,
}


def file_reason(path: str) -> Optional[str]:
    """Structural problem of a local video file, or None if it looks fine.

    Cheap (a ``stat`` and a few small reads; Matroska / WebM with a
    Segment of unknown size: one read per element header). It finds cuts
    that decoders hide: decord and PyAV open a cut AVI or WebM and return
    the frames that survived. ``None`` does not mean the video decodes.

    Args:
        path (str): local file path.

    Returns:
        str | None: ``'missing'``, ``'empty'``, ``'not a video'`` (no known
        container signature), ``'truncated'`` (an MP4/MOV box, an AVI
        ``RIFF`` chunk or a Matroska/WebM element claims more bytes than
        the file has, the file ends inside a Matroska element header, or
        an MP4 has no ``moov`` index), or None.
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
            walker = _TRUNCATION_CHECKS.get(kind)
            why = walker(f, st.st_size) if walker is not None else None
            if why is not None:
                return 'truncated', why
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
    _write_all(fd, len(payload).to_bytes(_HEADER, 'big'))
    _write_all(fd, payload)


def _read_exact(fd: int, num: int,
                deadline: Optional[float]) -> Optional[bytearray]:
    """``num`` bytes from ``fd``; None at end of file; raises
    :class:`LoadTimeout` once ``deadline`` (``time.monotonic``) passes."""
    buf = bytearray(num)
    view, got = memoryview(buf), 0
    while got < num:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LoadTimeout('deadline passed')
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
        n = os.readv(fd, [view[got:]])
        if not n:
            return None
        got += n
    return buf


def _read_msg(fd: int,
              deadline: Optional[float] = None) -> Optional[bytearray]:
    head = _read_exact(fd, _HEADER, deadline)
    if head is None:
        return None
    return _read_exact(fd, int.from_bytes(head, 'big'), deadline)


def get_rng_state() -> tuple:
    """States of the global RNGs that transforms draw from: Python's
    ``random``, numpy's and, if it is imported, torch's CPU generator."""
    torch = sys.modules.get('torch')
    return (random.getstate(), np.random.get_state(),
            None if torch is None else torch.get_rng_state().numpy())


def set_rng_state(state: tuple) -> None:
    """Set what :func:`get_rng_state` returned."""
    py_state, np_state, torch_state = state
    random.setstate(py_state)
    np.random.set_state(np_state)
    torch = sys.modules.get('torch')
    if torch_state is not None and torch is not None:
        torch.set_rng_state(torch.from_numpy(np.array(torch_state)))


def _cheap_picklable(value: Any) -> bool:
    # Arrays (decoded frames) always pickle; testing them would copy MBs.
    if isinstance(value, np.ndarray):
        return True
    if isinstance(value, (list, tuple)) and all(
            isinstance(v, np.ndarray) for v in value):
        return True
    try:
        pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        return True
    except Exception:  # noqa: BLE001  (any reason it cannot be sent)
        return False


def _pack(value: Any, shm: Optional[mmap.mmap]) -> bytes:
    """Pickle ``value``; its out-of-band buffers (contiguous numpy arrays,
    i.e. the frames) are copied into ``shm`` when they fit, so only a few
    KB cross the pipe. Message: ``b'S'`` + (spans, pickle) or ``b'P'`` +
    an in-band pickle."""
    if shm is not None:
        bufs: List[pickle.PickleBuffer] = []
        meta = pickle.dumps(value, protocol=5, buffer_callback=bufs.append)
        raws = [b.raw() for b in bufs]
        if sum(r.nbytes for r in raws) <= len(shm):
            view, spans, off = memoryview(shm), [], 0
            for r in raws:
                view[off:off + r.nbytes] = r
                spans.append((off, r.nbytes))
                off += r.nbytes
            return b'S' + pickle.dumps((spans, meta), protocol=5)
    return b'P' + pickle.dumps(value, protocol=5)


def _unpack(msg: bytearray, shm: Optional[mmap.mmap]) -> Any:
    body = memoryview(msg)[1:]
    if msg[:1] == b'S':
        spans, meta = pickle.loads(body)
        view = memoryview(shm)
        # Copied out: the helper overwrites the area on the next call, and
        # a sample may keep views of its frames until it is collated.
        return pickle.loads(
            meta, buffers=[bytearray(view[o:o + n]) for o, n in spans])
    return pickle.loads(body)


def _encode_result(status: str, value: Any, rng: Optional[tuple],
                   shm: Optional[mmap.mmap] = None) -> bytes:
    """Pack ``(status, value, rng)``; unpicklable dict values (an open
    ``video_reader``) are dropped, an unpicklable exception is replaced by
    a ``RuntimeError`` with the same text."""
    try:
        return _pack((status, value, rng), shm)
    except Exception:  # noqa: BLE001
        pass
    if status == 'ok' and isinstance(value, dict):
        value = {k: v for k, v in value.items() if _cheap_picklable(v)}
    elif status == 'err':
        value = RuntimeError(f'{type(value).__name__}: {value}')
    return _pack((status, value, rng), shm)


def _serve(fn: Callable, req_fd: int, res_fd: int,
           shm: Optional[mmap.mmap]) -> None:
    """Helper-process loop: call ``fn`` on each request until end of file
    (the owner closed its end or died)."""
    while True:
        msg = _read_msg(req_fd)
        if msg is None:
            return
        args, kwargs, rng = pickle.loads(msg)
        if args == _CPU_QUERY:
            _write_msg(res_fd, _encode_result('ok', time.process_time(),
                                              None, shm))
            continue
        if rng is not None:
            set_rng_state(rng)
        try:
            status, value = 'ok', fn(*args, **kwargs)
        except BaseException as err:  # noqa: BLE001
            status, value = 'err', err
        after = None if rng is None else get_rng_state()
        _write_msg(res_fd, _encode_result(status, value, after, shm))


# Request asking the helper for its CPU time instead of calling ``fn``.
_CPU_QUERY = ('__mmmae_guard_cpu_time__', )

# Owner-side pipe ends of this process's helpers (closed in every new
# helper, see GuardedCaller._start).
_OWNER_FDS: set = set()
_FORK_LOCK = threading.Lock()

#: Size of the shared-memory area a helper returns frames through (virtual;
#: pages are only committed as large as the largest result). Bigger results
#: go through the pipe.
SHARED_BYTES = 256 << 20


class GuardedCaller:
    """Call ``fn`` in a killable helper process, with a timeout per call.

    The helper is forked (``os.fork``) from the caller on first use (so ``fn``
    and everything it refers to, e.g. a dataset's pipeline, is inherited,
    not pickled) and then *reused*: forking a process that has imported
    torch costs ~45 ms of CPU, a call well under 1 ms plus one copy of the
    result. Only the arguments and the result cross: the arguments and
    small values pickled through a pipe, numpy arrays (decoded frames)
    through a shared-memory area that the owner copies them out of. Dict
    values that are not picklable, such as an open ``video_reader``, are
    dropped. When a call runs past its timeout the helper is killed with
    ``SIGKILL`` (which works even inside C code that never returns to
    Python, unlike ``SIGALRM`` or a thread timeout) and the next call
    forks a fresh one; a helper that dies (decoder segfault) is reported as
    :class:`ChildCrashed` and replaced too.

    With ``share_rng`` (default) a call is, for the global RNGs, the same
    as calling ``fn`` in the owner: the owner's Python, numpy and torch RNG
    states go to the helper with the request and the helper's states after
    ``fn`` come back and are set in the owner. So a pipeline that draws
    clip offsets (or reseeds, :class:`~mmmae.datasets.PerSampleSeed`) in
    the guarded stage and crops afterwards gives the same samples with and
    without the guard, and a resumed run repeats the uninterrupted one.
    A call that times out or crashes leaves the owner's RNGs as they were.

    ``os.fork`` is used rather than ``multiprocessing`` because DataLoader
    workers are daemonic and may not start ``multiprocessing`` children.
    The helper exits when its owner closes the pipe or dies. A copy of a
    caller (``copy.deepcopy``, pickling, or the object a forked DataLoader
    worker inherits) does not share the helper: check :attr:`usable` and
    build a new one in that process.

    Args:
        fn (callable): the function the helper calls.
        share_rng (bool): carry the global RNG states to the helper and
            back. Defaults to True.
        shared_bytes (int): size of the shared-memory area for arrays; 0
            sends everything through the pipe. Defaults to
            :data:`SHARED_BYTES`.
    """

    def __init__(self,
                 fn: Optional[Callable],
                 share_rng: bool = True,
                 shared_bytes: int = SHARED_BYTES) -> None:
        self.fn = fn
        self.share_rng = share_rng
        self.shared_bytes = int(shared_bytes)
        self._owner = os.getpid()
        self._pid: Optional[int] = None
        self._req: Optional[int] = None
        self._res: Optional[int] = None
        self._shm: Optional[mmap.mmap] = None

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

    @property
    def pid(self) -> Optional[int]:
        """Process id of the running helper (None when none runs)."""
        return self._pid

    def cpu_time(self, timeout: float = 10.0) -> float:
        """CPU seconds the running helper has used (all its threads,
        ``time.process_time`` there); 0.0 when none runs. For benchmarks:
        the owner's ``time.process_time`` does not include it."""
        if self._pid is None or not self.usable:
            return 0.0
        _write_msg(self._req, pickle.dumps((_CPU_QUERY, {}, None)))
        msg = _read_msg(self._res, time.monotonic() + timeout)
        return 0.0 if msg is None else float(_unpack(msg, self._shm)[1])

    def _start(self) -> None:
        if self._shm is None and self.shared_bytes > 0:
            # Anonymous MAP_SHARED: the helpers forked below write into the
            # same pages this process reads.
            self._shm = mmap.mmap(-1, self.shared_bytes)
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
                    _serve(self.fn, req_r, res_w, self._shm)
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
        rng = get_rng_state() if self.share_rng else None
        request = pickle.dumps((args, kwargs, rng),
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
        kind, value, rng = _unpack(msg, self._shm)
        if rng is not None:
            set_rng_state(rng)
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


#: How ``check_dataset.py`` opens a file, named after where training does
#: it that way: ``mmaction.DecordInit`` reads the file into memory and
#: opens decord on a ``BytesIO``; ``mmmae.VideoInit`` (``backend='decord'``)
#: opens decord on the local path; ``mmmae.VideoInit(backend='pyav')``
#: uses :class:`~mmmae.datasets.transforms.PyAVSeekReader` on the path.
READERS = ('decord-memory', 'decord-path', 'pyav')


def open_video(path: str, reader: str = 'decord-memory',
               num_threads: int = 1):
    """Open ``path`` the way a training transform does.

    The way matters: decord segfaults opening a cut MPEG-4 AVI from
    memory (``DecordInit``) that it decodes by path.

    Args:
        path (str): local video file.
        reader (str): one of :data:`READERS`.
        num_threads (int): decoding threads. Defaults to 1.

    Returns:
        A reader with ``len()`` and ``get_batch(indices)`` (a decord
        ``VideoReader`` or a ``PyAVSeekReader``; see :func:`reader_fps`).

    Raises:
        ValueError: an unknown ``reader``.
        Exception: whatever the reader raises on this file.
    """
    if reader == 'decord-memory':
        import io

        import decord
        with open(path, 'rb') as f:
            data = f.read()
        return decord.VideoReader(io.BytesIO(data), num_threads=num_threads)
    if reader == 'decord-path':
        import decord
        return decord.VideoReader(path, num_threads=num_threads)
    if reader == 'pyav':
        # imports torch (mmcv): check_dataset.py imports it once, before
        # it forks its helpers, not per file
        from mmmae.datasets.transforms.video_decode import PyAVSeekReader
        return PyAVSeekReader(path, num_threads=num_threads)
    raise ValueError(f'reader={reader!r}: expected one of {READERS}')


def reader_fps(vr) -> float:
    """Average frame rate of a reader from :func:`open_video`."""
    fps = getattr(vr, 'fps', None)
    return float(fps) if fps is not None else float(vr.get_avg_fps())


def _as_array(batch) -> np.ndarray:
    """A decord ``NDArray`` or a numpy array, as numpy."""
    return batch.asnumpy() if hasattr(batch, 'asnumpy') else np.asarray(batch)


def probe_video(path: str,
                num_indices: int = 8,
                min_frames: int = 1,
                reader: str = 'decord-memory') -> Dict[str, Any]:
    """Open ``path`` the way training does and decode sampled frames.

    The structural check (:func:`file_diagnosis`) always runs, and a file
    it finds cut short is ``'truncated'`` even when the reader decodes
    what is left: decord and PyAV open a cut AVI or WebM and report only
    the frames before the cut, so training would see a shorter video than
    was listed (or, opened from memory, crash on it).

    Args:
        path (str): video file.
        num_indices (int): how many evenly spaced indices to decode
            (first and last claimed frame included).
        min_frames (int): fewer claimed frames is ``'too short'``.
        reader (str): how to open it, one of :data:`READERS`. Defaults
            to ``'decord-memory'`` (``mmaction.DecordInit``).

    Returns:
        dict: ``reason`` (None when fine, else one of :data:`REASONS`),
        ``detail`` (str), ``num_frames`` (claimed, or None), ``fps``.
    """
    reason, detail = file_diagnosis(path)
    if reason in ('missing', 'empty', 'not a video'):
        return dict(reason=reason, detail=detail, num_frames=None, fps=None)
    out = dict(reason=None, detail=None, num_frames=None, fps=None)
    try:
        vr = open_video(path, reader)
    except Exception as err:  # noqa: BLE001
        out.update(reason='corrupt',
                   detail=f'{reader} cannot open it: {short_error(err)}')
    else:
        n = len(vr)
        out.update(num_frames=n, fps=reader_fps(vr))
        if n < min_frames:
            out.update(reason='too short',
                       detail=f'{n} frames < min_frames={min_frames}')
        else:
            inds = sample_indices(n, num_indices)
            try:
                got = len(_as_array(vr.get_batch(inds.tolist())))
                err_text = None
            except Exception as err:  # noqa: BLE001
                got, err_text = None, short_error(err)
            if err_text is not None or got != len(inds):
                what = (f'decoding failed ({err_text})'
                        if err_text else f'only {got} of {len(inds)} decoded')
                out.update(reason='frame count mismatch',
                           detail=f'header claims {n} frames; sampled '
                           f'indices {inds.tolist()}: {what}')
    if reason is not None:
        # the cut is the cause, whatever the decoder made of the rest
        found = out['detail'] or (f'{reader} decodes the {out["num_frames"]}'
                                  ' frames before the cut')
        out.update(reason=reason, detail=f'{detail}; {found}')
    return out


def cross_check(path: str,
                num: int = 8,
                threshold: float = 8.0,
                seed: int = 0,
                reader: str = 'decord-memory') -> Dict[str, Any]:
    """Compare a reader's random access with PyAV sequential decoding.

    ``num`` indices are drawn (seeded) from the frames the reader claims
    and read from a fresh reader (:func:`open_video`) one at a time in
    shuffled order (random access, the way a training sampler seeks); PyAV
    decodes the stream from the start, in order, as ground truth. A frame
    whose mean absolute difference exceeds ``threshold`` (0-255 scale) is
    wrong; identical decoders give 0 here, a wrong frame ~50 on natural
    video.

    Args:
        path (str): video file (decodable by both).
        num (int): indices to compare.
        threshold (float): mean-absolute-difference limit per frame.
        seed (int): index sampling seed.
        reader (str): the reader under test, one of :data:`READERS`.

    Returns:
        dict: ``ok`` (bool), ``indices``, ``diffs`` (per index, None where
        PyAV has no such frame), ``max_diff``, ``detail``.
    """
    import av
    vr = open_video(path, reader)
    n = len(vr)
    rng = np.random.default_rng(seed)
    inds = np.sort(rng.choice(n, size=min(num, n), replace=False))
    order = rng.permutation(len(inds))
    rand_access = {}
    for k in order:
        i = int(inds[k])
        # decord seeks per frame with vr[i]; PyAVSeekReader has no
        # indexing, a one-frame batch seeks the same way
        rand_access[i] = (_as_array(vr[i]) if hasattr(vr, '__getitem__')
                          else _as_array(vr.get_batch([i]))[0])
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
        detail = (f'{reader} random access differs from PyAV sequential '
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


# --------------------------------------------------------- annotation lists
def _is_int(text: str) -> bool:
    """Whether ``text`` is a decimal integer label (a sign allowed)."""
    digits = text[1:] if text[:1] in ('+', '-') else text
    return digits.isascii() and digits.isdigit()


def parse_ann_line(line: str,
                   delimiter: str = ' ',
                   multi_label: bool = False
                   ) -> Optional[tuple]:
    """Path and labels of one annotation-list line.

    The format of ``VideoMAEDataset`` and ``tools/misc/check_dataset.py``
    (MMAction2's ``path [label]`` lines, plus paths with spaces). In order:

    1. a blank line or one starting with ``#`` is no entry (None);
    2. a line starting with ``"`` quotes its path, shell style (``\\"``
       and ``\\\\`` inside the quotes stand for ``"`` and ``\\``); the
       labels follow, separated by the delimiter (spaces and tabs for the
       default ``' '``);
    3. with another ``delimiter`` (``','``, ``'\\t'``), or with the default
       one on a line that contains a tab, the line is split there: the
       path is the first field, the labels the others;
    4. otherwise (spaces only): the labels are the trailing integer fields
       and the path is everything before them, inner spaces kept. Without
       ``multi_label`` at most the last field is a label, and a line whose
       last *two* fields are integers is refused as ambiguous (is
       ``a 2 3`` the file ``a 2`` with label 3, or a ``path num_frames
       label`` rawframe line?); a line whose last field is not an
       integer is a path without a label. So a path that ends in a
       space and digits, or any path in a multi-label list, needs quotes
       or a tab.

    Args:
        line (str): the line (surrounding whitespace is ignored).
        delimiter (str): MMAction2's ``delimiter``. Defaults to ``' '``.
        multi_label (bool): every label field is kept (MMAction2's
            ``multi_class``); otherwise at most one is allowed.

    Returns:
        tuple[str, list[int]] | None: ``(path, labels)`` (no labels: an
        unlabelled entry, as pretraining lists have), or None for a blank
        or comment line.

    Raises:
        ValueError: the line cannot be read (unclosed quote, a label that
            is not an integer, more than one label without
            ``multi_label``, an ambiguous unquoted line, an empty path).
    """
    text = line.strip()
    if not text or text.startswith('#'):
        return None
    if text.startswith('"'):
        import shlex
        lexer = shlex.shlex(text, posix=True)
        lexer.whitespace_split = True
        lexer.commenters = ''
        lexer.whitespace = ' \t' if delimiter == ' ' else delimiter
        tokens = list(lexer)  # ValueError: No closing quotation
        path, fields = tokens[0], tokens[1:]
    elif delimiter != ' ' or '\t' in text:
        parts = text.split('\t' if delimiter == ' ' else delimiter)
        path, fields = parts[0].strip(), parts[1:]
    else:
        fields = text.split()
        n = 0
        while n < len(fields) - 1 and _is_int(fields[-1 - n]):
            n += 1
        if not multi_label and n > 1:
            raise ValueError(
                f'the last {n} fields are integers: expected "path '
                '[label]"; quote a path that ends in a space and digits '
                '("take 2" 3) or separate it from its label with a tab')
        path = text
        for _ in range(n):  # rsplit keeps the path's inner spaces as is
            path = path.rsplit(None, 1)[0]
        fields = fields[len(fields) - n:]
    # labels: the remaining fields, whitespace inside a field separating
    # more labels ("path\t1 2" in a multi-label list)
    labels = [tok for field in fields for tok in field.split()]
    bad = [tok for tok in labels if not _is_int(tok)]
    if bad:
        raise ValueError(f'label {bad[0]!r} is not an integer')
    if not path:
        raise ValueError('empty path')
    if not multi_label and len(labels) > 1:
        raise ValueError(f'expected "path [label]", got {len(labels)} '
                         'labels (multi-label lists need multi_class=True)')
    return path, [int(tok) for tok in labels]
