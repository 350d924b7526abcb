# Copyright (c) mmmae contributors. All rights reserved.
# Transfer: the K400 1600e VideoMAE ViT-B/16 encoder fine-tuned on HMDB51
# (paper: 73.3 top-1). UNVERIFIED recipe: the UCF101 script with the K400
# encoder on HMDB51 data.
_base_ = [
    './vit-base-p16_videomae-hmdb51-pre-4800e_'
    '8xb16-rep2-16x4x1-100e_hmdb51-rgb.py'
]

pretrained = ('work_dirs/videomae_vit-base-p16_64xb32-1600e_kinetics400/'
              'epoch_1600.pth')
model = dict(backbone=dict(init_cfg=dict(checkpoint=pretrained)))
