# Copyright (c) mmmae contributors. All rights reserved.
# FSDP (torch FullyShardedDataParallel through MMEngine's FlexibleRunner and
# FSDPStrategy) with bf16 mixed precision.
#
# * one FSDP unit per ViT block (encoder and decoder; mmmae's
#   `vit_block_wrap_policy`), so only one block is gathered at a time;
# * per-block activation checkpointing (`vit_block_checkpoint_fn`) replaces
#   the backbone's `with_cp` (set it to False: never both);
# * parameters and compute in bf16, gradient reduction and buffers (the fixed
#   sin-cos tables) in fp32; the optimizer keeps fp32 master weights;
# * `state_dict_cfg='full'`: rank 0 saves one ordinary (unsharded) checkpoint
#   that loads into a plain model, e.g. for fine-tuning or export.
# Needs PyTorch >= 2.0 and one CUDA device per process (see
# docs/distributed.md for the CPU / gloo test setup).
runner_type = 'FlexibleRunner'
strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(
        auto_wrap_policy=dict(type='mmmae.vit_block_wrap_policy'),
        sharding_strategy='FULL_SHARD',
        mixed_precision=dict(
            param_dtype='bfloat16',
            reduce_dtype='float32',
            buffer_dtype='float32'),
        use_orig_params=True),
    activation_checkpointing=dict(check_fn='mmmae.vit_block_checkpoint_fn'),
    state_dict_cfg='full')
