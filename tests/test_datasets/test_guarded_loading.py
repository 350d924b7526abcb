# Copyright (c) mmmae contributors. All rights reserved.
"""Guarded loading, the default: a decoder crash cannot take the worker
down, the samples equal in-process loading bit for bit, and a sample's
outcome does not depend on which samples were loaded before."""
import copy
import os.path as osp
import random

import numpy as np
import pytest
from bad_video_files import write_lying_mp4, write_truncated_avi_segv
from conftest import random_video, write_mp4
from mmengine.registry import DATASETS, init_default_scope

import mmmae  # noqa: F401
from mmmae.datasets import video_dataset
from mmmae.datasets.video_guard import GuardedCaller

CLIP = [
    dict(type='mmaction.SampleFrames', clip_len=8, frame_interval=4,
         num_clips=1),
]
AUGMENT = [
    dict(type='mmaction.MultiScaleCrop', input_size=32,
         scales=(1, .875, .75), random_crop=False, max_wh_scale_gap=1),
    dict(type='mmaction.Resize', scale=(32, 32), keep_ratio=False),
    dict(type='mmaction.Flip', flip_ratio=0.5),
    dict(type='mmaction.FormatShape', input_format='NCTHW'),
    dict(type='mmmae.TubeMaskGenerator', input_size=(4, 4, 4),
         mask_ratio=0.75),
    dict(type='mmaction.PackActionInputs', algorithm_keys=('mask', )),
]
DECORD = [dict(type='mmmae.VideoInit'), *CLIP, dict(type='mmmae.VideoDecode')]


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    """4 good clips and a file whose header claims 64 frames but holds 40:
    clips inside the first 40 decode, later ones do not."""
    root = tmp_path_factory.mktemp('guarded')
    names = []
    for i in range(4):
        write_mp4(str(root / f'clip_{i}.mp4'),
                  random_video(40, (48, 64), seed=i))
        names.append(f'clip_{i}.mp4')
    write_lying_mp4(str(root / 'lying.mp4'), num_frames=64, keep=40)
    names.insert(2, 'lying.mp4')
    (root / 'ann.txt').write_text(''.join(f'{n} {i % 2}\n'
                                          for i, n in enumerate(names)))
    return root


def _build(root, loading=DECORD, seed=True, **kw):
    init_default_scope('mmmae')
    pipe = ([dict(type='mmmae.PerSampleSeed', seed=0)] if seed else []) + \
        copy.deepcopy(loading) + copy.deepcopy(AUGMENT)
    return DATASETS.build(
        dict(type='mmmae.VideoMAEDataset', ann_file=str(root / 'ann.txt'),
             data_prefix=dict(video=str(root)), pipeline=pipe, **kw))


def _sample(ds, epoch, idx):
    if ds.pipeline.transforms[0].__class__.__name__ == 'PerSampleSeed':
        ds.pipeline.transforms[0].set_epoch(epoch)
    out = ds[idx]
    return (out['inputs'].numpy().copy(),
            np.asarray(out['data_samples'].mask).copy())


def test_guard_is_on_by_default(data_dir):
    ds = _build(data_dir)
    assert ds.load_timeout == video_dataset.AUTO_LOAD_TIMEOUT
    ds[0]
    assert ds._guard is not None and ds._guard.pid is not None
    assert ds._guard.cpu_time() > 0
    assert _build(data_dir, load_timeout=None).load_timeout is None


def test_guarded_samples_equal_in_process_ones(data_dir):
    """Without PerSampleSeed the clip offset, crop, flip and mask all come
    from the global RNGs, which travel to the helper and back."""
    guarded = _build(data_dir, seed=False)
    plain = _build(data_dir, seed=False, load_timeout=None)
    got = []
    for ds in (guarded, plain):
        np.random.seed(3)
        random.seed(3)  # MultiScaleCrop draws from Python's RNG
        got.append([ds[i] for i in (0, 1, 3, 0, 4)])
    for a, b in zip(*got):
        assert np.array_equal(a['inputs'].numpy(), b['inputs'].numpy())
        assert np.array_equal(a['data_samples'].mask,
                              b['data_samples'].mask)
    # and the stream after the calls is where in-process loading leaves it
    np.random.seed(3)
    [guarded[i] for i in (0, 1)]
    after_guarded = np.random.rand()
    np.random.seed(3)
    [plain[i] for i in (0, 1)]
    assert np.random.rand() == after_guarded


@pytest.mark.parametrize('load_timeout', ['auto', None])
def test_outcome_does_not_depend_on_history(data_dir, load_timeout):
    """A run resumed at epoch ``start`` starts with no failure flags; every
    sample must equal the one the uninterrupted run drew, although the
    lying file failed (and was flagged) in earlier epochs there."""
    full = _build(data_dir, load_timeout=load_timeout)
    ref = {(e, i): _sample(full, e, i) for e in range(4)
           for i in range(len(full))}
    lying = 2
    assert int(full._failures[lying]) != 0  # it failed in some epoch
    for start in (1, 2, 3):
        resumed = _build(data_dir, load_timeout=load_timeout)
        for e in range(start, 4):
            for i in range(len(resumed)):
                x, m = _sample(resumed, e, i)
                assert np.array_equal(x, ref[(e, i)][0]), (start, e, i)
                assert np.array_equal(m, ref[(e, i)][1]), (start, e, i)


def test_decoder_segfault_is_a_crashed_entry(tmp_path, monkeypatch,
                                             no_crash_dump):
    """The real decord segfault (a cut AVI opened from memory, as
    ``mmaction.DecordInit`` does) with the structural check bypassed:
    the default guard turns it into a ``crashed`` entry."""
    root = tmp_path
    write_mp4(str(root / 'good.mp4'), random_video(40, (48, 64), seed=1))
    write_truncated_avi_segv(str(root / 'cut.avi'))
    (root / 'ann.txt').write_text('good.mp4 0\ncut.avi 1\n')
    # what a decoder crash on a file the structure check passes looks like
    monkeypatch.setattr(video_dataset, 'file_diagnosis',
                        lambda path: (None, None))
    loading = [dict(type='mmaction.DecordInit'), *CLIP,
               dict(type='mmaction.DecordDecode')]
    ds = _build(root, loading)
    out = ds[1]  # replaced by the good clip, not a dead process
    assert ds.load_failures == [(osp.join(str(root), 'cut.avi'), 'crashed')]
    assert 'SIGSEGV' in ds._last_error[1]
    # a fresh helper serves the next sample; the substitute is entry 0
    assert np.array_equal(out['inputs'].numpy(), ds[0]['inputs'].numpy())


def test_large_results_fall_back_to_the_pipe():
    guard = GuardedCaller(lambda n: np.full(n, 7, np.uint8), shared_bytes=64)
    try:
        assert guard(32, timeout=10).sum() == 32 * 7  # shared memory
        big = guard(1000, timeout=10)  # larger than the area: pipe
        assert big.shape == (1000, ) and big.flags.writeable
        assert int(big.sum()) == 7000
    finally:
        guard.close()
