# MultiMAE ViT-B/16 in UperNet on ADE20K with mmseg's MAE ViT-B recipe and
# data pipeline unchanged (mae-base_upernet_8xb2-amp-160k_ade20k-512x512:
# AdamW lr 1e-4, wd 0.05, layer decay 0.65, 1500 linear warmup iterations,
# poly decay, 160k iterations at batch 8 x 2, AMP, scale (2048, 512) jitter
# 0.5-2.0, sliding-window test): comparable to mmseg's MAE ViT-B (48.13
# mIoU), not to the MultiMAE paper's ConvNeXt-head number (46.2).
_base_ = [
    '../../_base_/models/multimae_vit-base-p16_upernet.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/schedules/schedule_160k.py',
    'mmseg::_base_/default_runtime.py',
]
default_scope = 'mmseg'
custom_imports = dict(imports=['mmmae'], allow_failed_imports=False)
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    loss_scale='dynamic',
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
default_hooks = dict(checkpoint=dict(save_best='mIoU', max_keep_ckpts=2))
auto_scale_lr = dict(enable=False, base_batch_size=16)
