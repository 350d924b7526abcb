# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAE image classification through mmpretrain's ImageClassifier:
parity with the official MultiViT classifier (fixture 5), the head's
options and init, the official layer-decay grouping of the fine-tuning
recipe, and real MMEngine Runner training (fine-tune and linear probe) with
the recipes' own configs shrunk to a tiny model and a generated
image-folder dataset."""
import copy
import math
import os.path as osp
import types

import numpy as np
import pytest
import torch
import torch.nn as nn
from _multimae_helpers import tiny_backbone_cfg
from conftest import REPO_ROOT, load_fixture
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmpretrain.structures import DataSample

from mmmae.engine.hooks import FreezeBackboneHook
from mmmae.models.heads import MultiMAEClsHead
from mmmae.utils import convert_official_multimae

TOL = dict(rtol=1e-5, atol=1e-5)
CFG_DIR = osp.join(REPO_ROOT, 'configs', 'multimae', 'classification')
FINETUNE = osp.join(CFG_DIR, 'multimae_vit-base-p16_8xb128-coslr-100e_in1k.py')
LINEAR = osp.join(CFG_DIR,
                  'multimae_vit-base-p16_linear-8xb2048-coslr-90e_in1k.py')
# the fixture's MultiViT: ViT 64-d, 2 blocks, 4 heads, patch 8, 32x32 input
TINY_ARCH = dict(embed_dims=64, num_layers=2, num_heads=4, mlp_ratio=4.)
NUM_CLASSES = 5


@pytest.fixture(scope='module')
def multivit():
    return load_fixture('multimae_multivit_tiny.pth')


def _build(cfg):
    """Build a model config in mmpretrain's scope, as the configs do."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MMPRETRAIN_MODELS.build(copy.deepcopy(cfg))


def _classifier_cfg(**backbone):
    bb = tiny_backbone_cfg(
        out_indices=(-1, ), out_type='raw', input_channels=dict(rgb=3))
    bb.update(backbone)
    return dict(
        type='ImageClassifier',
        backbone=bb,
        head=dict(
            type='mmmae.MultiMAEClsHead', in_channels=64,
            num_classes=NUM_CLASSES))


# ------------------------------------------------------------------ parity
def test_official_multivit_logits(multivit):
    model = _build(_classifier_cfg()).eval()
    converted = convert_official_multimae(multivit['checkpoint'])
    # every official key has a home in ImageClassifier and vice versa
    model.load_state_dict(converted, strict=True)
    x = multivit['inputs']['rgb']
    with torch.no_grad():
        tokens = model.extract_feat(x)
        torch.testing.assert_close(tokens[-1],
                                   multivit['encoder_tokens']['rgb'], **TOL)
        torch.testing.assert_close(
            model(x, mode='tensor'), multivit['logits']['rgb'], **TOL)
        preds = model(x, mode='predict')
    expected = multivit['logits']['rgb'].argmax(1)
    assert [int(p.pred_label) for p in preds] == expected.tolist()


def test_official_checkpoint_as_init_cfg(multivit, tmp_path):
    """The official file itself works as the backbone's ``init_cfg``."""
    path = str(tmp_path / 'multivit.pth')
    torch.save(multivit['checkpoint'], path)
    model = _build(
        _classifier_cfg(
            input_adapters=dict(
                rgb=dict(type='mmmae.PatchedInputAdapter', in_channels=3)),
            init_cfg=dict(type='Pretrained', checkpoint=path)))
    model.init_weights()
    sd = multivit['checkpoint']['model']
    for name, p in model.backbone.state_dict().items():
        torch.testing.assert_close(p, sd[name], rtol=0, atol=0)
    with torch.no_grad():
        model.eval()
        torch.testing.assert_close(
            model.extract_feat(multivit['inputs']['rgb'])[-1],
            multivit['encoder_tokens']['rgb'], **TOL)


