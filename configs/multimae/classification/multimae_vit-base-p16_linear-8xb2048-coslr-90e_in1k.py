# Copyright (c) mmmae contributors. All rights reserved.
# MultiMAE-B/16 ImageNet-1K linear probe with MAE's protocol (main_linprobe.py;
# the MultiMAE authors report 60.3 top-1 for the released 1600-epoch
# weights with MAE's linear-probe code, EPFL-VILAB/MultiMAE#1).
#
#   python tools/train.py THIS_CONFIG \
#       --cfg-options model.backbone.init_cfg.checkpoint=PRETRAINED.pth
#   bash tools/dist_train.sh THIS_CONFIG 8 --amp
#
# FROZEN BACKBONE. MultiMAEViT(frozen=True) builds with requires_grad=False
# on every backbone parameter (no backward through it, no optimizer state,
# plain DDP without find_unused_parameters) and stays in eval mode. As a
# second guard the optimizer gives the backbone lr_mult=0 / decay_mult=0.
# (mmmae.FreezeBackboneHook does the same for any other backbone.)
# HEAD. Mean over all tokens (global token included, like the fine-tuning
# head) -> BatchNorm1d without affine (eps 1e-6) -> Linear with
# trunc-normal std 0.01 weight (0.02 x init_scale 0.5) and zero bias, MAE's
# linear-probe head. MAE feeds the [CLS] token; to probe the global token
# alone set model.head.use_mean_pooling=False (which one the MultiMAE
# authors used is not documented).
# OPTIMIZER. LARS (mmpretrain, trust coefficient 1e-3), momentum 0.9, no
# weight decay; biases are excluded from the layer adaptation like MAE's
# LARS (`lars_exclude`). base_lr 0.1 is per 256 images and auto_scale_lr
# scales it by world_size * batch_size / 256: 8 GPUs x 2048 = 16384 images
# -> 6.4, MAE's lr. Per-iteration linear warmup over 10 epochs (from
# 1e-4 x lr), then per-iteration cosine to 0, 90 epochs.
# AUGMENTATION. Random resized crop 224 (bicubic) + flip only; eval resize
# 256 (bicubic) + centre crop 224. No mixup, no label smoothing.
_base_ = [
    '../../_base_/models/multimae_vit-base-p16_cls.py',
    '../../_base_/datasets/imagenet_multimae-cls.py',
    '../../_base_/classification_runtime.py',
]

base_lr = 0.1  # per 256 images
warmup_epochs = 10
max_epochs = 90

# model
model = dict(
    backbone=dict(drop_path_rate=0., frozen=True),
    head=dict(
        norm='BN',
        init_scale=0.5,
        loss=dict(_delete_=True, type='CrossEntropyLoss', loss_weight=1.0)))

# data: the shared ImageNet base (crop + flip only, no RandAugment)
train_dataloader = dict(batch_size=2048)  # per GPU
val_dataloader = dict(batch_size=256)
test_dataloader = val_dataloader

# optimizer
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='LARS', lr=base_lr, momentum=0.9, weight_decay=0.),
    paramwise_cfg=dict(
        custom_keys={
            'backbone': dict(lr_mult=0., decay_mult=0.),
            '.bias': dict(lars_exclude=True),
        }))
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
        eta_min=0.,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]
auto_scale_lr = dict(enable=True, base_batch_size=256)

# runtime
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(logger=dict(type='LoggerHook', interval=10))
