# Copyright (c) mmmae contributors. All rights reserved.
"""Multi-modal video configs (configs/multimodal_video/): every one loads,
is named after what it sets, builds its model (and optimizer), and its
pipelines turn a rendered scene video into what its model takes. The tiny
recipes train a step on real clips, the fine-tunings load the encoder of
the pretraining they name, the siblings of the RGB recipe differ from it
only where their names say, and the paper-scale recipes carry their
numbers (and their UNVERIFIED mark)."""
import copy
import glob
import os
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

import mmmae  # noqa: F401
from mmmae.registry import DATASETS, MODELS
from test_configs.test_config_bases import _differing

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(REPO_ROOT, 'configs', 'multimodal_video')
CONFIGS = sorted(
    glob.glob(osp.join(CFG_DIR, '**', '*.py'), recursive=True))
FINETUNE = [p for p in CONFIGS if 'finetune' in p.split(osp.sep)]
PRETRAIN = [p for p in CONFIGS if p not in FINETUNE]
PAPER = [p for p in CONFIGS if 'kinetics400' in p]
TINY = [p for p in CONFIGS if p not in PAPER]


def _ids(paths):
    return [osp.relpath(p, CFG_DIR) for p in paths]


def _stem(path):
    return osp.splitext(osp.basename(path))[0]


def _load(path):
    return Config.fromfile(path)


def _types(pipeline):
    return [t['type'] for t in pipeline]


def _find(pipeline, name):
    """The one transform of ``pipeline`` whose type ends with ``name``."""
    found = [t for t in pipeline if t['type'].split('.')[-1] == name]
    assert len(found) == 1, (name, _types(pipeline))
    return found[0]


def _width(arch):
    return 768 if arch == 'b' else arch['embed_dims']


def _check_name(cfg, pattern):
    """The config's name matches ``pattern`` and says its patch size,
    batch size and epochs (named groups ``patch``, ``batch``,
    ``epochs``)."""
    stem = _stem(cfg.filename)
    m = re.match(pattern, stem)
    assert m, f'{stem} does not follow the naming convention'
    assert int(m.group('patch')) == cfg.model.backbone.patch_size
    assert int(m.group('batch')) == cfg.train_dataloader.batch_size
    assert int(m.group('epochs')) == cfg.train_cfg.max_epochs
    assert cfg.param_scheduler[-1].end == cfg.train_cfg.max_epochs
    return m


def _splits(cfg):
    return [s for s in ('train', 'val', 'test')
            if cfg.get(f'{s}_dataloader')]


def _model_cfg(cfg, shrink=False):
    """The model config without its checkpoint (it need not exist);
    ``shrink`` builds ViT-B with one block (same widths)."""
    model = copy.deepcopy(cfg.model)
    model.backbone.pop('init_cfg', None)
    if shrink and model.backbone.get('arch') == 'b':
        model.backbone.arch = dict(
            embed_dims=768, num_layers=1, num_heads=12, mlp_ratio=4.)
    return model


def _build(cfg, shrink=False):
    from mmaction.registry import MODELS as MMACTION_MODELS
    registry = MMACTION_MODELS if cfg.default_scope == 'mmaction' else MODELS
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = registry.build(_model_cfg(cfg, shrink))
    return model


def test_configs_found():
    assert {_stem(p) for p in CONFIGS} == {
        'multimodal-video-mae_vit-tiny-p8_1xb8-30e_scene-videos',
        'videomae_vit-tiny-p8_1xb8-30e_scene-videos-rgb',
        'multimodal-video-mae_vit-base-p16_64xb32-800e_kinetics400',
        'vit-tiny-p8_multimodal-video-mae-pre-30e_1xb8-8x2x1-30e_'
        'scene-videos-rgb',
        'vit-tiny-p8_multimodal-video-mae-pre-30e_1xb8-8x2x1-30e_'
        'scene-videos-rgbd',
        'vit-tiny-p8_scratch_1xb8-8x2x1-30e_scene-videos-rgb',
        'vit-tiny-p8_videomae-pre-30e_1xb8-8x2x1-30e_scene-videos-rgb',
        'vit-base-p16_multimodal-video-mae-k400-pre-800e_'
        '64xb8-16x4x1-100e_kinetics400-rgbd',
    }