# -------------------------------------------------------------------- head
def test_head_options_and_init():
    torch.manual_seed(0)
    head = _build(
        dict(type='mmmae.MultiMAEClsHead', num_classes=7, in_channels=32))
    head.init_weights()
    assert isinstance(head.norm, nn.LayerNorm) and head.norm.eps == 1e-6
    assert torch.all(head.head.bias == 0)
    # trunc-normal(.02) x 1e-3 (cut at +-2 absolute, as timm: no real cut)
    assert 1e-5 < head.head.weight.std() < 3e-5
    bn = _build(
        dict(type='mmmae.MultiMAEClsHead', num_classes=7, in_channels=32,
             norm='BN', init_scale=0.5))
    bn.init_weights()
    assert isinstance(bn.norm, nn.BatchNorm1d)
    assert not bn.norm.affine and bn.norm.eps == 1e-6
    assert 0.005 < bn.head.weight.std() < 0.015  # MAE linear probe: 0.01
    assert sorted(bn.state_dict()) == [
        'head.bias', 'head.weight', 'norm.num_batches_tracked',
        'norm.running_mean', 'norm.running_var'
    ]
    xavier = MultiMAEClsHead(7, 32, init_scale=None)
    xavier.init_weights()
    bound = math.sqrt(6. / (7 + 32))
    assert xavier.head.weight.abs().max() <= bound
    assert xavier.head.weight.std() > 0.1
    assert isinstance(
        MultiMAEClsHead(7, 32, norm=None).norm, nn.Identity)
    with pytest.raises(ValueError, match='norm'):
        MultiMAEClsHead(7, 32, norm='GN')


def test_head_pooling_and_loss():
    head = MultiMAEClsHead(3, 8, norm=None, init_scale=1.)
    tokens = torch.randn(2, 5, 8)
    # the global token (last) is part of the mean
    torch.testing.assert_close(
        head((tokens, )), head.head(tokens.mean(1)))
    last = MultiMAEClsHead(3, 8, norm=None, use_mean_pooling=False)
    last.load_state_dict(head.state_dict())
    torch.testing.assert_close(last((tokens, )), head.head(tokens[:, -1]))
    with pytest.raises(ValueError, match="out_type='raw'"):
        head((torch.randn(2, 8, 2, 2), ))
    # hard labels, and soft mixup targets with label smoothing; the loss
    # names resolve from any default scope (here: none / mmmae)
    samples = [DataSample().set_gt_label(i) for i in (0, 2)]
    assert torch.isfinite(head.loss((tokens, ), samples)['loss'])
    with DefaultScope.overwrite_default_scope('mmmae'):
        smooth = MultiMAEClsHead(
            3, 8, loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1))
    soft = [DataSample().set_gt_score(torch.tensor([.3, .7, 0.]))] * 2
    loss = smooth.loss((tokens, ), soft)['loss']
    logits = smooth((tokens, ))
    target = torch.tensor([.3, .7, 0.]) * 0.9 + 0.1 / 3
    expected = -(target * logits.log_softmax(1)).sum(1).mean()
    torch.testing.assert_close(loss, expected)


# ------------------------------------------------------------- layer decay
def _official_lr_wd(name, param, depth, lr, wd, decay):
    """Official MultiMAE fine-tuning groups (optim_factory with
    get_num_layer_for_vit; reference multimae.md section 5.2)."""
    if name.startswith('backbone.'):
        oname = name[len('backbone.'):]
    else:  # the classifier head is output_adapters.cls
        oname = name.replace('head.', 'output_adapters.cls.', 1)
    if oname == 'global_tokens' or oname.startswith('input_adapters'):
        layer_id = 0
    elif oname.startswith('encoder.'):
        layer_id = int(oname.split('.')[1]) + 1
    else:
        layer_id = depth + 1
    no_wd = (param.ndim == 1 or oname.endswith('.bias')
             or oname in ('global_tokens', ))
    return lr * decay**(depth + 1 - layer_id), 0. if no_wd else wd


