# Copyright (c) mmmae contributors. All rights reserved.
"""Video loading transforms: decord with a keyframe-seeking PyAV fallback,
and a pre-decoded frame cache.

:class:`VideoInit` opens a video and :class:`VideoDecode` returns the frames
at ``results['frame_inds']`` (set by ``mmaction.SampleFrames`` in between) as
one ``(T, H, W, 3)`` uint8 RGB array. Three readers share one small
interface (``len(reader)``, ``reader.fps``, ``reader.get_batch(inds)``):

- ``decord.VideoReader`` opened on the *path* (MMAction2's ``DecordInit``
  first copies the whole file into a ``BytesIO``), ``num_threads=1`` by
  default: with one clip per DataLoader worker, every worker decoding on
  one thread keeps the cores busy without oversubscription
  (``tools/benchmark/data_pipeline.py`` measures 1 vs 0 = auto);
- :class:`PyAVSeekReader`: seeks to the keyframe at or before the first
  wanted frame and decodes forward only up to the last wanted one, skipping
  non-reference frames that are not wanted. MMAction2's ``PyAVDecode``
  decodes the video from its first frame, so its cost grows with the
  position of the clip in the video;
- :class:`NpyFrameReader`: a ``(T, H, W, 3)`` uint8 ``.npy`` written by
  ``tools/dataset_converters/cache_frames.py``, memory-mapped, so a clip
  costs a gather of ``T`` frames and no decoding.

With ``fallback='pyav'`` a video that decord cannot open or decode is read
with PyAV instead of being dropped (decord fails on some streams FFmpeg
reads fine). The class names end with ``Init``/``Decode`` so that
:class:`~mmmae.datasets.VideoMAEDataset` counts them as its loading stage
(a failure marks the file bad, and repeated sampling decodes once).

Files on a remote MMEngine storage backend (petrel, S3 through a registered
backend, HTTP) are read into memory with :func:`mmengine.fileio.get` and
decoded from there, as MMAction2's ``DecordInit`` does; local files are
opened by path (no copy).
"""
import io
import os.path as osp
from typing import BinaryIO, Dict, Optional, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform

from mmmae.registry import TRANSFORMS

__all__ = [
    'PyAVSeekReader', 'NpyFrameReader', 'VideoInit', 'VideoDecode',
    'FrameCacheInit', 'bounded_size', 'bound_short_side', 'read_frames'
]

_BACKENDS = ('auto', 'decord', 'pyav', 'npy')

#: Containers whose packet timestamps are not presentation times: AVI stores
#: none (FFmpeg derives them from the packet order, so with B-frames they do
#: not say which frame a packet shows).
_NO_PTS_FORMATS = frozenset({'avi'})


def bounded_size(height: int, width: int,
                 max_short_side: Optional[int]) -> Tuple[int, int]:
    """``(H', W')`` of a frame whose short side is brought down to
    ``max_short_side``, aspect kept.

    Rounds as MMAction2's ``Resize(scale=(-1, max_short_side))`` (mmcv's
    ``rescale_size``), so a bounded decode and that transform give frames
    of the same size. Frames already within the bound keep their size.

    Args:
        height (int): source height.
        width (int): source width.
        max_short_side (int, optional): the bound; None for no bound.

    Returns:
        tuple[int, int]: the output height and width.
    """
    short = min(height, width)
    if max_short_side is None or short <= max_short_side:
        return height, width
    scale = max_short_side / short
    out_h = max(1, int(height * scale + 0.5))
    out_w = max(1, int(width * scale + 0.5))
    return out_h, out_w


def bound_short_side(frames: np.ndarray,
                     max_short_side: Optional[int]) -> np.ndarray:
    """Area-downsample ``(T, H, W, 3)`` frames to a short side of at most
    ``max_short_side`` (cv2 ``INTER_AREA``: averages, so no aliasing)."""
    height, width = frames.shape[1:3]
    out_h, out_w = bounded_size(height, width, max_short_side)
    if (out_h, out_w) == (height, width):
        return frames
    import cv2
    out = np.empty((len(frames), out_h, out_w, frames.shape[3]),
                   dtype=frames.dtype)
    for i, frame in enumerate(frames):
        cv2.resize(frame, (out_w, out_h), dst=out[i],
                   interpolation=cv2.INTER_AREA)
    return out


class _SeekMissed(Exception):
    """A seek did not land on the keyframe it asked for."""


