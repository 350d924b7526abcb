# Copyright (c) mmmae contributors. All rights reserved.
# videomae-v2_vit-giant-p14_64xb32-rep4-300e_kinetics400 with FSDP (full
# sharding, one unit per ViT block, bf16 params/compute with fp32 gradient
# reduction, per-block activation checkpointing) through MMEngine's
# FlexibleRunner. Same data, schedule and auto_scale_lr as the DDP config:
#     bash tools/dist_train.sh THIS_CONFIG 8
# See docs/distributed.md.
_base_ = [
    './videomae-v2_vit-giant-p14_64xb32-rep4-300e_kinetics400.py',
    '../_base_/strategies/fsdp_bf16.py',
]
# checkpointing comes from the strategy (per block, encoder and decoder)
model = dict(backbone=dict(with_cp=False))
# The gradient norm must be the global one: each rank holds a shard of the
# gradients, so mmmae.ShardedGradClipOptimWrapper all-reduces the squared
# norms before clipping (OptimWrapper would clip by the local shard's norm).
optim_wrapper = dict(type='mmmae.ShardedGradClipOptimWrapper')
