# Copyright (c) mmmae contributors. All rights reserved.
"""MultiModalVideoDataset and the multi-modal video transforms on tiny real
clips: an mp4 written and decoded, .npz depth / semseg beside it."""
import copy
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch

from conftest import write_mp4
from mmmae.datasets.transforms import (LoadMultiModalVideo,
                                       MultiModalRandomResizedCrop,
                                       MultiModalVideoFlip,
                                       MultiModalVideoMultiScaleCrop,
                                       MultiModalVideoRandomResizedCrop,
                                       NpzFrames)
from mmmae.registry import DATASETS

T, H, W = 12, 32, 48
SCALE = 500.0  # stored depth per metre, from the depth manifest
SKY = 4  # top rows without depth (65535)


def _save(path, frames, compressed):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        (np.savez_compressed if compressed else np.savez)(f, frames=frames)


def index_clip():
    """Frame t says t in every modality: rgb grey 20 t + 10, depth t + 1 m
    (sky rows: none), class t."""
    t = np.arange(T)[:, None, None]
    rgb = np.broadcast_to((20 * t + 10)[..., None], (T, H, W, 3))
    depth = np.broadcast_to((t + 1) * SCALE, (T, H, W)).astype(np.uint16)
    depth = depth.copy()
    depth[:, :SKY] = 65535
    semseg = np.broadcast_to(t, (T, H, W)).astype(np.uint8)
    return rgb.astype(np.uint8), depth, semseg


def block_clip():
    """A still clip of 6 column blocks of 8 px: rgb grey 40 b + 20, depth
    b + 1 m, class 40 b (far-apart ids: a blend would invent new ones)."""
    block = np.broadcast_to(np.arange(W) // 8, (T, H, W))
    rgb = np.repeat((40 * block + 20)[..., None], 3, -1).astype(np.uint8)
    return (rgb, ((block + 1) * SCALE).astype(np.uint16),
            (40 * block).astype(np.uint8))


def write_clip(root, split, name, clip, compressed=(False, True)):
    rgb, depth, semseg = clip
    write_mp4(osp.join(root, split, 'rgb', name + '.mp4'), rgb)
    if depth is not None:
        _save(osp.join(root, split, 'depth', name + '.npz'), depth,
              compressed[0])
    _save(osp.join(root, split, 'semseg', name + '.npz'), semseg,
          compressed[1])


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('mm_videos'))
    with open(osp.join(root, 'classes.json'), 'w') as f:
        json.dump(dict(classes=['sky', 'floor'], palette=[[0, 0, 0],
                                                          [9, 9, 9]],
                       motion_classes=['pan_left', 'pan_right']), f)
    write_clip(root, 'train', '000000', index_clip())
    write_clip(root, 'train', '000001', block_clip(), (True, False))
    with open(osp.join(root, 'train.txt'), 'w') as f:
        f.write('000000 2\n000001 5\n')
    for split in ('train', 'bad'):
        os.makedirs(osp.join(root, split, 'depth'), exist_ok=True)
        with open(osp.join(root, split, 'depth', 'manifest.json'), 'w') as f:
            json.dump(dict(task='depth', dtype='uint16', scale=SCALE,
                           unit='m', frames_per_clip=T), f)
    # 000002: one semseg frame short; 000003: no depth file
    rgb, depth, semseg = index_clip()
    write_clip(root, 'bad', '000002', (rgb, depth, semseg[:-1]))
    write_clip(root, 'bad', '000003', (rgb, None, semseg))
    with open(osp.join(root, 'bad.txt'), 'w') as f:
        f.write('000002 0\n000003 1\n')
    return root


def loading(clip_len=4, frame_interval=2, num_clips=1, decode=True,
            test_mode=False):
    steps = [
        dict(type='mmmae.VideoInit'),
        dict(type='SampleFrames', clip_len=clip_len,
             frame_interval=frame_interval, num_clips=num_clips,
             test_mode=test_mode),
        dict(type='mmmae.VideoDecode'),
        dict(type='mmmae.LoadMultiModalVideo'),
    ]
    return steps if decode else steps[:2] + steps[3:]


def build(root, pipeline, **kwargs):
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')  # SampleFrames
    return DATASETS.build(
        dict(type='mmmae.MultiModalVideoDataset', data_root=root,
             pipeline=pipeline, **kwargs))


def test_build_lists_clips_and_metainfo(root):
    ds = build(root, [])
    assert len(ds) == 2
    assert ds.metainfo['classes'] == ['sky', 'floor']
    assert ds.metainfo['motion_classes'] == ['pan_left', 'pan_right']
    assert ds.metainfo['modalities'] == ('rgb', 'depth', 'semseg')
    info = ds.get_data_info(1)
    assert info['filename'] == osp.join(root, 'train', 'rgb', '000001.mp4')
    assert info['label'] == 5 and info['clip_name'] == '000001'
    assert info['modality_path'] == {
        m: osp.join(root, 'train', m, '000001.npz')
        for m in ('depth', 'semseg')
    }
    assert info['depth_scale'] == {'depth': SCALE}


