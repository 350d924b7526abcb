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
             fps: int = 10) -> str:
    """Encode ``frames`` ``(T, H, W, 3)`` uint8 RGB with PyAV (mpeg4).

    Args:
        fmt (str): container (``'mp4'``, ``'avi'``); from the name if None.
        b_frames (int): max consecutive B-frames (frames stored out of
            display order).
        faststart (bool): MP4 index (``moov``) before the data.
    """
    import av
    opts = {'movflags': 'faststart'} if faststart else {}
    with av.open(path, 'w', format=fmt, options=opts) as out:
        stream = out.add_stream('mpeg4', rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = 'yuv420p'
        if b_frames:
            stream.codec_context.max_b_frames = b_frames
            stream.codec_context.gop_size = 12
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
