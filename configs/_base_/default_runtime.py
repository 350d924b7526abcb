# Copyright (c) mmmae contributors. All rights reserved.
default_scope = 'mmmae'

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # CheckpointHook that writes atomically (temp file + fsync + rename) and
    # never leaves a truncated checkpoint or `last_checkpoint` on a kill
    checkpoint=dict(
        type='mmmae.AtomicCheckpointHook',
        interval=1,
        by_epoch=True,
        max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)

# BadSampleLoggerHook logs the number and names of videos that failed to
# decode and were replaced; FiniteLossCheckHook stops at the first NaN/inf
# loss, naming the iteration and the batch's samples (no extra host sync)
custom_hooks = [
    dict(type='mmmae.BadSampleLoggerHook'),
    dict(type='mmmae.FiniteLossCheckHook'),
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
