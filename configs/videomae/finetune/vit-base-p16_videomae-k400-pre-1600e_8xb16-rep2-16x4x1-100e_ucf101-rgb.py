# Copyright (c) mmmae contributors. All rights reserved.
# Transfer: the K400 1600e VideoMAE ViT-B/16 encoder fine-tuned on UCF101
# (paper: 96.1 top-1). UNVERIFIED recipe: the transfer script was never
# released (MCG-NJU/VideoMAE#71, #122); this is the UCF101 script with the
# K400 encoder.
_base_ = [
    './vit-base-p16_videomae-ucf101-pre-3200e_'
    '8xb16-rep2-16x4x1-100e_ucf101-rgb.py'
]

pretrained = ('work_dirs/videomae_vit-base-p16_64xb32-1600e_kinetics400/'
              'epoch_1600.pth')
model = dict(backbone=dict(init_cfg=dict(checkpoint=pretrained)))
