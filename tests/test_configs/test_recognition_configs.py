# Copyright (c) mmmae contributors. All rights reserved.
"""Recognition (fine-tuning / testing) configs: every one loads, builds its
model, optimizer and pipelines (run on a real video), and the paper-recipe
configs carry the official numbers of reference §2.2-2.4 (videomae.md)."""
import copy
import glob
import math
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DATASETS, DefaultScope

import mmmae  # noqa: F401
from mmmae.models.backbones.videomae_vit import VideoMAEViT
from mmmae.models.data_preprocessors import apply_lazy_geometry

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_ROOT = osp.join(REPO_ROOT, 'configs', 'videomae')
CONFIGS = sorted(
    glob.glob(osp.join(CFG_ROOT, 'finetune', '*.py')) +
    glob.glob(osp.join(CFG_ROOT, 'mmaction2', '*.py')))
IDS = [osp.relpath(p, CFG_ROOT) for p in CONFIGS]
NUM_CLASSES = dict(kinetics400=400, sthv2=174, ucf101=101, hmdb51=51)


def ref(arch, gpus, bs, repeats, lr, actual_lr, epochs, layer_decay,
        drop_path, clips, fc_drop=0., min_lr=1e-6, warmup_lr=None,
        with_cp=False):
    return dict(arch=arch, gpus=gpus, bs=bs, repeats=repeats, lr=lr,
                actual_lr=actual_lr, epochs=epochs, layer_decay=layer_decay,
                drop_path=drop_path, clips=clips, fc_drop=fc_drop,
                min_lr=min_lr, warmup_lr=warmup_lr, with_cp=with_cp)


# reference §2.3 (V1 fine-tuning scripts): config stem -> numbers
K4 = '_kinetics400-rgb'
RECIPES = {
    'vit-small-p16_videomae-k400-pre-1600e_32xb12-rep2-16x4x1-150e' + K4:
    ref('small', 32, 12, 2, 5e-4, 7.5e-4, 150, .75, .1, 768),
    'vit-base-p16_videomae-k400-pre-800e_64xb8-16x4x1-100e' + K4:
    ref('b', 64, 8, 1, 1e-3, 2e-3, 100, .75, .1, 512),
    'vit-base-p16_videomae-k400-pre-1600e_64xb6-rep2-16x4x1-75e' + K4:
    ref('b', 64, 6, 2, 5e-4, 7.5e-4, 75, .75, .1, 768),
    'vit-large-p16_videomae-k400-pre-1600e_64xb2-rep2-16x4x1-35e' + K4:
    ref('large', 64, 2, 2, 2e-3, 1e-3, 35, .75, .1, 256),
    'vit-huge-p16_videomae-k400-pre-1600e_64xb8-rep2-16x4x1-50e' + K4:
    ref('huge', 64, 8, 2, 1e-3, 2e-3, 50, .75, .2, 1024, fc_drop=.5,
        min_lr=1e-5, warmup_lr=1e-8, with_cp=True),
    'vit-small-p16_videomae-sthv2-pre-2400e_32xb12-rep2-u16-40e_sthv2-rgb':
    ref('small', 32, 12, 2, 1e-3, 1.5e-3, 40, .7, .1, 768),
    'vit-base-p16_videomae-sthv2-pre-800e_64xb8-u16-50e_sthv2-rgb':
    ref('b', 64, 8, 1, 5e-4, 1e-3, 50, .75, .1, 512),
    'vit-base-p16_videomae-sthv2-pre-2400e_64xb6-rep2-u16-30e_sthv2-rgb':
    ref('b', 64, 6, 2, 5e-4, 7.5e-4, 30, .75, .1, 768),
    'vit-base-p16_videomae-ucf101-pre-3200e_8xb16-rep2-16x4x1-100e_ucf101-rgb':
    ref('b', 8, 16, 2, 5e-4, 2.5e-4, 100, .7, .2, 256, fc_drop=.5,
        min_lr=1e-5),
    # no released HMDB51 / transfer scripts: the UCF101 one (UNVERIFIED)
    'vit-base-p16_videomae-hmdb51-pre-4800e_8xb16-rep2-16x4x1-100e_hmdb51-rgb':
    ref('b', 8, 16, 2, 5e-4, 2.5e-4, 100, .7, .2, 256, fc_drop=.5,
        min_lr=1e-5),
    'vit-base-p16_videomae-k400-pre-1600e_8xb16-rep2-16x4x1-100e_ucf101-rgb':
    ref('b', 8, 16, 2, 5e-4, 2.5e-4, 100, .7, .2, 256, fc_drop=.5,
        min_lr=1e-5),
    'vit-base-p16_videomae-k400-pre-1600e_8xb16-rep2-16x4x1-100e_hmdb51-rgb':
    ref('b', 8, 16, 2, 5e-4, 2.5e-4, 100, .7, .2, 256, fc_drop=.5,
        min_lr=1e-5),
}
WIDTH = dict(small=384, b=768, large=1024, huge=1280)


