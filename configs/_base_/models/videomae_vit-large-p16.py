# Copyright (c) mmmae contributors. All rights reserved.
# VideoMAE ViT-L/16 pretraining model: the ViT-B/16 model with the large
# encoder and a 512-d x 12 decoder (official `pretrain_videomae_large_patch16_224`,
# decoder depth from the K400 ViT-L script).
_base_ = ['./videomae_vit-base-p16.py']
model = dict(
    backbone=dict(arch='l'),
    neck=dict(
        embed_dims=1024,
        decoder_embed_dims=512,
        decoder_depth=12,
        decoder_num_heads=8))
