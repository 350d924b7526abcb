# Copyright (c) mmmae contributors. All rights reserved.
"""Rendered scene videos: motion labels, exact per-frame depth/semseg,
the on-disk layout, mp4 decoding, determinism and reuse."""
import json
import os
import runpy
import sys

import cv2
import numpy as np
import pytest

from mmmae.datasets.demo import (MOTION_CLASSES, SCENE_CLASSES,
                                 SCENE_DEPTH_SCALE, clip_label,
                                 make_scene_video_dataset, render_scene,
                                 render_scene_video, sample_camera_path,
                                 sample_scene)
from mmmae.datasets.demo.scene_videos import _render_clip
from mmmae.datasets.transforms.video_decode import VideoDecode, VideoInit

T, S = 6, 32
# files: not square, to catch H/W swaps (and decord misreads some narrow
# widths such as 16, 24, 48; 64 is safe)
HW = (32, 64)


def _path(i, label, num_frames=T):
    rng = np.random.default_rng([5, i])
    scene = sample_scene(rng)
    return scene, sample_camera_path(rng, scene['camera'], label, num_frames)


@pytest.mark.parametrize('pair', [(0, 1), (2, 3), (4, 5)])
def test_opposite_classes_are_the_same_clip_reversed(pair):
    """Same draws, opposite class: the frames of one clip are those of the
    other in reverse order, so no single frame can tell them apart."""
    scene, fwd = _path(0, pair[0])
    _, back = _path(0, pair[1])
    assert fwd == back[::-1]
    a = render_scene_video(scene, fwd, (S, S))
    b = render_scene_video(scene, back, (S, S))
    for key in ('rgb', 'depth', 'semseg'):
        np.testing.assert_array_equal(a[key], b[key][::-1])
    assert not np.array_equal(a['rgb'][0], a['rgb'][-1])  # it does move


@pytest.mark.parametrize('label', range(len(MOTION_CLASSES)))
def test_each_class_moves_one_camera_parameter(label):
    scene, cams = _path(1, label)
    yaw, pitch, x, z = (np.array([c[k] for c in cams])
                        for k in ('yaw', 'pitch', 'x', 'z'))
    fwd = np.hypot(x, z) * np.sign(z)  # along the scene's view direction
    moving = dict(yaw=yaw, pitch=pitch, forward=fwd)
    key = ('yaw', 'pitch', 'forward')[label // 2]
    step = np.diff(moving.pop(key))
    sign = (-1, 1, -1, 1, 1, -1)[label]
    assert np.all(sign * step > 0) and np.allclose(step, step[0])
    for other in moving.values():
        assert np.ptp(other) < 1e-9
    # every frame is the image scene re-rendered with that camera, exactly
    out = render_scene_video(scene, cams, (S, S))
    single = render_scene(dict(scene, camera=cams[2]), (S, S))
    for k in ('rgb', 'depth', 'semseg', 'instance'):
        np.testing.assert_array_equal(out[k][2], single[k])
    assert out['rgb'].shape == (T, S, S, 3)
    assert out['depth'].shape == out['semseg'].shape == (T, S, S)


def test_labels_are_balanced_and_index_local():
    labels = [clip_label(0, 0, i) for i in range(24)]
    for b in range(4):
        assert sorted(labels[6 * b:6 * b + 6]) == list(range(6))
    assert labels != [clip_label(1, 0, i) for i in range(24)]
    with pytest.raises(ValueError):
        _path(0, len(MOTION_CLASSES))


def _flow_features(gray):
    """Summed Farneback flow over a clip ``(T, H, W)``: mean x, mean y and
    a radial (divergence-like) term."""
    h, w = gray.shape[1:]
    ys, xs = np.mgrid[:h, :w].astype(float)
    ys, xs = ys - (h - 1) / 2, xs - (w - 1) / 2  # from the image centre
    feats = np.zeros(3)
    for a, b in zip(gray[:-1], gray[1:]):
        f = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 2, 9, 3, 5, 1.1, 0)
        radial = (f[..., 0] * xs + f[..., 1] * ys) / (xs**2 + ys**2)
        feats += [f[..., 0].mean(), f[..., 1].mean(), radial.mean()]
    return feats


