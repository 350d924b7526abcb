# Copyright (c) mmmae contributors. All rights reserved.
# MultiMAE-B/16, rgb+ depth semseg, 400 epochs (official
# cfgs/pretrain/multimae-b_98_rgb+-depth-semseg_400e.yaml).
_base_ = ['./multimae_vit-base-p16_8xb256-1600e_imagenet.py']

max_epochs = 400
param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
