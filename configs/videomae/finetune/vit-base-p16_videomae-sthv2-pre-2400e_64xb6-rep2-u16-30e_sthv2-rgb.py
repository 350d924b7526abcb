# Copyright (c) mmmae contributors. All rights reserved.
# VideoMAE ViT-B/16 fine-tuned on Something-Something V2 from the SSv2 2400e
# VideoMAE pretraining (official V1 fine-tuning script; reference §2.3):
# the 800e recipe with repeated augmentation and 30 epochs.
_base_ = [
    './vit-base-p16_videomae-sthv2-pre-800e_64xb8-u16-50e_sthv2-rgb.py'
]

pretrained = ('work_dirs/videomae_vit-base-p16_64xb32-2400e_sthv2/'
              'epoch_2400.pth')
model = dict(backbone=dict(init_cfg=dict(checkpoint=pretrained)))

# Repeated augmentation (official --num_sample 2): each video is decoded
# once and augmented 2 times (the views share frames, as official). The
# batch counts videos: 64 GPUs x 6 videos = 384 for the lr scaling (as
# official), but every step trains on 768 clips.
train_dataloader = dict(
    batch_size=6,
    collate_fn=dict(type='repeat_pseudo_collate'),
    dataset=dict(num_repeats=2))

# lr = 0.0005 x 64 x 6 / 256 = 0.00075 (auto_scale_lr);
# layer decay 0.75, min_lr 1e-06 per 256 videos.
max_epochs = 30
param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
