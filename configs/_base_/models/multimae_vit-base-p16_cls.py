# Copyright (c) mmmae contributors. All rights reserved.
# MultiMAE-B/16 image classifier (official MultiViT + LinearOutputAdapter) as
# an mmpretrain ImageClassifier. Used from mmpretrain's scope
# (default_scope='mmpretrain'): mmpretrain parts keep their plain names, the
# mmmae parts are written `mmmae.X`.
#   backbone: the shared MultiMAE encoder with the rgb input adapter only
#     (patch 16, sincos pos_emb, one global token appended last, no final
#     norm); out_type='raw' returns all (B, 196 + 1, 768) tokens of the last
#     block;
#   head: mean over all 197 tokens (global token included, official) ->
#     norm -> Linear. The keys `head.norm.*` / `head.head.*` equal the
#     official `output_adapters.cls.{norm,head}.*`.
# `init_cfg.checkpoint` takes any MultiMAE checkpoint layout: the official
# MultiMAE/MultiViT release, an mmmae pretraining run or a timm ViT (see
# docs/multimae_classification.md). Depth/semseg adapters and decoders in
# the checkpoint are dropped; pos_emb is resized to the input size.
pretrained = ('checkpoints/'
              'multimae-b_98_rgb+-depth-semseg_1600e_multivit-afff3f8c.pth')
num_classes = 1000
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=num_classes,
        # ImageNet mean / std in RGB order; images load as BGR
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='mmmae.MultiMAEViT',
        input_adapters=dict(
            rgb=dict(type='mmmae.PatchedInputAdapter', in_channels=3)),
        arch='b',
        img_size=224,
        patch_size=16,
        num_global_tokens=1,
        drop_path_rate=0.,
        out_indices=(-1, ),
        out_type='raw',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=None,
    head=dict(
        type='mmmae.MultiMAEClsHead',
        num_classes=num_classes,
        in_channels=768,
        norm='LN',
        init_scale=1e-3,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
