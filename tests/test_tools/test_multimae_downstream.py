# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAE downstream end to end with MMEngine's Runner in the mmseg scope:
segmentation from RGB (fine-tuned from an mmmae pre-training checkpoint) and
from RGB-D, and depth from RGB, on rendered scenes (the demo configs, shrunk),
evaluated with mmseg's IoUMetric and mmmae's DepthMetric."""
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

import mmmae  # noqa: F401

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEG = osp.join(REPO_ROOT, 'configs', 'multimae', 'segmentation',
               'multimae_vit-tiny-p8_convnext_1xb16-20e_scenes-{}-64x64.py')
DEPTH = osp.join(REPO_ROOT, 'configs', 'multimae', 'depth',
                 'multimae_vit-tiny-p8_dpt_1xb16-20e_scenes-64x64.py')
PRETRAIN = osp.join(REPO_ROOT, 'configs', 'multimae',
                    'multimae_vit-tiny-p8_1xb16-60e_scenes.py')
ARCH = dict(embed_dims=64, num_layers=4, num_heads=4, mlp_ratio=2.)


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    from mmmae.datasets.demo import make_scene_dataset
    root = tmp_path_factory.mktemp('scenes')
    make_scene_dataset(str(root), num_train=8, num_val=4, size=(32, 32))
    return str(root)


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    """An mmmae MultiMAE pre-training checkpoint (random weights) of the
    pre-training demo config, shrunk like the downstream models."""
    from mmmae.registry import MODELS
    cfg = Config.fromfile(PRETRAIN)
    cfg.model.backbone.arch = ARCH
    cfg.model.neck.common.encoder_dims = ARCH['embed_dims']
    with DefaultScope.overwrite_default_scope('mmmae'):
        model = MODELS.build(cfg.model)
    path = str(tmp_path_factory.mktemp('pre') / 'epoch_60.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path, model.state_dict()


def _shrink(cfg, scenes, work_dir, init=None):
    cfg.work_dir = work_dir
    cfg.model.backbone.arch = ARCH
    if init is None:
        cfg.model.backbone.init_cfg = None
    else:
        cfg.model.backbone.init_cfg.checkpoint = init
    cfg.model.decode_head.in_channels = ARCH['embed_dims']
    for split, loader in (('train', cfg.train_dataloader),
                          ('val', cfg.val_dataloader)):
        loader.batch_size = 4
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.dataset.data_root = osp.join(scenes, split)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.train_cfg.max_epochs = 2
    cfg.train_cfg.val_interval = 2
    cfg.param_scheduler = [
        dict(cfg.param_scheduler[0], end=1),
        dict(cfg.param_scheduler[1], begin=1, end=2)
    ]
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.logger.interval = 1
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    return cfg


def _train_and_eval(cfg):
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner, runner.val()


@pytest.mark.slow
def test_segmentation_rgb_from_pretrained(scenes, pretrained, tmp_path):
    path, state = pretrained
    cfg = _shrink(Config.fromfile(SEG.format('rgb')), scenes,
                  str(tmp_path / 'work'), init=path)
    runner = Runner.from_cfg(cfg)
    # the encoder starts from the pre-training checkpoint
    runner.model.init_weights()
    bb = runner.model.backbone
    torch.testing.assert_close(bb.encoder[0].attn.qkv.weight,
                               state['backbone.encoder.0.attn.qkv.weight'])
    assert 'depth' not in bb.input_adapters
    runner.train()
    metrics = runner.val()
    assert 'mIoU' in metrics and math.isfinite(float(metrics['mIoU']))
    assert osp.isfile(osp.join(cfg.work_dir, 'epoch_2.pth'))


@pytest.mark.slow
def test_segmentation_rgbd(scenes, tmp_path):
    cfg = _shrink(Config.fromfile(SEG.format('rgbd')), scenes,
                  str(tmp_path / 'work'))
    runner, metrics = _train_and_eval(cfg)
    assert list(runner.model.backbone.input_channels.items()) == [('rgb', 3),
                                                                  ('depth', 1)]
    assert 'mIoU' in metrics and math.isfinite(float(metrics['mIoU']))


@pytest.mark.slow
def test_depth_from_rgb(scenes, tmp_path):
    cfg = _shrink(Config.fromfile(DEPTH), scenes, str(tmp_path / 'work'))
    runner, metrics = _train_and_eval(cfg)
    for key in ('d1', 'd2', 'd3', 'abs_rel', 'rmse', 'log10'):
        assert math.isfinite(float(metrics[key])), (key, metrics)
    # every validation image is evaluated
    assert int(metrics['num_images']) == 4
