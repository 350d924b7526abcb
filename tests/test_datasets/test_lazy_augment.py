# Copyright (c) mmmae contributors. All rights reserved.
"""Augmentation on the device: MMAction2's transforms with ``lazy=True``
only draw the crop / resize / flip (and ``LazyRandomErasing`` the erasing
box), ``PackLazyActionInputs`` packs the decoded frames as they are, and the
data preprocessors apply the geometry to the batch. Compared with the eager
MMAction2 transforms on real decoded mp4 frames: the same draws, the same
pixels within cv2's uint8 rounding."""
import copy
import random

import numpy as np
import pytest
import torch
from mmaction.datasets.transforms import (Flip, MultiScaleCrop,
                                          RandomResizedCrop, Resize)
from mmaction.datasets.transforms.processing import RandomErasing
from mmaction.structures import ActionDataSample

from mmmae.datasets.transforms import LazyRandomErasing, PackLazyActionInputs
from mmmae.models import (LazyAugActionDataPreprocessor,
                          VideoMAEDataPreprocessor)
from mmmae.models.data_preprocessors import (apply_lazy_erasing,
                                             apply_lazy_geometry)

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]
CPU = torch.device('cpu')


@pytest.fixture(scope='module')
def clips(video_dir):
    """Frames of two real mp4 files, decoded by decord."""
    import decord
    out = []
    for i in range(2):
        vr = decord.VideoReader(str(video_dir / f'clip_{i}.mp4'))
        out.append(vr.get_batch(list(range(8))).asnumpy())
    return out  # (8, 48, 64, 3) uint8 each


def _geometry(kind, lazy, out=(40, 40)):
    crop = (RandomResizedCrop(area_range=(0.3, 1.0), lazy=lazy)
            if kind == 'rrc' else MultiScaleCrop(
                32, (1, .875, .75), max_wh_scale_gap=1, lazy=lazy))
    return [crop, Resize(out, keep_ratio=False, lazy=lazy),
            Flip(0.5, lazy=lazy)]


def _run(frames, transforms, seed):
    random.seed(seed)
    np.random.seed(seed)
    results = dict(imgs=frames.copy(), img_shape=frames.shape[1:3],
                   modality='RGB', filename='clip.mp4')
    for t in transforms:
        results = t(results)
    return results


@pytest.mark.parametrize('kind', ['rrc', 'multiscale'])
def test_same_draws_and_pixels_as_the_eager_transforms(clips, kind):
    worst = 0.
    flips = set()
    for seed in range(12):
        frames = clips[seed % 2]
        eager = _run(frames, _geometry(kind, False), seed)
        lazy = _run(frames, _geometry(kind, True), seed)
        # the same random draws: one box and flip per clip
        assert eager['img_shape'] == lazy['img_shape'] == (40, 40)
        assert lazy['lazy']['flip'] == eager['flip']
        flips.add(eager['flip'])
        whole = PackLazyActionInputs(crop=False)(copy.deepcopy(lazy))
        packed = PackLazyActionInputs()(lazy)
        assert packed['inputs'].dtype == torch.uint8
        assert tuple(whole['inputs'].shape) == frames.shape  # as decoded
        # the worker ships the rounded crop box only
        left, top, right, bottom = np.round(
            whole['data_samples'].lazy_aug['crop_bbox']).astype(int)
        assert tuple(packed['inputs'].shape) == (8, bottom - top,
                                                 right - left, 3)
        params = packed['data_samples'].lazy_aug
        ours = apply_lazy_geometry([packed['inputs']], [params], CPU)
        assert ours.shape == (1, 3, 8, 40, 40)
        # cutting in the worker changes only the float32 rounding of the grid
        torch.testing.assert_close(
            ours,
            apply_lazy_geometry([whole['inputs']],
                                [whole['data_samples'].lazy_aug], CPU),
            rtol=0,
            atol=1e-3)
        ref = np.stack(eager['imgs']).astype(np.float32)
        diff = np.abs(ours[0].permute(1, 2, 3, 0).numpy() - ref)
        worst = max(worst, float(diff.max()))
    assert flips == {True, False}
    # cv2 rounds its fixed-point bilinear weights; we do not
    assert worst <= 1.0


