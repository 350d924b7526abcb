# Copyright (c) mmmae contributors. All rights reserved.
"""Every VideoMAE pretraining config loads, builds its model and its
pipeline, and its pipeline turns a real video into a sample. Recognition
configs (configs/videomae/{finetune,mmaction2}/) are checked in
test_recognition_configs.py, MultiMAE ones in test_multimae_configs.py;
test_every_config_is_tested makes sure no config escapes all three."""
import copy
import glob
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DATASETS, TRANSFORMS, DefaultScope

import mmmae  # noqa: F401
from mmmae.models.data_preprocessors import apply_lazy_geometry
from mmmae.registry import MODELS

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    p for p in glob.glob(
        osp.join(REPO_ROOT, 'configs', 'videomae', '**', '*.py'),
        recursive=True))
RECOGNITION_DIRS = ('finetune', 'mmaction2')
ALL_CONFIGS = CONFIGS
CONFIGS = [
    p for p in ALL_CONFIGS
    if not set(p.split(osp.sep)) & set(RECOGNITION_DIRS)
]
IDS = [osp.relpath(p, osp.join(REPO_ROOT, 'configs')) for p in CONFIGS]

# Archs bigger than this are built with 1 encoder / 1 decoder block (same
# widths, so the arch type is still exercised) to keep CPU time and memory low.
SHRINK_ARCHS = ('l', 'large', 'h', 'huge', 'g', 'giant')


def _load(path):
    return Config.fromfile(path)


def _shrunk_model_cfg(cfg):
    model = copy.deepcopy(cfg.model)
    arch = model.backbone.get('arch', 'b')
    if isinstance(arch, str) and arch in SHRINK_ARCHS:
        from mmmae.models.backbones.videomae_vit import VideoMAEViT
        arch = dict(VideoMAEViT.arch_zoo[arch])
        arch['num_layers'] = 1
        model.backbone.arch = arch
        model.neck.decoder_depth = 1
    return model


def _dataset_scope(cfg):
    return cfg.train_dataloader.dataset.get('_scope_', cfg.default_scope)


