# Copyright (c) mmmae contributors. All rights reserved.
# VideoMAE ViT-S/16 fine-tuned on Kinetics-400 from the K400 1600e
# VideoMAE pretraining (official V1 fine-tuning script; reference §2.3):
# the ViT-B recipe with ViT-S, 12 videos per GPU and 150 epochs.
_base_ = [
    './vit-base-p16_videomae-k400-pre-1600e_'
    '64xb6-rep2-16x4x1-75e_kinetics400-rgb.py'
]

pretrained = ('work_dirs/videomae_vit-small-p16_32xb32-1600e_kinetics400/'
              'epoch_1600.pth')
model = dict(
    backbone=dict(arch='small', init_cfg=dict(checkpoint=pretrained)),
    cls_head=dict(in_channels=384))

# Repeated augmentation x2 as the ViT-B recipe: 32 GPUs x 12 videos = 384
# for the lr scaling (as official), but every step trains on 768 clips.
train_dataloader = dict(batch_size=12)

# lr = 0.0005 x 32 x 12 / 256 = 0.00075 (auto_scale_lr);
# layer decay 0.75, min_lr 1e-06 per 256 videos.
max_epochs = 150
param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
