# Copyright (c) mmmae contributors. All rights reserved.
# MultiMAE-B/16, rgb+ depth semseg, 1600 epochs on pseudo-labelled ImageNet-1K
# (official cfgs/pretrain/multimae-b_98_rgb+-depth-semseg_1600e.yaml):
# 8 GPUs x 256 images, lr 1e-4 x 2048 / 256 = 8e-4, 40 warmup epochs.
_base_ = [
    '../_base_/models/multimae_vit-base-p16.py',
    '../_base_/datasets/imagenet_multimae-pretrain.py',
    '../_base_/schedules/multimae_pretrain_adamw.py',
    '../_base_/default_runtime.py',
]

# checkpoint every 20 epochs, as the official run
default_hooks = dict(checkpoint=dict(interval=20, max_keep_ckpts=3))
