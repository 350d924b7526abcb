# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAE ImageNet classification configs (configs/multimae/classification):
each loads, builds its model (mmpretrain scope), optimizer and pipelines
(run on a real image), and carries the official numbers: the fine-tuning
recipe of reference multimae.md section 5.2 (IN-1K row) and MAE's
linear-probe protocol used for Table B. Real training with these configs
is in tests/test_models/test_multimae_cls.py."""
import copy
import glob
import math
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

import mmmae  # noqa: F401

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(REPO_ROOT, 'configs', 'multimae', 'classification')
CONFIGS = sorted(glob.glob(osp.join(CFG_DIR, '*.py')))
IDS = [osp.basename(p) for p in CONFIGS]
FINETUNE = 'multimae_vit-base-p16_8xb128-coslr-100e_in1k'
LINEAR = 'multimae_vit-base-p16_linear-8xb2048-coslr-90e_in1k'
NAME = re.compile(r'^multimae_vit-base-p(\d+)_(linear-)?(\d+)xb(\d+)-coslr-'
                  r'(\d+)e_in1k$')


def _load(stem_or_path):
    path = stem_or_path if stem_or_path.endswith('.py') else osp.join(
        CFG_DIR, stem_or_path + '.py')
    return Config.fromfile(path)


def _stem(path):
    return osp.splitext(osp.basename(path))[0]


def _shrunk(model_cfg):
    """The config's model with one encoder block (same widths) and no
    pretrained checkpoint (the placeholder path does not exist)."""
    model = copy.deepcopy(model_cfg)
    model.backbone.init_cfg = None
    model.backbone.arch = dict(
        embed_dims=768, num_layers=1, num_heads=12, mlp_ratio=4.)
    return model


def _build(model_cfg):
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(model_cfg)


def _pipe(pipeline):
    return {t['type']: t for t in pipeline}


def test_configs_found():
    assert {_stem(p) for p in CONFIGS} == {FINETUNE, LINEAR}


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_config_fields(path):
    cfg = _load(path)
    assert cfg.default_scope == 'mmpretrain'
    assert 'mmmae' in cfg.custom_imports.imports
    assert cfg.auto_scale_lr.enable
    assert cfg.auto_scale_lr.base_batch_size == 256
    m = NAME.match(_stem(path))
    assert m, f'{_stem(path)} does not follow the naming convention'
    assert int(m.group(1)) == cfg.model.backbone.patch_size
    assert int(m.group(4)) == cfg.train_dataloader.batch_size
    assert int(m.group(5)) == cfg.train_cfg.max_epochs
    assert cfg.param_scheduler[-1].end == cfg.train_cfg.max_epochs
    assert cfg.model.type == 'ImageClassifier'
    bb, head = cfg.model.backbone, cfg.model.head
    assert bb.type == 'mmmae.MultiMAEViT' and list(bb.input_adapters) == [
        'rgb'
    ]
    assert tuple(bb.out_indices) == (-1, ) and bb.out_type == 'raw'
    assert bb.init_cfg.type == 'Pretrained' and bb.init_cfg.checkpoint
    assert head.type == 'mmmae.MultiMAEClsHead'
    assert head.num_classes == cfg.model.data_preprocessor.num_classes \
        == 1000
    for key in ('train_dataloader', 'val_dataloader'):
        ds = cfg[key].dataset
        assert (ds.type, ds.data_root) == ('ImageNet', 'data/imagenet')
        assert ds.split == key.split('_')[0]
    assert cfg.val_evaluator == dict(type='Accuracy', topk=(1, 5))
    assert cfg.test_dataloader == cfg.val_dataloader


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_model_optimizer_and_forward_build(path):
    cfg = _load(path)
    model = _build(_shrunk(cfg.model))
    assert model.head.head.in_features == model.backbone.embed_dims
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    assert type(wrapper.optimizer).__name__ == \
        cfg.optim_wrapper.optimizer.type
    model.init_weights()
    model.eval()
    with torch.no_grad():
        logits = model(torch.randn(2, 3, 224, 224), mode='tensor')
    assert logits.shape == (2, 1000)


@pytest.fixture(scope='module')
def image_file(tmp_path_factory):
    from PIL import Image
    path = tmp_path_factory.mktemp('img') / 'a.JPEG'
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (300, 260, 3),
                                 dtype=np.uint8)).save(str(path))
    return str(path)


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_pipelines_run(path, image_file):
    cfg = _load(path)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        for key in ('train_dataloader', 'val_dataloader'):
            pipeline = Compose(copy.deepcopy(cfg[key].dataset.pipeline))
            out = pipeline(dict(img_path=image_file, gt_label=3))
            assert tuple(out['inputs'].shape) == (3, 224, 224), key
            assert int(out['data_samples'].gt_label) == 3


def test_finetune_recipe_numbers():
    """Reference multimae.md section 5.2, IN-1K classification row."""
    cfg = _load(FINETUNE)
    bb, head = cfg.model.backbone, cfg.model.head
    assert (bb.arch, bb.patch_size, bb.img_size) == ('b', 16, 224)
    assert bb.num_global_tokens == 1 and bb.drop_path_rate == 0.1
    assert (head.norm, head.init_scale, head.in_channels) == ('LN', 1e-3, 768)
    assert head.get('use_mean_pooling', True)
    assert head.loss == dict(
        type='LabelSmoothLoss', label_smooth_val=0.1, mode='original',
        loss_weight=1.0)
    aug = cfg.model.data_preprocessor.batch_augments
    assert aug.augments == [
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0)
    ]
    assert aug.probs == [0.5, 0.5]  # timm switch prob 0.5, mixup prob 1

    train = _pipe(cfg.train_dataloader.dataset.pipeline)
    assert list(train) == [
        'LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip',
        'RandAugment', 'PackInputs'
    ]  # no colour jitter, no RandomErasing (reprob 0)
    rrc = train['RandomResizedCrop']
    assert (rrc.scale, rrc.backend, rrc.interpolation) == (224, 'pillow',
                                                           'bicubic')
    assert tuple(rrc.crop_ratio_range) == (0.08, 1.0)
    assert train['RandomFlip'].prob == 0.5
    ra = train['RandAugment']  # rand-m9-mstd0.5-inc1
    assert (ra.policies, ra.num_policies, ra.total_level, ra.magnitude_level,
            ra.magnitude_std) == ('timm_increasing', 2, 10, 9, 0.5)
    assert ra.hparams.interpolation == 'bicubic'
    assert ra.hparams.pad_val == [104, 116, 124]  # BGR ImageNet mean
    _check_eval(cfg)

    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, tuple(opt.betas), opt.weight_decay) == (
        'AdamW', (0.9, 0.999), 0.05)
    assert cfg.optim_wrapper.constructor == \
        'mmmae.LayerDecayOptimWrapperConstructor'
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.65
    gpus, bs = 8, cfg.train_dataloader.batch_size
    assert gpus * bs == 1024
    # blr 5e-4 per 256 -> 2e-3 at 8 x 128 through auto_scale_lr
    assert math.isclose(opt.lr, 5e-4)
    assert math.isclose(opt.lr * gpus * bs / 256, 2e-3)
    warm, cos = cfg.param_scheduler
    assert (warm.type, warm.begin, warm.end, warm.by_epoch,
            warm.convert_to_iter_based) == ('LinearLR', 0, 5, True, True)
    assert warm.start_factor <= 1e-4
    assert (cos.type, cos.begin, cos.end, cos.convert_to_iter_based) == (
        'CosineAnnealingLR', 5, 100, True)
    # min_lr 1e-6 (absolute at the reference batch, times each layer scale)
    assert math.isclose(cos.eta_min_ratio * 2e-3, 1e-6)
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.randomness.seed == 0


def _check_eval(cfg):
    val = _pipe(cfg.val_dataloader.dataset.pipeline)
    assert list(val) == [
        'LoadImageFromFile', 'ResizeEdge', 'CenterCrop', 'PackInputs'
    ]
    resize = val['ResizeEdge']
    assert (resize.scale, resize.edge, resize.backend,
            resize.interpolation) == (256, 'short', 'pillow', 'bicubic')
    assert val['CenterCrop'].crop_size == 224


def test_linear_probe_recipe_numbers():
    """MAE main_linprobe.py: LARS, blr 0.1 x 16384 / 256, wd 0, 90 epochs
    with 10 warmup, BatchNorm (no affine) before the linear head,
    RandomResizedCrop + flip only."""
    cfg = _load(LINEAR)
    bb, head = cfg.model.backbone, cfg.model.head
    assert bb.drop_path_rate == 0.
    assert (head.norm, head.init_scale) == ('BN', 0.5)  # trunc-normal 0.01
    assert head.loss == dict(type='CrossEntropyLoss', loss_weight=1.0)
    assert not cfg.model.data_preprocessor.get('batch_augments')
    # frozen at build time: plain DDP, no find_unused_parameters
    assert bb.frozen is True
    assert 'model_wrapper_cfg' not in cfg

    train = _pipe(cfg.train_dataloader.dataset.pipeline)
    assert list(train) == [
        'LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'PackInputs'
    ]
    assert train['RandomResizedCrop'].interpolation == 'bicubic'
    _check_eval(cfg)

    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.momentum, opt.weight_decay) == ('LARS', 0.9, 0.)
    keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
    assert keys.backbone == dict(lr_mult=0., decay_mult=0.)
    assert keys['.bias'] == dict(lars_exclude=True)
    gpus, bs = 8, cfg.train_dataloader.batch_size
    assert gpus * bs == 16384
    assert math.isclose(opt.lr * gpus * bs / 256, 6.4)
    warm, cos = cfg.param_scheduler
    assert (warm.type, warm.end, warm.convert_to_iter_based) == ('LinearLR',
                                                                 10, True)
    assert (cos.type, cos.begin, cos.end, cos.eta_min) == (
        'CosineAnnealingLR', 10, 90, 0.)


def test_linear_probe_optimizer_groups():
    """Head weight: LARS-adapted; biases: excluded from the adaptation (as
    MAE's LARS does for 1-D parameters); backbone: lr 0."""
    cfg = _load(LINEAR)
    model = _build(_shrunk(cfg.model))
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    group = {
        id(p): g
        for g in wrapper.optimizer.param_groups for p in g['params']
    }
    named = dict(model.named_parameters())
    assert not group[id(named['head.head.weight'])].get('lars_exclude')
    assert group[id(named['head.head.bias'])]['lars_exclude']
    assert group[id(named['head.head.weight'])]['lr'] == 0.1
    for name, p in named.items():
        if name.startswith('backbone.') and p.requires_grad:
            assert group[id(p)]['lr'] == 0., name
