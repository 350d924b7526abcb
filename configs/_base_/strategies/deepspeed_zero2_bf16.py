# Copyright (c) mmmae contributors. All rights reserved.
# DeepSpeed ZeRO-2 (optimizer states and gradients sharded) with bf16,
# through MMEngine's FlexibleRunner and DeepSpeedStrategy. Needs the
# `deepspeed` package (not in requirements/: `pip install deepspeed` on a
# CUDA machine) and CUDA.
#
# Leaf configs set `optim_wrapper = dict(type='DeepSpeedOptimWrapper')` (a
# base cannot: the schedule base defines optim_wrapper too). DeepSpeed owns
# the backward, the gradient clipping (`gradient_clipping` here, not
# `optim_wrapper.clip_grad`) and the accumulation
# (`gradient_accumulation_steps` here, not `optim_wrapper.accumulative_counts`;
# tools/train.py counts it in the auto_scale_lr batch).
# `train_micro_batch_size_per_gpu` is filled in by FlexibleRunner from
# `train_dataloader.batch_size`.
runner_type = 'FlexibleRunner'
strategy = dict(
    type='DeepSpeedStrategy',
    bf16=dict(enabled=True),
    zero_optimization=dict(
        stage=2,
        allgather_partitions=True,
        allgather_bucket_size=2e8,
        reduce_scatter=True,
        reduce_bucket_size=5e8,
        overlap_comm=True,
        contiguous_gradients=True),
    gradient_accumulation_steps=1)
