# Copyright (c) mmmae contributors. All rights reserved.
# VideoMAE ViT-B/16 on UCF101 (split 1), 3200 epochs, tube mask 0.75 and
# base lr 3e-4 (official V1 script scripts/ucf101/..._0.75_epoch_3200).
# min_lr is the official default 1e-5 (per 256 clips).
_base_ = [
    '../_base_/models/videomae_vit-base-p16.py',
    '../_base_/datasets/ucf101_videomae-pretrain.py',
    '../_base_/schedules/videomae_pretrain_adamw.py',
    '../_base_/default_runtime.py',
]

train_dataloader = dict(batch_size=24)  # per GPU

# 8 GPUs x 24 clips = 192; the runner scales base_lr
# by 192/256: lr = 3e-4 x 192 / 256 = 0.000225
base_lr = 3e-4
min_lr = 1e-5
warmup_epochs = 40
max_epochs = 3200
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
