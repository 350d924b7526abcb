# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAE pretraining configs: every one loads, builds its model and
optimizer, runs its pipeline on rendered scenes, and the paper-recipe
configs carry the official numbers (reference multimae.md §5.1)."""
import copy
import glob
import math
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

import mmmae  # noqa: F401
from mmmae.registry import MODELS

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(REPO_ROOT, 'configs', 'multimae')
CONFIGS = sorted(glob.glob(osp.join(CFG_DIR, '*.py')))
IDS = [osp.basename(p) for p in CONFIGS]
RECIPES = {
    'multimae_vit-base-p16_8xb256-1600e_imagenet': 1600,
    'multimae_vit-base-p16_8xb256-400e_imagenet': 400,
}


def _load(path):
    return Config.fromfile(path)


def _shrunk(model_cfg):
    model = copy.deepcopy(model_cfg)
    arch = model.backbone.arch
    if isinstance(arch, str):
        model.backbone.arch = dict(
            embed_dims=768, num_layers=1, num_heads=12, mlp_ratio=4.)
    return model


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    from mmmae.datasets.demo import make_scene_dataset
    root = tmp_path_factory.mktemp('scenes')
    make_scene_dataset(str(root), num_train=2, num_val=1, size=(48, 64))
    return root


def test_configs_found():
    stems = {osp.splitext(n)[0] for n in IDS}
    assert set(RECIPES) <= stems
    assert any('scenes' in s for s in stems)


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_config_fields(path):
    cfg = _load(path)
    assert cfg.default_scope == 'mmmae'
    assert cfg.auto_scale_lr.base_batch_size > 0
    for key in ('val_dataloader', 'val_cfg', 'test_dataloader', 'test_cfg'):
        assert cfg.get(key) is None, key
    name = osp.splitext(osp.basename(path))[0]
    m = re.match(r'^multimae_vit-(\w+)-p(\d+)_(\d+)xb(\d+)-(\d+)e_[\w-]+$',
                 name)
    assert m, f'{name} does not follow the naming convention'
    assert int(m.group(2)) == cfg.model.backbone.patch_size
    assert int(m.group(4)) == cfg.train_dataloader.batch_size
    assert int(m.group(5)) == cfg.train_cfg.max_epochs
    assert cfg.param_scheduler[-1].end == cfg.train_cfg.max_epochs
    # the parts agree: every encoded modality has a decoder context slot and
    # a mask; every decoded task has a loss
    adapters = list(cfg.model.backbone.input_adapters)
    common = cfg.model.neck.common
    assert list(common.context_tasks) == adapters
    assert set(cfg.model.neck.output_adapters) == set(cfg.model.head.tasks)
    masker = [
        t for t in cfg.train_dataloader.dataset.pipeline
        if t['type'] == 'MultiModalMaskGenerator'
    ][0]
    assert list(masker.modalities) == adapters
    grid = cfg.model.backbone.img_size // cfg.model.backbone.patch_size
    assert tuple(masker.grid) == (grid, grid)


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_model_and_optimizer_build(path):
    cfg = _load(path)
    with DefaultScope.overwrite_default_scope('mmmae'):
        model = MODELS.build(_shrunk(cfg.model))
        wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    groups = {
        id(p): g['weight_decay']
        for g in wrapper.optimizer.param_groups for p in g['params']
    }
    named = dict(model.named_parameters())
    # no decay on biases, norms and tokens; decay on matrices
    assert groups[id(named['backbone.global_tokens'])] == 0.
    assert groups[id(named['backbone.encoder.0.attn.qkv.bias'])] == 0.
    assert groups[id(named['backbone.encoder.0.attn.qkv.weight'])] == 0.05
    # the faithful switch: one group, wd on every parameter (official quirk)
    faithful = copy.deepcopy(cfg.optim_wrapper)
    faithful.paramwise_cfg = None
    wrapper = build_optim_wrapper(model, faithful)
    assert [g['weight_decay'] for g in wrapper.optimizer.param_groups] == [
        0.05
    ]


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_pipeline_runs_on_scenes(path, scenes):
    cfg = _load(path)
    pipeline = copy.deepcopy(cfg.train_dataloader.dataset.pipeline)
    with DefaultScope.overwrite_default_scope('mmmae'):
        from mmmae.registry import DATASETS
        ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
        ds_cfg.update(data_root=str(scenes), pipeline=pipeline)
        sample = DATASETS.build(ds_cfg)[0]
        Compose(pipeline)  # every transform resolves in the mmmae scope
    size = cfg.model.backbone.img_size
    inputs = sample['inputs']
    assert inputs['rgb'].shape == (3, size, size)
    assert inputs['depth'].shape == (1, size, size)
    adapters = list(cfg.model.backbone.input_adapters)
    assert list(inputs) == adapters  # nothing loaded that is not encoded
    if 'semseg' in adapters:
        assert inputs['semseg'].shape == (size // 4, size // 4)
    masks = sample['data_samples'].masks
    budget = [
        t for t in pipeline if t['type'] == 'MultiModalMaskGenerator'
    ][0].num_visible
    assert sum(int((~m).sum()) for m in masks.values()) == budget


@pytest.mark.parametrize('stem', sorted(RECIPES))
def test_recipe_numbers(stem):
    cfg = _load(osp.join(CFG_DIR, stem + '.py'))
    bb, neck, head = cfg.model.backbone, cfg.model.neck, cfg.model.head
    assert (bb.arch, bb.patch_size, bb.img_size) == ('b', 16, 224)
    assert bb.num_global_tokens == 1 and bb.drop_path_rate == 0.
    assert list(bb.input_adapters) == ['rgb', 'depth', 'semseg']
    assert bb.input_adapters.semseg.num_classes == 133
    assert bb.input_adapters.semseg.dim_class_emb == 64
    c = neck.common
    assert (c.embed_dims, c.num_layers, c.num_heads) == (256, 2, 8)
    assert list(neck.output_adapters) == ['rgb', 'norm_rgb', 'depth',
                                          'semseg']
    assert neck.output_adapters.norm_rgb.task == 'rgb'
    assert head.tasks.norm_rgb.loss.norm_pix is True
    assert head.tasks.depth.loss.type == 'MaskedL1Loss'
    assert head.tasks.semseg.loss.type == 'MaskedCrossEntropyLoss'
    assert cfg.model.data_preprocessor.depth_trunc == 0.1

    pipe = {t['type']: t for t in cfg.train_dataloader.dataset.pipeline}
    crop = pipe['MultiModalRandomResizedCrop']
    assert tuple(crop.scale) == (0.2, 1.0)
    assert crop.interpolation.semseg == 'nearest'
    mask = pipe['MultiModalMaskGenerator']
    assert (mask.num_visible, mask.alpha, mask.sample_tasks_uniformly) == (
        98, 1.0, False)
    assert pipe['MultiModalFlip'].prob == 0.5

    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, tuple(opt.betas), opt.weight_decay) == (
        'AdamW', (0.9, 0.95), 0.05)
    m = re.search(r'_(\d+)xb(\d+)-', stem)
    gpus, bs = int(m.group(1)), int(m.group(2))
    assert (gpus, bs) == (8, 256)
    assert cfg.auto_scale_lr.enable and cfg.auto_scale_lr.base_batch_size \
        == 256
    assert math.isclose(opt.lr * gpus * bs / 256, 8e-4)
    warm, cos = cfg.param_scheduler
    assert (warm.type, warm.end, warm.convert_to_iter_based) == (
        'LinearLR', 40, True)
    assert (cos.type, cos.begin, cos.end, cos.eta_min) == (
        'CosineAnnealingLR', 40, RECIPES[stem], 0.)
    assert cfg.train_cfg.max_epochs == RECIPES[stem]


def test_vit_b_parameter_count():
    """98.57 M parameters with the pos_embs, as the official model."""
    cfg = _load(osp.join(CFG_DIR, sorted(RECIPES)[0] + '.py'))
    with torch.device('meta'), DefaultScope.overwrite_default_scope(
            'mmmae'):
        model = MODELS.build(cfg.model)
    total = sum(p.numel() for p in model.parameters())
    assert round(total / 1e6, 2) == 98.57


SCENES = [p for p in CONFIGS if '_scenes' in osp.basename(p)]


@pytest.mark.parametrize('path', SCENES, ids=[osp.basename(p)
                                              for p in SCENES])
def test_scenes_configs_probe_rgb_patches_deterministically(path, scenes):
    """The demo configs' ProbeHook: dense mode on RGB alone, bank = the
    first labelled training images, val scored, full-resolution semseg and
    no random transform (every probe sees the same patches)."""
    from mmmae.registry import DATASETS, HOOKS
    cfg = _load(path)
    probe = [h for h in cfg.custom_hooks if 'ProbeHook' in h['type']]
    assert len(probe) == 1
    probe = probe[0]
    assert probe.features == 'patch' and probe.linear
    assert tuple(probe.probe_inputs) == ('rgb', )
    bank, val = probe.train_dataloader, probe.val_dataloader
    assert (bank.dataset.split, bank.dataset.indices) == ('train', 100)
    assert (val.dataset.split, val.dataset.get('indices')) == ('val', None)
    with DefaultScope.overwrite_default_scope('mmmae'):
        HOOKS.build(copy.deepcopy(probe))
        for loader in (bank, val):
            assert not loader.sampler.shuffle
            types = [t['type'] for t in loader.dataset.pipeline]
            assert types == ['LoadMultiModalImages', 'PackMultiModalInputs']
            ds_cfg = copy.deepcopy(loader.dataset)
            ds_cfg.update(data_root=str(scenes), split='train')
            ds = DATASETS.build(ds_cfg)
            a, b = ds[0], ds[0]
            assert a['inputs']['semseg'].shape == (48, 64)  # full res
            assert torch.equal(a['inputs']['rgb'], b['inputs']['rgb'])