def test_mixed_sizes_batch_as_clip_by_clip(clips):
    """Clips of different decoded sizes share one padded batch."""
    small = clips[1][:, 4:40, 8:60].copy()  # (8, 36, 52, 3)
    packs = []
    for seed, frames in enumerate((clips[0], small, clips[1])):
        lazy = _run(frames, _geometry('rrc', True), seed)
        packs.append(PackLazyActionInputs()(lazy))
    params = [p['data_samples'].lazy_aug for p in packs]
    batch = apply_lazy_geometry([p['inputs'] for p in packs], params, CPU)
    for i, p in enumerate(packs):
        single = apply_lazy_geometry([p['inputs']], [params[i]], CPU)
        # padding changes only the float32 rounding of the grid
        torch.testing.assert_close(batch[i], single[0], rtol=0, atol=1e-3)


def test_erasing_same_boxes_and_fill_distribution(clips):
    erase = dict(erase_prob=0.5, mode='rand', fill_color=MEAN,
                 fill_std=STD)
    const = 7
    frames = np.full((4, 40, 40, 3), const, np.uint8)
    eager_fill, lazy_fill, erased = [], [], 0
    for seed in range(30):
        eager = _run(frames, [RandomErasing(**erase)], seed)
        e_mask = (np.stack(eager['imgs']) != const).any(-1)
        lazy = _run(frames, [*_geometry('rrc', True), LazyRandomErasing(
            **erase)], seed)
        # the geometry draws come first in the lazy pipeline: redraw the
        # erasing alone on the same RNG state for the box comparison
        alone = copy.deepcopy(lazy)
        alone['lazy'].pop('erase', None)
        np.random.seed(seed)
        alone = LazyRandomErasing(**erase)(alone)
        packed = PackLazyActionInputs()(alone)
        params = packed['data_samples'].lazy_aug
        out = apply_lazy_geometry([packed['inputs']], [params], CPU)
        apply_lazy_erasing(out, [params])
        # bilinear weights leave 7 +- 1e-6 outside the box
        l_mask = ((out[0] - const).abs() > 0.5).any(0).numpy()
        # same box (a noise value may equal the constant by chance)
        assert (e_mask == l_mask).mean() > 0.99
        if params['erase'] is not None:
            erased += 1
            eager_fill.append(np.stack(eager['imgs'])[e_mask])
            lazy_fill.append(out[0].permute(1, 2, 3, 0).numpy()[l_mask])
    assert 5 <= erased <= 25
    e, l_ = np.concatenate(eager_fill), np.concatenate(lazy_fill)
    np.testing.assert_allclose(e.mean(0), l_.mean(0), atol=2.)
    np.testing.assert_allclose(e.std(0), l_.std(0), atol=2.)
    assert l_.min() >= 0 and l_.max() <= 255
    assert np.array_equal(l_, np.trunc(l_))


def test_videomae_preprocessor_applies_the_geometry(clips):
    packs = [
        PackLazyActionInputs(algorithm_keys=('mask', ))(dict(
            _run(clips[i], _geometry('multiscale', True), i),
            mask=np.arange(50) % 2 == 0)) for i in range(2)
    ]
    pre = VideoMAEDataPreprocessor()
    out = pre(dict(inputs=[p['inputs'] for p in packs],
                   data_samples=[p['data_samples'] for p in packs]))
    eager = [
        torch.from_numpy(np.stack(_run(clips[i], _geometry(
            'multiscale', False), i)['imgs'])).permute(3, 0, 1, 2)
        for i in range(2)
    ]
    ref = pre.normalize(torch.stack(eager))
    assert out['inputs'].shape == ref.shape == (2, 3, 8, 40, 40)
    assert (out['inputs'] - ref).abs().max() <= 1.0 / min(STD) + 1e-4
    assert out['data_samples'][0].metainfo['num_visible'] == 25


