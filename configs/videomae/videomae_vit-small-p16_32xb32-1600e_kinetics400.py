# Copyright (c) mmmae contributors. All rights reserved.
# VideoMAE ViT-S/16 on Kinetics-400, 1600 epochs (official V1 script).
_base_ = [
    '../_base_/models/videomae_vit-small-p16.py',
    '../_base_/datasets/kinetics400_videomae-pretrain.py',
    '../_base_/schedules/videomae_pretrain_adamw_1600e.py',
    '../_base_/default_runtime.py',
]

train_dataloader = dict(batch_size=32)  # per GPU

# 32 GPUs x 32 clips = 1024; the runner scales base_lr
# by 1024/256: lr = 1.5e-4 x 1024 / 256 = 0.0006
