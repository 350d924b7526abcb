# Copyright (c) mmmae contributors. All rights reserved.
# VideoMAE ViT-H/16 pretraining model: the ViT-B/16 model with the huge
# encoder and a 640-d x 12 decoder (official `pretrain_videomae_huge_patch16_224`);
# activation checkpointing on, as the official `--use_checkpoint`.
_base_ = ['./videomae_vit-base-p16.py']
model = dict(
    backbone=dict(arch='h', with_cp=True),
    neck=dict(
        embed_dims=1280,
        decoder_embed_dims=640,
        decoder_depth=12,
        decoder_num_heads=8))
