# Copyright (c) mmmae contributors. All rights reserved.
# VideoMAE ViT-B/16 pretraining model: 16x224x224 clips, tubelet 2,
# decoder 384-d x 4 blocks (official `pretrain_videomae_base_patch16_224`).
model = dict(
    type='VideoMAE',
    data_preprocessor=dict(
        type='VideoMAEDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_float32=True),
    backbone=dict(
        type='VideoMAEViT',
        arch='b',
        img_size=224,
        patch_size=16,
        num_frames=16,
        tubelet_size=2,
        drop_path_rate=0.,
        with_cp=False),
    neck=dict(
        type='VideoMAEPretrainDecoder',
        embed_dims=768,
        decoder_embed_dims=384,
        decoder_depth=4,
        decoder_num_heads=6,
        patch_size=16,
        tubelet_size=2),
    head=dict(
        type='VideoMAEPretrainHead',
        norm_pix=True,
        patch_size=16,
        tubelet_size=2,
        loss=dict(type='PixelReconstructionLoss', criterion='L2')),
)
