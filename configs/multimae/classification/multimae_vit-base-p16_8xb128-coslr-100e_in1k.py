# Copyright (c) mmmae contributors. All rights reserved.
# MultiMAE-B/16 ImageNet-1K fine-tuning (official run_finetuning_cls.py with
# cfgs/finetune/cls; the MAE baseline uses the same recipe). Reference
# top-1 83.3 from the released 1600-epoch MultiMAE (and MAE) weights.
#
#   python tools/train.py THIS_CONFIG \
#       --cfg-options model.backbone.init_cfg.checkpoint=PRETRAINED.pth
#   bash tools/dist_train.sh THIS_CONFIG 8 --amp        # official: fp16 AMP
#
# LEARNING RATE. `base_lr` is the official blr, per 256 images;
# auto_scale_lr (enabled, as every mmmae recipe) multiplies it by
# world_size * batch_size / 256: 8 GPUs x 128 = 1024 images -> 2e-3, the
# official lr. Other GPU counts keep the lr per image.
# LAYER DECAY 0.65 (mmmae.LayerDecayOptimWrapperConstructor, official
# grouping): input adapters and global token = layer 0, encoder block i =
# i + 1, head = 13; lr scale 0.65 ** (13 - layer). No weight decay on 1-D
# parameters, biases and `global_tokens` (pos_emb is fixed, not trained).
# SCHEDULE. Per-iteration linear warmup over 5 epochs (from 1e-4 x lr;
# MMEngine's LinearLR cannot start at 0 as the official code does), then
# per-iteration cosine to min_lr 1e-6 (official: absolute, times each
# layer's lr scale; eta_min_ratio gives exactly that at the 1024 batch).
# AUGMENTATION (timm create_transform, as the official code): random resized
# crop 224 (0.08-1, 3/4-4/3, bicubic), flip, RandAugment rand-m9-mstd0.5-inc1
# (fill = ImageNet mean), no colour jitter, no random erasing (reprob 0);
# mixup 0.8 / cutmix 1.0, one of the two per batch (switch prob 0.5, mixup
# prob 1), label smoothing 0.1 applied to the mixed target.
# EVAL: resize the short side to 256 (bicubic), centre crop 224.
_base_ = [
    '../../_base_/models/multimae_vit-base-p16_cls.py',
    '../../_base_/datasets/imagenet_multimae-cls.py',
    '../../_base_/classification_runtime.py',
]

base_lr = 5e-4  # per 256 images
ref_batch_size = 8 * 128
min_lr = 1e-6  # absolute, at the reference batch
layer_decay = 0.65
warmup_epochs = 5
max_epochs = 100

# model
model = dict(
    data_preprocessor=dict(
        batch_augments=dict(
            augments=[
                dict(type='Mixup', alpha=0.8),
                dict(type='CutMix', alpha=1.0),
            ],
            probs=[0.5, 0.5])),
    backbone=dict(drop_path_rate=0.1),
    head=dict(
        norm='LN',
        init_scale=1e-3,
        loss=dict(
            _delete_=True,
            type='LabelSmoothLoss',
            label_smooth_val=0.1,
            mode='original',
            loss_weight=1.0)))

# data
# pad / fill value of RandAugment: the ImageNet mean as uint8, BGR order
# because the images are loaded as BGR (timm: round(255 * mean) in RGB)
bgr_mean = [103.53, 116.28, 123.675]
# the shared ImageNet base pipeline with RandAugment after the flip
train_pipeline = [
    *_base_.train_pipeline[:-1],
    dict(
        type='RandAugment',
        policies='timm_increasing',
        num_policies=2,
        total_level=10,
        magnitude_level=9,
        magnitude_std=0.5,
        hparams=dict(
            pad_val=[round(x) for x in bgr_mean], interpolation='bicubic')),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

# optimizer
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW',
        lr=base_lr,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.05),
    constructor='mmmae.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=layer_decay),
    clip_grad=None)
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
        eta_min_ratio=min_lr / (base_lr * ref_batch_size / 256),
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
default_hooks = dict(logger=dict(type='LoggerHook', interval=100))
