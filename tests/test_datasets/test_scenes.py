# Copyright (c) mmmae contributors. All rights reserved.
"""Ray-cast demo scenes: determinism, exact geometry, formats, speed."""
import json
import os
import os.path as osp
import time

import cv2
import numpy as np
import pytest

from mmmae.datasets.demo import (SCENE_CLASSES, SCENE_DEPTH_SCALE, SKY_DEPTH,
                                 make_scene_dataset, render_scene,
                                 sample_scene)
from mmmae.datasets.demo.scenes import _camera_rays


def _scene(i, **kwargs):
    return sample_scene(np.random.default_rng([7, i]), **kwargs)


def _points(scene, depth):
    """3-D world points of every pixel from the z-depth (rays have unit
    forward component, so point = origin + depth * ray)."""
    origin, dirs = _camera_rays(scene['camera'], depth.shape)
    return origin + depth.reshape(-1, 1) * dirs


def test_render_is_deterministic_and_typed():
    a = render_scene(_scene(0), (48, 80), np.random.default_rng(1))
    b = render_scene(_scene(0), (48, 80), np.random.default_rng(1))
    for key in ('rgb', 'depth', 'semseg', 'instance'):
        np.testing.assert_array_equal(a[key], b[key])
    assert a['rgb'].shape == (48, 80, 3) and a['rgb'].dtype == np.uint8
    assert a['depth'].shape == (48, 80) and a['depth'].dtype == np.float32
    assert a['semseg'].dtype == np.uint8
    assert a['semseg'].max() < len(SCENE_CLASSES)


@pytest.mark.parametrize('i', range(6))
def test_depth_matches_the_geometry_of_each_label(i):
    """Back-projected depth lands on the surface its label names."""
    scene = _scene(i, num_objects=4)
    out = render_scene(scene, (64, 64))
    depth, sem, inst = out['depth'], out['semseg'], out['instance']
    pts = _points(scene, depth.astype(np.float64)).reshape(64, 64, 3)
    tol = 1e-3 * depth  # float32 storage
    floor, wall = sem == 1, sem == 2
    assert floor.any() and wall.any()
    assert np.all(np.abs(pts[floor][:, 1]) <= tol[floor] + 1e-5)
    assert np.all(np.abs(pts[wall][:, 2] - scene['wall']['z']) <=
                  tol[wall] + 1e-5)
    assert np.all(pts[wall][:, 1] <= scene['wall']['height'] + 1e-3)
    for k, obj in enumerate(scene['objects']):
        sel = inst == 3 + k
        if not sel.any():
            continue
        assert np.all(sem[sel] == SCENE_CLASSES.index(obj['type']))
        p = pts[sel] - np.asarray(obj['centre'])
        if obj['type'] == 'sphere':
            np.testing.assert_allclose(np.linalg.norm(p, axis=1),
                                       obj['radius'], atol=2e-3)
        elif obj['type'] == 'cylinder':
            assert np.all(np.hypot(p[:, 0], p[:, 2]) <= obj['radius'] + 2e-3)
            assert np.all((p[:, 1] > -2e-3) &
                          (p[:, 1] < obj['height'] + 2e-3))
        else:
            c, s = np.cos(obj['angle']), np.sin(obj['angle'])
            local = np.stack([c * p[:, 0] - s * p[:, 2], p[:, 1],
                              s * p[:, 0] + c * p[:, 2]], 1)
            excess = np.abs(local) - np.asarray(obj['half'])
            assert np.all(excess <= 2e-3)  # inside or on the box
            assert np.all(np.abs(excess.max(1)) <= 2e-3)  # on a face
    sky = sem == 0
    assert np.all(depth[sky] == np.float32(SKY_DEPTH))


@pytest.mark.parametrize('i', range(4))
def test_floor_recedes_and_objects_occlude_the_background(i):
    scene = _scene(i)
    out = render_scene(scene, (64, 64))
    depth, sem = out['depth'], out['semseg']
    # floor depth grows towards the horizon (upwards in the image)
    fl = (sem[:-1] == 1) & (sem[1:] == 1)
    assert fl.any()
    assert np.all(depth[:-1][fl] > depth[1:][fl])
    # every object pixel is nearer than the empty room behind it
    empty = dict(scene, objects=[])
    back = render_scene(empty, (64, 64))['depth']
    obj = sem >= 3
    assert obj.any()
    assert np.all(depth[obj] < back[obj])
    # and label boundaries object | background are depth discontinuities
    for a, b, da, db in ((sem[:, :-1], sem[:, 1:], depth[:, :-1],
                          depth[:, 1:]), (sem[:-1], sem[1:], depth[:-1],
                                          depth[1:])):
        edge = ((a >= 3) & ((b == 0) | (b == 2))) | \
            ((b >= 3) & ((a == 0) | (a == 2)))
        assert np.all(np.abs(da - db)[edge] > 0.5)


