# Copyright (c) mmmae contributors. All rights reserved.
"""Extra input modalities in mmseg pipelines: loading, validity masks,
channel stacking, name-matched datasets, and the multi-modal preprocessor."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope
from mmseg.structures import SegDataSample

from mmmae.datasets import MultiModalSegDataset
from mmmae.datasets.transforms import (ApplyValidMask, LoadModalities,
                                       PackMultiModalSegInputs)
from mmmae.models.data_preprocessors import (MultiModalSegDataPreProcessor,
                                             masked_truncated_standardize,
                                             truncated_standardize)


def _write(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), arr)
    return str(path)


def test_load_modalities_units_mask_optional_and_resize(tmp_path):
    depth = np.array([[0, 1500], [2500, 65535]], np.uint16)
    mask = np.array([[0, 255], [255, 255]], np.uint8)
    results = dict(
        img=np.zeros((4, 4, 3), np.uint8),
        depth_path=_write(tmp_path / 'd.png', depth),
        mask_valid_path=_write(tmp_path / 'm.png', mask))
    out = LoadModalities(
        modalities=dict(
            depth=dict(scale=1e-3, resize_to_img=True),
            mask_valid=dict(dtype='uint8'),
            pseudo_semseg=dict(dtype='uint8', optional=True)))(
                dict(results))
    # millimetres -> metres, nearest-resized to the 4x4 image
    assert out['depth'].dtype == np.float32 and out['depth'].shape == (4, 4)
    np.testing.assert_allclose(out['depth'][::2, ::2],
                               depth.astype(np.float32) * 1e-3)
    assert out['mask_valid'].tolist() == [[0, 1], [1, 1]]
    assert out['seg_fields'] == ['depth', 'mask_valid']
    assert 'pseudo_semseg' not in out  # optional and absent: skipped
    with pytest.raises(KeyError, match='pseudo_semseg_path'):
        LoadModalities(modalities=dict(pseudo_semseg=dict()))(dict(results))


def test_apply_valid_mask_blanks_labels_and_depth():
    mask = np.array([[1, 0], [1, 1]], np.uint8)
    results = dict(
        mask_valid=mask,
        gt_seg_map=np.array([[3, 3], [4, 4]], np.uint8),
        # a test input resized to 4x4 while labels stay 2x2
        depth=np.full((4, 4), 2.0, np.float32),
        gt_depth_map=np.array([[1., 2.], [70., 3.]], np.float32))
    out = ApplyValidMask(max_depth=60.)(results)
    assert out['gt_seg_map'].tolist() == [[3, 255], [4, 4]]
    assert out['gt_depth_map'].tolist() == [[1., 0.], [0., 3.]]
    assert (out['depth'][:2, 2:] == 0).all() and out['depth'].sum() == 24.
    # no mask file for this dataset: unchanged, no crash
    seg = np.ones((2, 2), np.uint8)
    assert ApplyValidMask()(dict(gt_seg_map=seg))['gt_seg_map'] is seg


def test_pack_stacks_channels_and_names_missing():
    img = np.random.randint(0, 255, (4, 6, 3), np.uint8)
    depth = np.random.rand(4, 6).astype(np.float32)
    packed = PackMultiModalSegInputs(modalities=('img', 'depth'))(
        dict(img=img, depth=depth, img_path='a.png'))
    x = packed['inputs']
    assert x.shape == (4, 4, 6) and x.dtype == torch.float32
    assert torch.equal(x[:3], torch.from_numpy(img).permute(2, 0, 1).float())
    assert torch.equal(x[3], torch.from_numpy(depth))
    assert packed['data_samples'].modalities == ('img', 'depth')
    with pytest.raises(KeyError, match="'depth' is not loaded"):
        PackMultiModalSegInputs(modalities=('img', 'depth'))(dict(img=img))
    with pytest.raises(ValueError, match='load every modality'):
        PackMultiModalSegInputs(modalities=('img', 'depth'))(
            dict(img=img, depth=depth[:2]))


def test_dataset_matches_modalities_by_name(tmp_path):
    for name in ('a', 'b', 'c'):
        _write(tmp_path / 'rgb' / f'{name}.jpg', np.zeros((2, 2, 3),
                                                          np.uint8))
        _write(tmp_path / 'seg' / f'{name}.png', np.zeros((2, 2), np.uint8))
    for name in ('c', 'a'):  # b has no depth
        _write(tmp_path / 'depth' / f'{name}.png', np.ones((2, 2),
                                                           np.uint16))
    kw = dict(
        data_root=str(tmp_path),
        data_prefix=dict(img_path='rgb', seg_map_path='seg'),
        img_suffix='.jpg',
        seg_map_suffix='.png',
        metainfo=dict(classes=('x', 'y')),
        modalities=dict(depth=dict(dir='depth')),
        lazy_init=False)
    with pytest.raises(FileNotFoundError, match=r"b.png .*missing='skip'"):
        MultiModalSegDataset(**kw)
    ds = MultiModalSegDataset(missing='skip', **kw)
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert [osp.basename(i['depth_path']) for i in infos] == ['a.png',
                                                              'c.png']
    assert [osp.basename(i['img_path']) for i in infos] == ['a.jpg', 'c.jpg']
    with pytest.raises(ValueError, match='dict\\(dir='):
        MultiModalSegDataset(modalities=dict(depth='depth'), **{
            k: v
            for k, v in kw.items() if k != 'modalities'
        })


def test_masked_truncated_standardize():
    d = torch.rand(3, 1, 8, 8) + 0.5
    # all valid: identical to the official (unmasked) normalisation
    torch.testing.assert_close(masked_truncated_standardize(d),
                               truncated_standardize(d))
    # invalid pixels neither enter the statistics nor keep a value
    holes = d.clone()
    holes[0, 0, :2] = 0
    out = masked_truncated_standardize(holes)
    assert (out[0, 0, :2] == 0).all()
    vals = holes[0, 0, 2:].flatten().sort()[0]
    n = vals.numel()
    kept = vals[int(0.1 * n):int(0.9 * n)]
    ref = (holes[0, 0, 2:] - kept.mean()) / torch.sqrt(kept.var() + 1e-6)
    torch.testing.assert_close(out[0, 0, 2:], ref)


def test_preprocessor_groups_keep_and_padding():
    with DefaultScope.overwrite_default_scope('mmseg'):
        pre = MultiModalSegDataPreProcessor(
            modalities=dict(rgb=3, depth=1, semseg=1),
            keep=('rgb', 'semseg'),
            size=(8, 8))
    rgb = torch.tensor([10., 20., 30.]).view(3, 1, 1).expand(3, 6, 4)
    x = torch.cat([rgb, torch.rand(1, 6, 4) + 1, torch.full((1, 6, 4), 5.)])
    sample = SegDataSample()
    out = pre(dict(inputs=[x], data_samples=[sample]), training=True)
    inp = out['inputs']
    assert inp.shape == (1, 4, 8, 8)  # depth dropped, padded to 8x8
    mean = torch.tensor([123.675, 116.28, 103.53])
    std = torch.tensor([58.395, 57.12, 57.375])
    # BGR -> RGB, then mean/std; semseg ids pass through unchanged
    torch.testing.assert_close(inp[0, :3, 0, 0],
                               (torch.tensor([30., 20., 10.]) - mean) / std)
    assert (inp[0, 3, :6, :4] == 5).all() and (inp[0, :, 6:] == 0).all()
    with pytest.raises(ValueError, match='needs 5'):
        pre(dict(inputs=[x[:4]], data_samples=[sample]), training=True)
    with pytest.raises(ValueError, match='keep'):
        MultiModalSegDataPreProcessor(modalities=dict(rgb=3), keep=('d', ))
