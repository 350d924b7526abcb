# Copyright (c) mmmae contributors. All rights reserved.
"""Hypersim: HDF5 -> PNG converter and HypersimDataset in an mmseg
pipeline, on two fake 8x6 scenes."""
import csv
import json
import os.path as osp

import cv2
import h5py
import numpy as np
import pytest
from conftest import run_tool
from mmengine.registry import init_default_scope

import mmmae  # noqa: F401
from mmmae.datasets import HypersimDataset
from mmmae.datasets.converters import (ConverterError, depth_to_mm,
                                       distance_to_planar, prepare_hypersim,
                                       tonemap)
from mmmae.datasets.converters.hypersim import SPLIT_CSV

TOOL = 'tools/dataset_converters/prepare_hypersim.py'
H, W = 6, 8
# (scene, camera, frame, split, public)
FRAMES = [('ai_001_001', 'cam_00', 0, 'train', 'True'),
          ('ai_001_001', 'cam_00', 3, 'train', 'True'),
          ('ai_001_001', 'cam_01', 1, 'train', 'False'),
          ('ai_002_004', 'cam_00', 2, 'val', 'True')]


def _h5(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, 'w') as f:
        f.create_dataset('dataset', data=arr)


def _frame_arrays(seed):
    rng = np.random.default_rng(seed)
    color = rng.uniform(0, 3, (H, W, 3)).astype(np.float16)
    color[0, 0] = np.nan
    dist = rng.uniform(0.5, 9.0, (H, W)).astype(np.float16)
    dist[1, 2] = np.nan
    dist[5, 7] = 80.0  # beyond uint16 millimetres
    sem = rng.integers(1, 41, (H, W)).astype(np.int16)
    sem[2, :3] = -1
    return color, dist, sem


@pytest.fixture()
def raw(tmp_path):
    root = tmp_path / 'raw'
    arrays = {}
    for i, (scene, cam, frame, _, _) in enumerate(FRAMES):
        color, dist, sem = _frame_arrays(i)
        img = root / scene / 'images'
        _h5(img / f'scene_{cam}_final_hdf5' / f'frame.{frame:04d}.color.hdf5',
            color)
        geo = img / f'scene_{cam}_geometry_hdf5'
        _h5(geo / f'frame.{frame:04d}.depth_meters.hdf5', dist)
        _h5(geo / f'frame.{frame:04d}.semantic.hdf5', sem)
        arrays[(scene, cam, frame)] = (color, dist, sem)
    with open(root / SPLIT_CSV, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['scene_name', 'camera_name', 'frame_id',
                    'included_in_public_release', 'exclude_reason',
                    'split_partition_name'])
        for scene, cam, frame, split, public in FRAMES:
            w.writerow([scene, cam, frame, public, '', split])
    return root, arrays


def _read(path):
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert arr is not None, path
    return arr


def test_pure_functions():
    rgb = np.ones((4, 5, 3), np.float32) * 0.25
    out = tonemap(rgb)
    # uniform image: its p90 brightness maps to 0.8 after the gamma
    assert np.all(out == round(0.8 * 255))
    assert np.all(tonemap(np.zeros((2, 2, 3))) == 0)
    # planar <= distance, equal only on the optical axis
    d = np.full((768, 1024), 2.0)
    z = distance_to_planar(d)
    assert z.max() < 2.0 and z.max() > 2.0 * 0.99999
    corner = 2.0 * 886.81 / np.sqrt(511.5**2 + 383.5**2 + 886.81**2)
    assert np.isclose(z[0, 0], corner)
    mm, valid = depth_to_mm(np.array([[np.nan, 0.0, 1.2344, 70.0]]))
    assert mm.tolist() == [[0, 0, 1234, 0]]
    assert valid.tolist() == [[False, False, True, False]]


