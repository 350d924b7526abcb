# Copyright (c) mmmae contributors. All rights reserved.
"""The paper-recipe configs carry the official pretraining hyperparameters.

Reference numbers: the official VideoMAE V1 pretraining scripts
(github.com/MCG-NJU/VideoMAE, ``scripts/``; table in
``configs/videomae/README.md``). ``actual_lr`` is base_lr x total_batch /
256, the lr the official code trains with; ``min_lr`` is its 1e-5 scaled
the same way.
"""
import copy
import math
import os.path as osp
import re

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS, DefaultScope

import mmmae  # noqa: F401
from mmmae.registry import MODELS

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(REPO_ROOT, 'configs', 'videomae')


def ref(arch,
        gpus,
        bs,
        actual_lr,
        epochs,
        dec_depth,
        mask=0.9,
        rate=4,
        warmup=40,
        min_lr=1e-5,
        dec_dims=None,
        views=1,
        decoder_mask=None):
    total = gpus * bs
    return dict(
        arch=arch,
        gpus=gpus,
        bs=bs,
        actual_lr=actual_lr,
        min_lr=min_lr * total * views / 256,
        epochs=epochs,
        warmup=warmup,
        dec_depth=dec_depth,
        dec_dims=dec_dims or dict(s=192, b=384, l=512, h=640)[arch],
        mask=mask,
        clip_len=16,
        rate=rate,
        views=views,
        decoder_mask=decoder_mask)


# config stem -> official numbers
RECIPES = {
    # Kinetics-400, 16x4, tube 0.9
    'videomae_vit-small-p16_32xb32-1600e_kinetics400':
    ref('s', 32, 32, 6e-4, 1600, 4),
    'videomae_vit-base-p16_64xb32-800e_kinetics400':
    ref('b', 64, 32, 1.2e-3, 800, 4),
    'videomae_vit-base-p16_64xb32-1600e_kinetics400':
    ref('b', 64, 32, 1.2e-3, 1600, 4),
    'videomae_vit-large-p16_64xb8-1600e_kinetics400':
    ref('l', 64, 8, 3e-4, 1600, 12),
    'videomae_vit-huge-p16_64xb16-1600e_kinetics400':
    ref('h', 64, 16, 6e-4, 1600, 12),
    # Something-Something V2, 16x2 (ViT-S GPU count unverified: 32 x 32)
    'videomae_vit-small-p16_32xb32-2400e_sthv2':
    ref('s', 32, 32, 6e-4, 2400, 4, rate=2),
    'videomae_vit-base-p16_64xb32-800e_sthv2':
    ref('b', 64, 32, 1.2e-3, 800, 4, rate=2),
    'videomae_vit-base-p16_64xb32-2400e_sthv2':
    ref('b', 64, 32, 1.2e-3, 2400, 4, rate=2),
    # UCF101: tube 0.75, base lr 3e-4 -> 3e-4 x 192 / 256
    'videomae_vit-base-p16_8xb24-3200e_ucf101':
    ref('b', 8, 24, 2.25e-4, 3200, 4, mask=0.75),
    # HMDB51 (paper appendix, recalled; unverified): 4800e, stride 2, 192
    'videomae_vit-base-p16_8xb24-4800e_hmdb51':
    ref('b', 8, 24, 2.25e-4, 4800, 4, rate=2),
    # V2 dual masking on the K400 ViT-B recipe: running cell 0.5
    'videomae-v2_vit-base-p16_64xb32-800e_kinetics400':
    ref('b', 64, 32, 1.2e-3, 800, 4, decoder_mask=0.5),
    # repeated sampling x4: same lr / clips per step / iterations as 800e
    'videomae_vit-base-p16_64xb8-rep4-200e_kinetics400':
    ref('b', 64, 8, 1.2e-3, 200, 4, warmup=10, views=4),
}

ARCH_WIDTH = dict(s=384, b=768, l=1024, h=1280)


def _cfg(stem):
    return Config.fromfile(osp.join(CFG_DIR, stem + '.py'))


def _pipeline(cfg):
    return {
        t['type'].split('.')[-1]: t
        for t in cfg.train_dataloader.dataset.pipeline
    }


