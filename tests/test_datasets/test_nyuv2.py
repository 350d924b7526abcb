# Copyright (c) mmmae contributors. All rights reserved.
"""NYUv2: prepare_nyuv2.py on fake MATLAB files, NYUv2Dataset + pipelines."""
import os
import os.path as osp
import re
import shutil
import warnings

import cv2
import h5py
import numpy as np
import pytest
import scipy.io
from conftest import run_tool

import mmmae  # noqa: F401
from mmmae.datasets import NYUV2_CLASSES, NYUv2Dataset
from mmmae.datasets.converters import ConverterError, prepare_nyuv2
from mmmae.datasets.converters.nyuv2 import NUM_FINE
from mmmae.registry import DATASETS

TOOL = 'tools/dataset_converters/prepare_nyuv2.py'

N, H, W = 5, 6, 8
TRAIN, TEST = [1, 3, 4], [2, 5]  # 1-based, as in splits.mat


def _matlab(arr: np.ndarray) -> np.ndarray:
    """What h5py reads back from a MATLAB v7.3 array of shape ``arr.shape``.

    MATLAB stores column-major; HDF5/h5py are row-major, so the same bytes
    read as the array with all axes reversed.
    """
    return np.ascontiguousarray(arr.T)


def _write_v73(path: str, fields: dict) -> None:
    """A MATLAB v7.3 file: HDF5 behind a 512-byte MATLAB header."""
    with h5py.File(path, 'w', userblock_size=512) as f:
        for name, arr in fields.items():
            f[name] = _matlab(arr)
    text = b'MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 .'
    header = text.ljust(116, b' ') + b'\0' * 8 + b'\x00\x02IM'
    with open(path, 'r+b') as f:
        f.write(header)


def _fake_sources(root: str, seed: int = 0) -> dict:
    """Write the three input files; return the ground truth (N, H, W...)."""
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (N, H, W, 3), dtype=np.uint8)
    depth = rng.uniform(0.5, 9.9, (N, H, W)).astype(np.float32)
    depth[:, 0, 0] = 0  # invalid
    depth[1, 2, 3] = np.nan  # must not become garbage
    depth[2, 1, 1] = 70.0  # beyond uint16 mm: clipped
    raw = depth.copy()
    raw[:, :, :2] = 0  # holes that the inpainted map filled
    fine = rng.integers(0, NUM_FINE + 1, (N, H, W), dtype=np.uint16)
    fine[:, -1, :] = 0  # unlabelled row
    fine[0, 0, 1] = 894  # the last fine id
    mapclass = rng.integers(1, 41, NUM_FINE)
    mapclass[893] = 40
    lut = np.concatenate([[0], mapclass]).astype(np.uint8)

    mat = osp.join(root, 'nyu_depth_v2_labeled.mat')
    _write_v73(
        mat,
        dict(images=rgb.transpose(1, 2, 3, 0),  # H x W x 3 x N
             depths=depth.transpose(1, 2, 0),  # H x W x N
             rawDepths=raw.transpose(1, 2, 0),
             labels=fine.transpose(1, 2, 0)))
    assert h5py.File(mat, 'r')['images'].shape == (N, 3, W, H)
    splits = osp.join(root, 'splits.mat')
    scipy.io.savemat(
        splits,
        dict(trainNdxs=np.array(TRAIN, float)[:, None],
             testNdxs=np.array(TEST, float)[:, None]))
    mapping = osp.join(root, 'classMapping40.mat')
    scipy.io.savemat(
        mapping,
        dict(mapClass=mapclass[None].astype(float),
             className=np.array(NYUV2_CLASSES, dtype=object)[None]))
    labels40 = osp.join(root, 'labels40.mat')
    scipy.io.savemat(labels40,
                     dict(labels40=lut[fine].transpose(1, 2, 0)))
    return dict(rgb=rgb, depth=depth, raw=raw, fine=fine, lut=lut, mat=mat,
                splits=splits, mapping=mapping, labels40=labels40)


def _mm(depth_m):
    d = np.nan_to_num(depth_m.astype(np.float64), nan=0.0)
    return np.clip(np.round(d * 1000), 0, 65535).astype(np.uint16)


def _read(path):
    arr = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert arr is not None, path
    return arr


@pytest.fixture(scope='module')
def nyu(tmp_path_factory):
    src = str(tmp_path_factory.mktemp('nyu_src'))
    gt = _fake_sources(src)
    out = osp.join(src, 'out')
    counts = prepare_nyuv2(gt['mat'], gt['splits'], out,
                           class_mapping=gt['mapping'], progress=False)
    assert counts == dict(train=3, test=2)
    gt['root'] = out
    return gt


