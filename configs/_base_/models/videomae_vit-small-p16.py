# Copyright (c) mmmae contributors. All rights reserved.
# VideoMAE ViT-S/16 pretraining model: the ViT-B/16 model with the small
# encoder and a 192-d x 4 decoder (official `pretrain_videomae_small_patch16_224`).
_base_ = ['./videomae_vit-base-p16.py']
model = dict(
    backbone=dict(arch='s'),
    neck=dict(
        embed_dims=384,
        decoder_embed_dims=192,
        decoder_depth=4,
        decoder_num_heads=3))