def test_rgb_is_not_a_function_of_the_class():
    out = render_scene(_scene(3), (64, 64))
    for cls in (1, 2):  # checker floor, striped wall
        pix = out['rgb'][out['semseg'] == cls]
        assert len(np.unique(pix.reshape(-1, 3), axis=0)) >= 2
    noisy = render_scene(_scene(3), (64, 64), np.random.default_rng(0))
    floor = noisy['rgb'][noisy['semseg'] == 1]
    assert len(np.unique(floor.reshape(-1, 3), axis=0)) > 20


def test_dataset_files_formats_and_reuse(tmp_path):
    root = tmp_path / 'scenes'
    paths = make_scene_dataset(str(root), num_train=5, num_val=2,
                               size=(50, 70), seed=3)
    assert json.load(open(paths['classes_file']))['classes'] == \
        list(SCENE_CLASSES)
    for split, num in (('train', 5), ('val', 2)):
        for mod in ('rgb', 'depth', 'semseg'):
            names = sorted(n for n in os.listdir(root / split / mod)
                           if n.endswith('.png'))
            assert names == [f'{i:06d}.png' for i in range(num)]
        rgb = cv2.imread(str(root / split / 'rgb' / '000001.png'),
                         cv2.IMREAD_UNCHANGED)
        depth = cv2.imread(str(root / split / 'depth' / '000001.png'),
                           cv2.IMREAD_UNCHANGED)
        sem = cv2.imread(str(root / split / 'semseg' / '000001.png'),
                         cv2.IMREAD_UNCHANGED)
        assert rgb.shape == (50, 70, 3) and rgb.dtype == np.uint8
        assert depth.shape == (50, 70) and depth.dtype == np.uint16
        assert sem.shape == (50, 70) and sem.dtype == np.uint8
        man = json.load(open(root / split / 'depth' / 'manifest.json'))
        assert man['scale'] == SCENE_DEPTH_SCALE and man['count'] == num
        # the PNG holds the rendered depth (mm)
        assert depth[sem == 0].tolist() == [65535] * int((sem == 0).sum())
        assert 0 < depth[sem > 0].min() and depth[sem > 0].max() < 30000
    # same files from a fresh run elsewhere (deterministic), and the first
    # images do not depend on how many are generated
    other = make_scene_dataset(str(tmp_path / 'other'), num_train=3,
                               num_val=1, size=(50, 70), seed=3)
    for rel in ('train/rgb/000002.png', 'train/depth/000002.png',
                'val/semseg/000000.png'):
        assert (root / rel).read_bytes() == \
            open(osp.join(other['root'], rel), 'rb').read()
    # a second call with the same parameters reuses the files
    mtime = os.stat(root / 'train' / 'rgb' / '000000.png').st_mtime_ns
    make_scene_dataset(str(root), num_train=5, num_val=2, size=(50, 70),
                       seed=3)
    assert os.stat(root / 'train' / 'rgb' /
                   '000000.png').st_mtime_ns == mtime
    # a deleted file makes it regenerate
    os.remove(root / 'val' / 'depth' / '000001.png')
    make_scene_dataset(str(root), num_train=5, num_val=2, size=(50, 70),
                       seed=3)
    assert (root / 'val' / 'depth' / '000001.png').is_file()
    assert not list(root.rglob('*.part*'))


def test_generation_is_fast(tmp_path):
    tic = time.perf_counter()
    make_scene_dataset(str(tmp_path), num_train=100, num_val=0,
                       size=(64, 64))
    # ~1 s on one free core; generous for shared CI machines
    assert time.perf_counter() - tic < 15


def test_cli(tmp_path, capsys):
    from mmmae.datasets.demo.scenes import main
    main(['--root', str(tmp_path), '--num-train', '2', '--num-val', '1',
          '--size', '40'])
    img = cv2.imread(str(tmp_path / 'val' / 'rgb' / '000000.png'))
    assert img.shape == (40, 40, 3)
    assert 'classes_file' in capsys.readouterr().out