def _nearest_centroid_accuracy(x, y):
    """Leave-one-out nearest-centroid accuracy on standardised features."""
    x = (x - x.mean(0)) / (x.std(0) + 1e-9)
    hits = 0
    for i in range(len(x)):
        keep = np.arange(len(x)) != i
        cents = np.stack([x[keep & (y == c)].mean(0) for c in np.unique(y)])
        hits += int(np.argmin(((cents - x[i])**2).sum(1)) == y[i])
    return hits / len(x)


def test_label_is_in_the_motion_not_in_a_frame():
    motion, frame, labels = [], [], []
    pick = np.random.default_rng(0)
    for i in range(60):  # 10 clips per class (balanced blocks of 6)
        out = _render_clip(11, 0, i, T, (S, S))
        labels.append(int(out['label']))
        gray = out['rgb'].mean(-1).astype(np.uint8)
        motion.append(_flow_features(gray))
        t = pick.integers(T)
        sem = out['semseg'][t]
        hist = np.bincount(sem.ravel(), minlength=len(SCENE_CLASSES))
        solid = sem > 0
        frame.append(np.concatenate([
            out['rgb'][t].reshape(-1, 3).mean(0), hist / sem.size,
            [np.log(out['depth'][t][solid]).mean(),
             np.argmax(solid.any(1))]  # horizon row
        ]))
    labels, motion = np.array(labels), np.array(motion)
    assert np.bincount(labels).tolist() == [10] * 6
    # the flow of each class goes its way: pans in x, tilts in y, dollies
    # expand / contract
    mean = np.stack([motion[labels == c].mean(0) for c in range(6)])
    assert mean[0, 0] > 3 and mean[1, 0] < -3  # pan left: content right
    assert mean[2, 1] > 3 and mean[3, 1] < -3  # tilt up: content down
    assert mean[4, 2] > 0.1 and mean[5, 2] < -0.1
    assert np.all(np.abs(mean[:4, 2]) < 0.1)
    assert _nearest_centroid_accuracy(motion, labels) >= 0.85
    # single frames: about chance (1/6)
    assert _nearest_centroid_accuracy(np.array(frame), labels) < 0.4


def _decode(path, backend):
    results = VideoInit(backend=backend, fallback=None)(dict(filename=path))
    results['frame_inds'] = np.arange(results['total_frames'])
    return VideoDecode(fallback=None)(results)['imgs']