def test_converter_layout_and_pixels(nyu):
    root = nyu['root']
    for split, idxs in (('train', TRAIN), ('test', TEST)):
        for sub in ('rgb', 'depth', 'labels40', 'mask_valid'):
            assert sorted(os.listdir(osp.join(root, sub, split))) == [
                f'{i:04d}.png' for i in idxs
            ]
        for idx in idxs:
            i, name = idx - 1, f'{idx:04d}.png'
            rgb = _read(osp.join(root, 'rgb', split, name))
            assert rgb.shape == (H, W, 3)
            np.testing.assert_array_equal(rgb[..., ::-1], nyu['rgb'][i])
            depth = _read(osp.join(root, 'depth', split, name))
            assert depth.dtype == np.uint16
            np.testing.assert_array_equal(depth, _mm(nyu['depth'][i]))
            lab = _read(osp.join(root, 'labels40', split, name))
            assert lab.dtype == np.uint8
            np.testing.assert_array_equal(lab, nyu['lut'][nyu['fine'][i]])
            mask = _read(osp.join(root, 'mask_valid', split, name))
            np.testing.assert_array_equal(mask, (depth > 0) * 255)
    # Spot values: mm, invalid 0, NaN 0, clipped, label mapping.
    d1 = _read(osp.join(root, 'depth', 'train', '0001.png'))
    assert d1[0, 0] == 0 and d1[2, 5] == round(nyu['depth'][0, 2, 5] * 1000)
    d2 = _read(osp.join(root, 'depth', 'test', '0002.png'))
    assert d2[2, 3] == 0
    d3 = _read(osp.join(root, 'depth', 'train', '0003.png'))
    assert d3[1, 1] == 65535
    lab = _read(osp.join(root, 'labels40', 'train', '0001.png'))
    assert lab[0, 1] == 40 and (lab[-1] == 0).all()
    readme = open(osp.join(root, 'README.txt')).read()
    assert 'train: 3 images' in readme and 'test: 2 images' in readme
    assert 'millimetres' in readme


def test_converter_labels40_sources(nyu, tmp_path, capsys):
    base = ['--mat', nyu['mat'], '--splits', nyu['splits']]
    expected = osp.join(nyu['root'], 'labels40', 'test', '0005.png')
    # labels40.mat alone, through the command line.
    assert run_tool(TOOL, *base, '--labels40', nyu['labels40'], '--out',
                    tmp_path / 'a') == 0
    assert 'test: 2 images (standard: 654)' in capsys.readouterr().out
    np.testing.assert_array_equal(
        _read(str(tmp_path / 'a/labels40/test/0005.png')), _read(expected))
    # Both: consistent, no warning.
    prepare_nyuv2(nyu['mat'], nyu['splits'], str(tmp_path / 'b'),
                  labels40=nyu['labels40'], class_mapping=nyu['mapping'],
                  progress=False)
    assert 'differ' not in capsys.readouterr().err
    # A v7.3 (HDF5) labels40.mat, read transposed like the main file.
    h5 = str(tmp_path / 'labels40_v73.mat')
    _write_v73(h5,
               dict(labels40=nyu['lut'][nyu['fine']].transpose(1, 2, 0)))
    prepare_nyuv2(nyu['mat'], nyu['splits'], str(tmp_path / 'c'),
                  labels40=h5, progress=False)
    np.testing.assert_array_equal(
        _read(str(tmp_path / 'c/labels40/test/0005.png')), _read(expected))
    # Disagreeing sources: labels40 wins, mismatch reported.
    bad = str(tmp_path / 'labels40_bad.mat')
    lab = nyu['lut'][nyu['fine']].transpose(1, 2, 0).copy()
    lab[0, 0, :] = (lab[0, 0, :] % 40) + 1
    scipy.io.savemat(bad, dict(labels40=lab))
    assert run_tool(TOOL, *base, '--labels40', bad, '--class-mapping',
                    nyu['mapping'], '--out', tmp_path / 'd') == 0
    assert f'{N} pixels' in capsys.readouterr().err


