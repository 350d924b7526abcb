# Copyright (c) mmmae contributors. All rights reserved.
"""The shared ``_base_`` files and the recipe families built on them.

Configs that share a base state only what they change, and some derive a
pipeline from another one by transform type. These tests pin down what that
sharing means: every base loads on its own, each family member differs
from the recipe it inherits only in the fields its script changes, and each
derived pipeline is its source with exactly the intended edits (a transform
renamed in the source would otherwise silently escape the edit)."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(REPO_ROOT, 'configs')
BASES = sorted(
    glob.glob(osp.join(CFG_DIR, '_base_', '**', '*.py'), recursive=True))


def _load(rel):
    return Config.fromfile(osp.join(CFG_DIR, rel)).to_dict()


def _flat(obj, prefix=''):
    """Dotted leaf paths of nested dicts and lists of dicts."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _flat(v, f'{prefix}.{k}' if prefix else k)
    elif isinstance(obj, (list, tuple)) and any(
            isinstance(x, dict) for x in obj):
        yield prefix + '.len', len(obj)
        for i, v in enumerate(obj):
            yield from _flat(v, f'{prefix}[{i}]')
    else:
        yield prefix, obj


def _differing(a, b):
    fa, fb = dict(_flat(a)), dict(_flat(b))
    missing = object()
    return {
        k
        for k in fa.keys() | fb.keys()
        if fa.get(k, missing) != fb.get(k, missing)
    }


@pytest.mark.parametrize(
    'path', BASES, ids=[osp.relpath(p, CFG_DIR) for p in BASES])
def test_every_base_loads_on_its_own(path):
    assert Config.fromfile(path).to_dict()


FT = 'videomae/finetune/'
SEG = 'multimae/segmentation/'
K400_B = FT + ('vit-base-p16_videomae-k400-pre-1600e_'
               '64xb6-rep2-16x4x1-75e_kinetics400-rgb.py')
SSV2_B = FT + ('vit-base-p16_videomae-sthv2-pre-2400e_'
               '64xb6-rep2-u16-30e_sthv2-rgb.py')
NYU = SEG + 'multimae_vit-base-p16_convnext_4xb2-200e_nyuv2-rgbd-640x640.py'
HYPERSIM = SEG + ('multimae_vit-base-p16_convnext_4xb4-25e_'
                  'hypersim-rgbd-512x512.py')
# what a fine-tuning recipe may change against the one it inherits
LR = ('base_lr', 'min_lr', 'max_epochs', 'warmup_lr',
      'optim_wrapper.optimizer.lr',
      'optim_wrapper.paramwise_cfg.layer_decay_rate',
      'param_scheduler[0].start_factor', 'param_scheduler[1].eta_min_ratio',
      'param_scheduler[1].end', 'train_cfg.max_epochs',
      'train_dataloader.batch_size')
ENCODER = ('pretrained', 'model.backbone.init_cfg.checkpoint',
           'model.backbone.arch', 'model.cls_head.in_channels')
# (config, the config it is compared with, paths that may differ)
FAMILIES = [
    (FT + 'vit-small-p16_videomae-k400-pre-1600e_'
     '32xb12-rep2-16x4x1-150e_kinetics400-rgb.py', K400_B, ENCODER + LR),
    (FT + 'vit-large-p16_videomae-k400-pre-1600e_'
     '64xb2-rep2-16x4x1-35e_kinetics400-rgb.py', K400_B, ENCODER + LR),
    (FT + 'vit-huge-p16_videomae-k400-pre-1600e_'
     '64xb8-rep2-16x4x1-50e_kinetics400-rgb.py', K400_B, ENCODER + LR +
     ('model.backbone.drop_path_rate', 'model.backbone.with_cp',
      'model.cls_head.dropout_ratio')),
    (FT + 'vit-small-p16_videomae-sthv2-pre-2400e_'
     '32xb12-rep2-u16-40e_sthv2-rgb.py', SSV2_B, ENCODER + LR),
    # the two NYU40 RGB-D semseg recipes: same model and schedule at their
    # dataset's crop and length
    (NYU, HYPERSIM,
     ('dataset_type', 'data_root', 'crop_size', 'nyu', 'train_pipeline',
      'test_pipeline', 'train_dataloader', 'val_dataloader',
      'test_dataloader', 'model.data_preprocessor.size',
      'model.backbone.img_size', 'max_epochs', 'param_scheduler[1].end',
      'train_cfg.max_epochs', 'train_cfg.val_interval',
      'default_hooks.checkpoint.interval',
      'auto_scale_lr.base_batch_size')),
]


