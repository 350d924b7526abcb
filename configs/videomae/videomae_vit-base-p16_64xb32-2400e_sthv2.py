# Copyright (c) mmmae contributors. All rights reserved.
# VideoMAE ViT-B/16 on Something-Something V2, 2400 epochs, 16x2 sampling
# (official V1 script).
_base_ = [
    '../_base_/models/videomae_vit-base-p16.py',
    '../_base_/datasets/sthv2_videomae-pretrain.py',
    '../_base_/schedules/videomae_pretrain_adamw_2400e.py',
    '../_base_/default_runtime.py',
]

train_dataloader = dict(batch_size=32)  # per GPU

# 64 GPUs x 32 clips = 2048; the runner scales base_lr
# by 2048/256: lr = 1.5e-4 x 2048 / 256 = 0.0012