def test_converter_raw_depth(nyu, tmp_path):
    out = str(tmp_path / 'raw')
    assert run_tool(TOOL, '--mat', nyu['mat'], '--splits', nyu['splits'],
                    '--class-mapping', nyu['mapping'], '--out', out,
                    '--raw-depth') == 0
    depth = _read(osp.join(out, 'depth', 'train', '0004.png'))
    np.testing.assert_array_equal(depth, _mm(nyu['raw'][3]))
    mask = _read(osp.join(out, 'mask_valid', 'train', '0004.png'))
    assert (mask[:, :2] == 0).all() and (mask[:, 2:] == 255).all()


@pytest.mark.parametrize('case', [
    'no_mapping', 'missing_mat', 'no_field', 'no_raw', 'bad_splits',
    'out_of_range', 'not_empty'
])
def test_converter_errors(nyu, tmp_path, capsys, case):
    args = dict(mat=nyu['mat'], splits=nyu['splits'],
                mapping=nyu['mapping'])
    out = str(tmp_path / 'out')
    extra = []
    if case == 'no_mapping':
        args['mapping'] = None
        msg = '--class-mapping'
    elif case == 'missing_mat':
        args['mat'] = str(tmp_path / 'nope.mat')
        msg = 'nope.mat'
    elif case == 'no_field':
        args['mat'] = str(tmp_path / 'wrong.mat')
        with h5py.File(args['mat'], 'w') as f:
            f['images'] = np.zeros((N, 3, W, H), np.uint8)
        msg = "no field 'depths'"
    elif case == 'no_raw':
        args['mat'] = str(tmp_path / 'noraw.mat')
        with h5py.File(args['mat'], 'w') as f:
            f['images'] = np.zeros((N, 3, W, H), np.uint8)
            f['depths'] = np.zeros((N, W, H), np.float32)
            f['labels'] = np.zeros((N, W, H), np.uint16)
        extra = ['--raw-depth']
        msg = 'drop --raw-depth'
    elif case == 'bad_splits':
        args['splits'] = str(tmp_path / 'splits.mat')
        scipy.io.savemat(args['splits'], dict(trainNdxs=np.array([[1.]])))
        msg = "no field 'testNdxs'"
    elif case == 'out_of_range':
        args['splits'] = str(tmp_path / 'splits.mat')
        scipy.io.savemat(args['splits'],
                         dict(trainNdxs=np.array([[1.]]),
                              testNdxs=np.array([[N + 1.]])))
        msg = '1-based'
    else:
        os.makedirs(out)
        open(osp.join(out, 'x'), 'w').close()
        msg = '--overwrite'
    argv = ['--mat', args['mat'], '--splits', args['splits'], '--out', out]
    if args['mapping']:
        argv += ['--class-mapping', args['mapping']]
    assert run_tool(TOOL, *argv, *extra) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith('error: ') and msg in err
    with pytest.raises(ConverterError, match=re.escape(msg)):
        prepare_nyuv2(args['mat'], args['splits'], out,
                      class_mapping=args['mapping'],
                      raw_depth=bool(extra), progress=False)


def _seg_pipeline(with_mask=True, reduce_zero_label=True):
    mods = dict(depth=dict(scale=1e-3))
    if with_mask:
        mods['mask_valid'] = dict(dtype='uint8')
    return [
        dict(type='LoadImageFromFile'),
        dict(type='mmseg.LoadAnnotations',
             reduce_zero_label=reduce_zero_label),
        dict(type='mmmae.LoadModalities', modalities=mods),
        dict(type='mmmae.ApplyValidMask'),
        dict(type='mmmae.PackMultiModalSegInputs', modalities=('img',
                                                               'depth')),
    ]


def _expected_seg(nyu, i, invalid):
    lab = nyu['lut'][nyu['fine'][i]].astype(np.int64) - 1
    lab[lab < 0] = 255
    lab[invalid] = 255
    return lab


