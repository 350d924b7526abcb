# Copyright (c) mmmae contributors. All rights reserved.
# The VideoMAE pretraining schedule over 1600 epochs (the official
# Kinetics-400 ViT-S/B/L/H scripts): the 40-epoch warmup, then cosine to
# the new end.
_base_ = ['./videomae_pretrain_adamw.py']
max_epochs = 1600
param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
