# Dense MultiMAE fine-tuning (reference multimae.md 5.2, semseg rows): AdamW
# (0.9, 0.999), an *absolute* lr of 1e-4 (not scaled by batch in the official
# scripts: auto_scale_lr stays off), wd 0.05 (none on 1-D params, biases,
# global tokens), layer decay 0.75 over the backbone (input adapters and
# global tokens = layer 0, block i = i + 1, heads on top), 1 warmup epoch
# from ~0, then per-iteration cosine to 1e-6.
lr = 1e-4
min_lr = 1e-6
warmup_epochs = 1
max_epochs = 64
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=lr, betas=(0.9, 0.999), eps=1e-8,
        weight_decay=0.05),
    constructor='mmmae.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.75))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min_ratio=min_lr / lr,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # the official scripts report the best validation mIoU over epochs
    checkpoint=dict(
        type='mmmae.AtomicCheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2,
        save_best='mIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
auto_scale_lr = dict(enable=False, base_batch_size=16)
