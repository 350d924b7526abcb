# Copyright (c) mmmae contributors. All rights reserved.
"""The tiny multi-modal video MAE of the model and visualisation tests:
rgb + depth + semseg clips of 4 x 32 x 32, patch 8, tubelet 2, 6 classes."""

T, S, P, TUB, K = 4, 32, 8, 2, 6
GRID = (T // TUB, S // P, S // P)  # (2, 4, 4): 32 tokens per modality


def video_backbone_cfg(**kwargs):
    """The ``MultiModalViT`` of :func:`video_mae_cfg`; ``kwargs`` update
    it."""
    cfg = dict(
        type='mmmae.MultiModalViT',
        input_adapters=dict(
            rgb=dict(type='mmmae.TubeletInputAdapter', in_channels=3),
            depth=dict(type='mmmae.TubeletInputAdapter', in_channels=1),
            semseg=dict(
                type='mmmae.SemSegTubeletAdapter',
                num_classes=K,
                dim_class_emb=8)),
        arch=dict(embed_dims=32, num_layers=2, num_heads=2, mlp_ratio=2.),
        img_size=S,
        patch_size=P,
        num_frames=T,
        tubelet_size=TUB)
    cfg.update(kwargs)
    return cfg


def video_mae_cfg():
    common = dict(
        type='mmmae.MultiModalVideoDecoder',
        encoder_dims=32,
        embed_dims=16,
        num_layers=1,
        num_heads=2,
        img_size=S,
        patch_size=P,
        num_frames=T,
        tubelet_size=TUB,
        context_tasks=['rgb', 'depth', 'semseg'])
    return dict(
        type='mmmae.MultiMAE',
        backbone=video_backbone_cfg(),
        neck=dict(
            type='mmmae.MultiMAEDecoder',
            output_adapters=dict(
                rgb=dict(num_channels=3),
                depth=dict(num_channels=1),
                semseg=dict(num_channels=K, stride_level=4)),
            common=common),
        head=dict(
            type='mmmae.MultiMAEHead',
            tasks=dict(
                rgb=dict(
                    loss=dict(
                        type='mmmae.MaskedMSELoss',
                        patch_size=P,
                        norm_pix=True,
                        tubelet_size=TUB)),
                depth=dict(
                    loss=dict(
                        type='mmmae.MaskedL1Loss',
                        patch_size=P,
                        tubelet_size=TUB)),
                semseg=dict(
                    loss=dict(
                        type='mmmae.MaskedCrossEntropyLoss',
                        patch_size=P,
                        stride=4,
                        tubelet_size=TUB)))))
