# Copyright (c) mmmae contributors. All rights reserved.
"""Writers for real good and broken video files, one of each bad kind.

Used by ``tests/test_datasets/test_bad_videos.py`` and
``tests/test_tools/test_check_dataset.py``. Every file is real: encoded by
OpenCV (mp4v) or PyAV (mpeg4), then broken the way files break in crawled
data sets.
"""
import os
import os.path as osp
import re
from typing import Dict

import numpy as np

from conftest import random_video, write_mp4

# bad kind -> file name in the annotation list
BAD_FILES = {
    'missing': 'bad_missing.mp4',
    'empty': 'bad_empty.mp4',
    'truncated': 'bad_truncated.mp4',
    'not a video': 'bad_not_video.mp4',
    'too short': 'bad_short.mp4',
    'frame count mismatch': 'bad_lying.mp4',
    'timeout': 'bad_hang.mp4',
}


def write_av(path: str,
             frames: np.ndarray,
             fmt: str = None,
             b_frames: int = 0,
             faststart: bool = False,
             fps: int = 10,
             codec: str = 'mpeg4',
             gop: int = None,
             options: dict = None) -> str:
    """Encode ``frames`` ``(T, H, W, 3)`` uint8 RGB with PyAV.

    Args:
        fmt (str): container (``'mp4'``, ``'avi'``, ``'matroska'``,
            ``'webm'``); from the name if None.
        b_frames (int): max consecutive B-frames (frames stored out of
            display order).
        faststart (bool): MP4 index (``moov``) before the data.
        codec (str): encoder (``'mpeg4'``, ``'libvpx'`` (VP8),
            ``'libvpx-vp9'``, ``'libx264'``).
        gop (int): keyframe interval (12 with B-frames when None).
        options (dict): more muxer options (``{'live': '1'}``).
    """
    import av
    opts = {'movflags': 'faststart'} if faststart else {}
    opts.update(options or {})
    with av.open(path, 'w', format=fmt, options=opts) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = 'yuv420p'
        if b_frames:
            stream.codec_context.max_b_frames = b_frames
        if b_frames or gop:
            stream.codec_context.gop_size = gop or 12
        for frame in frames:
            out.mux(
                stream.encode(av.VideoFrame.from_ndarray(frame,
                                                         format='rgb24')))
        out.mux(stream.encode())
    return path