def test_same_frame_indices_in_every_modality(root):
    pack = dict(type='mmmae.PackMultiModalVideoInputs')
    ds = build(root, loading() + [pack])
    seen = set()
    for seed in range(4):
        np.random.seed(seed)
        out = ds[0]
        inds = out['data_samples'].frame_inds
        seen.add(int(inds[0]))
        assert np.array_equal(inds, inds[0] + 2 * np.arange(4))
        rgb, depth = out['inputs']['rgb'], out['inputs']['depth']
        semseg = out['inputs']['semseg']
        valid = out['data_samples'].valid_masks['depth']
        assert rgb.shape == (3, 4, H, W) and rgb.dtype == torch.uint8
        assert depth.shape == valid.shape == (1, 4, H, W)
        assert depth.dtype == torch.float32 and valid.dtype == torch.bool
        assert semseg.shape == (4, H, W) and semseg.dtype == torch.int64
        for k, t in enumerate(inds):
            assert round((rgb[:, k].float().median().item() - 10) / 20) == t
            assert (semseg[k] == t).all()
            # sky (65535): depth 0 and not valid; elsewhere t + 1 metres
            assert not valid[0, k, :SKY].any() and valid[0, k, SKY:].all()
            assert (depth[0, k, :SKY] == 0).all()
            assert (depth[0, k, SKY:] == float(t + 1)).all()
        assert out['data_samples'].gt_label.tolist() == [2]
    assert len(seen) > 1  # the offset is random, the agreement is not


def test_multi_clip_views(root):
    pipeline = loading(clip_len=3, num_clips=2, test_mode=True) + [
        dict(type='mmmae.PackMultiModalVideoInputs')
    ]
    out = build(root, pipeline, test_mode=True)[0]
    inputs = out['inputs']
    assert inputs['rgb'].shape == (2, 3, 3, H, W)
    assert inputs['depth'].shape == (2, 1, 3, H, W)
    assert inputs['semseg'].shape == (2, 3, H, W)
    inds = out['data_samples'].frame_inds.reshape(2, 3)
    assert (inputs['semseg'][:, :, 0, 0].numpy() == inds).all()
    assert torch.allclose(inputs['depth'][:, 0, :, -1, 0],
                          torch.from_numpy(inds + 1.0).float())


def _loaded(root, index=1):
    ds = build(root, loading(clip_len=3, frame_interval=3))
    np.random.seed(0)
    return ds[index]


def test_one_crop_for_all_frames_and_modalities(root):
    """The video crop is the image crop of each frame with one box: rgb and
    depth bilinear, labels nearest."""
    loaded = _loaded(root)
    crop = MultiModalVideoRandomResizedCrop(size=(12, 20), scale=(0.3, 0.6))
    image_crop = MultiModalRandomResizedCrop(size=(12, 20), scale=(0.3, 0.6),
                                             interpolation=crop.interpolation)
    for seed in range(3):
        np.random.seed(seed)
        out = crop(copy.deepcopy(loaded))
        np.random.seed(seed)
        boxes = set()
        for t in range(3):
            frame = dict(images={
                m: a[t]
                for m, a in loaded['videos'].items()
            })
            ref = image_crop(frame)
            boxes.add(ref['crop_bbox'])
            for m, arr in ref['images'].items():
                np.testing.assert_array_equal(out['videos'][m][t], arr)
            np.random.seed(seed)
        assert boxes == {out['crop_bbox']}
        assert out['img_shape'] == (12, 20)
        semseg, depth = out['videos']['semseg'], out['videos']['depth']
        assert set(np.unique(semseg)) <= set(range(0, 201, 40))
        # still clip: every frame got the same box
        assert (semseg == semseg[:1]).all() and (depth == depth[:1]).all()
    # depth is blended across block edges (bilinear), labels never are
    assert not np.allclose(depth, np.round(depth))


def test_one_flip_for_all(root):
    loaded = _loaded(root)
    flipped = MultiModalVideoFlip(prob=1.0)(copy.deepcopy(loaded))
    assert flipped['flip'] and flipped['flip_direction'] == 'horizontal'
    for m, arr in loaded['videos'].items():
        np.testing.assert_array_equal(flipped['videos'][m],
                                      np.flip(arr, axis=2))
    kept = MultiModalVideoFlip(prob=0.0)(copy.deepcopy(loaded))
    assert not kept['flip']
    for m, arr in loaded['videos'].items():
        np.testing.assert_array_equal(kept['videos'][m], arr)
    vertical = MultiModalVideoFlip(prob=1.0, direction='vertical')(
        copy.deepcopy(loaded))
    np.testing.assert_array_equal(vertical['videos']['depth'],
                                  np.flip(loaded['videos']['depth'], 1))