@pytest.mark.parametrize(
    'child,parent,allowed', FAMILIES,
    ids=[osp.basename(c) for c, _, _ in FAMILIES])
def test_family_members_differ_only_where_expected(child, parent, allowed):
    diff = _differing(_load(child), _load(parent))
    assert diff, 'no difference: the config is redundant'
    unexpected = sorted(
        k for k in diff if not any(
            k == a or k.startswith((a + '.', a + '['))
            for a in allowed))
    assert not unexpected


@pytest.mark.parametrize('variant', ['rgb', 'depth'])
@pytest.mark.parametrize('rgbd', [NYU, HYPERSIM])
def test_single_modality_variants_change_only_the_inputs(rgbd, variant):
    path = rgbd.replace('-rgbd-', f'-{variant}-')
    diff = _differing(_load(path), _load(rgbd))
    inputs = ('model.data_preprocessor.keep', 'model.backbone.input_adapters',
              'model.backbone.input_channels', 'model.backbone.main_tasks')
    assert diff and all(k.startswith(inputs) for k in diff)


def _replace(obj, old, new):
    if isinstance(obj, dict):
        return {k: _replace(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_replace(v, old, new) for v in obj]
    return new if obj == old else obj


def test_nyuv2_rgbd_pipelines_are_hypersims_at_640():
    nyu = _load('_base_/datasets/nyuv2_multimae-rgbd-640x640.py')
    hyp = _load('_base_/datasets/hypersim_multimae-rgbd-512x512.py')
    assert hyp['crop_size'] == (512, 512) and nyu['crop_size'] == (640, 640)
    for key in ('train_pipeline', 'test_pipeline'):
        assert nyu[key] == _replace(hyp[key], (512, 512), (640, 640))
        assert nyu[key] != hyp[key]


def test_k400_test_pipeline_is_the_val_one_with_15_views():
    cfg = _load('_base_/datasets/kinetics400_videomae-finetune.py')
    val, test = cfg['val_pipeline'], cfg['test_pipeline']
    diff = [(v, t) for v, t in zip(val, test) if v != t]
    assert len(val) == len(test) and len(diff) == 2
    (v_frames, t_frames), (v_crop, t_crop) = diff
    assert t_frames == dict(v_frames, num_clips=5)
    assert (v_crop['type'], t_crop['type']) == ('CenterCrop', 'ThreeCrop')
    assert t_crop['crop_size'] == v_crop['crop_size']
    assert cfg['test_dataloader'] == dict(
        cfg['val_dataloader'],
        batch_size=1,
        dataset=dict(
            cfg['val_dataloader']['dataset'],
            ann_file=cfg['ann_file_test'],
            pipeline=test))


@pytest.mark.parametrize('task', ['depth', 'rgbd'])
def test_scenes_test_pipeline_is_the_train_one_without_augmentation(task):
    cfg = _load(f'_base_/datasets/scenes_multimae-{task}-64x64.py')
    augment = ('RandomResize', 'RandomCrop', 'RandomFlip')
    assert [t['type'] for t in cfg['train_pipeline']
            if t['type'] in augment] == list(augment)
    assert cfg['test_pipeline'] == [
        t for t in cfg['train_pipeline'] if t['type'] not in augment
    ]