class PyAVSeekReader:
    """Frame-accurate random access to a video with PyAV, by seeking.

    At construction the packets of the video stream are demuxed once (no
    decoding) to learn the presentation timestamps: frame ``i`` is the
    ``i``-th smallest packet ``pts``, which is the order a sequential decode
    returns frames in (packets that an MP4 edit list cuts are decoded as
    references but are not frames), and the keyframe timestamps say where a
    seek lands.

    :meth:`get_batch` groups the wanted frames into runs that need no new
    seek (the next wanted frame comes before the next keyframe that could
    be seeked to), seeks to the keyframe at or before each run's first
    frame (``container.seek(pts, backward=True, stream=...)``) and decodes
    forward. Once the packet of the run's last wanted frame is in the
    decoder it is drained, so the packets that follow (B-frame reordering
    delay) are never decoded. Packets of unwanted frames
    are decoded with ``skip_frame='NONREF'``: a frame that no other frame
    references is then not decoded at all (about half of an x264 stream
    with B-frames), while reference frames still are.

    Some files carry no usable presentation timestamps: AVI (its
    timestamps are made up from the packet order, which is not the display
    order once there are B-frames), raw streams, or packets without or
    with repeated timestamps. Such a reader is ``sequential``: it decodes
    from the first frame and counts frames in output order (what a
    sequential decode returns), stopping at the last wanted frame. That is
    slower but exact, where mapping made-up timestamps would silently
    return other frames. A reader also turns sequential when a seek lands
    elsewhere than on the keyframe it asked for (MPEG-TS seeks by byte
    position).

    ``get_batch(inds, max_short_side=B)`` converts the frames to RGB and
    area-downsamples them to a short side of at most ``B`` in one swscale
    call, which costs less than the conversion at full size alone.

    Args:
        path (str | BinaryIO): local video file, or a seekable binary file
            object (e.g. ``io.BytesIO`` of a remote file).
        num_threads (int): FFmpeg decoding threads; 1 (default) suits one
            reader per DataLoader worker, 0 lets FFmpeg choose.
        skip_nonref (bool): skip unwanted non-reference frames.
            Defaults to True.
        name (str, optional): the name error messages use for a file
            object. Defaults to ``path`` itself when it is a string.

    Raises:
        ValueError: the file has no video stream or no video packet.
    """

    def __init__(self,
                 path: Union[str, BinaryIO],
                 num_threads: int = 1,
                 skip_nonref: bool = True,
                 name: Optional[str] = None) -> None:
        import av
        from av.video.reformatter import VideoReformatter
        self.path = name or (path if isinstance(path, str) else
                             getattr(path, 'name', '<file object>'))
        self.skip_nonref = skip_nonref
        self._source = path
        self._container = None  # for __del__ when av.open raises
        self._container = av.open(path)
        if not self._container.streams.video:
            self.close()
            raise ValueError(f'{path}: no video stream')
        stream = self._container.streams.video[0]
        stream.thread_count = int(num_threads)
        self._stream = stream
        # one reformatter reuses its swscale context across frames
        self._reformatter = VideoReformatter()
        pts, key, shown = [], [], []
        for packet in self._container.demux(stream):
            if packet.size == 0:
                continue  # flush packets
            pts.append(-1 if packet.pts is None else packet.pts)
            key.append(packet.is_keyframe)
            # an MP4 edit list can cut leading frames: their packets are
            # decoded (others reference them) but yield no frame
            shown.append(not packet.is_discard)
        shown = np.asarray(shown, dtype=bool)
        if not shown.any():
            self.close()
            raise ValueError(f'{self.path}: no video packet')
        pts_arr = np.asarray(pts, dtype=np.int64)
        frame_pts = pts_arr[shown]
        formats = set(self._container.format.name.split(','))
        self.sequential = bool(formats & _NO_PTS_FORMATS
                               or (pts_arr == -1).any()
                               or len(np.unique(frame_pts)) < len(frame_pts))
        self._pts = np.sort(frame_pts, kind='stable')
        # seeks may land on a cut keyframe: decoding starts there
        self._key_pts = np.sort(pts_arr[np.asarray(key, dtype=bool)])
        if len(self._key_pts) == 0:
            self._key_pts = self._pts[:1]
        rate = stream.average_rate or stream.guessed_rate
        self.fps = float(rate) if rate else 30.0

    def __len__(self) -> int:
        return len(self._pts)

    def close(self) -> None:
        """Close the container (also done when the reader is collected)."""
        if self._container is not None:
            self._container.close()
            self._container = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001  (interpreter shutdown)
            pass

    def _keyframe_before(self, pts: int) -> int:
        """Timestamp of the last keyframe at or before ``pts``."""
        i = int(np.searchsorted(self._key_pts, pts, side='right')) - 1
        return int(self._key_pts[max(i, 0)])

    @property
    def source_shape(self) -> Tuple[int, int]:
        """``(H, W)`` of the video stream's frames."""
        ctx = self._stream.codec_context
        return int(ctx.height), int(ctx.width)

    def _rgb(self, frame, max_short_side: Optional[int]) -> np.ndarray:
        """``(H, W, 3)`` uint8 RGB array of a decoded frame, bounded."""
        height, width = bounded_size(frame.height, frame.width,
                                     max_short_side)
        if (height, width) == (frame.height, frame.width):
            rgb = self._reformatter.reformat(frame, format='rgb24')
        else:
            rgb = self._reformatter.reformat(
                frame,
                width=width,
                height=height,
                format='rgb24',
                interpolation='AREA')
        return rgb.to_ndarray()

    def get_batch(self,
                  inds,
                  max_short_side: Optional[int] = None) -> np.ndarray:
        """Decode the frames at ``inds`` (any order, repeats allowed).

        Args:
            inds (Sequence[int] | np.ndarray): frame indices in
                ``[0, len(self))``.
            max_short_side (int, optional): area-downsample frames whose
                short side is longer (size as :func:`bounded_size`).

        Returns:
            np.ndarray: ``(len(inds), H, W, 3)`` uint8 RGB frames.

        Raises:
            IndexError: an index is out of range.
            RuntimeError: a wanted frame was not produced by the decoder.
        """
        inds = np.asarray(inds, dtype=np.int64).reshape(-1)
        if inds.size == 0:
            raise IndexError(f'{self.path}: no frame index given')
        if inds.min() < 0 or inds.max() >= len(self):
            raise IndexError(f'{self.path}: frame index out of range '
                             f'[0, {len(self)}): {inds.min()}..{inds.max()}')
        uniq = np.unique(inds)
        frames: Dict[int, np.ndarray] = {}
        if self.sequential:
            self._decode_from_start(uniq, frames, max_short_side)
            return self._gather(inds, uniq, frames)
        want_pts = self._pts[uniq]
        start = 0
        try:
            while start < len(uniq):
                # one seek per run: extend the run while the next wanted
                # frame lies before the next keyframe a fresh seek would
                # start from
                key = self._keyframe_before(int(want_pts[start]))
                end = start + 1
                while (end < len(uniq) and self._keyframe_before(
                        int(want_pts[end])) == key):
                    end += 1
                self._decode_run(key, uniq[start:end], want_pts[start:end],
                                 frames, max_short_side)
                start = end
        except _SeekMissed:
            # the container seeks inexactly (e.g. MPEG-TS seeks by byte
            # position): decode from the start, now and from now on
            self.sequential = True
            frames.clear()
            self._decode_from_start(uniq, frames, max_short_side)
        return self._gather(inds, uniq, frames)

    def _gather(self, inds: np.ndarray, uniq: np.ndarray,
                frames: Dict[int, np.ndarray]) -> np.ndarray:
        """``(len(inds), H, W, 3)`` stack of ``frames``; every index must
        have been decoded."""
        missing = [int(i) for i in uniq if int(i) not in frames]
        if missing:
            raise RuntimeError(f'{self.path}: the decoder produced no frame '
                               f'for indices {missing[:5]}')
        return np.stack([frames[int(i)] for i in inds])

    def _decode_from_start(self, idx: np.ndarray, out: Dict[int, np.ndarray],
                           bound: Optional[int]) -> None:
        """Decode from the first frame until the frames ``idx``
        (ascending display-order indices) are in ``out``, bounded to a
        short side of ``bound``."""
        import av
        # reopening is the one way back to the start that works for every
        # container (a seek to 0 needs a keyframe timestamp <= 0)
        self.close()
        if not isinstance(self._source, str):
            self._source.seek(0)
        self._container = av.open(self._source)
        stream = self._container.streams.video[0]
        stream.thread_count = self._stream.thread_count
        self._stream = stream
        wanted, last = set(idx.tolist()), int(idx[-1])
        for i, frame in enumerate(self._container.decode(stream)):
            if i in wanted:
                out[i] = self._rgb(frame, bound)
            if i >= last:
                break

    def _decode_run(self, key_pts: int, idx: np.ndarray, pts: np.ndarray,
                    out: Dict[int, np.ndarray], bound: Optional[int]) -> None:
        """Seek to ``key_pts`` and decode until the frames ``idx`` (whose
        timestamps are ``pts``, ascending) are in ``out``, bounded to a
        short side of ``bound``."""
        container, stream = self._container, self._stream
        ctx = stream.codec_context
        wanted = dict(zip(pts.tolist(), idx.tolist()))
        unsent = set(wanted)

        def take(frames) -> None:
            for frame in frames:
                i = wanted.get(frame.pts)
                if i is not None and i not in out:
                    out[i] = self._rgb(frame, bound)

        container.seek(key_pts, backward=True, any_frame=False, stream=stream)
        ctx.flush_buffers()
        skipping = False
        first = True
        try:
            for packet in container.demux(stream):
                p = packet.pts
                if first:
                    if p != key_pts:
                        raise _SeekMissed
                    first = False
                # a wanted frame and every packet without a timestamp is
                # decoded in full; others only if a frame references them
                skip = self.skip_nonref and p is not None and p not in wanted
                if skip != skipping:  # the setter costs a Python call
                    ctx.skip_frame = 'NONREF' if skip else 'DEFAULT'
                    skipping = skip
                take(ctx.decode(packet))
                unsent.discard(p)
                if not unsent:
                    # every wanted frame is in the decoder: drain its
                    # reordering delay rather than decode further packets
                    take(ctx.decode(None))
                    break
        finally:
            ctx.skip_frame = 'DEFAULT'