def test_every_recipe_config_is_checked():
    import glob
    stems = {
        osp.splitext(osp.basename(p))[0]
        for p in glob.glob(osp.join(CFG_DIR, '*.py'))
    }
    demo = {s for s in stems if 'moving-digits' in s}
    # the -devaug- variants: test_devaug_configs.py
    devaug = {s for s in stems if '-devaug-' in s}
    # The FlexibleRunner (FSDP / DeepSpeed) variants and the V2 ViT-g recipe
    # they scale are checked against their parents in test_scale_configs.py.
    from test_configs.test_scale_configs import CONFIGS as SCALE_CONFIGS
    scale = {osp.splitext(osp.basename(p))[0] for p in SCALE_CONFIGS}
    assert stems - demo - scale - devaug == set(RECIPES)


@pytest.mark.parametrize('stem', sorted(RECIPES))
def test_recipe_numbers(stem):
    r = RECIPES[stem]
    cfg = _cfg(stem)
    m = re.search(r'_(\d+)xb(\d+)-', stem)
    gpus, bs = int(m.group(1)), int(m.group(2))
    assert (gpus, bs) == (r['gpus'], r['bs'])
    assert cfg.train_dataloader.batch_size == bs

    # model
    assert cfg.model.backbone.arch == r['arch']
    assert cfg.model.backbone.img_size == 224
    assert cfg.model.backbone.num_frames == r['clip_len']
    assert cfg.model.backbone.tubelet_size == 2
    assert cfg.model.neck.embed_dims == ARCH_WIDTH[r['arch']]
    assert cfg.model.neck.decoder_depth == r['dec_depth']
    assert cfg.model.neck.decoder_embed_dims == r['dec_dims']
    assert cfg.model.head.norm_pix is True
    assert cfg.model.backbone.get('with_cp', False) == (r['arch'] == 'h')

    # data
    pipe = _pipeline(cfg)
    assert pipe['SampleFrames']['clip_len'] == r['clip_len']
    assert pipe['SampleFrames']['frame_interval'] == r['rate']
    assert pipe['SampleFrames']['num_clips'] == 1
    assert pipe['TubeMaskGenerator']['mask_ratio'] == r['mask']
    assert tuple(pipe['TubeMaskGenerator']['input_size']) == (8, 14, 14)
    crop = pipe['MultiScaleCrop']
    assert crop['input_size'] == 224
    assert tuple(crop['scales']) == (1, .875, .75, .66)
    assert crop['max_wh_scale_gap'] == 1 and not crop['random_crop']
    assert crop['num_fixed_crops'] == 13
    assert tuple(pipe['Resize']['scale']) == (224, 224)
    assert not any('Flip' in k for k in pipe), 'no flip in official pretrain'
    if r['decoder_mask'] is None:
        assert 'RunningCellMaskGenerator' not in pipe
    else:
        rc = pipe['RunningCellMaskGenerator']
        assert rc['mask_ratio'] == r['decoder_mask']
        assert 'decoder_mask' in pipe['PackActionInputs']['algorithm_keys']
    if r['views'] > 1:
        assert cfg.train_dataloader.dataset.num_repeats == r['views']

    # optimizer
    opt = cfg.optim_wrapper.optimizer
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert opt.type == 'AdamW'
    assert tuple(opt.betas) == (0.9, 0.95)
    assert opt.weight_decay == 0.05
    assert 'clip_grad' not in cfg.optim_wrapper

    # effective lr: the runner's auto_scale_lr on N GPUs x M
    assert cfg.auto_scale_lr.enable is True
    assert cfg.auto_scale_lr.base_batch_size == 256
    lr = opt.lr * gpus * bs / cfg.auto_scale_lr.base_batch_size
    assert lr == pytest.approx(r['actual_lr'], rel=1e-9)

    # schedule
    assert cfg.train_cfg.max_epochs == r['epochs']
    assert re.search(rf'-{r["epochs"]}e_', stem)
    warm, cos = cfg.param_scheduler
    assert warm.type == 'LinearLR' and cos.type == 'CosineAnnealingLR'
    assert warm.begin == 0 and warm.end == r['warmup'] == cos.begin
    assert cos.end == r['epochs']
    for s in (warm, cos):
        assert s.by_epoch and s.convert_to_iter_based
    assert lr * cos.eta_min_ratio == pytest.approx(r['min_lr'], rel=1e-9)


