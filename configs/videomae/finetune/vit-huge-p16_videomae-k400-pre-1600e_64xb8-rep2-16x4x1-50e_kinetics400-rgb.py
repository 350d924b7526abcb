# Copyright (c) mmmae contributors. All rights reserved.
# VideoMAE ViT-H/16 fine-tuned on Kinetics-400 from the K400 1600e
# VideoMAE pretraining (official V1 fine-tuning script; reference §2.3):
# the ViT-B recipe with ViT-H (drop path 0.2, activation checkpointing, head
# dropout 0.5), 8 videos per GPU, lr 1e-3 from a 1e-8 warmup, min_lr 1e-5
# and 50 epochs.
_base_ = [
    './vit-base-p16_videomae-k400-pre-1600e_'
    '64xb6-rep2-16x4x1-75e_kinetics400-rgb.py'
]

pretrained = ('work_dirs/videomae_vit-huge-p16_64xb16-1600e_kinetics400/'
              'epoch_1600.pth')
model = dict(
    backbone=dict(
        arch='huge',
        drop_path_rate=0.2,
        with_cp=True,
        init_cfg=dict(checkpoint=pretrained)),
    cls_head=dict(in_channels=1280, dropout_ratio=0.5))

# Repeated augmentation x2 as the ViT-B recipe: 64 GPUs x 8 videos = 512
# for the lr scaling (as official), but every step trains on 1024 clips.
train_dataloader = dict(batch_size=8)

# lr = 0.001 x 64 x 8 / 256 = 0.002 (auto_scale_lr);
# layer decay 0.75, min_lr 1e-05 per 256 videos.
base_lr = 0.001
min_lr = 1e-05
max_epochs = 50
optim_wrapper = dict(optimizer=dict(lr=base_lr))
warmup_lr = 1e-08  # official --warmup_lr
param_scheduler = [
    dict(_base_.param_scheduler[0], start_factor=warmup_lr / base_lr),
    dict(
        _base_.param_scheduler[1],
        eta_min_ratio=min_lr / base_lr,
        end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
