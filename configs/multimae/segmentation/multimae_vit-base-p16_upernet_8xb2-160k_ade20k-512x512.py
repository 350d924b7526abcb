# MultiMAE ViT-B/16 in UperNet on ADE20K with mmseg's MAE recipe (AdamW lr
# 1e-4, wd 0.05, layer decay 0.65, 1500 warmup iterations, poly decay, 160k
# iterations at batch 16): comparable to mmseg's MAE ViT-B (48.13 mIoU), not
# to the MultiMAE paper's ConvNeXt-head number.
_base_ = [
    '../../_base_/models/multimae_vit-base-p16_upernet.py',
    '../../_base_/datasets/ade20k_multimae-512x512.py',
    'mmseg::_base_/default_runtime.py',
]
default_scope = 'mmseg'
custom_imports = dict(imports=['mmmae'], allow_failed_imports=False)
model = dict(data_preprocessor=dict(test_cfg=dict(size=(512, 512))))
train_dataloader = dict(
    batch_size=2, sampler=dict(type='InfiniteSampler', shuffle=True))
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='mmmae.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.65))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
         end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=1500,
         end=160000),
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=160000, val_interval=16000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=16000,
                    max_keep_ckpts=2, save_best='mIoU'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
auto_scale_lr = dict(enable=False, base_batch_size=16)
