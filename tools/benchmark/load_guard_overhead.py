# Copyright (c) mmmae contributors. All rights reserved.
"""CPU cost of ``VideoMAEDataset(load_timeout=...)`` per sample.

Compares the loading stage (DecordInit, SampleFrames 16x4, DecordDecode on
a 100-frame 320x240 mpeg4 clip) run in process with the same stage run in
the persistent killable helper (:class:`GuardedCaller`), alternating the
two in one process, and the one-off cost of forking this (torch-loaded)
process. CPU time = this process + the helper's own CPU per call, so the
numbers hold on a shared machine where wall time does not.

Usage::

    OMP_NUM_THREADS=1 python tools/benchmark/load_guard_overhead.py
"""
import os
import os.path as osp
import sys
import tempfile
import time

os.environ.setdefault('OMP_NUM_THREADS', '1')
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

import av  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from mmmae.datasets.video_guard import GuardedCaller  # noqa: E402
from mmmae.registry import DATASETS  # noqa: E402


def main(reps: int = 25) -> None:
    torch.set_num_threads(1)
    root = tempfile.mkdtemp()
    path = osp.join(root, 'v.mp4')
    base = np.random.default_rng(0).integers(0, 255, (31, 41, 3),
                                             dtype=np.uint8)
    with av.open(path, 'w') as out:
        s = out.add_stream('mpeg4', rate=25)
        s.width, s.height, s.pix_fmt = 320, 240, 'yuv420p'
        for t in range(100):
            f = cv2.resize(np.roll(base, t, 1), (320, 240))
            out.mux(s.encode(av.VideoFrame.from_ndarray(f, format='rgb24')))
        out.mux(s.encode())
    with open(osp.join(root, 'ann.txt'), 'w') as f:
        f.write('v.mp4\n')
    init_default_scope('mmmae')
    ds = DATASETS.build(
        dict(type='VideoMAEDataset',
             ann_file=osp.join(root, 'ann.txt'),
             data_prefix=dict(video=root),
             pipeline=[
                 dict(type='mmaction.DecordInit', num_threads=1),
                 dict(type='mmaction.SampleFrames',
                      clip_len=16,
                      frame_interval=4,
                      num_clips=1),
                 dict(type='mmaction.DecordDecode')
             ]))
    info = ds.get_data_info(0)

    def timed_load(d):
        c = time.process_time()
        r = ds._load(d)
        r['_cpu'] = time.process_time() - c
        return r

    guard = GuardedCaller(timed_load)
    res = {'in-process': [], 'guarded': []}
    for _ in range(reps):
        for guarded in (False, True):
            c0, w0 = time.process_time(), time.perf_counter()
            r = (guard(dict(info), timeout=30)
                 if guarded else timed_load(dict(info)))
            cpu = time.process_time() - c0 + (r['_cpu'] if guarded else 0)
            assert len(r['imgs']) == 16
            res['guarded' if guarded else 'in-process'].append(
                (cpu, time.perf_counter() - w0))
    guard.close()
    med = {k: np.median(np.array(v[3:]), 0) * 1e3 for k, v in res.items()}
    print(f"in-process: {med['in-process'][0]:.1f} ms CPU "
          f"({med['in-process'][1]:.1f} ms wall) per sample")
    print(f"guarded:    {med['guarded'][0]:.1f} ms CPU parent+helper "
          f"({med['guarded'][1]:.1f} ms wall) per sample")
    print(f"overhead:   {med['guarded'][0] - med['in-process'][0]:.1f} ms "
          'CPU per sample')
    t0 = time.process_time()
    one = GuardedCaller(lambda: 1)
    one(timeout=30)
    one.close()
    print(f'first call (fork of this torch-loaded process): '
          f'{1e3 * (time.process_time() - t0):.1f} ms CPU in the parent')


if __name__ == '__main__':
    main()
