# Copyright (c) mmmae contributors. All rights reserved.
# mmmae inside an MMAction2 project.
#
# Starts from MMAction2's own (test-only) VideoMAE config and swaps in the
# mmmae parts MMAction2 lacks for training: the VideoMAEViT backbone (same
# weights layout as MMAction2's VisionTransformer, plus training features:
# drop path, activation checkpointing, SDPA attention, pretrained loading
# from any VideoMAE checkpoint), the layer-decay optimizer constructor and
# the clip-consistent RandAugment. Everything else is MMAction2's.
#
# Test MMAction2's released fine-tuned weights with the mmmae backbone (its
# VisionTransformer keys load as they are):
#   python tools/test.py THIS_CONFIG https://download.openmmlab.com/mmaction/v1.0/recognition/videomae/vit-base-p16_videomae-k400-pre_16x4x1_kinetics-400_20221013-860a3cd3.pth  # noqa: E501
# Fine-tune from a VideoMAE pretraining checkpoint (mmmae or official):
#   python tools/train.py THIS_CONFIG \
#       --cfg-options model.backbone.init_cfg.checkpoint=PRETRAIN.pth
_base_ = ('mmaction::recognition/videomae/'
          'vit-base-p16_videomae-k400-pre_16x4x1_kinetics-400.py')

# `mmmae.X` types resolve once mmmae is imported (also for MMAction2's own
# tools/train.py); importing it applies the compat patches too.
custom_imports = dict(imports=['mmmae'], allow_failed_imports=False)

pretrained = ('work_dirs/videomae_vit-base-p16_64xb32-800e_kinetics400/'
              'epoch_800.pth')
num_classes = 400
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmmae.VideoMAEViT',
        arch='b',
        img_size=224,
        patch_size=16,
        num_frames=16,
        use_mean_pooling=True,
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    cls_head=dict(init_std=0.02 * 0.001, label_smooth_eps=0.1),
    data_preprocessor=dict(
        blending=dict(
            type='RandomBatchAugment',
            augments=[
                dict(type='MixupBlending', alpha=0.8,
                     num_classes=num_classes),
                dict(type='CutmixBlending', alpha=1.,
                     num_classes=num_classes)
            ])))

data_root = 'data/kinetics400/videos_train'
ann_file_train = 'data/kinetics400/kinetics400_train_list_videos.txt'
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=16, frame_interval=4, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 320)),
    dict(type='mmmae.VideoRandAugment', magnitude=7, num_layers=4,
         magnitude_std=0.5),
    dict(type='RandomResizedCrop'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='RandomErasing', erase_prob=0.25, mode='rand',
         fill_color=[123.675, 116.28, 103.53],
         fill_std=[58.395, 57.12, 57.375]),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=16, frame_interval=4, num_clips=1,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='VideoDataset',
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='VideoDataset',
        ann_file={{_base_.ann_file_test}},
        data_prefix=dict(video={{_base_.data_root_val}}),
        pipeline=val_pipeline,
        test_mode=True))
val_evaluator = dict(type='AccMetric')

max_epochs = 100
base_lr = 1e-3  # per 256 videos: x 64 GPUs x 8 / 256 = 2e-3
optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=base_lr, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='mmmae.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.75))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=1e-6 / base_lr,
         by_epoch=True, begin=5, end=max_epochs, convert_to_iter_based=True)
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
auto_scale_lr = dict(enable=True, base_batch_size=256)