def _simulate_lr(cfg, lr, epoch_length, epochs):
    """Per-iteration lr the config's schedulers produce (2 iters/epoch)."""
    param = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=lr)
    scheds = []
    for s in copy.deepcopy(cfg.param_scheduler):
        s = dict(s)
        s.pop('convert_to_iter_based')
        s.pop('by_epoch')
        typ = PARAM_SCHEDULERS.get(s.pop('type'))
        scheds.append(
            typ.build_iter_from_epoch(
                opt, by_epoch=True, epoch_length=epoch_length, **s))
    lrs = []
    for _ in range(epochs * epoch_length):
        lrs.append(opt.param_groups[0]['lr'])
        opt.step()
        for s in scheds:
            s.step()
    return lrs


@pytest.mark.parametrize('stem', [
    'videomae_vit-base-p16_64xb32-800e_kinetics400',
    'videomae_vit-base-p16_8xb24-3200e_ucf101',
    'videomae_vit-base-p16_64xb8-rep4-200e_kinetics400',
])
def test_lr_curve_matches_official(stem):
    """Warmup from ~0 to lr over the warmup epochs, then the official cosine
    ``min + (lr - min) * (1 + cos(pi * i / n)) / 2`` down to min_lr."""
    r = RECIPES[stem]
    cfg = _cfg(stem)
    epoch_len = 2
    lrs = _simulate_lr(cfg, r['actual_lr'], epoch_len, r['epochs'])
    warm_iters = r['warmup'] * epoch_len
    lr, min_lr = r['actual_lr'], r['min_lr']
    # official warmup: linspace(0, lr, warm_iters); ours starts at 1e-4 * lr
    for i in (0, warm_iters // 2, warm_iters - 1):
        official = lr * i / (warm_iters - 1)
        assert lrs[i] == pytest.approx(official, abs=2e-4 * lr)
    n = len(lrs) - warm_iters
    for i in (0, n // 3, n // 2, n - 1):
        cos = 0.5 * (1 + math.cos(math.pi * i / n))
        official = min_lr + (lr - min_lr) * cos
        assert lrs[warm_iters + i] == pytest.approx(official, rel=1e-3)
    assert lrs[-1] == pytest.approx(min_lr, rel=1e-2)


def _tiny_model_cfg(cfg):
    """Same structure as the recipe's model, at toy width/depth."""
    model = copy.deepcopy(cfg.model)
    model.backbone.arch = dict(
        embed_dims=64, num_layers=2, num_heads=2, feedforward_channels=128)
    model.backbone.img_size = 32
    model.backbone.with_cp = False
    model.neck.embed_dims = 64
    model.neck.decoder_embed_dims = 32
    model.neck.decoder_num_heads = 2
    model.neck.decoder_depth = 1
    return model


@pytest.mark.parametrize('stem', sorted(RECIPES))
def test_weight_decay_groups(stem):
    """AdamW decays matrices only: no decay on 1-D params (norms, biases,
    q/v biases), on ``mask_token`` or on ``pos_embed`` (official
    ``optim_factory.py``)."""
    cfg = _cfg(stem)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(_tiny_model_cfg(cfg))
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    optimizer = optim_wrapper.optimizer
    assert isinstance(optimizer, torch.optim.AdamW)
    wd_of = {}
    for group in optimizer.param_groups:
        assert group['betas'] == (0.9, 0.95)
        assert group['lr'] == cfg.optim_wrapper.optimizer.lr
        for p in group['params']:
            wd_of[id(p)] = group['weight_decay']
    seen = dict(decay=0, no_decay_1d=0, mask_token=0)
    for name, p in model.named_parameters():
        no_decay = (
            p.ndim <= 1 or name.endswith('.bias') or 'mask_token' in name
            or 'pos_embed' in name)
        want = 0. if no_decay else 0.05
        assert wd_of[id(p)] == pytest.approx(want), name
        if 'mask_token' in name:
            seen['mask_token'] += 1
        elif no_decay:
            seen['no_decay_1d'] += 1
        else:
            seen['decay'] += 1
    assert all(v > 0 for v in seen.values()), seen
    # the positional tables are fixed buffers, not trained
    assert not any('pos_embed' in n for n, _ in model.named_parameters())
