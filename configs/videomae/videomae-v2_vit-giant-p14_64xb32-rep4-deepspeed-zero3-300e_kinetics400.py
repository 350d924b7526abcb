# Copyright (c) mmmae contributors. All rights reserved.
# videomae-v2_vit-giant-p14_64xb32-rep4-300e_kinetics400 with DeepSpeed
# ZeRO-3 and bf16 through MMEngine's FlexibleRunner. Same data, schedule and
# auto_scale_lr; gradient clipping (0.02) moves into DeepSpeed, encoder
# activation checkpointing (`with_cp`) stays. Needs `pip install deepspeed`
# and CUDA:
#     bash tools/dist_train.sh THIS_CONFIG 8
# See docs/distributed.md.
_base_ = [
    './videomae-v2_vit-giant-p14_64xb32-rep4-300e_kinetics400.py',
    '../_base_/strategies/deepspeed_zero3_bf16.py',
]
strategy = dict(gradient_clipping=0.02)
# DeepSpeedOptimWrapper takes no clip_grad (DeepSpeed clips, above): keep
# only the optimizer and its parameter groups
optim_wrapper = dict(
    _delete_=True,
    type='DeepSpeedOptimWrapper',
    optimizer=_base_.optim_wrapper.optimizer,
    paramwise_cfg=_base_.optim_wrapper.paramwise_cfg)
