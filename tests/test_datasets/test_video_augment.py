# Copyright (c) mmmae contributors. All rights reserved.
import random

import numpy as np
import pytest
from PIL import Image
from timm.data import auto_augment as timm_aa

from mmmae.datasets.transforms import VideoRandAugment

# The official recipe string and the hparams VideoRandAugment() defaults to.
OFFICIAL = 'rand-m7-n4-mstd0.5-inc1'
HPARAMS = dict(
    translate_const=100,
    img_mean=(128, 128, 128),
    interpolation=Image.BICUBIC)
INCREASING = set(timm_aa._RAND_INCREASING_TRANSFORMS)


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)


@pytest.fixture(scope='module')
def clip():
    """8 distinct frames ``(8, 48, 64, 3)`` uint8."""
    from conftest import random_video
    frames = random_video(8, (48, 64), seed=3)
    assert len({f.tobytes() for f in frames}) == 8
    return frames


def test_each_frame_matches_timm_image_randaugment_under_same_seed(clip):
    """Frame ``t`` of the output is what timm's image RandAugment gives for
    frame ``t`` alone when every frame starts from the same seed: the draws
    are timm's, made once per clip."""
    aug = VideoRandAugment()
    ref_aug = timm_aa.rand_augment_transform(OFFICIAL, dict(HPARAMS))
    for seed in range(40):
        seed_all(seed)
        out = aug(dict(imgs=list(clip)))['imgs']
        assert isinstance(out, list) and len(out) == 8
        for t in range(8):
            assert out[t].shape == (48, 64, 3) and out[t].dtype == np.uint8
            seed_all(seed)
            ref = np.asarray(ref_aug(Image.fromarray(clip[t])))
            np.testing.assert_array_equal(out[t], ref, err_msg=f'seed {seed}')


def test_recorded_ops_reproduce_every_frame(clip):
    aug = VideoRandAugment(prob=1.0)  # every clip gets 4 ops
    kwargs = dict(fillcolor=(128, 128, 128), resample=Image.BICUBIC)
    changed = 0
    for seed in range(20):
        seed_all(seed)
        results = aug(dict(imgs=list(clip)))
        ops = results['rand_augment']
        assert len(ops) == 4
        for t in range(8):
            img = Image.fromarray(clip[t])
            for name, magnitude, level_args in ops:
                assert 0 <= magnitude <= 10
                img = timm_aa.NAME_TO_OP[name](img, *level_args, **kwargs)
            np.testing.assert_array_equal(results['imgs'][t], np.asarray(img))
        changed += not np.array_equal(np.stack(results['imgs']), clip)
    assert changed >= 18  # the ops really do something
    # Output frames are writable (later transforms erase in place).
    assert results['imgs'][0].flags.writeable


def test_identical_frames_stay_identical():
    """8 copies of one frame stay 8 copies; timm's image RandAugment run
    frame by frame (per-frame draws) would break that."""
    from conftest import random_video
    frame = random_video(1, (48, 64), seed=5)[0]
    aug = VideoRandAugment()
    ref_aug = timm_aa.rand_augment_transform(OFFICIAL, dict(HPARAMS))
    per_frame_differs = 0
    for seed in range(20):
        seed_all(seed)
        out = aug(dict(imgs=[frame.copy() for _ in range(8)]))['imgs']
        for t in range(1, 8):
            np.testing.assert_array_equal(out[t], out[0])
        seed_all(seed)
        naive = [np.asarray(ref_aug(Image.fromarray(frame))) for _ in range(8)]
        per_frame_differs += any(
            not np.array_equal(naive[t], naive[0]) for t in range(1, 8))
    assert per_frame_differs >= 1


def test_array_input_keeps_type(clip):
    aug = VideoRandAugment(prob=1.0)
    seed_all(7)
    out_list = aug(dict(imgs=list(clip)))['imgs']
    seed_all(7)
    out_arr = aug(dict(imgs=clip.copy()))['imgs']
    assert isinstance(out_arr, np.ndarray)
    assert out_arr.shape == clip.shape and out_arr.dtype == np.uint8
    np.testing.assert_array_equal(out_arr, np.stack(out_list))


def test_no_op_when_nothing_applied(clip):
    aug = VideoRandAugment(prob=0.0)
    frames = list(clip)
    results = aug(dict(imgs=frames))
    assert results['rand_augment'] == []
    assert all(a is b for a, b in zip(results['imgs'], frames))