def test_finetune_layer_decay_equals_official():
    depth = 4
    cfg = Config.fromfile(FINETUNE)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.update(
        arch=dict(embed_dims=32, num_layers=depth, num_heads=2,
                  mlp_ratio=2.),
        img_size=32, patch_size=8, init_cfg=None)
    model_cfg.head.in_channels = 32
    model = _build(model_cfg)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    lr = cfg.optim_wrapper.optimizer.lr
    wd = cfg.optim_wrapper.optimizer.weight_decay
    assert isinstance(wrapper.optimizer, torch.optim.AdamW)
    where = {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            assert id(p) not in where
            where[id(p)] = group
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert len(where) == len(trainable)
    # the fixed sin-cos table is not trained (official: requires_grad False)
    assert 'backbone.input_adapters.rgb.pos_emb' not in trainable
    seen_ids = set()
    for name, p in trainable.items():
        exp_lr, exp_wd = _official_lr_wd(name, p, depth, lr, wd, 0.65)
        group = where[id(p)]
        assert group['lr'] == pytest.approx(exp_lr, rel=1e-12), name
        assert group['weight_decay'] == exp_wd, name
        seen_ids.add(group['layer_id'])
    assert seen_ids == set(range(depth + 2))
    names = {n for n, p in trainable.items()
             if where[id(p)]['weight_decay'] == 0}
    assert 'backbone.global_tokens' in names
    assert 'head.norm.weight' in names and 'head.head.weight' not in names


# ------------------------------------------------------------------ hooks
def test_freeze_hook_refuses_ddp_without_unused_params():
    from torch.nn.parallel import DistributedDataParallel
    model = _build(_classifier_cfg())
    fake = DistributedDataParallel.__new__(DistributedDataParallel)
    nn.Module.__init__(fake)
    fake.module = model
    fake.find_unused_parameters = False
    runner = types.SimpleNamespace(model=fake)
    with pytest.raises(RuntimeError, match='find_unused_parameters'):
        FreezeBackboneHook().before_run(runner)
    fake.find_unused_parameters = True
    FreezeBackboneHook().before_run(runner)
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    with pytest.raises(AttributeError, match='neck'):
        FreezeBackboneHook(module='neck').before_run(
            types.SimpleNamespace(model=model))


# ----------------------------------------------------------------- runner
def _write_dataset(root, num_classes=NUM_CLASSES, per_class=3, size=32):
    """Solid colours and stripes of one orientation per class, as PNGs in
    ``root/<class>/``."""
    from PIL import Image
    rng = np.random.default_rng(0)
    for c in range(num_classes):
        d = root / f'class_{c}'
        d.mkdir(parents=True)
        for i in range(per_class):
            img = np.zeros((size, size, 3), np.uint8)
            img[:] = rng.integers(0, 255, 3)
            period = 2 + c
            stripes = (np.arange(size) // period) % 2 == 0
            if c % 2:
                img[stripes] = 255 - img[stripes]
            else:
                img[:, stripes] = 255 - img[:, stripes]
            Image.fromarray(img).save(str(d / f'{i}.png'))
    return root


def _tiny_runner_cfg(path, data_root, work_dir, checkpoint):
    """The recipe config with a fixture-sized model, a 32x32 image folder
    and 2 epochs; everything else (augments, optimizer constructor,
    schedulers, hooks, scope) as in the recipe."""
    cfg = Config.fromfile(path)
    cfg.work_dir = str(work_dir)
    cfg.log_level = 'WARNING'
    cfg.launcher = 'none'
    bb = cfg.model.backbone
    bb.arch = dict(TINY_ARCH)
    bb.img_size, bb.patch_size = 32, 8
    bb.init_cfg.checkpoint = checkpoint
    cfg.model.head.in_channels = 64
    cfg.model.head.num_classes = NUM_CLASSES
    cfg.model.data_preprocessor.num_classes = NUM_CLASSES
    for t in cfg.train_dataloader.dataset.pipeline:
        if t.type == 'RandomResizedCrop':
            t.scale = 32
    for t in cfg.val_dataloader.dataset.pipeline:
        if t.type == 'ResizeEdge':
            t.scale = 36
        elif t.type == 'CenterCrop':
            t.crop_size = 32
    for key in ('train_dataloader', 'val_dataloader'):
        loader = cfg[key]
        loader.update(batch_size=4, num_workers=0, persistent_workers=False,
                      pin_memory=False)
        loader.dataset = dict(
            type='CustomDataset', data_root=str(data_root),
            pipeline=loader.dataset.pipeline)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.train_cfg.max_epochs = 2
    cfg.train_cfg.val_interval = 2
    cfg.param_scheduler[0].end = 1
    cfg.param_scheduler[1].begin, cfg.param_scheduler[1].end = 1, 2
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=100, save_last=False)
    return cfg


class _Snapshot(Hook):
    """Model weights after init / checkpoint loading, before training, and
    the backbone's training flag during each iteration."""

    priority = 'LOWEST'

    def __init__(self):
        self.backbone_modes = set()

    def before_train(self, runner):
        self.state = {
            k: v.detach().clone()
            for k, v in runner.model.state_dict().items()
        }

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.backbone_modes.add(runner.model.backbone.training)


@pytest.fixture(scope='module')
def image_folder(tmp_path_factory):
    return _write_dataset(tmp_path_factory.mktemp('images'))


@pytest.fixture
def checkpoint(multivit, tmp_path):
    path = str(tmp_path / 'multivit.pth')
    torch.save(multivit['checkpoint'], path)
    return path


def _run(cfg):
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    snapshot = _Snapshot()
    runner.register_hook(snapshot)
    runner.train()
    metrics = runner.val()
    return runner, snapshot, metrics


@pytest.mark.slow
def test_finetune_recipe_trains(image_folder, checkpoint, multivit, tmp_path):
    cfg = _tiny_runner_cfg(FINETUNE, image_folder, tmp_path / 'work',
                           checkpoint)
    runner, snapshot, metrics = _run(cfg)
    before, model = snapshot.state, runner.model
    assert snapshot.backbone_modes == {True}
    # the recipe's parts are in use
    aug = model.data_preprocessor.batch_augments
    # mmpretrain appends a no-op with the left-over probability (here 0)
    assert [type(a).__name__ for a in aug.augments
            ] == ['Mixup', 'CutMix', 'NoneType']
    assert aug.probs == [0.5, 0.5, 0.]
    assert type(model.head.loss_module).__name__ == 'LabelSmoothLoss'
    groups = runner.optim_wrapper.optimizer.param_groups
    assert {g['layer_id'] for g in groups} == set(range(4))
    assert any(t['type'] == 'RandAugment'
               for t in cfg.train_dataloader.dataset.pipeline)
    # the official checkpoint was loaded before training started
    sd = multivit['checkpoint']['model']
    for name in ('global_tokens', 'encoder.1.mlp.fc2.weight'):
        torch.testing.assert_close(before['backbone.' + name], sd[name])
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert math.isfinite(loss)
    assert set(metrics) == {'accuracy/top1', 'accuracy/top5'}
    assert 0 <= metrics['accuracy/top1'] <= 100
    assert metrics['accuracy/top5'] == pytest.approx(100.)
    # everything trains, backbone included
    after = model.state_dict()
    assert not torch.equal(before['backbone.encoder.0.attn.qkv.weight'],
                           after['backbone.encoder.0.attn.qkv.weight'])
    assert not torch.equal(before['head.head.weight'],
                           after['head.head.weight'])


@pytest.mark.slow
def test_linear_probe_recipe_trains(image_folder, checkpoint, multivit,
                                    tmp_path):
    cfg = _tiny_runner_cfg(LINEAR, image_folder, tmp_path / 'work',
                           checkpoint)
    runner, snapshot, metrics = _run(cfg)
    before, model = snapshot.state, runner.model
    # frozen and in eval mode during every iteration
    assert snapshot.backbone_modes == {False}
    assert type(runner.optim_wrapper.optimizer).__name__ == 'LARS'
    assert math.isfinite(metrics['accuracy/top1'])
    after = model.state_dict()
    sd = multivit['checkpoint']['model']
    for name, p in model.backbone.named_parameters():
        assert not p.requires_grad and p.grad is None, name
    for name, value in model.backbone.state_dict().items():
        # bit-identical to the official weights after two epochs
        assert torch.equal(value, sd[name]), name
    for key in ('head.head.weight', 'head.head.bias',
                'head.norm.running_mean'):
        assert not torch.equal(before[key], after[key]), key
