# Copyright (c) mmmae contributors. All rights reserved.
# Demo baseline: the moving-digits fine-tuning recipe with the SAME schedule,
# augmentation and budget, but the encoder starts from scratch with the
# official fine-tuning init instead of the VideoMAE-pretrained weights.
_base_ = [
    './vit-tiny-p8_videomae-moving-digits-pre-20e_'
    '1xb8-8x4x1-12e_moving-digits-rgb.py'
]

model = dict(
    backbone=dict(init_cfg=[
        dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
        dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
    ]))
