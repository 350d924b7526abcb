# Copyright (c) mmmae contributors. All rights reserved.
# VideoMAE ViT-L/16 on Kinetics-400, 1600 epochs, decoder depth 12
# (official V1 script).
_base_ = [
    '../_base_/models/videomae_vit-large-p16.py',
    '../_base_/datasets/kinetics400_videomae-pretrain.py',
    '../_base_/schedules/videomae_pretrain_adamw_1600e.py',
    '../_base_/default_runtime.py',
]

train_dataloader = dict(batch_size=8)  # per GPU

# 64 GPUs x 8 clips = 512; the runner scales base_lr
# by 512/256: lr = 1.5e-4 x 512 / 256 = 0.0003
