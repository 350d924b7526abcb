# Copyright (c) mmmae contributors. All rights reserved.
"""LayerDecayOptimWrapperConstructor reproduces the official VideoMAE
parameter groups (optim_factory.get_parameter_groups with
get_num_layer_for_vit) for a 12-block model inside MMAction2's
Recognizer3D, and MMEngine's schedulers keep the per-layer ratios."""
import math

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

import mmmae  # noqa: F401

DEPTH = 12


def _recognizer():
    from mmaction.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmaction'):
        return MODELS.build(
            dict(
                type='Recognizer3D',
                backbone=dict(
                    type='mmmae.VideoMAEViT',
                    arch=dict(embed_dims=32, num_layers=DEPTH, num_heads=2,
                              feedforward_channels=64),
                    img_size=16, patch_size=8, num_frames=2,
                    use_mean_pooling=True),
                cls_head=dict(type='TimeSformerHead', num_classes=5,
                              in_channels=32)))


def _official_name(name):
    """mmmae/MMAction2 parameter name -> official modeling_finetune name."""
    if name.startswith('backbone.'):
        return name[len('backbone.'):]
    return name.replace('cls_head.fc_cls.', 'head.')


def _official_layer_id(name, num_max_layer):
    # VideoMAE run_class_finetuning.py / optim_factory.get_num_layer_for_vit
    if name in ('cls_token', 'mask_token', 'pos_embed'):
        return 0
    if name.startswith('patch_embed'):
        return 0
    if name.startswith('rel_pos_bias'):
        return num_max_layer - 1
    if name.startswith('blocks'):
        return int(name.split('.')[1]) + 1
    return num_max_layer - 1


def official_groups(model, lr, weight_decay, decay_rate):
    """name -> (lr, weight decay) per the official grouping."""
    num_layers = DEPTH + 2
    scales = [decay_rate**(DEPTH + 1 - i) for i in range(num_layers)]
    skip = {'pos_embed', 'cls_token'}  # model.no_weight_decay()
    out = {}
    for name, param in model.named_parameters():
        oname = _official_name(name)
        no_decay = (len(param.shape) == 1 or oname.endswith('.bias')
                    or oname in skip)
        layer_id = _official_layer_id(oname, num_layers)
        out[name] = (lr * scales[layer_id], 0. if no_decay else weight_decay)
    return out


@pytest.mark.parametrize('decay_rate', [0.75, 0.7])
def test_groups_equal_official(decay_rate):
    model = _recognizer()
    wrapper = build_optim_wrapper(
        model,
        dict(
            optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999),
                           weight_decay=0.05),
            constructor='mmmae.LayerDecayOptimWrapperConstructor',
            paramwise_cfg=dict(layer_decay_rate=decay_rate)))
    expected = official_groups(model, 1e-3, 0.05, decay_rate)
    names = {id(p): n for n, p in model.named_parameters()}
    got = {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            got[names[id(p)]] = (group['lr'], group['weight_decay'])
    assert set(got) == set(expected)
    for name, (lr, wd) in expected.items():
        assert math.isclose(got[name][0], lr, rel_tol=1e-12), name
        assert got[name][1] == wd, name
    # spot checks of the formula: patch embed = id 0, head = top
    assert math.isclose(got['backbone.patch_embed.proj.weight'][0],
                        1e-3 * decay_rate**13)
    assert math.isclose(got['backbone.blocks.11.mlp.fc1.weight'][0],
                        1e-3 * decay_rate)
    assert got['cls_head.fc_cls.weight'] == (1e-3, 0.05)
    assert got['backbone.fc_norm.weight'] == (1e-3, 0.)
    assert got['backbone.blocks.0.attn.q_bias'][1] == 0.
    # 14 layer ids, each with a decay and a no-decay group
    assert len(wrapper.optimizer.param_groups) == 2 * (DEPTH + 2)


def test_schedulers_keep_layer_ratios():
    from mmengine.optim.scheduler import CosineAnnealingLR, LinearLR
    model = _recognizer()
    wrapper = build_optim_wrapper(
        model,
        dict(
            optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
            constructor='mmmae.LayerDecayOptimWrapperConstructor',
            paramwise_cfg=dict(layer_decay_rate=0.75)))
    groups = wrapper.optimizer.param_groups
    scales = [g['lr_scale'] for g in groups]
    warm = LinearLR(wrapper, start_factor=1e-4, begin=0, end=5)
    cos = CosineAnnealingLR(
        wrapper, eta_min_ratio=1e-6 / 1e-3, begin=5, end=20)
    for step in range(20):
        for g, s in zip(groups, scales):
            assert math.isclose(g['lr'], groups[-1]['lr'] * s, rel_tol=1e-9)
        wrapper.optimizer.step()
        warm.step()
        cos.step()
    # the cosine goes to min_lr * lr_scale per layer, as official: after
    # its last update (t = 14 of 15) lr = min + (base - min)(1 + cos)/2
    t = (1 + math.cos(math.pi * 14 / 15)) / 2
    for g, s in zip(groups, scales):
        assert math.isclose(
            g['lr'], s * (1e-6 + (1e-3 - 1e-6) * t), rel_tol=1e-6)


def test_bad_configs_raise():
    model = _recognizer()
    with pytest.raises(KeyError, match='custom_keys'):
        build_optim_wrapper(
            model,
            dict(
                optimizer=dict(type='AdamW', lr=1e-3),
                constructor='mmmae.LayerDecayOptimWrapperConstructor',
                paramwise_cfg=dict(custom_keys={})))
    with pytest.raises(ValueError, match='layer_decay_rate'):
        build_optim_wrapper(
            model,
            dict(
                optimizer=dict(type='AdamW', lr=1e-3),
                constructor='mmmae.LayerDecayOptimWrapperConstructor',
                paramwise_cfg=dict(layer_decay_rate=1.5)))
    with pytest.raises(TypeError, match='get_layer_depth'):
        build_optim_wrapper(
            torch.nn.Linear(2, 2),
            dict(
                optimizer=dict(type='AdamW', lr=1e-3),
                constructor='mmmae.LayerDecayOptimWrapperConstructor'))


def test_amp_and_clipping_wrappers_keep_the_groups():
    """`--amp` (CPU: mmmae.CPUAmpOptimWrapper) and clip_grad only change
    the wrapper type; the layer-decay groups stay."""
    model = _recognizer()
    for extra in (dict(type='mmmae.CPUAmpOptimWrapper', dtype='bfloat16'),
                  dict(clip_grad=dict(max_norm=5.0))):
        wrapper = build_optim_wrapper(
            model,
            dict(
                optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
                constructor='mmmae.LayerDecayOptimWrapperConstructor',
                paramwise_cfg=dict(layer_decay_rate=0.75),
                **extra))
        assert len(wrapper.optimizer.param_groups) == 2 * (DEPTH + 2)
        x = torch.randn(2, 3, 2, 16, 16)
        with wrapper.optim_context(model):
            loss = model.cls_head(model.backbone(x)).square().mean()
        wrapper.update_params(loss)