def _pngs(folder):
    return sorted(n for n in os.listdir(folder) if n.endswith('.png'))


def test_test_split_is_held_out_and_optional(tmp_path):
    root = tmp_path / 'scenes'
    paths = make_scene_dataset(str(root), num_train=3, num_val=2,
                               num_test=2, size=(32, 32))
    assert paths['test'] == str(root / 'test')
    for mod in ('rgb', 'depth', 'semseg'):
        assert _pngs(root / 'test' / mod) == ['000000.png', '000001.png']
    assert json.load(open(root / 'test' / 'depth' /
                          'manifest.json'))['count'] == 2
    # its own random stream: no test image repeats a train or val image
    test_imgs = [(root / 'test' / 'rgb' / n).read_bytes()
                 for n in _pngs(root / 'test' / 'rgb')]
    for split in ('train', 'val'):
        for n in _pngs(root / split / 'rgb'):
            assert (root / split / 'rgb' / n).read_bytes() not in test_imgs
    # train and val do not depend on the test split
    plain = make_scene_dataset(str(tmp_path / 'plain'), num_train=3,
                               num_val=2, size=(32, 32))
    assert 'test' not in plain and not osp.exists(tmp_path / 'plain' /
                                                  'test')
    for rel in ('train/rgb/000002.png', 'val/semseg/000001.png'):
        assert (root / rel).read_bytes() == \
            open(osp.join(plain['root'], rel), 'rb').read()


def test_old_stamps_regenerate_and_stale_images_go(tmp_path):
    from mmmae.datasets.demo.scenes import _STAMP
    root = tmp_path / 'scenes'
    make_scene_dataset(str(root), num_train=4, num_val=2, size=(32, 32))
    # a folder stamped before the test split existed
    stamp = root / _STAMP
    old = json.load(open(stamp))
    del old['num_test']
    stamp.write_text(json.dumps(old))
    mtime = os.stat(root / 'train' / 'rgb' / '000000.png').st_mtime_ns
    make_scene_dataset(str(root), num_train=4, num_val=2, size=(32, 32))
    assert os.stat(root / 'train' / 'rgb' /
                   '000000.png').st_mtime_ns != mtime  # regenerated
    assert json.load(open(stamp))['num_test'] == 0
    # asked for fewer images: the extra ones of the larger set are removed
    # (the datasets list every file of a split folder)
    make_scene_dataset(str(root), num_train=5, num_val=2, num_test=3,
                       size=(32, 32))
    make_scene_dataset(str(root), num_train=2, num_val=2, num_test=0,
                       size=(32, 32))
    for mod in ('rgb', 'depth', 'semseg'):
        assert _pngs(root / 'train' / mod) == ['000000.png', '000001.png']
        assert _pngs(root / 'test' / mod) == []


def test_seg_dataset_takes_the_first_images_as_the_labelled_subset(
        tmp_path):
    """tools/demo_multimae.py fine-tunes on ``indices=N``: the first N
    training images by name, while pretraining reads all of them."""
    from mmengine.registry import DefaultScope

    from mmmae.registry import DATASETS
    root = tmp_path / 'scenes'
    make_scene_dataset(str(root), num_train=6, num_val=1, size=(32, 32))
    seg = dict(type='mmmae.MultiModalSegDataset',
               data_root=str(root / 'train'),
               data_prefix=dict(img_path='rgb', seg_map_path='semseg'),
               modalities=dict(depth=dict(dir='depth', suffix='.png')),
               img_suffix='.png', seg_map_suffix='.png', pipeline=[])
    with DefaultScope.overwrite_default_scope('mmseg'):
        part = DATASETS.build(dict(seg, indices=4))
        whole = DATASETS.build(seg)
    names = [osp.basename(part.get_data_info(i)['img_path'])
             for i in range(len(part))]
    assert names == [f'{i:06d}.png' for i in range(4)] and len(whole) == 6
    with DefaultScope.overwrite_default_scope('mmmae'):
        pre = DATASETS.build(dict(type='MultiModalFolderDataset',
                                  data_root=str(root), split='train',
                                  modalities=('rgb', 'depth')))
    assert len(pre) == 6


def test_cli_test_split(tmp_path):
    from mmmae.datasets.demo.scenes import main
    paths = main(['--root', str(tmp_path), '--num-train', '1', '--num-val',
                  '1', '--num-test', '2', '--size', '32'])
    assert _pngs(osp.join(paths['test'], 'rgb')) == ['000000.png',
                                                     '000001.png']
