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
optim_wrapper = dict(optimizer=dict(lr=base_lr))
max_epochs = 3200
# warmup (40 epochs) from the schedule base; cosine to the new end
param_scheduler = [
    _base_.param_scheduler[0],
    dict(
        _base_.param_scheduler[1],
        end=max_epochs,
        eta_min_ratio=1e-5 / base_lr),
]
train_cfg = dict(max_epochs=max_epochs)