def test_dataset_seg_rgbd(nyu):
    ds = DATASETS.build(
        dict(type='NYUv2Dataset', data_root=nyu['root'], split='train',
             input_modalities=('depth', ), pipeline=_seg_pipeline()))
    assert isinstance(ds, NYUv2Dataset) and len(ds) == 3
    assert ds.metainfo['classes'] == NYUV2_CLASSES
    assert len(ds.metainfo['palette']) == 40
    assert ds.metainfo['reduce_zero_label'] is True
    info = ds.get_data_info(0)
    assert info['img_path'].endswith(osp.join('rgb', 'train', '0001.png'))
    assert info['seg_map_path'].endswith(
        osp.join('labels40', 'train', '0001.png'))
    assert info['depth_path'].endswith(osp.join('depth', 'train',
                                                '0001.png'))
    assert info['mask_valid_path'].endswith(
        osp.join('mask_valid', 'train', '0001.png'))
    assert 'depth_map_path' not in info

    out = ds[0]
    inputs = out['inputs'].numpy()
    assert inputs.shape == (4, H, W)
    depth_m = _mm(nyu['depth'][0]).astype(np.float32) * 1e-3
    invalid = depth_m == 0
    assert invalid.any()
    # LoadImageFromFile decodes BGR; channel 3 is depth in metres.
    np.testing.assert_array_equal(inputs[:3].transpose(1, 2, 0),
                                  nyu['rgb'][0][..., ::-1])
    np.testing.assert_allclose(inputs[3], depth_m, rtol=1e-6)
    seg = out['data_samples'].gt_sem_seg.data.numpy()[0]
    np.testing.assert_array_equal(seg, _expected_seg(nyu, 0, invalid))
    assert seg[seg != 255].max() == 39  # class 40 -> 39
    assert out['data_samples'].metainfo['modalities'] == ('img', 'depth')


def test_load_annotations_reduce_zero_label(nyu):
    """mmseg 1.2.2: ``None`` takes the dataset's flag; a conflict asserts."""
    ds = NYUv2Dataset(data_root=nyu['root'], split='train',
                      input_modalities=('depth', ),
                      pipeline=_seg_pipeline(reduce_zero_label=None))
    seg = ds[1]['data_samples'].gt_sem_seg.data.numpy()[0]
    invalid = _mm(nyu['depth'][2]) == 0
    np.testing.assert_array_equal(seg, _expected_seg(nyu, 2, invalid))
    ds = NYUv2Dataset(data_root=nyu['root'], split='train',
                      input_modalities=('depth', ),
                      pipeline=_seg_pipeline(reduce_zero_label=False))
    with pytest.raises(AssertionError, match='reduce_zero_label'):
        ds[0]


def test_dataset_depth_task(nyu):
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='mmseg.LoadDepthAnnotation', depth_rescale_factor=1e-3),
        dict(type='mmmae.LoadModalities',
             modalities=dict(mask_valid=dict(dtype='uint8'))),
        dict(type='mmmae.ApplyValidMask'),
        dict(type='mmseg.PackSegInputs'),
    ]
    ds = NYUv2Dataset(data_root=nyu['root'], split='test', task='depth',
                      expect_full_test=False, pipeline=pipeline)
    assert len(ds) == 2
    info = ds.get_data_info(1)
    assert 'seg_map_path' not in info
    assert info['depth_map_path'].endswith(
        osp.join('depth', 'test', '0005.png'))
    sample = ds[1]['data_samples']
    assert 'gt_sem_seg' not in sample
    gt = sample.gt_depth_map.data.numpy()
    assert gt.shape == (1, H, W)
    np.testing.assert_allclose(
        gt[0], _mm(nyu['depth'][4]) * 1e-3, rtol=1e-6, atol=1e-7)
    assert 0 < gt.max() < 10  # metres, not mm


def test_dataset_test_count_warning(nyu):
    with pytest.warns(UserWarning, match='654'):
        NYUv2Dataset(data_root=nyu['root'], split='test')
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        NYUv2Dataset(data_root=nyu['root'], split='test',
                     expect_full_test=False)
        NYUv2Dataset(data_root=nyu['root'], split='train')


def test_dataset_without_mask_folder(nyu, tmp_path):
    root = str(tmp_path / 'nomask')
    shutil.copytree(nyu['root'], root,
                    ignore=shutil.ignore_patterns('mask_valid'))
    ds = NYUv2Dataset(data_root=root, split='train',
                      input_modalities=('depth', ),
                      pipeline=_seg_pipeline(with_mask=False))
    assert 'mask_valid_path' not in ds.get_data_info(0)
    out = ds[0]
    # No mask: only the unlabelled pixels are ignored, depth keeps its 0s.
    seg = out['data_samples'].gt_sem_seg.data.numpy()[0]
    np.testing.assert_array_equal(
        seg, _expected_seg(nyu, 0, np.zeros((H, W), bool)))
    assert out['inputs'].shape == (4, H, W)


def test_dataset_bad_args(nyu):
    with pytest.raises(ValueError, match='split'):
        NYUv2Dataset(data_root=nyu['root'], split='val')
    with pytest.raises(ValueError, match='task'):
        NYUv2Dataset(data_root=nyu['root'], task='normals')
