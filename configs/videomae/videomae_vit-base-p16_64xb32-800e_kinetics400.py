# Copyright (c) mmmae contributors. All rights reserved.
# VideoMAE ViT-B/16 on Kinetics-400, 800 epochs (official V1 script).
_base_ = [
    '../_base_/models/videomae_vit-base-p16.py',
    '../_base_/datasets/kinetics400_videomae-pretrain.py',
    '../_base_/schedules/videomae_pretrain_adamw.py',
    '../_base_/default_runtime.py',
]

train_dataloader = dict(batch_size=32)  # per GPU

# 64 GPUs x 32 clips = 2048; the runner scales base_lr
# by 2048/256: lr = 1.5e-4 x 2048 / 256 = 0.0012
base_lr = 1.5e-4
min_lr = 1e-5
warmup_epochs = 40
max_epochs = 800
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min_ratio=min_lr / base_lr,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
auto_scale_lr = dict(enable=True, base_batch_size=256)
