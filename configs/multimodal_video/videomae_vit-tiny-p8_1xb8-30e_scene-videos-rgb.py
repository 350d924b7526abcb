# Copyright (c) mmmae contributors. All rights reserved.
# Demo comparison: a tiny VideoMAE pretrained on the RGB videos of the
# scene-video set, at the budget of
#     multimodal-video-mae_vit-tiny-p8_1xb8-30e_scene-videos.py
# (same clips, sampling, crop, encoder size, batch, epochs and schedule),
# so fine-tuning both encoders on RGB
#     finetune/vit-tiny-p8_videomae-pre-30e_1xb8-8x2x1-30e_scene-videos-rgb.py
#     finetune/vit-tiny-p8_multimodal-video-mae-pre-30e_1xb8-8x2x1-30e_
#         scene-videos-rgb.py
# shows what the depth and semseg streams add. Make the data
# (python -m mmmae.datasets.demo scene-videos --root data/scene_videos
# --num-test 60), then
#     python tools/train.py THIS_CONFIG
# The clips are read by mmmae.MultiModalVideoDataset with rgb only (no list
# file to write: it maps `<name>` of {split}.txt to
# {split}/rgb/<name>.mp4); VideoMAE's own pipeline and tube masking at
# 0.75 (as the small-data UCF101 recipe; 64 of 256 tokens visible), decoder
# 96-d x 2 blocks, per-patch normalised targets.
_base_ = [
    '../_base_/models/videomae_vit-base-p16.py',
    '../_base_/datasets/scene-videos_multimodal-video.py',
    '../_base_/schedules/videomae_pretrain_adamw.py',
    '../_base_/default_runtime.py',
]

embed_dims = 192
model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True,
            embed_dims=embed_dims,
            num_layers=4,
            num_heads=3,
            feedforward_channels=4 * embed_dims),
        img_size=_base_.img_size,
        patch_size=_base_.patch_size,
        num_frames=_base_.clip_len),
    neck=dict(
        embed_dims=embed_dims,
        decoder_embed_dims=96,
        decoder_depth=2,
        decoder_num_heads=3,
        patch_size=_base_.patch_size),
    head=dict(patch_size=_base_.patch_size))

# the multi-modal pipeline's loading and crop (the rgb-only transform that
# draws the same boxes), then VideoMAE's tube mask
train_pipeline = [
    *_base_.load_pipeline[:3],  # VideoInit, SampleFrames, VideoDecode
    *[
        dict(t, type='MultiScaleCropResize') for t in _base_.train_pipeline
        if t['type'] == 'mmmae.MultiModalVideoMultiScaleCrop'
    ],
    dict(type='mmaction.FormatShape', input_format='NCTHW'),
    dict(
        type='TubeMaskGenerator',
        input_size=_base_.token_grid,
        mask_ratio=0.75),
    dict(type='mmaction.PackActionInputs', algorithm_keys=('mask', )),
]
train_dataloader = dict(
    dataset=dict(modalities=('rgb', ), pipeline=train_pipeline))

# as the multi-modal recipe: lr set directly, 4 warmup epochs, cosine to
# 1e-2 of the lr; auto_scale_lr stays off
base_lr = 1e-3
warmup_epochs = 4
max_epochs = 30
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(_base_.param_scheduler[0], end=warmup_epochs),
    dict(
        _base_.param_scheduler[1],
        eta_min_ratio=1e-2,
        begin=warmup_epochs,
        end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
auto_scale_lr = dict(enable=False, base_batch_size=8)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=10, max_keep_ckpts=2))
# the multi-modal recipe's RGB probe (`probe/`), packed for VideoMAE
probe_rgb = dict(
    _base_.probe_loader,
    dataset=dict(
        _base_.probe_loader.dataset,
        modalities=('rgb', ),
        pipeline=[
            *_base_.eval_pipeline,
            dict(
                type='mmmae.PackMultiModalVideoActionInputs',
                modalities=('rgb', ))
        ]))
custom_hooks = [
    *_base_.custom_hooks,
    dict(_base_.probe_hook, train_dataloader=probe_rgb,
         val_dataloader=dict(
             probe_rgb, dataset=dict(probe_rgb['dataset'], split='val'))),
]
randomness = dict(seed=0)
