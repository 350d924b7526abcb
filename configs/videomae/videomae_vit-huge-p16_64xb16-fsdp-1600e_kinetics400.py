# Copyright (c) mmmae contributors. All rights reserved.
# videomae_vit-huge-p16_64xb16-1600e_kinetics400 trained with FSDP (full
# sharding, one unit per ViT block, bf16 params/compute with fp32 gradient
# reduction, per-block activation checkpointing) through MMEngine's
# FlexibleRunner. Same data, schedule and auto_scale_lr as the DDP config:
#     bash tools/dist_train.sh THIS_CONFIG 8
# See docs/distributed.md.
_base_ = [
    './videomae_vit-huge-p16_64xb16-1600e_kinetics400.py',
    '../_base_/strategies/fsdp_bf16.py',
]
# checkpointing comes from the strategy (per block, encoder and decoder)
model = dict(backbone=dict(with_cp=False))
