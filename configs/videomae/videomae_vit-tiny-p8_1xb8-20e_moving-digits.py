# Copyright (c) mmmae contributors. All rights reserved.
# Demo: a tiny VideoMAE on the synthetic moving-digits set, sized to train in
# minutes on 2 CPU cores. Make the data first:
#     python -m mmmae.datasets.demo --root data/demo
# then
#     python tools/train.py \
#         configs/videomae/videomae_vit-tiny-p8_1xb8-20e_moving-digits.py
# Reconstructions are written to work_dirs/<this config>/reconstructions/.
_base_ = [
    '../_base_/schedules/videomae_pretrain_adamw.py',
    '../_base_/default_runtime.py',
]

# 8 frames (every 4th of the 32) x 64 x 64, patch 8, tubelet 2
# -> token grid (4, 8, 8) = 256 tokens. Tube masking at 0.75 (as the
# paper's small-data UCF101 recipe) leaves 64 visible tokens.
num_frames = 8
frame_interval = 4
img_size = 64
patch_size = 8
tubelet_size = 2
token_grid = (num_frames // tubelet_size, img_size // patch_size,
              img_size // patch_size)

model = dict(
    type='VideoMAE',
    data_preprocessor=dict(
        type='VideoMAEDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_float32=True),
    backbone=dict(
        type='VideoMAEViT',
        arch=dict(
            embed_dims=192,
            num_layers=4,
            num_heads=3,
            feedforward_channels=768),
        img_size=img_size,
        patch_size=patch_size,
        num_frames=num_frames,
        tubelet_size=tubelet_size),
    neck=dict(
        type='VideoMAEPretrainDecoder',
        embed_dims=192,
        decoder_embed_dims=96,
        decoder_depth=2,
        decoder_num_heads=3,
        patch_size=patch_size,
        tubelet_size=tubelet_size),
    # Per-patch normalized targets (norm_pix=True, as the paper recipes).
    # An earlier demo regressed plain [0, 1] pixels: on these dark clips
    # that loss is ~85% background, the tiny model settled on "predict the
    # background" by epoch 3 (0.021, no further progress in 30 epochs) and
    # its encoder (6-epoch checkpoint) fine-tuned worse than a random init.
    # Normalized targets weight every patch alike, so the digit patches
    # (the motion) carry the loss. In the demo's 600 steps this loss still
    # stalls near 0.99 (= predicting each hidden patch's mean); see the
    # README Quick start. Judge the reconstruction PNGs by their last
    # column (un-normalized with the ground-truth patch statistics).
    head=dict(
        type='VideoMAEPretrainHead',
        norm_pix=True,
        patch_size=patch_size,
        tubelet_size=tubelet_size,
        loss=dict(type='PixelReconstructionLoss', criterion='L2')),
)

# data: data/demo/{train,val}.txt list paths relative to data/demo
data_root = 'data/demo'
train_pipeline = [
    dict(type='mmaction.DecordInit', num_threads=1),
    dict(
        type='mmaction.SampleFrames',
        clip_len=num_frames,
        frame_interval=frame_interval,
        num_clips=1),
    dict(type='mmaction.DecordDecode'),
    dict(
        type='mmaction.MultiScaleCrop',
        input_size=img_size,
        scales=(1, .875, .75),
        random_crop=False,
        max_wh_scale_gap=1,
        num_fixed_crops=13),
    dict(type='mmaction.Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='mmaction.FormatShape', input_format='NCTHW'),
    dict(type='TubeMaskGenerator', input_size=token_grid, mask_ratio=0.75),
    dict(type='mmaction.PackActionInputs', algorithm_keys=('mask', )),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='VideoMAEDataset',
        ann_file=f'{data_root}/train.txt',
        data_prefix=dict(video=data_root),
        pipeline=train_pipeline))
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None

# schedule: the lr is set directly (1.5e-4 x 8 / 256 would be far too small
# for a tiny model trained for minutes); auto_scale_lr is off.
base_lr = 1e-3
min_lr = 1e-5
warmup_epochs = 2
max_epochs = 20  # the demo's wall time; the loss plateaus by epoch 3
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min_ratio=min_lr / base_lr,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
auto_scale_lr = dict(enable=False, base_batch_size=8)

default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=1, max_keep_ckpts=3))
custom_hooks = [
    dict(type='mmmae.BadSampleLoggerHook'),
    dict(type='mmmae.FiniteLossCheckHook'),
    # original | masked | reconstruction | reconstruction (GT patch stats)
    dict(type='mmmae.ReconstructionVisHook', interval=5, num_samples=4),
]
randomness = dict(seed=0)