@pytest.mark.parametrize('path', PRETRAIN, ids=_ids(PRETRAIN))
def test_pretrain_config_fields_and_name(path):
    cfg = _load(path)
    assert cfg.default_scope == 'mmmae'
    assert cfg.auto_scale_lr.base_batch_size > 0
    assert cfg.train_cfg.type == 'EpochBasedTrainLoop'
    if path in TINY:
        assert cfg.randomness.seed == 0
    for key in ('val_dataloader', 'val_cfg', 'test_dataloader', 'test_cfg'):
        assert cfg.get(key, None) is None, key
    m = _check_name(
        cfg, r'^(?P<algo>multimodal-video-mae|videomae)_vit-\w+-'
        r'p(?P<patch>\d+)_\d+xb(?P<batch>\d+)-(?P<epochs>\d+)e_[\w-]+$')
    bb = cfg.model.backbone
    assert cfg.model.type == dict(
        videomae='VideoMAE').get(m.group('algo'), 'MultiMAE')

    # one clip length, size and token grid from the sampler to the losses
    pipeline = cfg.train_dataloader.dataset.pipeline
    sampler = _find(pipeline, 'SampleFrames')
    assert sampler.clip_len == bb.num_frames
    grid = (bb.num_frames // bb.tubelet_size, bb.img_size // bb.patch_size,
            bb.img_size // bb.patch_size)
    if cfg.model.type == 'VideoMAE':
        crop = _find(pipeline, 'MultiScaleCropResize')
        assert crop.out_size == bb.img_size
        assert tuple(_find(pipeline, 'TubeMaskGenerator').input_size) == grid
        assert cfg.train_dataloader.dataset.modalities == ('rgb', )
        return
    crop = _find(pipeline, 'MultiModalVideoMultiScaleCrop')
    assert crop.out_size == bb.img_size
    masks = _find(pipeline, 'MultiModalTubeMaskGenerator')
    modalities = tuple(cfg.train_dataloader.dataset.modalities)
    assert tuple(masks.grid) == grid
    assert tuple(masks.modalities) == modalities
    # MultiMAE's budget: 1/6 of the tokens of all modalities visible
    assert masks.num_visible * 6 == len(modalities) * grid[0] * grid[1] * \
        grid[2]
    neck = cfg.model.neck
    assert tuple(bb.input_adapters) == modalities
    assert tuple(neck.output_adapters) == modalities
    assert tuple(cfg.model.head.tasks) == modalities
    assert tuple(neck.common.context_tasks) == modalities
    assert (neck.common.num_frames, neck.common.img_size,
            neck.common.patch_size) == (bb.num_frames, bb.img_size,
                                        bb.patch_size)
    assert neck.common.encoder_dims == _width(bb.arch)
    for task in cfg.model.head.tasks.values():
        assert task.loss.patch_size == bb.patch_size
        assert task.loss.tubelet_size == bb.tubelet_size
    semseg = [m for m in modalities if 'semseg' in m]
    assert _find(pipeline, 'MultiModalVideoSemSegDownsample').get(
        'keys', ('semseg', )) == tuple(semseg)
    assert _find(pipeline, 'PackMultiModalVideoInputs').semseg_stride == 4
    pre = cfg.model.data_preprocessor
    assert tuple(pre.get('seg_keys', ('semseg', ))) == tuple(semseg)
    assert tuple(pre.get('depth_keys', ('depth', ))) == tuple(
        m for m in modalities if 'depth' in m)


@pytest.mark.parametrize('path', FINETUNE, ids=_ids(FINETUNE))
def test_finetune_config_fields_and_name(path):
    cfg = _load(path)
    assert cfg.default_scope == 'mmaction'
    assert 'mmmae' in cfg.custom_imports.imports
    assert cfg.model.type == 'Recognizer3D'
    assert cfg.auto_scale_lr.base_batch_size > 0
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator',
                'test_dataloader', 'test_cfg', 'test_evaluator'):
        assert cfg.get(key) is not None, key
    assert cfg.val_evaluator.type == 'AccMetric'
    m = _check_name(
        cfg, r'^vit-\w+-p(?P<patch>\d+)_(?P<init>[\w-]+)_\d+xb(?P<batch>\d+)-'
        r'(?P<clip>\d+)x(?P<stride>\d+)x(?P<clips>\d+)-(?P<epochs>\d+)e_'
        r'[\w-]+-(?P<input>rgb|rgbd)$')
    bb = cfg.model.backbone
    channels = dict(cfg.model.data_preprocessor.channels)
    modalities = tuple(channels)
    assert len(modalities) == len(m.group('input')) - 2  # rgb: 1, rgbd: 2
    assert modalities[0] == 'rgb'
    for split in _splits(cfg):
        dataset = cfg[f'{split}_dataloader'].dataset
        assert tuple(dataset.modalities) == modalities, split
        pipeline = dataset.pipeline
        pack = _find(pipeline, 'PackMultiModalVideoActionInputs')
        assert tuple(pack.modalities) == modalities, split
        sampler = _find(pipeline, 'SampleFrames')
        assert (sampler.clip_len, sampler.frame_interval) == (
            int(m.group('clip')), int(m.group('stride')))
        assert sampler.clip_len == bb.num_frames
    assert _find(cfg.train_dataloader.dataset.pipeline,
                 'SampleFrames').num_clips == int(m.group('clips'))
    if bb.type == 'mmmae.VideoMAEViT':
        assert modalities == ('rgb', ) and bb.return_feat_map
        width = _width(bb.arch)
    else:
        assert dict(bb.input_channels) == channels
        assert tuple(bb.input_adapters) == modalities
        assert tuple(bb.main_tasks) == modalities
        assert bb.as_tuple is False and bb.out_type == 'featmap'
        width = len(modalities) * _width(bb.arch)
    assert cfg.model.cls_head.in_channels == width
    assert cfg.model.cls_head.average_clips == 'prob'
    init = bb.get('init_cfg')
    assert (init is None) == (m.group('init') == 'scratch')


