# Copyright (c) mmmae contributors. All rights reserved.
"""Pseudo-labellers around tiny mmseg models built in the test."""
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from _tiny_mmseg import depth_model_cfg, seg_model_cfg

from mmmae.pseudo_label import (MMSegDepthLabeler, MMSegSemSegLabeler,
                                OnlinePseudoLabel, auto_depth_scale,
                                build_labeler, build_mmseg_model,
                                decode_depth, encode_depth,
                                round_to_multiple)
from mmmae.registry import PSEUDO_LABELERS, TRANSFORMS


def _images(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            for h, w in shapes]


@pytest.fixture(scope='module')
def seg_labeler():
    torch.manual_seed(0)
    return MMSegSemSegLabeler(seg_model_cfg(num_classes=6))


@pytest.fixture(scope='module')
def depth_labeler():
    torch.manual_seed(0)
    return MMSegDepthLabeler(dict(model=depth_model_cfg(max_depth=8.0)))


def test_round_to_multiple():
    assert round_to_multiple((50, 70)) == (64, 64)
    assert round_to_multiple((375, 500)) == (384, 512)
    assert round_to_multiple((10, 20)) == (32, 32)  # at least one block
    assert round_to_multiple((480, 640), max_side=320) == (256, 320)
    assert round_to_multiple((100, 400), min_side=200) == (192, 800)
    assert round_to_multiple((50, 70), divisor=1) == (50, 70)


def test_depth_encoding():
    depth = np.array([[0.0, 1.2344, 70.0, np.nan]], np.float32)
    enc = encode_depth(depth, 1000.0)
    assert enc.dtype == np.uint16
    assert enc.tolist() == [[0, 1234, 65535, 0]]
    np.testing.assert_allclose(decode_depth(enc, 1000.0)[0, 1], 1.234)
    scale = auto_depth_scale(10.0)
    assert scale == 5200.0 and 10.0 * 1.25 * scale <= 65535
    assert auto_depth_scale(0.0) == 1000.0


def test_semseg_labeler_recipe(seg_labeler):
    model = seg_labeler.model
    assert seg_labeler.num_classes == 6 and seg_labeler.dtype == np.uint8
    imgs = _images([(50, 70), (64, 64), (50, 70)])
    out = seg_labeler.predict(imgs)
    assert [o.shape for o in out] == [(50, 70), (64, 64), (50, 70)]
    assert all(o.dtype == np.uint8 and o.max() < 6 for o in out)
    # the recipe by hand: bilinear to 64x64, predict, nearest back
    import cv2
    from mmseg.structures import SegDataSample
    small = cv2.resize(imgs[0][..., ::-1], (64, 64),
                       interpolation=cv2.INTER_LINEAR)
    meta = dict(ori_shape=(64, 64), img_shape=(64, 64), pad_shape=(64, 64))
    with torch.no_grad():
        res = model.test_step(dict(
            inputs=[torch.from_numpy(small.transpose(2, 0, 1).copy())],
            data_samples=[SegDataSample(metainfo=meta)]))
    pred = res[0].pred_sem_seg.data[None].float()
    ref = F.interpolate(pred, size=(50, 70), mode='nearest')[0, 0]
    np.testing.assert_array_equal(out[0], ref.numpy().astype(np.uint8))
    # batching by size does not change results; bgr input is understood
    alone = seg_labeler.predict([imgs[2]])[0]
    np.testing.assert_array_equal(out[2], alone)
    bgr = seg_labeler([imgs[2][..., ::-1]], channel_order='bgr')[0]
    np.testing.assert_array_equal(bgr, alone)


