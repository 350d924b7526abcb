# Copyright (c) mmmae contributors. All rights reserved.
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from PIL import Image

import mmmae.datasets.multimodal_dataset as mm_module
from mmmae.datasets.transforms import LoadMultiModalImages
from mmmae.registry import DATASETS

H, W = 48, 64
NUM = 6
NEAREST = dict(rgb='nearest', depth='nearest', semseg='nearest')


def names():
    """Relative names (sub-folders) of the samples, sorted."""
    return [f'{"cat_a" if i < 3 else "cat_b"}/img_{i}' for i in range(NUM)]


def rgb_of(i):
    y, x = np.mgrid[:H, :W]
    return np.stack([x * 3, y * 5, np.full_like(x, 20 * i)],
                    -1).astype(np.uint8)


def depth_of(i):
    y, x = np.mgrid[:H, :W]
    return (i * 4000 + y * W + x).astype(np.uint16)


def semseg_of(i):
    _, x = np.mgrid[:H, :W]
    return (i * 40 + x // 8).astype(np.uint8)


def write_tree(root, split='train'):
    """root/split/{rgb,depth,semseg}/cat_?/img_i.* encoding i everywhere;
    sample 1 is a JPEG, the others PNG."""
    for i, name in enumerate(names()):
        for mod in ('rgb', 'depth', 'semseg'):
            os.makedirs(osp.join(root, split, mod, osp.dirname(name)),
                        exist_ok=True)
        ext = '.jpg' if i == 1 else '.png'
        base = osp.join(root, split, '{}', name)
        cv2.imwrite(base.format('rgb') + ext, rgb_of(i)[..., ::-1])
        cv2.imwrite(base.format('depth') + '.png', depth_of(i))
        Image.fromarray(semseg_of(i)).save(base.format('semseg') + '.png')
    return root


def sample_index(images):
    """The sample index encoded in each modality (they must agree)."""
    return dict(rgb=int(np.round(np.median(images['rgb'][..., 2]) / 20)),
                depth=int(
                    np.median(np.round(images['depth'] * 2**16)) // 4000),
                semseg=int(np.median(images['semseg']) // 40))


def build(root, **kwargs):
    init_default_scope('mmmae')
    cfg = dict(type='MultiModalFolderDataset', data_root=str(root))
    cfg.update(kwargs)
    return DATASETS.build(cfg)


@pytest.fixture
def tree(tmp_path):
    return write_tree(str(tmp_path / 'data'))


@pytest.fixture
def warnings_log(monkeypatch):
    records = []
    real = mm_module.print_log

    def fake(msg, logger=None, level=None):
        records.append((msg, level))
        real(msg, logger=logger, level=level)

    monkeypatch.setattr(mm_module, 'print_log', fake)
    return records


def test_lists_and_loads(tree):
    ds = build(tree, pipeline=[dict(type='LoadMultiModalImages')])
    assert len(ds) == NUM
    assert ds.metainfo['modalities'] == ('rgb', 'depth', 'semseg')
    info = ds.get_data_info(1)
    assert info['rel_path'] == 'cat_a/img_1'
    assert info['img_path']['rgb'].endswith('rgb/cat_a/img_1.jpg')
    assert info['img_path']['depth'].endswith('depth/cat_a/img_1.png')
    for i in range(NUM):
        out = ds[i]
        images = out['images']
        assert images['rgb'].shape == (H, W, 3)
        assert images['rgb'].dtype == np.uint8
        assert images['depth'].shape == (H, W)
        assert images['depth'].dtype == np.float32
        assert images['semseg'].dtype == np.int64
        assert out['ori_shape'] == (H, W)
        assert sample_index(images) == dict(rgb=i, depth=i, semseg=i)
        # Raw 16-bit value / 2**16.
        np.testing.assert_array_equal(images['depth'] * 2**16, depth_of(i))
        np.testing.assert_array_equal(images['semseg'], semseg_of(i))
        if i != 1:  # PNG: exact, RGB channel order
            np.testing.assert_array_equal(images['rgb'], rgb_of(i))


def test_missing_file_error_names_it(tree):
    os.remove(osp.join(tree, 'train', 'depth', 'cat_a', 'img_2.png'))
    with pytest.raises(FileNotFoundError) as err:
        build(tree)
    msg = str(err.value)
    assert osp.join('depth', 'cat_a', 'img_2') in msg
    assert "missing='skip'" in msg


def test_missing_file_skip_keeps_alignment(tree, warnings_log):
    os.remove(osp.join(tree, 'train', 'depth', 'cat_a', 'img_2.png'))
    os.remove(osp.join(tree, 'train', 'semseg', 'cat_b', 'img_4.png'))
    ds = build(tree,
               missing='skip',
               pipeline=[
                   dict(type='LoadMultiModalImages'),
                   dict(type='MultiModalRandomResizedCrop',
                        size=24,
                        interpolation=NEAREST),
                   dict(type='MultiModalFlip', prob=0.5),
               ])
    assert len(ds) == NUM - 2
    assert [ds.get_data_info(i)['rel_path'] for i in range(len(ds))
            ] == ['cat_a/img_0', 'cat_a/img_1', 'cat_b/img_3', 'cat_b/img_5']
    assert [s[0] for s in ds.skipped] == ['cat_a/img_2', 'cat_b/img_4']
    warns = [m for m, lvl in warnings_log if 'skipped' in m]
    assert len(warns) == 1
    assert 'skipped 2 of 6' in warns[0] and 'img_2' in warns[0]
    np.random.seed(0)
    for idx, want in enumerate([0, 1, 3, 5]):
        for _ in range(3):  # several crops/flips
            out = ds[idx]
            assert sample_index(out['images']) == dict(rgb=want,
                                                       depth=want,
                                                       semseg=want)
            # Pixelwise alignment after crop + flip: x from rgb (x * 3)
            # matches x // 8 in semseg and x in depth.
            x = out['images']['rgb'][..., 0].astype(np.int64) // 3
            y = out['images']['rgb'][..., 1].astype(np.int64) // 5
            if want != 1:  # lossless PNG
                np.testing.assert_array_equal(out['images']['semseg'],
                                              want * 40 + x // 8)
                np.testing.assert_array_equal(
                    np.round(out['images']['depth'] * 2**16),
                    want * 4000 + y * W + x)


def test_bad_folder_and_options(tree, tmp_path):
    with pytest.raises(FileNotFoundError, match='normal'):
        build(tree, modalities=('rgb', 'normal'))
    with pytest.raises(ValueError, match='main_modality'):
        build(tree, main_modality='normal')
    with pytest.raises(ValueError, match='missing'):
        build(tree, missing='ignore')
    # Two files of one sample that differ only by extension.
    cv2.imwrite(osp.join(tree, 'train', 'rgb', 'cat_a', 'img_0.jpg'),
                rgb_of(0))
    with pytest.raises(ValueError, match='ambiguous'):
        build(tree)
    # Depth folder as the main modality works too (same samples).
    os.remove(osp.join(tree, 'train', 'rgb', 'cat_a', 'img_0.jpg'))
    ds = build(tree, main_modality='depth', modalities=('rgb', 'depth'))
    assert len(ds) == NUM and set(
        ds.get_data_info(0)['img_path']) == {'rgb', 'depth'}


def test_wrong_depth_dtype_names_file(tree):
    bad = osp.join(tree, 'train', 'depth', 'cat_b', 'img_3.png')
    cv2.imwrite(bad, (depth_of(3) // 64).astype(np.uint8))  # 8-bit
    ds = build(tree, pipeline=[dict(type='LoadMultiModalImages')])
    assert ds[2]["images"]["depth"].shape == (H, W)  # fine
    with pytest.raises(ValueError, match='16-bit') as err:
        ds[3]
    assert bad in str(err.value)
    # Three-channel 16-bit is rejected too.
    cv2.imwrite(bad, np.repeat(depth_of(3)[..., None], 3, -1))
    with pytest.raises(ValueError, match='single-channel'):
        ds[3]


def test_colour_semseg_rejected(tree):
    bad = osp.join(tree, 'train', 'semseg', 'cat_a', 'img_0.png')
    cv2.imwrite(bad, rgb_of(0))
    with pytest.raises(ValueError, match='class ids') as err:
        LoadMultiModalImages()(dict(img_path=dict(semseg=bad)))
    assert bad in str(err.value)


def test_16bit_semseg(tmp_path):
    path = str(tmp_path / 'sem.png')
    ids = (np.arange(H * W).reshape(H, W) % 1000).astype(np.uint16)
    cv2.imwrite(path, ids)
    out = LoadMultiModalImages()(dict(img_path=dict(semseg=path)))
    assert out['images']['semseg'].dtype == np.int64
    np.testing.assert_array_equal(out['images']['semseg'], ids)


def test_size_mismatch_names_both_files(tree):
    bad = osp.join(tree, 'train', 'semseg', 'cat_a', 'img_0.png')
    Image.fromarray(semseg_of(0)[:, :32]).save(bad)
    ds = build(tree, pipeline=[dict(type='LoadMultiModalImages')])
    with pytest.raises(ValueError, match='same size') as err:
        ds[0]
    assert bad in str(err.value)
    assert osp.join('rgb', 'cat_a', 'img_0.png') in str(err.value)


def test_unknown_modality_kind():
    with pytest.raises(ValueError, match='kinds'):
        LoadMultiModalImages().load('normal', 'x.png')
    with pytest.raises(ValueError, match='normal'):
        LoadMultiModalImages(kinds=dict(normal='surface'))


def test_full_pipeline_contract(tree):
    """Load -> crop -> flip -> downsample -> mask -> pack, collated."""
    pipeline = [
        dict(type='LoadMultiModalImages'),
        dict(type='MultiModalRandomResizedCrop', size=32),
        dict(type='MultiModalFlip', prob=0.5),
        dict(type='SemSegDownsample', factor=4),
        dict(type='MultiModalMaskGenerator', grid=(2, 2), num_visible=3),
        dict(type='PackMultiModalInputs'),
    ]
    ds = build(tree, pipeline=pipeline)
    np.random.seed(0)
    batch = pseudo_collate([ds[i] for i in range(4)])
    inputs, samples = batch['inputs'], batch['data_samples']
    assert set(inputs) == {'rgb', 'depth', 'semseg'}
    assert len(samples) == 4
    for b in range(4):
        rgb, depth, sem = (inputs['rgb'][b], inputs['depth'][b],
                           inputs['semseg'][b])
        assert rgb.shape == (3, 32, 32) and rgb.dtype == torch.uint8
        assert depth.shape == (1, 32, 32) and depth.dtype == torch.float32
        assert sem.shape == (8, 8) and sem.dtype == torch.int64
        assert 0 <= depth.min() and depth.max() < 1
        ds_b = samples[b]
        assert set(ds_b.masks) == {'rgb', 'depth', 'semseg'}
        vis = 0
        for m in ds_b.masks.values():
            assert m.shape == (4, ) and m.dtype == torch.bool
            vis += int((~m).sum())
        assert vis == 3
        meta = ds_b.metainfo
        assert meta['img_shape'] == (32, 32) and meta['ori_shape'] == (H, W)
        assert isinstance(meta['flip'], bool)
        assert set(meta['img_path']) == {'rgb', 'depth', 'semseg'}
    # Mask stacking as the algorithm does it.
    stacked = torch.stack([s.masks['depth'] for s in samples])
    assert stacked.shape == (4, 4)
    # Also through an explicit mmengine Compose (no dataset).
    init_default_scope('mmmae')
    pipe = Compose(pipeline)
    out = pipe(dict(img_path=ds.get_data_info(0)['img_path']))
    assert out['inputs']['semseg'].shape == (8, 8)