def test_configs_found():
    names = [osp.basename(p) for p in CONFIGS]
    assert len(names) >= 13, names
    assert 'videomae_vit-tiny-p8_1xb8-30e_moving-digits.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_config_fields(path):
    cfg = _load(path)
    assert cfg.default_scope == 'mmmae'
    assert cfg.get('auto_scale_lr', None) is not None
    assert 'base_batch_size' in cfg.auto_scale_lr
    assert cfg.train_cfg.type == 'EpochBasedTrainLoop'
    assert cfg.train_cfg.max_epochs > 0
    # pretraining configs have no evaluation loops
    for key in ('val_dataloader', 'val_cfg', 'test_dataloader', 'test_cfg'):
        assert cfg.get(key, None) is None, key
    # OpenMMLab name: {algo}_{model}_{N}xb{M}-...-{E}e_{dataset}
    name = osp.splitext(osp.basename(path))[0]
    m = re.match(
        r'^videomae(-v2)?_vit-(\w+)-p(\d+)_(\d+)xb(\d+)-.*?(\d+)e_'
        r'[\w-]+$', name)
    assert m, f'{name} does not follow the naming convention'
    assert int(m.group(5)) == cfg.train_dataloader.batch_size
    assert int(m.group(6)) == cfg.train_cfg.max_epochs
    assert int(m.group(3)) == cfg.model.backbone.patch_size
    # schedulers end where training ends
    assert cfg.param_scheduler[-1].end == cfg.train_cfg.max_epochs


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_model_builds(path):
    cfg = _load(path)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(_shrunk_model_cfg(cfg))
    assert type(model).__name__ == cfg.model.type
    bb, neck, head = cfg.model.backbone, cfg.model.neck, cfg.model.head
    # the parts agree on the patch geometry and widths
    assert neck.patch_size == bb.patch_size == head.patch_size
    assert neck.tubelet_size == bb.tubelet_size == head.tubelet_size
    assert neck.embed_dims == model.backbone.embed_dims
    n_out = 3 * bb.tubelet_size * bb.patch_size**2
    assert model.neck.head.weight.shape[0] == n_out


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_pipeline_builds_and_runs(path, video_dir):
    cfg = _load(path)
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    scope = _dataset_scope(cfg)
    with DefaultScope.overwrite_default_scope(scope):
        for t in ds_cfg.pipeline:
            TRANSFORMS.build(copy.deepcopy(t))
    # run one real clip through it
    ds_cfg.ann_file = str(video_dir / 'ann.txt')
    ds_cfg.data_prefix = dict(video=str(video_dir))
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        dataset = DATASETS.build(ds_cfg)
        sample = dataset[0]
    samples = sample if isinstance(sample, list) else [sample]
    pipeline = {t['type'].split('.')[-1]: t for t in ds_cfg.pipeline}
    size = pipeline['Resize']['scale']
    clip_len = pipeline['SampleFrames']['clip_len']
    tube = pipeline['TubeMaskGenerator']
    grid = tube['input_size']
    for s in samples:
        inputs = s['inputs']
        assert inputs.dtype == torch.uint8
        if 'PackLazyActionInputs' in pipeline:  # -devaug-: the crop box
            crop_h, crop_w = inputs.shape[1:3]
            assert inputs.shape[0] == clip_len and inputs.shape[3] == 3
            assert crop_h <= 48 and crop_w <= 64
            assert s['data_samples'].lazy_aug['crop_bbox'].tolist() == [
                0, 0, crop_w, crop_h
            ]
            inputs = apply_lazy_geometry([inputs],
                                         [s['data_samples'].lazy_aug],
                                         torch.device('cpu'))
        assert tuple(inputs.shape) == (1, 3, clip_len, size[1], size[0])
        mask = np.asarray(s['data_samples'].mask).reshape(-1)
        assert mask.dtype == np.bool_ and mask.size == np.prod(grid)
        spatial = grid[1] * grid[2]
        assert mask.sum() == grid[0] * int(tube['mask_ratio'] * spatial)
        if 'RunningCellMaskGenerator' in pipeline:
            dmask = np.asarray(s['data_samples'].decoder_mask).reshape(-1)
            assert dmask.size == mask.size


def test_demo_config_trains_one_step():
    """The demo model takes a real optimizer step at the configured shapes."""
    from mmengine.optim import build_optim_wrapper
    from mmaction.structures import ActionDataSample
    path = [p for p in CONFIGS if 'moving-digits' in p][0]
    cfg = _load(path)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    pipeline = {
        t['type'].split('.')[-1]: t
        for t in cfg.train_dataloader.dataset.pipeline
    }
    size = pipeline['Resize']['scale']
    clip_len = pipeline['SampleFrames']['clip_len']
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        masker = TRANSFORMS.build(dict(pipeline['TubeMaskGenerator']))
    inputs, data_samples = [], []
    for _ in range(2):
        inputs.append(
            torch.randint(
                0, 256, (1, 3, clip_len, size[1], size[0]), dtype=torch.uint8))
        ds = ActionDataSample()
        ds.set_field(torch.from_numpy(masker(dict())['mask']), 'mask')
        data_samples.append(ds)
    log_vars = model.train_step(
        dict(inputs=inputs, data_samples=data_samples), optim_wrapper)
    assert torch.isfinite(log_vars['loss'])


def test_every_config_is_tested():
    """Each config under configs/ (not _base_) is in one of the config
    test modules."""
    from test_configs.test_multimae_cls_configs import CONFIGS as MM_CLS
    from test_configs.test_multimae_configs import CONFIGS as MULTIMAE
    from test_configs.test_multimae_dense_configs import CONFIGS as MM_DENSE
    from test_configs.test_multimodal_video_configs import \
        CONFIGS as MM_VIDEO
    from test_configs.test_recognition_configs import CONFIGS as RECOGNITION
    every = {
        p
        for p in glob.glob(
            osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
        if '_base_' not in p.split(osp.sep)
    }
    assert every == (set(CONFIGS) | set(RECOGNITION) | set(MULTIMAE)
                     | set(MM_CLS) | set(MM_DENSE) | set(MM_VIDEO))
