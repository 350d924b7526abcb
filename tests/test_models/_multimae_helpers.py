# Copyright (c) mmmae contributors. All rights reserved.
"""Tiny MultiMAE configs matching the official parity fixtures."""
import torch

from mmmae.registry import MODELS


def tiny_backbone_cfg(**kwargs):
    cfg = dict(
        type='mmmae.MultiMAEViT',
        input_adapters=dict(
            rgb=dict(type='mmmae.PatchedInputAdapter', in_channels=3),
            depth=dict(type='mmmae.PatchedInputAdapter', in_channels=1),
            semseg=dict(
                type='mmmae.SemSegInputAdapter',
                num_classes=5,
                dim_class_emb=16)),
        arch=dict(embed_dims=64, num_layers=2, num_heads=4, mlp_ratio=4.),
        img_size=32,
        patch_size=8)
    cfg.update(kwargs)
    return cfg


def tiny_neck_cfg(with_norm_rgb=False):
    adapters = dict(
        rgb=dict(num_channels=3),
        depth=dict(num_channels=1),
        semseg=dict(num_channels=5, stride_level=4))
    if with_norm_rgb:
        adapters['norm_rgb'] = dict(num_channels=3, task='rgb')
    return dict(
        type='mmmae.MultiMAEDecoder',
        output_adapters=adapters,
        common=dict(
            encoder_dims=64,
            embed_dims=32,
            num_layers=1,
            num_heads=2,
            img_size=32,
            patch_size=8,
            context_tasks=['rgb', 'depth', 'semseg']))


def tiny_head_cfg(**kwargs):
    return dict(
        type='mmmae.MultiMAEHead',
        tasks=dict(
            rgb=dict(loss=dict(type='mmmae.MaskedMSELoss', patch_size=8)),
            depth=dict(loss=dict(type='mmmae.MaskedL1Loss', patch_size=8)),
            semseg=dict(
                loss=dict(
                    type='mmmae.MaskedCrossEntropyLoss',
                    patch_size=8,
                    stride=4))),
        **kwargs)


def tiny_model(**kwargs):
    return MODELS.build(
        dict(
            type='mmmae.MultiMAE',
            backbone=tiny_backbone_cfg(),
            neck=tiny_neck_cfg(),
            head=tiny_head_cfg(),
            **kwargs))


def tiny_eval_model(seed=0):
    """:func:`tiny_model` with the official init from ``seed``, in eval
    mode."""
    torch.manual_seed(seed)
    m = tiny_model()
    m.init_weights()
    return m.eval()
