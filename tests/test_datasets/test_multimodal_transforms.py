# Copyright (c) mmmae contributors. All rights reserved.
import numpy as np
import pytest
import torch
from mmengine.structures import BaseDataElement
from PIL import Image

from mmmae.datasets.transforms import (MultiModalCenterCrop, MultiModalFlip,
                                       MultiModalRandomResizedCrop,
                                       MultiModalResize, PackMultiModalInputs,
                                       SemSegDownsample)

H, W = 48, 64
NEAREST = dict(rgb='nearest', depth='nearest', semseg='nearest')


def coord_sample(h=H, w=W):
    """Every modality encodes the pixel coordinates (x, y)."""
    y, x = np.mgrid[:h, :w]
    rgb = np.stack([x * 3, y * 5, np.full_like(x, 7)], -1).astype(np.uint8)
    depth = ((y * w + x + 1) / 2.0**16).astype(np.float32)
    semseg = (y * w + x).astype(np.int64)
    return dict(images=dict(rgb=rgb, depth=depth, semseg=semseg),
                img_shape=(h, w),
                ori_shape=(h, w),
                img_path=dict(rgb='a.png', depth='a.png', semseg='a.png'))


def check_aligned(images, w=W):
    """Coordinates read from rgb agree with depth and semseg pixelwise."""
    x = images['rgb'][..., 0].astype(np.int64) // 3
    y = images['rgb'][..., 1].astype(np.int64) // 5
    np.testing.assert_array_equal(images['semseg'], y * w + x)
    np.testing.assert_array_equal(
        np.round(images['depth'] * 2**16).astype(np.int64), y * w + x + 1)
    return x, y


def test_random_resized_crop_shared_box_and_params():
    crop = MultiModalRandomResizedCrop(size=(20, 24), interpolation=NEAREST)
    np.random.seed(0)
    boxes = set()
    for _ in range(30):
        out = crop(coord_sample())
        assert out['img_shape'] == (20, 24)
        assert out['images']['rgb'].shape == (20, 24, 3)
        assert out['images']['depth'].shape == (20, 24)
        assert out['images']['semseg'].shape == (20, 24)
        assert out['images']['semseg'].dtype == np.int64
        assert out['images']['depth'].dtype == np.float32
        x, y = check_aligned(out['images'])
        x1, y1, x2, y2 = out['crop_bbox']
        boxes.add(out['crop_bbox'])
        # Nearest samples the box at pixel centres (Pillow convention).
        np.testing.assert_array_equal(
            x[0], x1 + np.floor((np.arange(24) + 0.5) * (x2 - x1) / 24))
        np.testing.assert_array_equal(
            y[:, 0], y1 + np.floor((np.arange(20) + 0.5) * (y2 - y1) / 20))
        area = (x2 - x1) * (y2 - y1) / (H * W)
        assert 0.15 <= area <= 1.0
    assert len(boxes) > 20


def test_get_params_matches_torchvision_semantics():
    crop = MultiModalRandomResizedCrop(scale=(0.2, 1.0))
    np.random.seed(1)
    for _ in range(200):
        top, left, h, w = crop.get_params(H, W)
        assert 0 <= top <= H - h and 0 <= left <= W - w
        assert 0.2 * H * W * 0.9 <= h * w <= H * W
    # Impossible scale: 10 failed attempts, then the centre fallback with the
    # aspect ratio clamped to the range (torchvision behaviour).
    wide = MultiModalRandomResizedCrop(scale=(5.0, 6.0), ratio=(0.75, 1.0))
    assert wide.get_params(40, 100) == (0, 30, 40, 40)
    tall = MultiModalRandomResizedCrop(scale=(5.0, 6.0), ratio=(1.0, 1.5))
    assert tall.get_params(100, 40) == (30, 0, 40, 40)
    ok = MultiModalRandomResizedCrop(scale=(5.0, 6.0))
    assert ok.get_params(48, 64) == (0, 0, 48, 64)


def test_flip_one_draw_for_all():
    flip = MultiModalFlip(prob=0.5)
    np.random.seed(2)
    flips = []
    for _ in range(20):
        out = flip(coord_sample())
        x, _ = check_aligned(out['images'])
        flips.append(out['flip'])
        assert (x[:, 0] == (W - 1 if out['flip'] else 0)).all()
        assert out['flip_direction'] == ('horizontal' if out['flip'] else None)
    assert 0 < sum(flips) < 20
    out = MultiModalFlip(prob=1.0, direction='vertical')(coord_sample())
    _, y = check_aligned(out['images'])
    assert (y[0] == H - 1).all()


def test_crop_then_flip_aligned():
    crop = MultiModalRandomResizedCrop(size=16, interpolation=NEAREST)
    flip = MultiModalFlip(prob=1.0)
    np.random.seed(3)
    out = flip(crop(coord_sample()))
    x, _ = check_aligned(out['images'])
    assert (np.diff(x, axis=1) <= 0).all()  # mirrored


def test_default_interpolation_semseg_nearest_depth_bilinear():
    rng = np.random.RandomState(0)
    sample = coord_sample()
    # Few sparse class ids, noisy depth: interpolation would invent values.
    classes = np.array([0, 3, 17, 200])
    sample['images']['semseg'] = classes[rng.randint(0, 4, (H, W))]
    sample['images']['depth'] = rng.uniform(0.2, 0.6,
                                            (H, W)).astype(np.float32)
    crop = MultiModalRandomResizedCrop(size=40)  # mostly upsampling
    np.random.seed(4)
    for _ in range(10):
        out = crop(dict(sample, images=dict(sample['images'])))
        sem, dep = out['images']['semseg'], out['images']['depth']
        assert set(np.unique(sem)) <= set(classes)
        assert dep.dtype == np.float32
        assert dep.min() >= 0.2 - 1e-6 and dep.max() <= 0.6 + 1e-6
        # Bilinear actually interpolated (not nearest copies only).
        assert len(np.unique(dep)) > len(np.unique(sem))
        assert out['images']['rgb'].dtype == np.uint8