class NpyFrameReader:
    """Frames of a ``(T, H, W, 3)`` uint8 ``.npy`` file, memory-mapped.

    Args:
        path (str | BinaryIO): ``.npy`` file written by
            ``tools/dataset_converters/cache_frames.py`` (memory-mapped), or
            a binary file object holding one (read into memory).
        fps (float): frame rate to report. Defaults to 30.
        name (str, optional): the name error messages use for a file
            object.

    Raises:
        ValueError: the array is not ``(T, H, W, 3)`` uint8.
    """

    def __init__(self,
                 path: Union[str, BinaryIO],
                 fps: float = 30.0,
                 name: Optional[str] = None) -> None:
        local = isinstance(path, str)
        self.path = name or (path if local else '<file object>')
        self.frames = np.load(path, mmap_mode='r' if local else None)
        if (self.frames.ndim != 4 or self.frames.shape[-1] != 3
                or self.frames.dtype != np.uint8):
            raise ValueError(
                f'{self.path}: expected a (T, H, W, 3) uint8 frame cache, '
                f'got {self.frames.dtype} {self.frames.shape}; regenerate it '
                'with tools/dataset_converters/cache_frames.py')
        self.fps = float(fps)

    def __len__(self) -> int:
        return len(self.frames)

    def get_batch(self, inds) -> np.ndarray:
        """``(len(inds), H, W, 3)`` uint8 copy of the frames at ``inds``."""
        return np.take(self.frames, np.asarray(inds, dtype=np.int64), axis=0)