def test_dataset_layout_decoding_determinism_and_reuse(tmp_path, monkeypatch):
    root = tmp_path / 'sv'
    paths = make_scene_video_dataset(str(root), num_train=7, num_val=2,
                                     num_test=1, num_frames=T, size=HW,
                                     seed=3)
    meta = json.load(open(paths['classes_file']))
    assert meta['classes'] == list(SCENE_CLASSES)
    assert meta['motion_classes'] == list(MOTION_CLASSES)
    assert len(meta['palette']) == len(SCENE_CLASSES)
    for split_id, (split, num) in enumerate((('train', 7), ('val', 2),
                                             ('test', 1))):
        lines = open(root / f'{split}.txt').read().splitlines()
        assert lines == [f'{i:06d} {clip_label(3, split_id, i)}'
                         for i in range(num)]
        for mod, ext in (('rgb', '.mp4'), ('depth', '.npz'),
                         ('semseg', '.npz')):
            assert sorted(n for n in os.listdir(root / split / mod)
                          if not n.endswith('.json')) == \
                [f'{i:06d}{ext}' for i in range(num)]
        for mod in ('depth', 'semseg'):
            man = json.load(open(root / split / mod / 'manifest.json'))
            assert man['task'] == mod and man['count'] == num
            assert man['frames_per_clip'] == T and 'source' in man
        assert man['dtype'] == 'uint8' and man['classes'] == \
            list(SCENE_CLASSES)
        man = json.load(open(root / split / 'depth' / 'manifest.json'))
        assert man['scale'] == SCENE_DEPTH_SCALE and man['unit'] == 'm'
        assert man['dtype'] == 'uint16' and man['depth_type'] == 'z-depth'

    # the files hold the rendered clip: exact depth/semseg, close RGB
    ref = _render_clip(3, 0, 1, T, HW)
    depth = np.load(root / 'train' / 'depth' / '000001.npz')['frames']
    sem = np.load(root / 'train' / 'semseg' / '000001.npz')['frames']
    assert depth.dtype == np.uint16 and depth.shape == (T, *HW)
    assert sem.dtype == np.uint8 and sem.shape == (T, *HW)
    np.testing.assert_array_equal(sem, ref['semseg'])
    np.testing.assert_array_equal(
        depth, np.round(ref['depth'] * SCENE_DEPTH_SCALE).astype(np.uint16))
    assert np.all(depth[sem == 0] == 65535)
    assert 0 < depth[sem > 0].min() and depth[sem > 0].max() < 30000
    assert sem.max() < len(SCENE_CLASSES)
    mp4 = str(root / 'train' / 'rgb' / '000001.mp4')
    for backend in ('decord', 'pyav'):
        imgs = _decode(mp4, backend)
        assert imgs.shape == (T, *HW, 3) and imgs.dtype == np.uint8
        # (decoded t, rendered t') mean absolute errors: mp4v of a tiny,
        # noisy clip is lossy (about 5-12 levels), but each decoded frame
        # is far nearer its own rendered frame than any other
        err = np.abs(imgs[:, None].astype(float) - ref['rgb'][None]).mean(
            axis=(2, 3, 4))
        assert np.diag(err).max() < 15, err
        assert np.all(err.argmin(1) == np.arange(T)), err

    # the command line; fewer clips: clip i does not depend on the count
    other = tmp_path / 'other'
    monkeypatch.setattr(sys, 'argv', [
        'demo', 'scene-videos', '--root', str(other), '--num-train', '2',
        '--num-val', '1', '--num-frames', str(T), '--size', str(HW[0]),
        str(HW[1]), '--seed', '3'
    ])
    runpy.run_module('mmmae.datasets.demo', run_name='__main__')
    assert not (other / 'test.txt').exists()
    for rel in ('train/depth/000001.npz', 'train/semseg/000000.npz',
                'val/depth/000000.npz'):
        np.testing.assert_array_equal(np.load(root / rel)['frames'],
                                      np.load(other / rel)['frames'])
    np.testing.assert_array_equal(
        _decode(str(other / 'train' / 'rgb' / '000001.mp4'), 'pyav'),
        _decode(mp4, 'pyav'))

    # same parameters: reused; a missing clip or a smaller set: rewritten
    stamp = root / '.mmmae_scene_videos_stamp.json'
    mtime = os.stat(stamp).st_mtime_ns
    make_scene_video_dataset(str(root), num_train=7, num_val=2, num_test=1,
                             num_frames=T, size=HW, seed=3)
    assert os.stat(stamp).st_mtime_ns == mtime
    os.remove(root / 'val' / 'semseg' / '000001.npz')
    make_scene_video_dataset(str(root), num_train=7, num_val=2, num_test=1,
                             num_frames=T, size=HW, seed=3)
    assert (root / 'val' / 'semseg' / '000001.npz').exists()
    make_scene_video_dataset(str(root), num_train=3, num_val=2,
                             num_frames=T, size=HW, seed=3)
    assert sorted(os.listdir(root / 'train' / 'rgb')) == \
        [f'{i:06d}.mp4' for i in range(3)]
    assert not (root / 'test.txt').exists()
    assert not os.listdir(root / 'test' / 'rgb')
    with pytest.raises(ValueError):
        make_scene_video_dataset(str(tmp_path / 'odd'), num_train=1,
                                 num_val=0, num_frames=T, size=(31, 32))