def _pretraining_of(path):
    """The pretraining config a fine-tuning's checkpoint comes from:
    ``work_dirs/<stem>/epoch_<max_epochs>.pth``, and that config."""
    ckpt = _load(path).model.backbone.init_cfg.checkpoint
    m = re.match(r'^work_dirs/([\w.-]+)/epoch_(\d+)\.pth$', ckpt)
    assert m, ckpt
    pre = osp.join(CFG_DIR, m.group(1) + '.py')
    assert osp.isfile(pre), f'{ckpt} is not the output of a config here'
    return pre, int(m.group(2))


PRETRAINED = [p for p in FINETUNE if 'scratch' not in p]


@pytest.mark.parametrize('path', PRETRAINED, ids=_ids(PRETRAINED))
def test_checkpoint_is_the_named_pretrainings_last(path):
    pre, epoch = _pretraining_of(path)
    pre_cfg = _load(pre)
    assert epoch == pre_cfg.train_cfg.max_epochs
    # "-pre-{E}e" in the name, and which algorithm made it
    m = re.search(r'_([\w-]+?)-(?:k400-)?pre-(\d+)e_', _stem(path))
    assert int(m.group(2)) == epoch
    assert _stem(pre).startswith(m.group(1) + '_vit-')
    bb = _load(path).model.backbone
    assert (pre_cfg.model.type == 'VideoMAE') == (
        bb.type == 'mmmae.VideoMAEViT')
    for key in ('patch_size', 'num_frames', 'img_size', 'tubelet_size'):
        assert bb.get(key, 2) == pre_cfg.model.backbone.get(key, 2), key


RGB = osp.join(
    CFG_DIR, 'finetune', 'vit-tiny-p8_multimodal-video-mae-pre-30e_'
    '1xb8-8x2x1-30e_scene-videos-rgb.py')
# what each sibling of the RGB recipe may change
INPUT = ('modalities', 'channels', 'pack', 'scene_videos.modalities',
         'train_pipeline', 'val_pipeline', 'test_pipeline',
         'train_dataloader.dataset.modalities',
         'train_dataloader.dataset.pipeline',
         'val_dataloader.dataset.modalities',
         'val_dataloader.dataset.pipeline',
         'test_dataloader.dataset.modalities',
         'test_dataloader.dataset.pipeline',
         'model.data_preprocessor.channels', 'model.backbone.input_channels',
         'model.backbone.main_tasks', 'model.backbone.input_adapters',
         'model.cls_head.in_channels')
SIBLINGS = {
    'vit-tiny-p8_multimodal-video-mae-pre-30e_1xb8-8x2x1-30e_'
    'scene-videos-rgbd': INPUT,
    'vit-tiny-p8_scratch_1xb8-8x2x1-30e_scene-videos-rgb':
    ('model.backbone.init_cfg', ),
    'vit-tiny-p8_videomae-pre-30e_1xb8-8x2x1-30e_scene-videos-rgb':
    ('pretrained', 'model.backbone'),
}


