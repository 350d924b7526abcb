# Copyright (c) mmmae contributors. All rights reserved.
"""Pre-decoded, pre-resized frame caches for small video datasets.

Decoding dominates the cost of a VideoMAE training sample (about 0.1 s of
CPU for a 16x4 clip of a 320x240 H.264 video with a 250-frame GOP,
``tools/benchmark/data_pipeline.py``). For a dataset small enough to
store decoded, :func:`cache_video` writes every frame of a video, resized
to a short side, as one ``(T, H, W, 3)`` uint8 ``.npy`` file that
:class:`~mmmae.datasets.transforms.FrameCacheInit` memory-maps: a clip then
costs a gather of 16 frames.

Size: ``T * H * W * 3`` bytes, e.g. 69 MB for 10 s at 30 fps of 320x240
(about 150x the H.264 file), 2.4 GB per hour of video at short side 160
(4:3). Use it for UCF101/HMDB51-sized sets or subsets, not Kinetics.
"""
import os
import os.path as osp
from typing import Callable, List, Optional, Tuple

import numpy as np

__all__ = ['cache_video', 'cache_dataset']


def cache_video(src: str,
                dst: str,
                short_side: Optional[int] = None,
                backend: str = 'decord',
                chunk: int = 64) -> Tuple[int, int, int]:
    """Decode every frame of ``src`` into the ``.npy`` file ``dst``.

    Frames are written through a memory map chunk by chunk, so memory stays
    at ``chunk`` frames whatever the video length. The file is written to
    ``dst + '.tmp'`` and renamed at the end: an interrupted run leaves no
    truncated cache behind.

    Args:
        src (str): video file.
        dst (str): output ``.npy`` path (folders are created).
        short_side (int, optional): area-downsample so that the short side
            is this long, as ``VideoDecode(max_short_side=...)`` does; never
            upscales. Defaults to None.
        backend (str): ``'decord'`` (with the PyAV fallback) or ``'pyav'``.
        chunk (int): frames decoded per batch. Defaults to 64.

    Returns:
        tuple[int, int, int]: ``(T, H, W)`` of the cache.
    """
    from mmmae.datasets.transforms.video_decode import VideoInit, read_frames
    init = VideoInit(backend=backend, fallback='pyav')
    reader = init.transform(dict(filename=src))['video_reader']
    num = len(reader)
    if num == 0:
        raise ValueError(f'{src}: no frame')
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    tmp = dst + '.tmp'
    out = None
    for start in range(0, num, chunk):
        inds = np.arange(start, min(start + chunk, num))
        batch, _ = read_frames(reader, inds, short_side or None)
        if out is None:
            # open_memmap writes a standard .npy header: np.load(mmap_mode)
            # reads it back without this module
            out = np.lib.format.open_memmap(
                tmp, mode='w+', dtype=np.uint8,
                shape=(num, ) + batch.shape[1:3] + (3, ))
        out[inds] = batch
    shape = out.shape
    out.flush()
    del out
    os.replace(tmp, dst)
    return shape[0], shape[1], shape[2]


def cache_dataset(ann_file: str,
                  video_root: str,
                  out_dir: str,
                  out_ann: Optional[str] = None,
                  short_side: Optional[int] = None,
                  backend: str = 'decord',
                  overwrite: bool = False,
                  progress: Optional[Callable] = None
                  ) -> Tuple[str, List[Tuple[str, str]]]:
    """Cache every video of a ``path [label]`` annotation list.

    Args:
        ann_file (str): annotation list (paths relative to ``video_root``).
        video_root (str): folder of the videos.
        out_dir (str): folder of the caches; ``a/b.mp4`` becomes
            ``out_dir/a/b.npy``.
        out_ann (str, optional): annotation list to write (paths relative to
            ``out_dir``). Defaults to ``out_dir/<ann_file name>``.
        short_side (int, optional): see :func:`cache_video`.
        backend (str): see :func:`cache_video`.
        overwrite (bool): re-cache existing ``.npy`` files.
        progress (callable, optional): wraps the entry list (e.g.
            ``tqdm``).

    Returns:
        tuple[str, list]: the written annotation list and the
        ``(path, error)`` of the videos that could not be cached (left out
        of the list).
    """
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'annotation file {ann_file} does not exist')
    entries = []
    with open(ann_file) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith('#'):
                fields = line.split()
                entries.append((fields[0], fields[1:]))
    if out_ann is None:
        out_ann = osp.join(out_dir, osp.basename(ann_file))
    lines, failed = [], []
    for rel, rest in (progress(entries) if progress else entries):
        dst_rel = osp.splitext(rel)[0] + '.npy'
        dst = osp.join(out_dir, dst_rel)
        try:
            if overwrite or not osp.isfile(dst):
                cache_video(osp.join(video_root, rel), dst, short_side,
                            backend)
        except Exception as err:  # noqa: BLE001  (report, keep going)
            failed.append((rel, f'{type(err).__name__}: {err}'))
            continue
        lines.append(' '.join([dst_rel] + rest))
    os.makedirs(osp.dirname(osp.abspath(out_ann)), exist_ok=True)
    with open(out_ann, 'w') as f:
        f.write('\n'.join(lines) + ('\n' if lines else ''))
    return out_ann, failed
