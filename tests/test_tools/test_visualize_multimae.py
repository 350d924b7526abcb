# Copyright (c) mmmae contributors. All rights reserved.
"""mmmae.apis.visualize_multimae and tools/visualize_multimae.py on tiny
rendered scenes with a tiny model."""
import os
import os.path as osp
import shutil
import sys

import cv2
import numpy as np
import pytest
import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO_ROOT, 'tests', 'test_models'))

from _multimae_helpers import (tiny_backbone_cfg, tiny_head_cfg,  # noqa: E402
                               tiny_neck_cfg)
from conftest import run_tool  # noqa: E402

from mmmae.apis import visualize_multimae  # noqa: E402

GREY = np.array([128, 128, 128], np.uint8)
NUM_CLASSES = 6  # the scene classes
ROWS = ['rgb', 'norm_rgb (GT patch stats: leaks)', 'norm_rgb raw z-scores',
        'depth', 'semseg']


def _model_cfg():
    backbone = tiny_backbone_cfg()
    backbone['input_adapters']['semseg']['num_classes'] = NUM_CLASSES
    neck = tiny_neck_cfg(with_norm_rgb=True)
    neck['output_adapters']['semseg']['num_channels'] = NUM_CLASSES
    head = tiny_head_cfg()
    head['tasks']['norm_rgb'] = dict(
        target='rgb',
        loss=dict(type='mmmae.MaskedMSELoss', patch_size=8, norm_pix=True))
    return dict(type='mmmae.MultiMAE', backbone=backbone, neck=neck,
                head=head)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    from mmengine.config import Config

    from mmmae.datasets.demo import make_scene_dataset
    from mmmae.registry import MODELS
    root = tmp_path_factory.mktemp('vis_multimae')
    paths = make_scene_dataset(str(root / 'scenes'), num_train=2, num_val=3,
                               size=(32, 32))
    cfg_path = str(root / 'cfg.py')
    Config(dict(default_scope='mmmae', model=_model_cfg())).dump(cfg_path)
    torch.manual_seed(0)
    model = MODELS.build(_model_cfg())
    model.init_weights()
    ckpt = str(root / 'tiny.pth')
    torch.save({'state_dict': model.state_dict()}, ckpt)
    bad_cfg = str(root / 'bad_cfg.py')
    Config(dict(model=dict(type='mmmae.VideoMAE', backbone=dict()))).dump(
        bad_cfg)
    return dict(root=root, val=paths['val'], cfg=cfg_path, ckpt=ckpt,
                bad_cfg=bad_cfg)


def _args(s, out, *extra, inp=None):
    """The command line of tools/visualize_multimae.py."""
    return [s['cfg'], s['ckpt'], inp or s['val'], '--out', str(out),
            '--device', 'cpu', *extra]


def _cli(*argv):
    return run_tool('tools/visualize_multimae.py', *argv)


def _vis(s, out, inp=None, **kwargs):
    return visualize_multimae(s['cfg'], s['ckpt'], inp or s['val'], str(out),
                              device='cpu', **kwargs)


def _tile(img, rec, row, col):
    y, x, h, w = rec['layout']['tiles'][(ROWS.index(row), col)]
    return img[y:y + h, x:x + w]


def _read(png):
    img = cv2.imread(png, cv2.IMREAD_COLOR)
    assert img is not None, png
    return img[..., ::-1]


def test_cross_modal_from_rgb(setup, tmp_path, capsys):
    out = tmp_path / 'out'
    assert _cli(*_args(setup, out, '--visible', 'rgb')) == 0
    printed = capsys.readouterr().out
    names = sorted(os.listdir(setup['val'] + '/rgb'))
    assert len(names) == 3
    for n in names:
        stem = osp.splitext(n)[0]
        png = out / f'{stem}_vis-rgb.png'
        assert png.is_file() and str(png) in printed
        m = np.load(out / f'{stem}_vis-rgb_mask.npz')
        assert sorted(m.files) == ['depth', 'rgb', 'semseg']
        assert m['rgb'].shape == (4, 4) and not m['rgb'].any()
        assert m['depth'].all() and m['semseg'].all()

    recs = _vis(setup, tmp_path / 'o2', visible=['rgb'], max_images=1)
    assert len(recs) == 1
    rec = recs[0]
    assert rec['layout']['rows'] == ROWS
    tiles = rec['layout']['tiles']
    assert sorted(tiles) == [(r, c) for r in range(5) for c in range(3)]
    assert rec['layout']['tile_hw'] == (128, 128)  # 32 px x 4
    img = _read(rec['png'])
    # grid: 5 rows x 3 columns of 128 px tiles, all inside the picture
    assert img.shape[0] >= 5 * 128 and img.shape[1] >= 3 * 128
    for (y, x, h, w) in tiles.values():
        assert (h, w) == (128, 128)
        assert y + h <= img.shape[0] and x + w <= img.shape[1]
    xs = sorted({v[1] for v in tiles.values()})
    ys = sorted({v[0] for v in tiles.values()})
    assert len(xs) == 3 and len(ys) == 5
    # fully masked modalities: masked-input tile all grey
    for row in ('depth', 'semseg'):
        assert (_tile(img, rec, row, 1) == GREY).all()
        # cross-modal prediction differs from the input
        assert not np.array_equal(_tile(img, rec, row, 2),
                                  _tile(img, rec, row, 0))
    # visible rgb: masked input == input
    assert np.array_equal(_tile(img, rec, 'rgb', 1), _tile(img, rec, 'rgb',
                                                           0))
    assert not (_tile(img, rec, 'rgb', 0) == GREY).all()