def scene_video(num_frames: int = 48, size=(48, 64), seed: int = 0):
    """``(T, H, W, 3)`` clip whose consecutive frames differ strongly (a
    wrong frame returned by a decoder is then obvious)."""
    chunks = [
        random_video(12, size, seed=seed * 97 + s)[:, :, ::1 if s % 2 else -1]
        for s in range((num_frames + 11) // 12)
    ]
    return np.concatenate(chunks)[:num_frames]


def write_lying_mp4(path: str, num_frames: int = 40, keep: int = 2) -> str:
    """A faststart MP4 whose header claims ``num_frames`` frames but whose
    media data after the first ``keep`` frames is zeroed: it opens, reports
    ``num_frames``, and decoding any later frame fails."""
    import av
    write_av(path, scene_video(num_frames, seed=5), faststart=True)
    with av.open(path) as c:
        packets = [(p.pos, p.size) for p in c.demux(video=0) if p.size]
    data = bytearray(open(path, 'rb').read())
    start = packets[keep][0]
    data[start:] = bytes(len(data) - start)
    open(path, 'wb').write(bytes(data))
    return path


def write_bframe_avi(path: str, num_frames: int = 48) -> str:
    """An AVI with B-frames: decord's random access returns wrong frames for
    it (a known decord failure), PyAV's sequential decode is right."""
    return write_av(path, scene_video(num_frames, seed=7), fmt='avi',
                    b_frames=2)


def cut_file(src: str, dst: str, fraction: float) -> str:
    """Copy the first ``fraction`` of the bytes of ``src`` to ``dst``, as
    an interrupted download or copy leaves a file."""
    data = open(src, 'rb').read()
    with open(dst, 'wb') as f:
        f.write(data[:int(len(data) * fraction)])
    return dst


def noise_video(num_frames: int = 40, size=(48, 64), seed: int = 0):
    """``(T, H, W, 3)`` uint8 noise drifting sideways: hard to compress,
    so the coded frames, not the headers, make up most of a file and a cut
    at a fraction of its bytes keeps about that fraction of the frames."""
    base = np.random.default_rng(seed).integers(0, 255, (*size, 3),
                                                dtype=np.uint8)
    return np.stack([np.roll(base, 3 * t, axis=1) for t in range(num_frames)])


def write_truncated_avi_segv(path: str,
                             num_frames: int = 40,
                             size=(48, 64),
                             keep: float = 0.5) -> str:
    """The first half of an MPEG-4 Part 2 AVI: decord 0.6.0 decodes it by
    path (the frames before the cut) but segfaults opening it from memory
    (``decord.VideoReader(io.BytesIO(data))``, what ``mmaction.DecordInit``
    does), while the ``RIFF`` chunk size shows the cut.

    Measured with this writer (decord 0.6.0, PyAV 18.1): 48x64, 120x160
    and 240x320, 20 to 795 frames, cut at 50% or 60%: all crash; a 90% cut
    crashes too except at 48x64. Smooth content that compresses to a few
    KB does not crash at every cut, hence the noise.
    """
    full = path + '.full.avi'
    write_av(full, noise_video(num_frames, size, seed=13), fmt='avi',
             gop=12, fps=25)
    cut_file(full, path, keep)
    os.remove(full)
    return path


def _ebml_head(data: bytes, pos: int) -> tuple:
    """``(id, data_start, size)`` of the element at ``pos`` (a 1 bit ends
    the length marker of an EBML ID and of a size)."""
    id_len = 9 - data[pos].bit_length()
    size_at = pos + id_len
    size_len = 9 - data[size_at].bit_length()
    size = int.from_bytes(data[size_at:size_at + size_len], 'big')
    size &= (1 << (7 * size_len)) - 1
    return data[pos:size_at], size_at + size_len, size


def write_mkv(path: str,
              num_frames: int = 40,
              codec: str = 'libvpx',
              live: bool = False,
              unknown_clusters: bool = False,
              seed: int = 3) -> str:
    """A Matroska / WebM file (format from the name) encoded by PyAV.

    Args:
        codec (str): ``'libvpx'`` (VP8), ``'libvpx-vp9'``, ``'mpeg4'``,
            ``'libx264'``.
        live (bool): FFmpeg's ``live=1``: a Segment of unknown size
            (what a writer to a pipe leaves).
        unknown_clusters (bool): with ``live``, rewrite every Cluster to
            unknown size as browsers' MediaRecorder writes them.
    """
    write_av(path, noise_video(num_frames, (48, 64), seed=seed),
             codec=codec, gop=10, options={'live': '1'} if live else None)
    if unknown_clusters:
        data = open(path, 'rb').read()
        seg = data.index(b'\x18\x53\x80\x67')
        _, pos, _ = _ebml_head(data, seg)
        out = bytearray(data[:pos])
        while pos < len(data):
            eid, start, size = _ebml_head(data, pos)
            if eid == b'\x1f\x43\xb6\x75':  # Cluster
                out += eid + b'\x01' + b'\xff' * 7  # 8-byte unknown size
            else:
                out += data[pos:start]
            out += data[start:start + size]
            pos = start + size
        open(path, 'wb').write(bytes(out))
    return path


def make_dirty_dataset(root, num_good: int = 13) -> Dict[str, str]:
    """``num_good`` good mp4 files plus one file of each bad kind, and
    ``ann.txt`` listing all of them (bad ones spread between good ones).

    The ``'timeout'`` file is a good video; a test transform hangs on it.

    Returns:
        dict: bad kind -> file name (see :data:`BAD_FILES`).
    """
    root = str(root)
    os.makedirs(root, exist_ok=True)
    good = []
    for i in range(num_good):
        name = f'good_{i:02d}.mp4'
        write_mp4(osp.join(root, name), random_video(20, (48, 64), seed=i))
        good.append(name)
    rng = np.random.default_rng(0)
    b = BAD_FILES
    open(osp.join(root, b['empty']), 'wb').close()
    whole = open(osp.join(root, good[0]), 'rb').read()
    # mp4v from OpenCV puts the index (moov) last: cut, the index is gone.
    with open(osp.join(root, b['truncated']), 'wb') as f:
        f.write(whole[:len(whole) // 2])
    with open(osp.join(root, b['not a video']), 'wb') as f:
        f.write(rng.bytes(3000))
    write_mp4(osp.join(root, b['too short']), random_video(3, (48, 64)))
    write_lying_mp4(osp.join(root, b['frame count mismatch']))
    write_mp4(osp.join(root, b['timeout']), random_video(20, (48, 64), 99))
    names = list(good)
    for k, bad in enumerate(BAD_FILES.values()):
        names.insert(1 + 2 * k, bad)
    with open(osp.join(root, 'ann.txt'), 'w') as f:
        f.write(''.join(f'{n} {i % 3}\n' for i, n in enumerate(names)))
    return dict(BAD_FILES)


def hang_forever_in_c() -> None:
    """Block inside C code holding the GIL (catastrophic regex
    backtracking): a Python signal handler (``SIGALRM``) cannot run until it
    returns, only killing the process stops it."""
    re.match(r'(a+)+$', 'a' * 64 + 'b')