@pytest.mark.parametrize('stem', sorted(SIBLINGS))
def test_siblings_differ_from_the_rgb_recipe_only_where_named(stem):
    cfg = _load(osp.join(CFG_DIR, 'finetune', stem + '.py'))
    diff = _differing(cfg.to_dict(), _load(RGB).to_dict())
    allowed = SIBLINGS[stem]
    assert diff
    unexpected = sorted(
        k for k in diff
        if not any(k == a or k.startswith((a + '.', a + '['))
                   for a in allowed))
    assert not unexpected


@pytest.mark.parametrize('path', PAPER, ids=_ids(PAPER))
def test_paper_recipes_are_marked_unverified(path):
    with open(path) as f:
        head = f.read().split('_base_', 1)[0]
    assert '# UNVERIFIED' in head


def test_kinetics_recipe_numbers():
    pre = _load([p for p in PAPER if p in PRETRAIN][0])
    bb = pre.model.backbone
    assert (bb.arch, bb.patch_size, bb.img_size, bb.num_frames,
            bb.tubelet_size, bb.num_global_tokens) == ('b', 16, 224, 16, 2, 1)
    pipeline = pre.train_dataloader.dataset.pipeline
    sampler = _find(pipeline, 'SampleFrames')
    assert (sampler.clip_len, sampler.frame_interval) == (16, 4)
    assert _find(pipeline, 'VideoInit').backend == 'pyav'
    masks = _find(pipeline, 'MultiModalTubeMaskGenerator')
    assert (tuple(masks.grid), masks.num_visible) == ((8, 14, 14), 784)
    modalities = ('rgb', 'pseudo_depth', 'pseudo_semseg')
    assert tuple(pre.train_dataloader.dataset.modalities) == modalities
    assert pre.model.data_preprocessor.depth_keys == ('pseudo_depth', )
    assert bb.input_adapters.pseudo_semseg.num_classes == \
        pre.model.neck.output_adapters.pseudo_semseg.num_channels == 133
    assert pre.optim_wrapper.optimizer.lr == 1.5e-4
    assert pre.auto_scale_lr == dict(enable=True, base_batch_size=256)
    assert pre.train_cfg.max_epochs == 800

    ft_path = [p for p in PAPER if p in FINETUNE][0]
    ft = _load(ft_path)
    assert _pretraining_of(ft_path) == (pre.filename, 800)
    bb = ft.model.backbone
    assert (bb.arch, bb.patch_size, bb.img_size, bb.num_frames,
            bb.drop_path_rate) == ('b', 16, 224, 16, 0.1)
    assert tuple(bb.input_channels) == ('rgb', 'pseudo_depth')
    assert ft.model.data_preprocessor.depth_keys == ('pseudo_depth', )
    assert ft.model.cls_head.num_classes == 400
    for aug in ft.model.data_preprocessor.blending.augments:
        assert aug.num_classes == 400
    assert ft.optim_wrapper.optimizer.lr == 1e-3
    assert ft.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.75
    assert ft.auto_scale_lr == dict(enable=True, base_batch_size=256)
    assert ft.train_cfg.max_epochs == 100
    assert _find(ft.test_dataloader.dataset.pipeline,
                 'SampleFrames').num_clips == 5
    assert ft.test_dataloader.dataset.split == 'val'


@pytest.mark.parametrize('path', CONFIGS, ids=_ids(CONFIGS))
def test_model_and_optimizer_build(path):
    cfg = _load(path)
    model = _build(cfg, shrink=True)
    if cfg.default_scope != 'mmaction':
        return
    with DefaultScope.overwrite_default_scope('mmaction'):
        wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    # layer decay: the encoder's blocks, the embeddings and the head
    groups = wrapper.optimizer.param_groups
    depth = model.backbone.num_layers
    assert {g['layer_id'] for g in groups} == set(range(depth + 2))
    head = [g for g in groups if g['layer_id'] == depth + 1]
    assert all(g['lr'] == cfg.optim_wrapper.optimizer.lr for g in head)


@pytest.fixture(scope='module')
def scene_videos(tmp_path_factory):
    """Two rendered clips per split at the recipes' 16 frames, 64 x 64,
    with the pseudo-label folders of the Kinetics layout beside the exact
    ones."""
    from mmmae.datasets.demo import make_scene_video_dataset
    root = str(tmp_path_factory.mktemp('scene_videos'))
    make_scene_video_dataset(root, num_train=2, num_val=2, num_test=2,
                             num_frames=16, size=64)
    for split in ('train', 'val', 'test'):
        for name in ('depth', 'semseg'):
            os.symlink(osp.join(root, split, name),
                       osp.join(root, split, 'pseudo_' + name))
    return root