def test_sampling_statistics():
    aug = VideoRandAugment(prob=1.0)
    seed_all(0)
    names, mags, repeats = [], [], 0
    for _ in range(1000):
        assert len(aug._choose_ops()) == 4
        ops = aug._sample_ops()
        assert len(ops) == 4  # prob=1: every drawn op is applied
        names += [op.name for op in ops]
        mags += [op.magnitude for op in ops]
        repeats += len({op.name for op in ops}) < 4
    assert set(names) == INCREASING  # only, and all of, the 'inc1' set
    mags = np.array(mags)
    assert abs(mags.mean() - 7) < 0.05 and abs(mags.std() - 0.5) < 0.03
    # Drawn with replacement like timm: P(repeat among 4 of 15) = 0.353.
    assert 0.3 < repeats / 1000 < 0.41

    # prob=0.5: about half of the drawn ops survive the apply/skip draw.
    aug = VideoRandAugment()
    seed_all(1)
    kept = [len(aug._sample_ops()) for _ in range(1000)]
    assert max(kept) == 4 and min(kept) == 0
    assert abs(np.mean(kept) / 4 - 0.5) < 0.04

    # No jitter: the magnitude is exact and maps to timm's level args.
    aug = VideoRandAugment(magnitude_std=0, prob=1.0)
    seed_all(2)
    ops = [op for _ in range(300) for op in aug._sample_ops()]
    assert all(op.magnitude == 7 for op in ops)
    rot = {op.level_args for op in ops if op.name == 'Rotate'}
    assert rot == {(21.0, ), (-21.0, )}  # 7/10 * 30 deg, random sign
    post = {op.level_args for op in ops if op.name == 'PosterizeIncreasing'}
    assert post == {(2, )}  # 4 - int(0.7 * 4) bits kept

    # The non-increasing set.
    aug = VideoRandAugment(increasing=False, prob=1.0)
    names = {op.name for _ in range(300) for op in aug._sample_ops()}
    assert names == set(timm_aa._RAND_TRANSFORMS)


def test_build_from_mmaction_scope_and_repr():
    from mmengine.registry import TRANSFORMS, DefaultScope
    with DefaultScope.overwrite_default_scope('mmaction'):
        aug = TRANSFORMS.build(dict(type='mmmae.VideoRandAugment'))
        aug2 = TRANSFORMS.build(
            dict(type='mmmae.VideoRandAugment', magnitude=9, num_layers=2))
    assert isinstance(aug, VideoRandAugment)
    assert (aug.magnitude, aug.num_layers, aug.magnitude_std, aug.prob) == (
        7, 4, 0.5, 0.5)
    assert aug.hparams['translate_const'] == 100
    assert aug.hparams['interpolation'] == Image.BICUBIC
    assert (aug2.magnitude, aug2.num_layers) == (9, 2)
    assert all(op.magnitude == 9 for op in aug2.ops)
    # The fill / resample kwargs are the ones timm's ops carry.
    assert all(op.kwargs == aug._op_kwargs for op in aug.ops)
    assert aug._op_kwargs == dict(
        fillcolor=(128, 128, 128), resample=Image.BICUBIC)
    assert repr(aug) == (
        "VideoRandAugment(magnitude=7, num_layers=4, magnitude_std=0.5, "
        "increasing=True, prob=0.5, translate_const=100, "
        "img_mean=(128, 128, 128), interpolation='bicubic')")


def test_in_mmaction_video_pipeline(video_dir):
    from mmaction.datasets import VideoDataset
    from mmengine.registry import DefaultScope
    pipeline = [
        dict(type='DecordInit'),
        dict(type='SampleFrames', clip_len=8, frame_interval=1, num_clips=1),
        dict(type='DecordDecode'),
        dict(type='mmmae.VideoRandAugment'),
        dict(type='RandomResizedCrop'),
        dict(type='Resize', scale=(32, 32), keep_ratio=False),
        dict(type='Flip', flip_ratio=0.5),
        dict(type='FormatShape', input_format='NCTHW'),
        dict(type='PackActionInputs'),
    ]
    with DefaultScope.overwrite_default_scope('mmaction'):
        ds = VideoDataset(
            ann_file=str(video_dir / 'ann.txt'),
            data_prefix=dict(video=str(video_dir)),
            pipeline=pipeline)
    assert isinstance(ds.pipeline.transforms[3], VideoRandAugment)
    assert len(ds) == 4
    seed_all(0)
    for i in range(4):
        out = ds[i]
        assert tuple(out['inputs'].shape) == (1, 3, 8, 32, 32)
        assert str(out['inputs'].dtype) == 'torch.uint8'
        assert out['data_samples'].gt_label.item() == i % 2


@pytest.mark.parametrize('kwargs', [
    dict(magnitude=-1),
    dict(magnitude=11),
    dict(magnitude='7'),
    dict(num_layers=0),
    dict(num_layers=2.0),
    dict(magnitude_std=-0.5),
    dict(magnitude_std=float('nan')),
    dict(increasing=1),
    dict(prob=1.5),
    dict(prob=-0.1),
    dict(translate_const=0),
    dict(img_mean=(124, 116)),
    dict(img_mean=(124, 116, 300)),
    dict(img_mean=(0.5, 0.5, 0.5)),
    dict(interpolation='random'),
    dict(interpolation='lanczos'),
])
def test_bad_args(kwargs):
    with pytest.raises(ValueError):
        VideoRandAugment(**kwargs)


def test_bad_frames():
    aug = VideoRandAugment(prob=1.0)
    with pytest.raises(ValueError, match='uint8'):
        aug(dict(imgs=[np.zeros((8, 8, 3), np.float32)]))
    with pytest.raises(ValueError, match='uint8'):
        aug(dict(imgs=[np.zeros((8, 8), np.uint8)]))
