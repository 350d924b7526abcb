# Copyright (c) mmmae contributors. All rights reserved.
# videomae_vit-huge-p16_64xb16-1600e_kinetics400 trained with DeepSpeed
# ZeRO-2 and bf16 through MMEngine's FlexibleRunner. Same data, schedule,
# auto_scale_lr and encoder activation checkpointing (`with_cp`) as the DDP
# config. Needs `pip install deepspeed` and CUDA:
#     bash tools/dist_train.sh THIS_CONFIG 8
# See docs/distributed.md.
_base_ = [
    './videomae_vit-huge-p16_64xb16-1600e_kinetics400.py',
    '../_base_/strategies/deepspeed_zero2_bf16.py',
]
optim_wrapper = dict(type='DeepSpeedOptimWrapper')
