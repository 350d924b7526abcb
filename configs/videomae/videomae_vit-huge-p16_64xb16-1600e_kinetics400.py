# Copyright (c) mmmae contributors. All rights reserved.
# VideoMAE ViT-H/16 on Kinetics-400, 1600 epochs, decoder depth 12,
# activation checkpointing (official V1 script, `--with_checkpoint`).
_base_ = [
    '../_base_/models/videomae_vit-huge-p16.py',
    '../_base_/datasets/kinetics400_videomae-pretrain.py',
    '../_base_/schedules/videomae_pretrain_adamw_1600e.py',
    '../_base_/default_runtime.py',
]

train_dataloader = dict(batch_size=16)  # per GPU

# 64 GPUs x 16 clips = 1024; the runner scales base_lr
# by 1024/256: lr = 1.5e-4 x 1024 / 256 = 0.0006
