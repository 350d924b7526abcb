# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAE dense downstream configs (configs/multimae/{segmentation,depth}):
each loads, follows the naming convention, builds its (shrunk) model,
pipelines and evaluator in the mmseg scope and runs a forward, and the
paper-recipe configs carry the numbers of reference multimae.md sections
5.2 / 5.3 (and mmseg's MAE ViT-B UperNet recipe for the UperNet config).
The layer-decay grouping inside an mmseg ``EncoderDecoder`` is compared
with the official ``get_num_layer_for_vit`` rule written out here."""
import copy
import functools
import glob
import math
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

import mmmae  # noqa: F401

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MM_DIR = osp.join(REPO_ROOT, 'configs', 'multimae')
CONFIGS = sorted(
    glob.glob(osp.join(MM_DIR, 'segmentation', '*.py')) +
    glob.glob(osp.join(MM_DIR, 'depth', '*.py')))
IDS = [osp.relpath(p, MM_DIR) for p in CONFIGS]

# {algo}_{backbone}-p{patch}_{head}_{gpus}xb{batch}-[amp-]{N}{e|k}_{data}-{H}x{W}
NAME = re.compile(r'^multimae_vit-(?P<arch>[a-z]+)-p(?P<patch>\d+)_'
                  r'(?P<head>convnext|upernet|dpt)_(?P<gpus>\d+)xb'
                  r'(?P<batch>\d+)-(?:amp-)?(?P<length>\d+)(?P<unit>e|k)_'
                  r'(?P<data>[a-z0-9]+(?:-[a-z0-9]+)*)-(?P<h>\d+)x'
                  r'(?P<w>\d+)$')
HEADS = {
    'convnext': 'mmmae.ConvNeXtAdapterHead',
    'upernet': 'UPerHead',
    'dpt': 'mmmae.DPTHead',
}
# ViT-B width that the heads of the paper-sized configs are wired to.
VIT_B_DIMS = 768
SMALL_DIMS = 64
# forward input side: 2 x 2 tokens at patch 16, enough for every head (the
# DPT fusion runs at 256 channels up to full resolution, so keep it small)
SIDE = 32

ADE_CONVNEXT = 'multimae_vit-base-p16_convnext_4xb4-64e_ade20k-512x512'
ADE_UPERNET = 'multimae_vit-base-p16_upernet_8xb2-amp-160k_ade20k-512x512'
NYU_DEPTH = 'multimae_vit-base-p16_dpt_2xb64-2000e_nyuv2-256x256'
# official NYU_MEAN / NYU_STD (millimetres), reference section 5.2
NYU_MEAN_MM, NYU_STD_MM = 2070.7764, 777.5723


def _stem(path):
    return osp.splitext(osp.basename(path))[0]


def _path(stem):
    return [p for p in CONFIGS if _stem(p) == stem][0]


@functools.lru_cache(maxsize=None)
def _load_cached(path):
    return Config.fromfile(path)


def _load(path):
    # each config is read by several tests; resolving the ``mmseg::`` base
    # parses mmseg's metafiles (~0.5 s), so parse once and hand out copies
    return copy.deepcopy(_load_cached(path))


def _is_demo(stem):
    # tiny ray-cast scene configs of tools/demo_multimae.py: no recipe
    return 'scenes' in stem


def _pair(size):
    return tuple(size) if isinstance(size, (tuple, list)) else (size, size)


def _sync_bn_to_bn(node):
    """Replace every ``SyncBN`` norm config by ``BN`` (no process group on
    CPU) in place."""
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
        for value in node.values():
            _sync_bn_to_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _sync_bn_to_bn(value)


def _rescale_width(value):
    """768 * k -> 64 * k, for ints and lists of ints."""
    if isinstance(value, (list, tuple)):
        return type(value)(_rescale_width(v) for v in value)
    if isinstance(value, int) and value % VIT_B_DIMS == 0:
        return value // VIT_B_DIMS * SMALL_DIMS
    return value


def _small_model_cfg(cfg, num_layers=12):
    """The config's model, buildable and quick on CPU.

    No checkpoint (the placeholder path does not exist), ``BN`` for
    ``SyncBN``, and preset (ViT-B) backbones shrunk to 64 dims while keeping
    the 12 blocks, so ``out_indices`` such as (2, 5, 8, 11) stay valid; every
    head / neck width wired to 768 per main task follows. Demo configs
    already have a small dict arch and are kept as they are. The test-time
    padding is reduced to a multiple of 16 so the small test input is not
    padded to the recipe's 512 or 640 crop.

    Args:
        cfg (Config): A loaded dense config.
        num_layers (int): Encoder blocks of a shrunk preset backbone.

    Returns:
        ConfigDict: A copy of ``cfg.model``.
    """
    model = copy.deepcopy(cfg.model)
    bb = model.backbone
    bb.init_cfg = None
    _sync_bn_to_bn(model)
    if isinstance(bb.arch, str):
        bb.arch = dict(
            embed_dims=SMALL_DIMS, num_layers=num_layers, num_heads=2,
            feedforward_channels=2 * SMALL_DIMS)
        for part in ('decode_head', 'auxiliary_head'):
            if model.get(part) is None:
                continue
            model[part].in_channels = _rescale_width(model[part].in_channels)
        if model.get('neck') is not None:  # Feature2Pyramid
            model.neck.embed_dim = _rescale_width(model.neck.embed_dim)
        if model.decode_head.get('channels') == VIT_B_DIMS:
            # UperNet's internal width (768 in mmseg's MAE recipe)
            model.decode_head.channels = SMALL_DIMS // 2
    model.data_preprocessor.test_cfg = dict(size_divisor=16)
    return model


def _build_model(model_cfg):
    from mmseg.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(model_cfg)


def _types(pipeline):
    return [t['type'] for t in pipeline]


# ---------------------------------------------------------------- 1. fields
def test_configs_found():
    stems = {_stem(p) for p in CONFIGS}
    assert set(RECIPES) <= stems
    # every non-demo config has a recipe row (and vice versa)
    assert {s for s in stems if not _is_demo(s)} == set(RECIPES)


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_config_fields(path):
    cfg = _load(path)
    stem = _stem(path)
    assert cfg.default_scope == 'mmseg'
    assert 'mmmae' in cfg.custom_imports.imports
    assert not cfg.custom_imports.get('allow_failed_imports', False)
    assert cfg.get('auto_scale_lr') is not None
    m = NAME.match(stem)
    assert m, f'{stem} does not follow the naming convention'
    bb = cfg.model.backbone
    assert bb.type == 'mmmae.MultiMAEViT'
    assert int(m['patch']) == bb.patch_size
    if m['arch'] == 'base':
        assert bb.arch == 'b'
    assert cfg.model.decode_head.type == HEADS[m['head']]
    assert cfg.model.type == ('DepthEstimator'
                              if m['head'] == 'dpt' else 'EncoderDecoder')
    gpus, batch = int(m['gpus']), int(m['batch'])
    assert batch == cfg.train_dataloader.batch_size
    if m['unit'] == 'e':
        assert cfg.train_cfg.type == 'EpochBasedTrainLoop'
        assert cfg.train_cfg.max_epochs == int(m['length'])
    else:
        assert cfg.train_cfg.type == 'IterBasedTrainLoop'
        assert cfg.train_cfg.max_iters == int(m['length']) * 1000
    # schedulers end where training ends
    end = cfg.train_cfg.get('max_epochs', cfg.train_cfg.get('max_iters'))
    assert cfg.param_scheduler[-1].end == end
    crop = (int(m['h']), int(m['w']))
    assert _pair(cfg.model.data_preprocessor.size) == crop
    assert _pair(bb.img_size) == crop
    # the channel layout agrees end to end: pipeline -> preprocessor ->
    # backbone -> head
    dp = cfg.model.data_preprocessor
    modalities = dict(dp.get('modalities', dict(rgb=3)))
    keep = tuple(dp.get('keep', None) or modalities)
    assert list(bb.input_channels) == list(keep)
    assert list(bb.input_adapters) == list(keep)
    for name in keep:
        assert bb.input_channels[name] == modalities[name] == \
            bb.input_adapters[name].in_channels, name
    assert set(bb.main_tasks) <= set(keep)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        pack = [
            t for t in cfg[key].dataset.pipeline
            if t['type'] in ('mmmae.PackMultiModalSegInputs',
                             'PackSegInputs')
        ]
        assert len(pack) == 1, key
        # mmseg's PackSegInputs (mmseg's own ADE20K pipeline) packs RGB
        packed = ['rgb' if n == 'img' else n
                  for n in pack[0].get('modalities', ('img', ))]
        assert packed == list(modalities), key
    # enabling auto_scale_lr at the name's total batch must be a no-op
    assert cfg.auto_scale_lr.base_batch_size == gpus * batch


# ----------------------------------------------------- 2. model/pipe build
@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_model_builds_and_forwards(path):
    from mmseg.structures import SegDataSample
    cfg = _load(path)
    model = _build_model(_small_model_cfg(cfg))
    assert type(model).__name__ == cfg.model.type
    dp = model.data_preprocessor
    channels = sum(dp.modalities.values())
    assert sum(model.backbone.input_channels.values()) == sum(
        dp.modalities[k] for k in dp.keep)
    torch.manual_seed(0)
    data = dp(
        {
            'inputs': [torch.rand(channels, SIDE, SIDE) * 255],
            'data_samples': [SegDataSample()]
        }, False)
    inputs = data['inputs']
    width = sum(model.backbone.input_channels.values())
    assert tuple(inputs.shape) == (1, width, SIDE, SIDE)
    model.eval()
    with torch.no_grad():
        out = model(inputs, mode='tensor')
    head = cfg.model.decode_head
    if head.type == 'mmmae.DPTHead':
        side = SIDE  # DPT regresses at full resolution
    elif head.type == 'mmmae.ConvNeXtAdapterHead':
        # each token becomes a sqrt(preds_per_patch)^2 patch of pixels
        side = SIDE // cfg.model.backbone.patch_size * math.isqrt(
            head.preds_per_patch)
    else:
        side = SIDE // 4  # UperNet: the neck's finest level is 1/4
    assert tuple(out.shape) == (1, head.num_classes, side, side)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_pipelines_and_evaluator_build(path):
    from mmseg.registry import METRICS, TRANSFORMS
    cfg = _load(path)
    with DefaultScope.overwrite_default_scope('mmseg'):
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            for t in cfg[key].dataset.pipeline:
                assert TRANSFORMS.build(copy.deepcopy(t)) is not None, (key, t)
        for key in ('val_evaluator', 'test_evaluator'):
            metric = METRICS.build(copy.deepcopy(cfg[key]))
            assert type(metric).__name__ == cfg[key].type.split('.')[-1]


# ------------------------------------------------------------- 3. recipes
def _row(**kwargs):
    """One recipe row: the MultiMAE dense fine-tuning defaults (reference
    5.2, ADE20K / Hypersim / NYUv2 semseg rows) updated by ``kwargs``."""
    row = dict(
        wrapper='OptimWrapper',  # fp16: False in the official configs
        optimizer='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05,
        layer_decay=0.75, drop_path=0.1, min_lr=1e-6, by_epoch=True,
        warmup=1, keep=('rgb', ), main_tasks=('rgb', ))
    row.update(kwargs)
    return row


def _hypersim(**kwargs):
    # 25 ep, 512, batch 4 x 4, 40 classes, mask_valid; evaluated every epoch
    # as ADE20K (the reference gives no other interval)
    return _row(dataset='mmmae.HypersimDataset', gpus=4, batch=4, length=25,
                crop=512, num_classes=40, val_interval=1, val_split='val',
                test_split='test',
                modalities=dict(rgb=3, depth=1), **kwargs)


def _nyu_seg(**kwargs):
    # 200 ep, 640, batch 2 x 4, 40 classes, eval every 20 epochs, test = 654
    return _row(dataset='mmmae.NYUv2Dataset', gpus=4, batch=2, length=200,
                crop=640, num_classes=40, val_interval=20, val_split='test',
                test_split='test',
                modalities=dict(rgb=3, depth=1), **kwargs)


HYP = 'multimae_vit-base-p16_convnext_4xb4-25e_hypersim-{}-512x512'
NYU = 'multimae_vit-base-p16_convnext_4xb2-200e_nyuv2-{}-640x640'
RGBD = dict(keep=('rgb', 'depth'), main_tasks=('rgb', ))
DEPTH = dict(keep=('depth', ), main_tasks=('depth', ))
RECIPES = {
    ADE_CONVNEXT:
    _row(dataset='ADE20KDataset', gpus=4, batch=4, length=64, crop=512,
         num_classes=150, val_interval=1, modalities=dict(rgb=3)),
    # mmseg mae-base_upernet_8xb2-amp-160k_ade20k-512x512
    ADE_UPERNET:
    _row(dataset='ADE20KDataset', wrapper='AmpOptimWrapper', gpus=8, batch=2,
         length=160000, by_epoch=False, warmup=1500, crop=512,
         num_classes=150, val_interval=16000, layer_decay=0.65,
         modalities=dict(rgb=3), mmseg_ade_pipeline=True),
    HYP.format('rgb'): _hypersim(),
    HYP.format('depth'): _hypersim(**DEPTH),
    HYP.format('rgbd'): _hypersim(**RGBD),
    NYU.format('rgb'): _nyu_seg(),
    NYU.format('depth'): _nyu_seg(**DEPTH),
    NYU.format('rgbd'): _nyu_seg(**RGBD),
    # NYUv2 depth: 2000 ep, batch 64 x 2, 256, warmup 100 ep, wd 1e-4,
    # drop path 0, every one of the 654 test images evaluated
    NYU_DEPTH:
    _row(dataset='mmmae.NYUv2Dataset', gpus=2, batch=64, length=2000,
         warmup=100, crop=256, num_classes=1, weight_decay=1e-4,
         drop_path=0., val_interval=100, val_split='test', test_split='test',
         modalities=dict(rgb=3)),
}


def _check_schedule(cfg, row):
    warm, main = cfg.param_scheduler
    assert (warm.type, warm.begin, warm.end) == ('LinearLR', 0, row['warmup'])
    assert warm.start_factor <= 1e-4  # official warmup starts from 0
    if row['by_epoch']:
        assert warm.by_epoch and warm.convert_to_iter_based
        assert cfg.train_cfg.max_epochs == row['length']
        # per-iteration cosine to min_lr (times each layer's scale)
        assert (main.type, main.begin, main.end) == (
            'CosineAnnealingLR', row['warmup'], row['length'])
        assert main.by_epoch and main.convert_to_iter_based
        assert math.isclose(main.eta_min_ratio * row['lr'], row['min_lr'])
    else:
        assert not warm.by_epoch and not main.by_epoch
        assert cfg.train_cfg.max_iters == row['length']
        assert (main.type, main.begin, main.end, main.power,
                main.eta_min) == ('PolyLR', row['warmup'], row['length'], 1.,
                                  0.)
        assert cfg.train_dataloader.sampler.type == 'InfiniteSampler'


@pytest.mark.parametrize('stem', sorted(RECIPES))
def test_recipe_numbers(stem):
    """Reference multimae.md section 5.2 (one row per config)."""
    row = RECIPES[stem]
    cfg = _load(_path(stem))
    model = cfg.model
    bb, head, dp = model.backbone, model.decode_head, model.data_preprocessor

    ow = cfg.optim_wrapper
    opt = ow.optimizer
    assert ow.type == row['wrapper']
    assert opt.type == row['optimizer']
    assert math.isclose(opt.lr, row['lr'])
    assert tuple(opt.betas) == row['betas']
    assert math.isclose(opt.weight_decay, row['weight_decay'])
    assert ow.constructor == 'mmmae.LayerDecayOptimWrapperConstructor'
    assert ow.paramwise_cfg.layer_decay_rate == row['layer_decay']
    assert cfg.auto_scale_lr.enable is False  # absolute lr, as official
    assert bb.drop_path_rate == row['drop_path']
    _check_schedule(cfg, row)
    assert cfg.train_cfg.val_interval == row['val_interval']

    crop = (row['crop'], row['crop'])
    assert _pair(dp.size) == crop and _pair(bb.img_size) == crop
    assert bb.arch == 'b' and bb.patch_size == 16
    assert bb.get('num_global_tokens', 1) == 1
    assert head.num_classes == row['num_classes']
    assert cfg.train_dataloader.batch_size == row['batch']
    assert f"_{row['gpus']}xb{row['batch']}-" in stem

    # modalities: one RGB-D pipeline, the preprocessor keeps what the
    # backbone encodes, the head decodes main_tasks
    assert dict(dp.get('modalities', dict(rgb=3))) == row['modalities']
    keep = tuple(dp.get('keep', None) or row['modalities'])
    assert keep == row['keep']
    assert tuple(bb.main_tasks) == row['main_tasks']
    assert tuple(bb.input_channels) == keep == tuple(bb.input_adapters)
    for name in keep:
        assert bb.input_adapters[name].type == 'mmmae.PatchedInputAdapter'
        assert bb.input_adapters[name].in_channels == \
            bb.input_channels[name] == row['modalities'][name]

    train_ds = cfg.train_dataloader.dataset
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[key].dataset.type == row['dataset'], key
    if row['dataset'] != 'ADE20KDataset':
        assert train_ds.split == 'train'
        assert cfg.val_dataloader.dataset.split == row['val_split']
        assert cfg.test_dataloader.dataset.split == row['test_split']
    if row['num_classes'] > 1:
        _check_semseg(cfg, row)
    else:
        _check_depth(cfg, row)


def _check_semseg(cfg, row):
    from mmseg.registry import DATASETS
    with DefaultScope.overwrite_default_scope('mmseg'):
        classes = DATASETS.get(row['dataset']).METAINFO['classes']
    assert len(classes) == row['num_classes']
    assert cfg.model.decode_head.loss_decode.type == 'CrossEntropyLoss'
    assert cfg.val_evaluator.type == 'IoUMetric'
    assert 'mIoU' in cfg.val_evaluator.iou_metrics
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds = cfg[key].dataset
        # label 0 = unlabelled / "other" -> ignored (seg_reduce_zero_label)
        assert ds.get('reduce_zero_label', True), key
        pipeline = _types(ds.pipeline)
        if row['dataset'] != 'ADE20KDataset':
            # use_mask_valid: invalid pixels ignored, depth input 0 there
            assert 'mmmae.ApplyValidMask' in pipeline, key
    train = _types(cfg.train_dataloader.dataset.pipeline)
    # "simple" augmentation: large-scale jitter 0.1-2.0, crop, flip, jitter
    assert train[-5:-1] == [
        'RandomResize', 'RandomCrop', 'RandomFlip', 'PhotoMetricDistortion'
    ]
    resize = cfg.train_dataloader.dataset.pipeline[-5]
    crop = cfg.train_dataloader.dataset.pipeline[-4]
    if row.get('mmseg_ade_pipeline'):
        # mmseg's own ADE20K pipeline (the MAE recipe it is compared with)
        assert tuple(resize.ratio_range) == (0.5, 2.0)
        assert tuple(resize.scale) == (2048, 512)
        assert crop.cat_max_ratio == 0.75
        assert cfg.model.test_cfg == dict(
            mode='slide', crop_size=(512, 512), stride=(341, 341))
        return
    assert tuple(resize.ratio_range) == (0.1, 2.0) and resize.keep_ratio
    assert _pair(resize.scale) == (row['crop'], row['crop'])


def _check_depth(cfg, row):
    bb, head = cfg.model.backbone, cfg.model.decode_head
    assert tuple(bb.out_indices) == (2, 5, 8, 11)
    assert head.type == 'mmmae.DPTHead' and head.head_type == 'regression'
    assert tuple(head.layer_dims) == (96, 192, 384, 768)
    assert head.channels == 256
    assert head.loss_decode.type == 'mmmae.BerHuLoss'
    assert head.loss_decode.threshold == 0.2  # c = 0.2 max|diff|
    # the target is normalised with the official NYU statistics (in mm),
    # expressed in metres as the pipeline loads depth
    assert abs(head.depth_mean - NYU_MEAN_MM / 1000) < 1e-3
    assert abs(head.depth_std - NYU_STD_MM / 1000) < 1e-3
    assert cfg.val_evaluator.type == 'mmmae.DepthMetric'
    assert cfg.test_evaluator.type == 'mmmae.DepthMetric'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds = cfg[key].dataset
        assert ds.task == 'depth', key
        # all 654 test images (the official script evaluated only 100)
        assert ds.get('expect_full_test', True), key
        assert 'indices' not in ds, key
        assert 'mmmae.ApplyValidMask' in _types(ds.pipeline), key
    train = _types(cfg.train_dataloader.dataset.pipeline)
    assert 'ResizeShortestEdge' in train and 'RandomFlip' in train
    crop = [
        t for t in cfg.train_dataloader.dataset.pipeline
        if t['type'] == 'RandomCrop'
    ][0]
    assert _pair(crop.crop_size) == (row['crop'], row['crop'])


# --------------------------------------------------------- 4. layer decay
def _official_lr_wd(name, param, depth, lr, wd, decay):
    """Official MultiMAE fine-tuning groups (``optim_factory`` with
    ``get_num_layer_for_vit``; reference multimae.md section 5.2)."""
    if name.startswith('backbone.'):
        oname = name[len('backbone.'):]
    else:  # the decode head is an output adapter: top layer
        oname = 'output_adapters.semseg.' + name
    if oname == 'global_tokens' or oname.startswith('input_adapters.'):
        layer_id = 0
    elif oname.startswith('encoder.'):
        layer_id = int(oname.split('.')[1]) + 1
    else:
        layer_id = depth + 1
    no_wd = (param.ndim == 1 or oname.endswith('.bias')
             or oname == 'global_tokens')
    return lr * decay**(depth + 1 - layer_id), 0. if no_wd else wd


def test_layer_decay_groups_in_encoder_decoder():
    """ADE20K ConvNeXt config, backbone shrunk to 4 blocks: every trainable
    parameter's lr and weight decay equal the official rule."""
    depth = 4
    cfg = _load(_path(ADE_CONVNEXT))
    model_cfg = _small_model_cfg(cfg, num_layers=depth)
    model_cfg.backbone.out_indices = (-1, )
    model = _build_model(model_cfg)
    with DefaultScope.overwrite_default_scope('mmseg'):
        wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    assert isinstance(wrapper.optimizer, torch.optim.AdamW)
    lr = cfg.optim_wrapper.optimizer.lr
    wd = cfg.optim_wrapper.optimizer.weight_decay
    decay = cfg.optim_wrapper.paramwise_cfg.layer_decay_rate
    where = {}
    for group in wrapper.optimizer.param_groups:
        assert tuple(group['betas']) == (0.9, 0.999)
        for p in group['params']:
            assert id(p) not in where
            where[id(p)] = group
    named = dict(model.named_parameters())
    trainable = {n: p for n, p in named.items() if p.requires_grad}
    assert len(where) == len(trainable)
    # the fixed sin-cos table is frozen and not optimised (official:
    # requires_grad False, also listed in no_weight_decay)
    assert not named['backbone.input_adapters.rgb.pos_emb'].requires_grad
    assert id(named['backbone.input_adapters.rgb.pos_emb']) not in where
    seen = set()
    for name, p in trainable.items():
        exp_lr, exp_wd = _official_lr_wd(name, p, depth, lr, wd, decay)
        group = where[id(p)]
        assert group['lr'] == pytest.approx(exp_lr, rel=1e-12), name
        assert group['weight_decay'] == exp_wd, name
        seen.add(group['layer_id'])
    assert seen == set(range(depth + 2))
    # spot checks: adapters at the bottom, the last block and the head on
    # top (scale decay ** 1 and 1)
    assert where[id(named['backbone.input_adapters.rgb.proj.weight'])][
        'lr'] == pytest.approx(lr * decay**(depth + 1))
    assert where[id(named[f'backbone.encoder.{depth - 1}.mlp.fc1.weight'])][
        'lr'] == pytest.approx(lr * decay)
    head_w = named['decode_head.final_layer.weight']  # official key
    assert (where[id(head_w)]['lr'], where[id(head_w)]['weight_decay']) == (
        pytest.approx(lr), wd)
    assert where[id(named['backbone.global_tokens'])]['weight_decay'] == 0.
