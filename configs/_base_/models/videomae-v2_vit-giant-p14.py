# Copyright (c) mmmae contributors. All rights reserved.
# VideoMAE V2 ViT-g/14 pretraining model (official
# `pretrain_videomae_giant_patch14_224`): 1408-d x 40 blocks, 16 heads, MLP
# 6144 (ratio 48/11), patch 14, so a 16x224x224 clip is 8x16x16 = 2048
# tokens; decoder 512-d x 4 blocks, 8 heads. Activation checkpointing on, as
# the official `--with_checkpoint` (FSDP configs switch it to the strategy's
# per-block checkpointing instead).
_base_ = ['./videomae_vit-base-p16.py']
model = dict(
    backbone=dict(arch='g', patch_size=14, with_cp=True),
    neck=dict(
        embed_dims=1408,
        decoder_embed_dims=512,
        decoder_depth=4,
        decoder_num_heads=8,
        patch_size=14),
    head=dict(patch_size=14))
