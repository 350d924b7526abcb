# Copyright (c) mmmae contributors. All rights reserved.
# DeepSpeed ZeRO-3 (parameters, gradients and optimizer states sharded) with
# bf16; see deepspeed_zero2_bf16.py for the optimizer-wrapper, clipping and
# accumulation rules. ZeRO-3 gathers each block's parameters on use, the
# DeepSpeed analogue of FSDP FULL_SHARD, for models (ViT-g) whose optimizer
# state does not fit once per GPU.
_base_ = ['./deepspeed_zero2_bf16.py']
strategy = dict(
    zero_optimization=dict(
        _delete_=True,
        stage=3,
        overlap_comm=True,
        contiguous_gradients=True,
        reduce_bucket_size=5e8,
        stage3_prefetch_bucket_size=5e8,
        stage3_param_persistence_threshold=1e6,
        stage3_gather_16bit_weights_on_model_save=True))