def test_interpolation_validation():
    with pytest.raises(ValueError, match='semseg'):
        MultiModalRandomResizedCrop(interpolation=dict(semseg='bilinear'))
    with pytest.raises(ValueError, match='interpolation'):
        MultiModalRandomResizedCrop(interpolation=dict(rgb='cubic'))
    with pytest.raises(ValueError, match='semseg'):
        MultiModalResize(interpolation=dict(semseg='bicubic'))
    with pytest.raises(ValueError, match='scale'):
        MultiModalRandomResizedCrop(scale=(0.5, 0.2))
    # Even with a non-nearest filter for an unknown label modality, integer
    # maps are resized with nearest.
    crop = MultiModalRandomResizedCrop(size=30,
                                       interpolation=dict(mask_valid='nearest',
                                                          rgb='bilinear'))
    sample = coord_sample()
    sample['images']['semseg'] = (sample['images']['semseg'] % 3) * 100
    out = crop(sample)
    assert set(np.unique(out['images']['semseg'])) <= {0, 100, 200}


def test_size_mismatch_before_crop():
    sample = coord_sample()
    sample['images']['depth'] = sample['images']['depth'][:40]
    with pytest.raises(ValueError, match='same H x W'):
        MultiModalRandomResizedCrop(size=16)(sample)


def test_resize_center_crop_eval():
    out = MultiModalResize(scale=24, interpolation=NEAREST)(coord_sample())
    assert out['img_shape'] == (24, 32)
    check_aligned(out['images'])
    out = MultiModalCenterCrop(crop_size=(16, 20))(out)
    assert out['img_shape'] == (16, 20)
    assert out['images']['semseg'].shape == (16, 20)
    x, y = check_aligned(out['images'])
    # Centre of the 24x32 resized image: resized pixel j samples input
    # pixel 2 * j + 1 (pixel centres), the crop starts at (4, 6).
    assert x.min() == 6 * 2 + 1 and y.min() == 4 * 2 + 1
    assert out['crop_bbox'] == (6, 4, 26, 20)
    out = MultiModalResize(scale=(10, 12))(coord_sample())
    assert out['images']['rgb'].shape == (10, 12, 3)
    with pytest.raises(ValueError, match='crop_size'):
        MultiModalCenterCrop(crop_size=100)(coord_sample())


def test_semseg_downsample_and_pack():
    sample = coord_sample(h=32, w=32)
    sample['flip'] = False
    sample['masks'] = dict(rgb=np.array([True, False, True, True]))
    pack = PackMultiModalInputs()
    with pytest.raises(ValueError, match='SemSegDownsample'):
        pack(dict(sample, images=dict(sample['images'])))
    out = SemSegDownsample(factor=4)(sample)
    sem = out['images']['semseg']
    assert sem.shape == (8, 8)
    # Pillow nearest: source pixel 4 * i + 2.
    np.testing.assert_array_equal(sem, (np.arange(8)[:, None] * 4 + 2) * 32 +
                                  np.arange(8)[None] * 4 + 2)
    packed = pack(out)
    inputs, ds = packed['inputs'], packed['data_samples']
    assert inputs['rgb'].shape == (3, 32, 32)
    assert inputs['rgb'].dtype == torch.uint8
    assert inputs['depth'].shape == (1, 32, 32)
    assert inputs['depth'].dtype == torch.float32
    assert inputs['semseg'].shape == (8, 8)
    assert inputs['semseg'].dtype == torch.int64
    assert torch.equal(inputs['rgb'][0],
                       torch.from_numpy(sample['images']['rgb'][..., 0]))
    assert isinstance(ds, BaseDataElement)
    assert ds.masks['rgb'].dtype == torch.bool
    assert ds.masks['rgb'].tolist() == [True, False, True, True]
    assert set(ds.metainfo) == {'img_path', 'ori_shape', 'img_shape', 'flip'}
    # Without masks (inference) there is no masks field.
    del out['masks']
    assert 'masks' not in pack(out)['data_samples']
    with pytest.raises(ValueError, match='factor'):
        SemSegDownsample(factor=5)(coord_sample())


def test_resize_matches_official_pil_crop_then_resize():
    """rgb bicubic and depth bilinear equal Pillow's crop(box).resize()."""
    rng = np.random.RandomState(5)
    sample = coord_sample()
    rgb = rng.randint(0, 256, (H, W, 3)).astype(np.uint8)
    depth = rng.uniform(0, 1, (H, W)).astype(np.float32)
    sample['images'].update(rgb=rgb, depth=depth)
    crop = MultiModalRandomResizedCrop(size=(20, 24))
    np.random.seed(6)
    out = crop(sample)
    box = out['crop_bbox']
    want_rgb = np.asarray(
        Image.fromarray(rgb).crop(box).resize((24, 20), Image.BICUBIC))
    want_depth = np.asarray(
        Image.fromarray(depth).crop(box).resize((24, 20), Image.BILINEAR))
    np.testing.assert_array_equal(out['images']['rgb'], want_rgb)
    np.testing.assert_array_equal(out['images']['depth'], want_depth)