def test_random_and_fraction_masks_roundtrip(setup, tmp_path):
    recs = _vis(setup, tmp_path / 'r', num_visible=12, seed=3)
    assert [osp.basename(r['png']) for r in recs] == [
        f'00000{i}_rand12-seed3.png' for i in range(3)
    ]
    per_image = []
    for r in recs:
        m = np.load(r['mask_file'])
        assert sum(int((m[k] == 0).sum()) for k in m.files) == 12
        for k in m.files:
            assert np.array_equal(m[k].astype(bool), r['masks'][k])
        per_image.append(np.concatenate([m[k].ravel() for k in sorted(m)]))
    assert not all(np.array_equal(per_image[0], p) for p in per_image[1:])
    # reproducible
    again = _vis(setup, tmp_path / 'r2', num_visible=12, seed=3,
                 max_images=1)
    for k, v in recs[0]['masks'].items():
        assert np.array_equal(again[0]['masks'][k], v)
    # the saved mask fed back with --mask-file gives the same mask
    back = _vis(setup, tmp_path / 'r3', mask_file=recs[0]['mask_file'],
                max_images=1)
    assert osp.basename(back[0]['png']).startswith('000000_maskfile-')
    for k, v in recs[0]['masks'].items():
        assert np.array_equal(back[0]['masks'][k], v)

    # per-modality fractions: 8 of 16 rgb tokens, no depth, no semseg
    recs = _vis(setup, tmp_path / 'f', visible=['rgb:0.5', 'depth:0'],
                max_images=1)
    m = np.load(recs[0]['mask_file'])
    assert osp.basename(recs[0]['png']) == '000000_vis-rgb0.5-depth0-seed0.png'
    assert int((m['rgb'] == 0).sum()) == 8
    assert m['depth'].all() and m['semseg'].all()
    img = _read(recs[0]['png'])
    masked = _tile(img, recs[0], 'rgb', 1)
    grey = (masked == GREY).all(-1)
    assert 0.3 < grey.mean() < 0.7  # half of the patches greyed


def test_single_rgb_image(setup, tmp_path):
    img_path = osp.join(setup['val'], 'rgb', '000001.png')
    recs = _vis(setup, tmp_path, inp=img_path)
    assert len(recs) == 1 and osp.isfile(recs[0]['png'])
    m = np.load(recs[0]['mask_file'])
    assert m['depth'].all() and m['semseg'].all()  # not given = masked
    assert 0 < int((m['rgb'] == 0).sum()) < 16
    img = _read(recs[0]['png'])
    assert (_tile(img, recs[0], 'depth', 1) == GREY).all()
    assert not (_tile(img, recs[0], 'depth', 2) == GREY).all()
    # a modality that is not given cannot be made visible
    assert _cli(*_args(setup, tmp_path, '--visible', 'depth',
                       inp=img_path)) == 2


def test_errors_name_the_path(setup, tmp_path, capsys):
    missing = str(tmp_path / 'no_such_dir')
    assert _cli(*_args(setup, tmp_path / 'o', inp=missing)) == 2
    assert missing in capsys.readouterr().err
    bad_ckpt = str(tmp_path / 'nope.pth')
    args = _args(setup, tmp_path / 'o')
    args[1] = bad_ckpt
    assert _cli(*args) == 2
    assert bad_ckpt in capsys.readouterr().err
    args = _args(setup, tmp_path / 'o')
    args[0] = setup['bad_cfg']
    assert _cli(*args) == 2
    assert 'MultiMAE' in capsys.readouterr().err
    # a split folder with a missing depth file names it
    split = tmp_path / 'split'
    shutil.copytree(setup['val'], split)
    os.remove(split / 'depth' / '000002.png')
    assert _cli(*_args(setup, tmp_path / 'o', inp=str(split))) == 2
    err = capsys.readouterr().err
    assert osp.join('depth', '000002') in err
    # bad --visible
    assert _cli(*_args(setup, tmp_path / 'o', '--visible', 'rgb:2')) == 2
    assert _cli(*_args(setup, tmp_path / 'o', '--visible', 'normals')) \
        == 2