def test_convert_and_pipeline(raw, tmp_path):
    root, arrays = raw
    out = tmp_path / 'hypersim'
    counts = prepare_hypersim(str(root), str(out), workers=0,
                              progress=False)
    assert counts == {'train': 2, 'val': 1, 'test': 0}

    names = {s: sorted(p.name for p in (out / 'rgb' / s).iterdir())
             for s in ('train', 'val', 'test')}
    assert names == {
        'train': ['ai_001_001_cam_00_0000.png', 'ai_001_001_cam_00_0003.png'],
        'val': ['ai_002_004_cam_00_0002.png'],
        'test': []}  # cam_01 is not in the public release
    meta = json.loads((out / 'hypersim_meta.json').read_text())
    assert meta['counts'] == {'train': 2, 'val': 1, 'test': 0}
    assert meta['depth'] == 'planar'

    color, dist, sem = arrays[('ai_001_001', 'cam_00', 3)]
    stem = 'ai_001_001_cam_00_0003.png'
    rgb = _read(out / 'rgb' / 'train' / stem)[..., ::-1]
    depth = _read(out / 'depth' / 'train' / stem)
    label = _read(out / 'semseg' / 'train' / stem)
    mask = _read(out / 'mask_valid' / 'train' / stem)
    assert rgb.shape == (H, W, 3) and rgb.dtype == np.uint8
    assert depth.dtype == np.uint16 and label.dtype == np.uint8
    # tone map, recomputed independently of the tool
    c = np.nan_to_num(color.astype(np.float64), nan=0.0)
    bright = c[..., 0] * 0.3 + c[..., 1] * 0.59 + c[..., 2] * 0.11
    finite = np.isfinite(color.astype(np.float64)).all(-1)
    scale = 0.8**2.2 / np.percentile(bright[finite], 90)
    want = np.round(np.clip((scale * c)**(1 / 2.2), 0, 1) * 255)
    assert np.abs(rgb.astype(int) - want).max() <= 1
    assert (rgb[0, 0] == 0).all()
    # planar millimetres
    f = 886.81 * W / 1024
    v, u = np.mgrid[0:H, 0:W] + 0.5
    z = dist.astype(np.float64) * f / np.sqrt(
        (u - W / 2)**2 + (v - H / 2)**2 + f * f)
    ok = np.isfinite(z) & (z < 65.5)
    ok[0, 0] = False  # NaN colour
    assert np.array_equal(mask > 0, ok)
    assert set(np.unique(mask)) <= {0, 255}
    assert np.array_equal(depth[ok], np.round(z[ok] * 1000).astype(np.uint16))
    assert (depth[~ok] == 0).all()
    assert depth[1, 2] == 0 and depth[5, 7] == 0
    # labels: -1 -> 0, others kept
    assert (label[2, :3] == 0).all()
    assert np.array_equal(label[sem > 0], sem[sem > 0])

    # distance depth on request
    out2 = tmp_path / 'hypersim_dist'
    assert run_tool(TOOL, root, out2, '--no-planar', '--splits', 'val',
                    '--mask-label') == 0
    assert not (out2 / 'rgb' / 'train').exists()
    color, dist, sem = arrays[('ai_002_004', 'cam_00', 2)]
    stem = 'ai_002_004_cam_00_0002.png'
    depth = _read(out2 / 'depth' / 'val' / stem)
    mask = _read(out2 / 'mask_valid' / 'val' / stem) > 0
    assert not mask[2, :3].any()  # unlabelled -> invalid with --mask-label
    assert np.array_equal(
        depth[mask], np.round(dist.astype(np.float64)[mask] * 1000))

    # the dataset and a real mmseg pipeline
    init_default_scope('mmseg')
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='mmmae.LoadModalities',
             modalities=dict(depth=dict(scale=1e-3),
                             mask_valid=dict(dtype='uint8'))),
        dict(type='mmmae.ApplyValidMask'),
        dict(type='mmmae.PackMultiModalSegInputs', modalities=('img', 'depth'))
    ]
    ds = HypersimDataset(data_root=str(out), split='train', pipeline=pipeline)
    assert len(ds) == 2
    assert len(ds.metainfo['classes']) == 40
    assert len(ds.metainfo['palette']) == 40
    info = ds.get_data_info(1)
    assert info['depth_path'].endswith(
        osp.join('depth', 'train', 'ai_001_001_cam_00_0003.png'))
    assert info['mask_valid_path'].endswith(
        osp.join('mask_valid', 'train', 'ai_001_001_cam_00_0003.png'))
    assert info['reduce_zero_label'] is True
    sample = ds[1]
    x = sample['inputs']
    assert x.shape == (4, H, W)
    gt = sample['data_samples'].gt_sem_seg.data[0].numpy()
    color, dist, sem = arrays[('ai_001_001', 'cam_00', 3)]
    assert (gt[~ok] == 255).all()
    assert (gt[2, :3] == 255).all()  # unlabelled
    both = ok & (sem > 0)
    assert np.array_equal(gt[both], sem[both] - 1)
    d = x[3].numpy()
    assert (d[~ok] == 0).all()
    assert np.allclose(d[ok], np.round(z[ok] * 1000) / 1000, atol=1e-6)
    assert sample['data_samples'].metainfo['modalities'] == ('img', 'depth')

    # through the registry, with a depth target and no extra inputs
    from mmmae.registry import DATASETS
    val = DATASETS.build(dict(type='mmmae.HypersimDataset', data_root=str(out),
                              split='val', modalities=(), depth_gt=True))
    info = val.get_data_info(0)
    assert 'depth_path' not in info and 'mask_valid_path' not in info
    assert info['depth_map_path'].endswith(
        osp.join('depth', 'val', 'ai_002_004_cam_00_0002.png'))
    with pytest.raises(ValueError, match='split'):
        HypersimDataset(data_root=str(out), split='training')


def test_workers(raw, tmp_path):
    root, _ = raw
    a, b = tmp_path / 'a', tmp_path / 'b'
    assert prepare_hypersim(str(root), str(a), splits=['train'],
                            progress=False) == {'train': 2}
    assert run_tool(TOOL, root, b, '--splits', 'train', '--workers', 2) == 0
    for kind in ('rgb', 'depth', 'semseg', 'mask_valid'):
        for p in (a / kind / 'train').iterdir():
            assert np.array_equal(_read(p), _read(b / kind / 'train' / p.name))


def test_errors(raw, tmp_path, capsys):
    root, _ = raw
    out = tmp_path / 'out'
    csv_path = root / SPLIT_CSV
    moved = tmp_path / 'split.csv'
    csv_path.rename(moved)
    assert run_tool(TOOL, root, out) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: split CSV ')
    assert SPLIT_CSV in err and '--csv' in err
    with pytest.raises(ConverterError, match='--csv'):
        prepare_hypersim(str(root), str(out), progress=False)
    assert run_tool(TOOL, root, out, '--csv', moved) == 0
    assert 'wrote {' in capsys.readouterr().out

    (root / 'ai_002_004' / 'images' / 'scene_cam_00_geometry_hdf5' /
     'frame.0002.semantic.hdf5').unlink()
    assert run_tool(TOOL, root, out, '--csv', moved) == 2
    err = capsys.readouterr().err
    assert 'frame.0002.semantic.hdf5' in err and '--skip-missing' in err
    out3 = tmp_path / 'out3'
    assert run_tool(TOOL, root, out3, '--csv', moved, '--skip-missing') == 0
    assert 'skipped 1 frames' in capsys.readouterr().err
    meta = json.loads((out3 / 'hypersim_meta.json').read_text())
    assert meta['counts'] == {'train': 2, 'val': 0, 'test': 0}
    assert len(meta['skipped_missing']) == 1
