# Copyright (c) mmmae contributors. All rights reserved.
# VideoMAE ViT-S/16 on Something-Something V2, 2400 epochs, 16x2 sampling.
# GPU count: the official script launches `--nnodes=8` while its comment
# says 32 GPUs; 32 x 32 = 1024 (as K400 ViT-S) is used here (UNVERIFIED).
_base_ = [
    '../_base_/models/videomae_vit-small-p16.py',
    '../_base_/datasets/sthv2_videomae-pretrain.py',
    '../_base_/schedules/videomae_pretrain_adamw_2400e.py',
    '../_base_/default_runtime.py',
]

train_dataloader = dict(batch_size=32)  # per GPU

# 32 GPUs x 32 clips = 1024; the runner scales base_lr
# by 1024/256: lr = 1.5e-4 x 1024 / 256 = 0.0006