def test_multi_scale_crop_and_downsample_and_masks(root):
    pipeline = loading(clip_len=3) + [
        dict(type='mmmae.MultiModalVideoMultiScaleCrop', input_size=16,
             scales=(1, .875, .75), random_crop=True, out_size=(24, 16)),
        dict(type='mmmae.MultiModalVideoFlip'),
        dict(type='mmmae.MultiModalVideoSemSegDownsample', factor=4),
        dict(type='mmmae.MultiModalMaskGenerator', grid=(2, 3),
             num_visible=6),
        dict(type='mmmae.PackMultiModalVideoInputs', semseg_stride=4),
    ]
    ds = build(root, pipeline)
    np.random.seed(1)
    out = ds[1]
    inputs, sample = out['inputs'], out['data_samples']
    assert inputs['rgb'].shape == (3, 3, 16, 24)
    assert inputs['semseg'].shape == (3, 4, 6)
    assert set(inputs['semseg'].unique().tolist()) <= set(range(0, 201, 40))
    x1, y1, x2, y2 = sample.crop_bbox
    assert 0 <= x1 < x2 <= W and 0 <= y1 < y2 <= H
    assert {m: v.shape for m, v in sample.masks.items()} == {
        m: (6, )
        for m in ('rgb', 'depth', 'semseg')
    }
    assert sum(int((~v).sum()) for v in sample.masks.values()) == 6
    # the packer names the missing downsampling step
    ds = build(root, pipeline[:6] + pipeline[8:])
    with pytest.raises(ValueError, match='MultiModalVideoSemSegDownsample'):
        ds[1]


def test_eval_resize_and_center_crop(root):
    pipeline = loading(clip_len=2, test_mode=True) + [
        dict(type='mmmae.MultiModalVideoResize', scale=16),
        dict(type='mmmae.MultiModalVideoCenterCrop', crop_size=16),
        dict(type='mmmae.PackMultiModalVideoInputs'),
    ]
    out = build(root, pipeline, test_mode=True)[1]
    assert out['inputs']['rgb'].shape == (3, 2, 16, 16)
    assert out['data_samples'].crop_bbox == (4, 0, 20, 16)
    assert set(out['inputs']['semseg'].unique().tolist()) <= set(
        range(0, 201, 40))


def test_depth_only_needs_no_decode(root):
    pipeline = loading(decode=False) + [
        dict(type='mmmae.PackMultiModalVideoInputs')
    ]
    np.random.seed(0)
    out = build(root, pipeline, modalities=('depth', ))[0]
    assert list(out['inputs']) == ['depth']
    inds = out['data_samples'].frame_inds
    assert torch.allclose(out['inputs']['depth'][0, :, -1, 0],
                          torch.from_numpy(inds + 1.0).float())
    with pytest.raises(KeyError, match='mmmae.VideoDecode'):
        build(root, pipeline)[0]


def test_missing_file_and_frame_count_mismatch(root):
    with pytest.raises(FileNotFoundError) as err:
        build(root, loading(), split='bad')
    assert osp.join('bad', 'depth', '000003.npz') in str(err.value)
    assert "missing='skip'" in str(err.value)
    ds = build(root, loading(), split='bad', missing='skip')
    assert len(ds) == 1 and ds.skipped[0][1] == 'missing'
    semseg = osp.join(root, 'bad', 'semseg', '000002.npz')
    video = osp.join(root, 'bad', 'rgb', '000002.mp4')
    with pytest.raises(ValueError) as err:
        ds[0]
    msg = str(err.value)
    assert f'{semseg} has {T - 1} frames' in msg
    assert f'the video {video} has {T}' in msg
    # the clip list itself must exist
    with pytest.raises(FileNotFoundError, match='test.txt'):
        build(root, [], split='test')


def test_npz_frames_are_read_lazily(tmp_path):
    frames = np.random.default_rng(0).integers(
        0, 65535, (7, 5, 6), dtype=np.uint16)
    inds = [6, 0, 3, 3]
    for compressed in (False, True):
        path = str(tmp_path / f'{compressed}.npz')
        _save(path, frames, compressed)
        reader = NpzFrames(path)
        assert reader.shape == (7, 5, 6) and len(reader) == 7
        assert (reader._offset is None) == compressed  # stored: mmap
        np.testing.assert_array_equal(reader.get(inds), frames[inds])
        with pytest.raises(IndexError):
            reader.get([7])
    np.savez(str(tmp_path / 'flat.npz'), frames=frames[0])
    with pytest.raises(ValueError, match=r'\(T, H, W\)'):
        NpzFrames(str(tmp_path / 'flat.npz'))
    with pytest.raises(ValueError, match="no array 'depth'"):
        NpzFrames(str(tmp_path / 'flat.npz'), key='depth')
    assert repr(LoadMultiModalVideo()) == "LoadMultiModalVideo(key='frames')"
    assert 'interpolation' in repr(MultiModalVideoMultiScaleCrop())