def _samples(cfg, split, root, num=2):
    loader = cfg[f'{split}_dataloader']
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        dataset = DATASETS.build(dict(loader.dataset, data_root=root))
        return [dataset[i] for i in range(num)]


@pytest.mark.parametrize('path', CONFIGS, ids=_ids(CONFIGS))
def test_pipelines_give_what_the_model_takes(path, scene_videos):
    cfg = _load(path)
    bb = cfg.model.backbone
    size, frames = bb.img_size, bb.num_frames
    for split in _splits(cfg):
        for sample in _samples(cfg, split, scene_videos, num=1):
            inputs = sample['inputs']
            if cfg.model.type == 'MultiMAE':
                assert inputs['rgb'].shape == (3, frames, size, size)
                depth = [m for m in inputs if 'depth' in m][0]
                semseg = [m for m in inputs if 'semseg' in m][0]
                assert inputs[depth].shape == (1, frames, size, size)
                assert inputs[semseg].shape == (frames, size // 4,
                                                size // 4)
                assert sum(int((~v).sum()) for v in sample[
                    'data_samples'].masks.values()) == _find(
                        cfg.train_dataloader.dataset.pipeline,
                        'MultiModalTubeMaskGenerator').num_visible
            elif cfg.model.type == 'VideoMAE':
                assert inputs.shape == (1, 3, frames, size, size)
                assert inputs.dtype == torch.uint8
            else:
                views = _find(cfg[f'{split}_dataloader'].dataset.pipeline,
                              'SampleFrames').num_clips
                channels = sum(cfg.model.data_preprocessor.channels.values())
                assert inputs.shape == (views, channels, frames, size, size)
                assert inputs.dtype == torch.float32
                assert int(sample['data_samples'].gt_label) in range(6)


@pytest.mark.parametrize('path', TINY, ids=_ids(TINY))
def test_tiny_recipe_trains_a_step_on_real_clips(path, scene_videos):
    cfg = _load(path)
    torch.manual_seed(0)
    model = _build(cfg)
    model.init_weights()
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    data = pseudo_collate(_samples(cfg, 'train', scene_videos))
    log_vars = model.train_step(data, wrapper)
    assert torch.isfinite(log_vars['loss'])
    if cfg.default_scope == 'mmaction':
        model.eval()
        data = pseudo_collate(_samples(cfg, 'test', scene_videos))
        with torch.no_grad():
            out = model.test_step(data)
        assert out[0].pred_score.shape == (cfg.model.cls_head.num_classes, )


def _pretrain_checkpoint(pre_path, tmp_path):
    """A pretraining model's state dict as a checkpoint file, and that
    model's backbone state."""
    cfg = _load(pre_path)
    torch.manual_seed(1)
    model = _build(cfg)
    model.init_weights()
    path = str(tmp_path / 'pretrain.pth')
    torch.save(dict(state_dict=model.state_dict()), path)
    return path, model.backbone.state_dict()


TINY_PRETRAINED = [p for p in PRETRAINED if p in TINY]


@pytest.mark.parametrize('path', TINY_PRETRAINED, ids=_ids(TINY_PRETRAINED))
def test_finetuning_loads_the_pretrained_encoder(path, tmp_path):
    pre_path, _ = _pretraining_of(path)
    ckpt, pretrained = _pretrain_checkpoint(pre_path, tmp_path)
    cfg = _load(path)
    cfg.model.backbone.init_cfg.checkpoint = ckpt
    from mmaction.registry import MODELS as MMACTION_MODELS
    with DefaultScope.overwrite_default_scope('mmaction'):
        model = MMACTION_MODELS.build(cfg.model)
    model.init_weights()
    own = model.backbone.state_dict()
    shared = sorted(set(own) & set(pretrained))
    # every encoder block and the input adapters of the fine-tuning
    # modalities come from the checkpoint
    assert len(shared) >= len(own) - 2, sorted(set(own) - set(pretrained))
    for key in shared:
        torch.testing.assert_close(own[key], pretrained[key], msg=key)
    if 'rgbd' in path:
        assert any(k.startswith('input_adapters.depth.') for k in shared)