def _load(path):
    return Config.fromfile(path)


def _stem(path):
    return osp.splitext(osp.basename(path))[0]


def _types(pipeline):
    return [t['type'] for t in pipeline]


def _shrunk_model(cfg):
    """Same widths, one block: the arch is exercised, CPU time is not."""
    model = copy.deepcopy(cfg.model)
    arch = model.backbone.get('arch', 'b')
    arch = dict(VideoMAEViT.arch_zoo[arch]) if isinstance(arch, str) else \
        dict(arch)
    arch['num_layers'] = 1
    model.backbone.arch = arch
    model.backbone.init_cfg = None  # the checkpoint file need not exist
    return model


def test_configs_found():
    stems = {_stem(p) for p in CONFIGS}
    assert set(RECIPES) <= stems
    assert any('mmaction2' in p.split(osp.sep) for p in CONFIGS)
    assert any('moving-digits' in s for s in stems)


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_config_fields_and_name(path):
    cfg = _load(path)
    assert cfg.default_scope == 'mmaction'
    assert cfg.auto_scale_lr.base_batch_size > 0
    assert cfg.model.type == 'Recognizer3D'
    assert cfg.model.backbone.type == 'mmmae.VideoMAEViT'
    assert cfg.model.backbone.use_mean_pooling is True
    assert cfg.model.cls_head.average_clips == 'prob'
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator',
                'test_dataloader', 'test_cfg', 'test_evaluator'):
        assert cfg.get(key) is not None, key
    # {model}_{pretrain or scratch}_{gpus}xb{videos}-...-{epochs}e_{data}-rgb
    m = re.match(r'^vit-[\w-]+-p(\d+)_[\w-]+_(\d+)xb(\d+)-.*?'
                 r'-(\d+)e_[\w-]+-rgb$', _stem(path))
    assert m, f'{_stem(path)} does not follow the naming convention'
    assert int(m.group(1)) == cfg.model.backbone.patch_size
    assert int(m.group(3)) == cfg.train_dataloader.batch_size
    assert int(m.group(4)) == cfg.train_cfg.max_epochs
    assert cfg.param_scheduler[-1].end == cfg.train_cfg.max_epochs
    # one head size everywhere
    ncls = cfg.model.cls_head.num_classes
    for aug in cfg.model.data_preprocessor.blending.augments:
        assert aug.num_classes == ncls
    reps = cfg.train_dataloader.dataset.get('num_repeats', 1)
    assert ('-rep%d-' % reps in _stem(path)) == (reps > 1)


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_model_and_optimizer_build(path):
    from mmaction.registry import MODELS as MMACTION_MODELS
    cfg = _load(path)
    with DefaultScope.overwrite_default_scope('mmaction'):
        model = MMACTION_MODELS.build(_shrunk_model(cfg))
        wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    assert type(model.backbone).__name__ == 'VideoMAEViT'
    assert model.cls_head.fc_cls.in_features == model.backbone.embed_dims
    b, c = cfg.model.backbone, cfg.model.cls_head
    x = torch.randn(1, 3, b.get('tubelet_size', 2), b.patch_size,
                    b.patch_size)
    model.eval()
    with torch.no_grad():
        logits = model.cls_head(model.backbone(x))
    assert logits.shape == (1, c.num_classes)
    # layer decay: ids 0 .. L+1, top group at the base lr
    groups = wrapper.optimizer.param_groups
    assert {g['layer_id'] for g in groups} == {0, 1, 2}
    base_lr = cfg.optim_wrapper.optimizer.lr
    top = [g for g in groups if g['layer_id'] == 2]
    assert all(math.isclose(g['lr'], base_lr) for g in top)


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_pipelines_run_on_a_real_video(path, video_dir):
    cfg = _load(path)
    with DefaultScope.overwrite_default_scope('mmaction'):
        for split in ('train', 'val', 'test'):
            ds_cfg = copy.deepcopy(cfg[f'{split}_dataloader'].dataset)
            ds_cfg.ann_file = str(video_dir / 'ann.txt')
            ds_cfg.data_prefix = dict(video=str(video_dir))
            sample = DATASETS.build(ds_cfg)[0]
            samples = sample if isinstance(sample, list) else [sample]
            for s in samples:
                inputs = s['inputs']
                assert inputs.dtype == torch.uint8
                size = cfg.model.backbone.img_size
                if 'lazy_aug' in s['data_samples']:  # -devaug- training
                    assert s['data_samples'].lazy_aug['out_shape'] == (size,
                                                                       size)
                    inputs = apply_lazy_geometry(
                        [inputs], [s['data_samples'].lazy_aug],
                        torch.device('cpu'))
                assert inputs.shape[-2:] == (size, size), split
                assert inputs.shape[2] == cfg.model.backbone.num_frames
                assert int(s['data_samples'].gt_label) in (0, 1)