def _open_decord(source: Union[str, BinaryIO], num_threads: int):
    import decord
    return decord.VideoReader(source, num_threads=num_threads)


def _rewind(source: Union[str, BinaryIO]) -> Union[str, BinaryIO]:
    """``source`` ready to be opened again (file objects seek to 0)."""
    if not isinstance(source, str):
        source.seek(0)
    return source


def read_frames(
        reader,
        inds: np.ndarray,
        max_short_side: Optional[int] = None
) -> Tuple[np.ndarray, Tuple[int, int]]:
    """The frames at ``inds`` from any reader of :class:`VideoInit`.

    Repeated indices are decoded once.

    Args:
        reader: a :class:`PyAVSeekReader`, :class:`NpyFrameReader` or
            ``decord.VideoReader``.
        inds (np.ndarray): ``(N, )`` frame indices, any order.
        max_short_side (int, optional): see :class:`VideoDecode`.

    Returns:
        tuple[np.ndarray, tuple[int, int]]: ``(N, H, W, 3)`` uint8 RGB
        frames, and the ``(H, W)`` of the source frames.
    """
    uniq, inverse = np.unique(inds, return_inverse=True)
    if isinstance(reader, PyAVSeekReader):
        batch = reader.get_batch(uniq, max_short_side=max_short_side)
        source_shape = reader.source_shape
    else:
        batch = reader.get_batch(uniq)
        if not isinstance(batch, np.ndarray):
            batch = batch.asnumpy()  # decord NDArray
        source_shape = batch.shape[1:3]
        batch = bound_short_side(batch, max_short_side)
    # uniq is sorted: a clip list such as 0..28 then 11..39 (two test
    # clips) has distinct but unordered indices and needs the gather too
    in_order = len(uniq) == len(inds) and bool(np.all(uniq == inds))
    return (batch if in_order else batch[inverse]), tuple(source_shape)