def test_action_preprocessor_then_mmaction_recognizer(clips):
    """The fine-tuning path: lazy crop / flip / erasing, normalisation and
    MixUp blending, then MMAction2's Recognizer3D trains on the batch."""
    from mmaction.registry import MODELS as MMA_MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    packs = []
    for i in range(2):
        lazy = _run(clips[i], [
            *_geometry('rrc', True, out=(32, 32)),
            LazyRandomErasing(erase_prob=1.0, mode='rand', fill_color=MEAN,
                              fill_std=STD)
        ], i)
        lazy['label'] = i
        packs.append(PackLazyActionInputs()(lazy))
    model = MMA_MODELS.build(
        dict(
            type='Recognizer3D',
            backbone=dict(
                type='mmmae.VideoMAEViT',
                arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                          feedforward_channels=64),
                img_size=32, patch_size=8, num_frames=8,
                use_mean_pooling=True),
            cls_head=dict(type='TimeSformerHead', num_classes=2,
                          in_channels=32),
            data_preprocessor=dict(
                type='mmmae.LazyAugActionDataPreprocessor', mean=MEAN,
                std=STD, format_shape='NCTHW',
                blending=dict(type='MixupBlending', alpha=0.8,
                              num_classes=2))))
    assert isinstance(model.data_preprocessor,
                      LazyAugActionDataPreprocessor)
    data = dict(inputs=[p['inputs'] for p in packs],
                data_samples=[p['data_samples'] for p in packs])
    out = model.data_preprocessor(data, training=True)
    assert out['inputs'].shape == (2, 1, 3, 8, 32, 32)
    # blended (soft) labels: MixUp ran after the device geometry
    assert out['data_samples'][0].gt_label.shape == (2, )
    losses = model(**out, mode='loss')
    assert torch.isfinite(losses['loss_cls'])
    # eager batches pass through unchanged (val / test pipelines)
    eager = torch.zeros(1, 3, 8, 32, 32, dtype=torch.uint8)
    sample = ActionDataSample().set_gt_label(0)
    out = model.data_preprocessor(dict(inputs=[eager],
                                       data_samples=[sample]))
    assert out['inputs'].shape == (1, 1, 3, 8, 32, 32)


def test_clear_errors(clips):
    frames = clips[0]
    with pytest.raises(KeyError, match='clip.mp4 has no lazy geometry'):
        PackLazyActionInputs()(dict(imgs=frames, img_shape=(48, 64),
                                    filename='clip.mp4'))
    with pytest.raises(KeyError, match='LazyRandomErasing: no lazy'):
        LazyRandomErasing()(dict(imgs=frames, img_shape=(48, 64)))
    with pytest.raises(ValueError, match='num_clips=2; lazy augmentation'):
        PackLazyActionInputs()(dict(_run(frames, _geometry('rrc', True), 0),
                                    num_clips=2))
    a = PackLazyActionInputs()(_run(frames, _geometry('rrc', True), 0))
    b = PackLazyActionInputs()(_run(frames, _geometry('rrc', True,
                                                      out=(32, 32)), 1))
    with pytest.raises(ValueError, match='differ in out_shape'):
        apply_lazy_geometry([a['inputs'], b['inputs']],
                            [a['data_samples'].lazy_aug,
                             b['data_samples'].lazy_aug], CPU)
    whole = PackLazyActionInputs(crop=False)(
        _run(frames, _geometry('rrc', True), 0))
    bad = dict(whole['data_samples'].lazy_aug,
               crop_bbox=np.array([0, 0, 99, 40.]))
    with pytest.raises(ValueError, match='not inside its 64x48 frames'):
        apply_lazy_geometry([whole['inputs']], [bad], CPU)
    pre = VideoMAEDataPreprocessor()
    with pytest.raises(ValueError, match=r'data samples \[1\] have no'):
        pre(dict(inputs=[a['inputs'], a['inputs']],
                 data_samples=[a['data_samples'], ActionDataSample()]))
