# Copyright (c) mmmae contributors. All rights reserved.
# videomae_vit-large-p16_64xb8-1600e_kinetics400 trained with DeepSpeed
# ZeRO-2 and bf16 through MMEngine's FlexibleRunner. Same data, schedule and
# auto_scale_lr as the DDP config. Needs `pip install deepspeed` and CUDA:
#     bash tools/dist_train.sh THIS_CONFIG 8
# See docs/distributed.md.
_base_ = [
    './videomae_vit-large-p16_64xb8-1600e_kinetics400.py',
    '../_base_/strategies/deepspeed_zero2_bf16.py',
]
# DeepSpeed runs backward and step; the AdamW settings and no-decay groups
# of the schedule are kept (built by the optimizer constructor as usual)
optim_wrapper = dict(type='DeepSpeedOptimWrapper')