def test_semseg_uint16_for_many_classes_and_checkpoint_meta(tmp_path):
    torch.manual_seed(1)
    model = build_mmseg_model(seg_model_cfg(num_classes=300))
    classes = [f'c{i}' for i in range(300)]
    ckpt = tmp_path / 'seg.pth'
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=classes))), ckpt)
    lab = PSEUDO_LABELERS.build(
        dict(type='MMSegSemSegLabeler', config=seg_model_cfg(300),
             checkpoint=str(ckpt)))
    assert lab.dtype == np.uint16 and lab.classes == classes
    out = lab.predict(_images([(40, 33)]))[0]
    assert out.dtype == np.uint16 and out.shape == (40, 33)
    with torch.no_grad():  # weights came from the checkpoint
        for a, b in zip(model.state_dict().values(),
                        lab.model.state_dict().values()):
            torch.testing.assert_close(a, b)
    meta = lab.meta()
    assert meta['labeler'] == 'MMSegSemSegLabeler'
    assert meta['num_classes'] == 300 and meta['dtype'] == 'uint16'
    assert meta['checkpoint'].endswith('seg.pth')


def test_depth_labeler(depth_labeler):
    imgs = _images([(50, 70), (50, 70)], seed=2)
    out = depth_labeler.predict(imgs)
    assert all(o.shape == (50, 70) and o.dtype == np.float32 for o in out)
    assert all(np.all((o > 0) & (o <= 8.0)) for o in out)
    assert depth_labeler.meta()['resize_back'] == 'bilinear'
    # bilinear resize back of the 64x64 prediction
    lab = MMSegDepthLabeler(depth_labeler.model, size_divisor=1)
    import cv2
    up = cv2.resize(imgs[0], (64, 64), interpolation=cv2.INTER_LINEAR)
    pred64 = torch.from_numpy(lab.predict([up])[0])[None, None]
    ref = F.interpolate(pred64, size=(50, 70), mode='bilinear',
                        align_corners=False)[0, 0].numpy()
    np.testing.assert_allclose(out[0], ref, rtol=1e-4, atol=1e-4)


def test_wrong_model_kind_is_explained(seg_labeler, depth_labeler):
    with pytest.raises(TypeError, match='pred_depth_map'):
        MMSegDepthLabeler(seg_labeler.model).predict(_images([(32, 32)]))
    with pytest.raises(TypeError, match='pred_sem_seg'):
        MMSegSemSegLabeler(depth_labeler.model).predict(_images([(32, 32)]))
    with pytest.raises(ValueError, match=r'\(H, W, 3\)'):
        seg_labeler.predict([np.zeros((8, 8), np.uint8)])


def test_online_pseudo_label_multimodal_and_flat(seg_labeler,
                                                 depth_labeler):
    rgb = _images([(50, 70)], seed=3)[0]
    t = TRANSFORMS.build(
        dict(type='mmmae.OnlinePseudoLabel',
             labeler=dict(type='MMSegSemSegLabeler', config=seg_model_cfg())))
    assert t._labeler is None  # lazy
    res = t(dict(images=dict(rgb=rgb)))
    sem = res['images']['semseg']
    assert sem.shape == (50, 70) and sem.dtype == np.int64
    built = t._labeler
    t(dict(images=dict(rgb=rgb)))
    assert t._labeler is built  # built once per process
    clone = pickle.loads(pickle.dumps(t))
    assert clone._labeler is None  # workers rebuild it

    # flat layout (LoadImageFromFile: BGR 'img'), depth quantised like the
    # offline tool: PNG value / 2**16
    d = OnlinePseudoLabel(depth_labeler, depth_scale=1000.0)
    res = d(dict(img=np.ascontiguousarray(rgb[..., ::-1])))
    ref = depth_labeler.predict([rgb])[0]
    assert res['depth'].dtype == np.float32
    np.testing.assert_array_equal(
        res['depth'], encode_depth(ref, 1000.0).astype(np.float32) / 65536)
    # an existing label is kept unless overwrite=True
    kept = OnlinePseudoLabel(seg_labeler)(
        dict(images=dict(rgb=rgb, semseg=np.zeros((50, 70), np.int64))))
    assert not kept['images']['semseg'].any()
    assert build_labeler(seg_labeler) is seg_labeler