@pytest.mark.parametrize('stem', sorted(RECIPES))
def test_recipe_numbers(stem):
    r = RECIPES[stem]
    cfg = _load(osp.join(CFG_ROOT, 'finetune', stem + '.py'))
    model, dl = cfg.model, cfg.train_dataloader
    dataset = stem.rsplit('_', 1)[1][:-len('-rgb')]
    m = re.search(r'_(\d+)xb(\d+)-', stem)
    gpus, bs = int(m.group(1)), int(m.group(2))
    assert (gpus, bs) == (r['gpus'], r['bs'])

    # model
    assert model.backbone.get('arch', 'b') == r['arch']
    assert model.backbone.img_size == 224 and model.backbone.num_frames == 16
    assert model.backbone.drop_path_rate == r['drop_path']
    assert model.backbone.get('with_cp', False) == r['with_cp']
    assert model.backbone.init_cfg.type == 'Pretrained'
    assert model.cls_head.in_channels == WIDTH[r['arch']]
    assert model.cls_head.num_classes == NUM_CLASSES[dataset]
    assert model.cls_head.dropout_ratio == r['fc_drop']
    assert math.isclose(model.cls_head.init_std, 0.02 * 0.001)
    assert model.cls_head.label_smooth_eps == 0.1
    mix, cut = model.data_preprocessor.blending.augments
    assert (mix.type, mix.alpha, cut.type, cut.alpha) == (
        'MixupBlending', 0.8, 'CutmixBlending', 1.)

    # optimisation: AdamW (0.9, 0.999) wd 0.05, lr per 256 videos
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, tuple(opt.betas), opt.weight_decay) == (
        'AdamW', (0.9, 0.999), 0.05)
    assert cfg.optim_wrapper.constructor == \
        'mmmae.LayerDecayOptimWrapperConstructor'
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == \
        r['layer_decay']
    assert opt.lr == r['lr']
    assert cfg.auto_scale_lr.enable and cfg.auto_scale_lr.base_batch_size \
        == 256
    assert math.isclose(opt.lr * gpus * bs / 256, r['actual_lr'])
    warm, cos = cfg.param_scheduler
    assert (warm.type, warm.begin, warm.end) == ('LinearLR', 0, 5)
    assert warm.convert_to_iter_based and cos.convert_to_iter_based
    if r['warmup_lr']:
        assert math.isclose(warm.start_factor * opt.lr, r['warmup_lr'])
    assert (cos.type, cos.begin) == ('CosineAnnealingLR', 5)
    assert cos.end == r['epochs']
    assert math.isclose(cos.eta_min_ratio * opt.lr, r['min_lr'])
    assert cfg.train_cfg.max_epochs == r['epochs']

    # repeated augmentation: the lr counts videos, a step trains on clips
    reps = dl.dataset.get('num_repeats', 1)
    assert reps == r['repeats']
    assert gpus * bs * reps == r['clips']
    assert dl.dataset.type == 'mmmae.VideoMAEDataset'
    if reps > 1:
        assert dl.collate_fn.type == 'repeat_pseudo_collate'

    # augmentation and sampling
    train = dl.dataset.pipeline
    names = _types(train)
    assert names.index('mmmae.VideoRandAugment') < names.index(
        'RandomResizedCrop')
    ra = train[names.index('mmmae.VideoRandAugment')]
    assert (ra.magnitude, ra.num_layers, ra.magnitude_std) == (7, 4, 0.5)
    rrc = train[names.index('RandomResizedCrop')]
    assert tuple(rrc.area_range) == (0.08, 1.0)
    assert math.isclose(rrc.aspect_ratio_range[0], 3 / 4)
    erase = train[names.index('RandomErasing')]
    assert (erase.erase_prob, erase.mode) == (0.25, 'rand')
    assert ('Flip' in names) == (dataset != 'sthv2')
    test = cfg.test_dataloader.dataset.pipeline
    val = cfg.val_dataloader.dataset.pipeline
    assert 'ThreeCrop' in _types(test) and 'CenterCrop' in _types(val)
    resize = [t for t in test if t['type'] == 'Resize'][0]
    assert tuple(resize.scale) == (-1, 224)
    if dataset == 'sthv2':
        sample = [t for t in train if t['type'] == 'UniformSample'][0]
        tsample = [t for t in test if t['type'] == 'UniformSample'][0]
        assert (sample.clip_len, tsample.clip_len, tsample.num_clips) == (
            16, 16, 2)
    else:
        sample = [t for t in train if t['type'] == 'SampleFrames'][0]
        tsample = [t for t in test if t['type'] == 'SampleFrames'][0]
        assert (sample.clip_len, sample.frame_interval) == (16, 4)
        assert (tsample.num_clips, tsample.test_mode) == (5, True)
    vsample = val[1]
    assert vsample.get('num_clips', 1) == 1 and vsample.test_mode