@TRANSFORMS.register_module()
class VideoInit(BaseTransform):
    """Open a video (or frame cache) for :class:`VideoDecode`.

    **Required Keys:** filename

    **Added Keys:** video_reader, total_frames, avg_fps, video_backend,
    video_source (the path, or the in-memory bytes of a remote file; used
    by :class:`VideoDecode`'s fallback and removed there)

    Args:
        backend (str): ``'decord'`` (default), ``'pyav'``
            (:class:`PyAVSeekReader`), ``'npy'`` (:class:`NpyFrameReader`)
            or ``'auto'`` (``'npy'`` for ``.npy`` files, else ``'decord'``).
        num_threads (int): decoding threads per reader. Defaults to 1.
        fallback (str | None): ``'pyav'`` opens the file with PyAV when
            decord fails to open it (and lets :class:`VideoDecode` retry
            with PyAV when decord fails to decode). Defaults to ``'pyav'``.
        skip_nonref (bool): see :class:`PyAVSeekReader`. Defaults to True.
        backend_args (dict, optional): MMEngine file backend arguments, e.g.
            ``dict(backend='petrel')``; by default the backend is inferred
            from the path's prefix (``s3://``, ``http://``, ... ; a plain
            path is local). A remote file is read whole into memory.
        io_backend (str, optional): MMAction2's ``DecordInit`` spelling,
            accepted for drop-in use: ``'disk'`` or a backend name such as
            ``'petrel'`` (same as ``backend_args=dict(backend=...)``).
    """

    def __init__(self,
                 backend: str = 'decord',
                 num_threads: int = 1,
                 fallback: Optional[str] = 'pyav',
                 skip_nonref: bool = True,
                 backend_args: Optional[dict] = None,
                 io_backend: Optional[str] = None) -> None:
        if backend not in _BACKENDS:
            raise ValueError(f'backend must be one of {_BACKENDS}, got '
                             f'{backend!r}')
        if fallback not in (None, 'pyav'):
            raise ValueError(f"fallback must be None or 'pyav', got "
                             f'{fallback!r}')
        if io_backend is not None:
            if backend_args is not None:
                raise ValueError('give backend_args or io_backend, not both')
            if io_backend != 'disk':
                backend_args = dict(backend=io_backend)
        self.backend = backend
        self.num_threads = int(num_threads)
        self.fallback = fallback
        self.skip_nonref = skip_nonref
        self.backend_args = backend_args
        self._file_backends: Dict[str, object] = {}

    def open(self,
             path: str,
             backend: str,
             source: Union[str, BinaryIO, None] = None):
        """Open ``path`` with ``backend`` (no fallback).

        Args:
            path (str): the file's name (also what is read when ``source``
                is None).
            backend (str): ``'decord'``, ``'pyav'`` or ``'npy'``.
            source (str | BinaryIO, optional): what to read instead of
                ``path``, e.g. the in-memory bytes of a remote file.
        """
        source = path if source is None else _rewind(source)
        if backend == 'npy':
            return NpyFrameReader(source, name=path)
        if backend == 'pyav':
            return PyAVSeekReader(source, self.num_threads, self.skip_nonref,
                                  name=path)
        return _open_decord(source, self.num_threads)

    def read_source(self, path: str) -> Union[str, BinaryIO]:
        """``path`` itself for a local file, else its bytes in memory.

        Raises:
            FileNotFoundError: a local file does not exist.
        """
        from mmengine import fileio

        # one backend per URI scheme, kept by this transform (a petrel
        # client is costly to build per sample), as MMAction2's DecordInit
        scheme = path.split('://', 1)[0] if '://' in path else ''
        file_backend = self._file_backends.get(scheme)
        if file_backend is None:
            file_backend = fileio.get_file_backend(
                path, backend_args=self.backend_args)
            self._file_backends[scheme] = file_backend
        if isinstance(file_backend, fileio.LocalBackend):
            if not osp.isfile(path):
                raise FileNotFoundError(f'video file {path} does not exist')
            return path
        return io.BytesIO(file_backend.get(path))

    def transform(self, results: dict) -> dict:
        """Open ``results['filename']``.

        Raises:
            FileNotFoundError: the file does not exist.
            Exception: whatever the reader raises, when no fallback works.
        """
        path = results['filename']
        source = self.read_source(path)
        backend = self.backend
        if backend == 'auto':
            backend = 'npy' if path.endswith('.npy') else 'decord'
        try:
            reader = self.open(path, backend, source)
        except Exception as err:
            if backend != 'decord' or self.fallback is None:
                raise
            try:
                reader = self.open(path, self.fallback, source)
            except Exception as err2:
                raise RuntimeError(f'{path}: decord failed ({err}) and so did '
                                   f'{self.fallback} ({err2})') from err2
            backend = self.fallback
        results['video_reader'] = reader
        results['video_backend'] = backend
        results['video_source'] = source
        results['total_frames'] = len(reader)
        fps = getattr(reader, 'fps', None)
        results['avg_fps'] = (
            float(fps) if fps is not None else reader.get_avg_fps())
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(backend={self.backend!r}, '
                f'num_threads={self.num_threads}, '
                f'fallback={self.fallback!r}, '
                f'backend_args={self.backend_args!r})')


