# Copyright (c) mmmae contributors. All rights reserved.
# Runtime of the recognition (fine-tuning / testing) configs. They live in
# MMAction2's scope: every MMAction2 part keeps its plain name and only the
# mmmae parts are written `mmmae.X`, exactly as in an MMAction2 project.
default_scope = 'mmaction'
# `mmmae.X` types resolve once mmmae is imported (mmmae's tools do it anyway;
# this makes MMAction2's own tools/train.py work with these configs too)
custom_imports = dict(imports=['mmmae'], allow_failed_imports=False)

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # writes atomically: a kill never leaves a truncated checkpoint
    checkpoint=dict(
        type='mmmae.AtomicCheckpointHook',
        interval=1,
        by_epoch=True,
        max_keep_ckpts=3,
        save_best='auto'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    sync_buffers=dict(type='SyncBuffersHook'),
)

# logs the number and names of videos that failed to decode and were
# replaced; stops at the first NaN/inf loss naming the iteration and samples
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
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
