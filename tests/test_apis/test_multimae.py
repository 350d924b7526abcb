# Copyright (c) mmmae contributors. All rights reserved.
"""mmmae.apis MultiMAE predictions with the scenes config (shrunk) on
rendered scenes: cross-modal prediction from RGB, masks, errors."""
import numpy as np
import pytest
import torch

from _apis_helpers import tiny_multimae_cfg, tiny_videomae_cfg
from mmmae.apis import (InputError, draw_multimae_masks, init_multimae_model,
                        multimae_geometry, predict_cross_modal,
                        predict_multimae)
from mmmae.visualization import seeded

N = 8 * 8  # tokens per modality: 64 x 64, patch 8


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    import os.path as osp

    from mmmae.datasets.demo import make_scene_dataset
    root = tmp_path_factory.mktemp('apis_multimae')
    val = make_scene_dataset(str(root / 'scenes'), num_train=1, num_val=2,
                             size=(64, 64))['val']
    torch.manual_seed(0)
    model = init_multimae_model(tiny_multimae_cfg(), 'none')
    paths = {m: osp.join(val, m, '000000.png')
             for m in ('rgb', 'depth', 'semseg')}
    return dict(model=model, paths=paths)


def test_geometry(env):
    geom = multimae_geometry(env['model'])
    assert geom['modalities'] == ['rgb', 'depth', 'semseg']
    assert geom['grid'] == (8, 8) and geom['img_size'] == (64, 64)
    assert geom['num_classes'] == dict(semseg=6)
    assert [t['task'] for t in geom['tasks']] == [
        'rgb', 'norm_rgb', 'depth', 'semseg'
    ]


def test_cross_modal_from_rgb(env):
    model, paths = env['model'], env['paths']
    res = predict_cross_modal(model, paths['rgb'])
    assert res['given'] == ['rgb']
    assert not res['masks']['rgb'].any()
    assert res['masks']['depth'].all() and res['masks']['semseg'].all()
    maps = res['maps']
    assert maps['depth'].shape == (64, 64) and np.isfinite(maps['depth']).all()
    assert maps['semseg'].shape == (16, 16)  # label stride 4
    assert maps['semseg'].min() >= 0 and maps['semseg'].max() < 6
    assert maps['rgb'].shape == (64, 64, 3)
    assert 0 <= maps['rgb'].min() and maps['rgb'].max() <= 1
    # given but fully masked depth/semseg change nothing: they are hidden
    full = predict_cross_modal(model, paths, visible=['rgb'])
    assert full['given'] == ['rgb', 'depth', 'semseg']
    for task, pred in res['preds'].items():
        torch.testing.assert_close(full['preds'][task], pred, msg=task)
    # showing depth as well changes the depth prediction
    with_depth = predict_cross_modal(model, paths, visible=['rgb', 'depth'])
    assert not with_depth['masks']['depth'].any()
    assert not torch.allclose(with_depth['preds']['depth'],
                              res['preds']['depth'], atol=1e-4)
    with pytest.raises(InputError, match='not given'):
        predict_cross_modal(model, paths['rgb'], visible=['depth'])
    with pytest.raises(InputError, match='normals'):
        predict_cross_modal(model, paths['rgb'], visible=['normals'])


def test_predict_with_masks(env):
    model, paths = env['model'], env['paths']
    geom = multimae_geometry(model)
    with seeded(0):
        masks = draw_multimae_masks(geom, list(paths), num_visible=12)
    assert sum(int((~m).sum()) for m in masks.values()) == 12
    res = predict_multimae(model, paths, masks, geom=geom)
    for m, mask in masks.items():  # what the model used is what was asked
        assert np.array_equal(res['masks'][m], mask), m
    assert res['inputs']['rgb'].shape == (3, 64, 64)
    assert res['inputs']['semseg'].shape[-2:] == (16, 16)
    assert res['preds']['semseg'].shape == (6, 16, 16)
    # no masks: everything given is visible
    open_ = predict_multimae(model, paths)
    assert not any(m.any() for m in open_['masks'].values())


def test_init_multimae_model_errors(tmp_path):
    with pytest.raises(InputError, match='not a MultiMAE'):
        init_multimae_model(tiny_videomae_cfg())  # named before building
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        init_multimae_model(tiny_multimae_cfg(), str(tmp_path / 'nope.pth'))