@TRANSFORMS.register_module()
class FrameCacheInit(VideoInit):
    """:class:`VideoInit` for ``.npy`` frame caches
    (``tools/dataset_converters/cache_frames.py``); use with
    ``SampleFrames`` and :class:`VideoDecode`."""

    def __init__(self, backend_args: Optional[dict] = None) -> None:
        super().__init__(
            backend='npy', fallback=None, backend_args=backend_args)


@TRANSFORMS.register_module()
class VideoDecode(BaseTransform):
    """Read the frames at ``frame_inds`` from the reader of
    :class:`VideoInit`.

    Repeated indices (a short video looped by ``SampleFrames``) are decoded
    once. The reader is released afterwards.

    **Required Keys:** video_reader, frame_inds, filename (for the fallback)

    **Added Keys:** imgs (``(T, H, W, 3)`` uint8 RGB array),
    original_shape (the source frame size), img_shape

    Args:
        fallback (str | None): ``'pyav'`` re-reads the frames with
            :class:`PyAVSeekReader` when decord raises while decoding.
            Defaults to ``'pyav'``.
        max_short_side (int, optional): area-downsample frames whose short
            side is longer, aspect kept (the size of MMAction2's
            ``Resize(scale=(-1, max_short_side))``). It bounds what the
            workers hand on when the augmentation runs on the device
            (:class:`~mmmae.datasets.transforms.PackLazyActionInputs`
            ships the crop at the decoded resolution). The PyAV reader
            fuses it with the RGB conversion (swscale scales the luma and
            the subsampled chroma planes, as FFmpeg's ``scale`` filter);
            other readers resize the RGB frames (cv2 ``INTER_AREA``). The
            two agree in luma; chroma edges differ by a few levels.
            Defaults to None: frames at their source size.
    """

    def __init__(self,
                 fallback: Optional[str] = 'pyav',
                 max_short_side: Optional[int] = None) -> None:
        if fallback not in (None, 'pyav'):
            raise ValueError(f"fallback must be None or 'pyav', got "
                             f'{fallback!r}')
        if max_short_side is not None and int(max_short_side) < 1:
            raise ValueError('max_short_side must be a positive int or None, '
                             f'got {max_short_side!r}')
        self.fallback = fallback
        self.max_short_side = (None if max_short_side is None else
                               int(max_short_side))

    def transform(self, results: dict) -> dict:
        reader = results['video_reader']
        inds = np.asarray(results['frame_inds']).reshape(-1)
        try:
            imgs, source_shape = read_frames(reader, inds,
                                             self.max_short_side)
        except Exception:
            if (self.fallback is None
                    or results.get('video_backend', 'decord') != 'decord'):
                raise
            source = results.get('video_source') or results['filename']
            reader = PyAVSeekReader(
                _rewind(source), name=results['filename'])
            imgs, source_shape = read_frames(reader, inds,
                                             self.max_short_side)
            results['video_backend'] = self.fallback
        results['frame_inds'] = inds
        results['video_reader'] = None
        results.pop('video_source', None)  # may hold a whole remote file
        results['imgs'] = imgs
        results['original_shape'] = tuple(source_shape)
        results['img_shape'] = imgs.shape[1:3]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(fallback={self.fallback!r}, '
                f'max_short_side={self.max_short_side!r})')
