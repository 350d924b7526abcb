# Copyright (c) mmmae contributors. All rights reserved.
# MultiMAE-B/16 pretraining model (official `pretrain_multimae_base` with the
# released run's four decoders, "rgb+-depth-semseg"):
#   encoder: ViT-B/16 over the visible tokens of rgb, depth and semseg (COCO
#   panoptic pseudo-labels, 133 classes, given at 1/4 resolution), one global
#   token appended after the patch tokens, no final norm;
#   decoders: one cross-attention decoder per task (dim 256, 2 blocks,
#   8 heads): rgb, norm_rgb (same rgb queries, per-patch normalised target),
#   depth, semseg;
#   losses: masked MSE (rgb), masked MSE on per-patch normalised pixels
#   (norm_rgb), masked L1 on truncated-standardised depth, masked CE
#   (semseg); unweighted sum, masked tokens only.
# New dense modalities (normals, edges, flow) are a new entry in
# `input_adapters`, `output_adapters` and `head.tasks`.
num_semseg_classes = 133
model = dict(
    type='MultiMAE',
    data_preprocessor=dict(
        type='MultiMAEDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        standardize_depth=True,
        depth_trunc=0.1),
    backbone=dict(
        type='MultiMAEViT',
        input_adapters=dict(
            rgb=dict(type='PatchedInputAdapter', in_channels=3),
            depth=dict(type='PatchedInputAdapter', in_channels=1),
            semseg=dict(
                type='SemSegInputAdapter',
                num_classes=num_semseg_classes,
                dim_class_emb=64)),
        arch='b',
        img_size=224,
        patch_size=16,
        num_global_tokens=1,
        drop_path_rate=0.,
        with_cp=False),
    neck=dict(
        type='MultiMAEDecoder',
        output_adapters=dict(
            rgb=dict(num_channels=3),
            norm_rgb=dict(num_channels=3, task='rgb'),
            depth=dict(num_channels=1),
            semseg=dict(num_channels=num_semseg_classes, stride_level=4)),
        common=dict(
            encoder_dims=768,
            embed_dims=256,
            num_layers=2,
            num_heads=8,
            mlp_ratio=4.,
            img_size=224,
            patch_size=16,
            context_tasks=['rgb', 'depth', 'semseg'])),
    head=dict(
        type='MultiMAEHead',
        tasks=dict(
            rgb=dict(loss=dict(type='MaskedMSELoss', patch_size=16)),
            norm_rgb=dict(
                target='rgb',
                loss=dict(type='MaskedMSELoss', patch_size=16,
                          norm_pix=True)),
            depth=dict(loss=dict(type='MaskedL1Loss', patch_size=16)),
            semseg=dict(
                loss=dict(
                    type='MaskedCrossEntropyLoss', patch_size=16,
                    stride=4)))))
