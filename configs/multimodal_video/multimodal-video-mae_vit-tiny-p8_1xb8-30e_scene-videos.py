# Copyright (c) mmmae contributors. All rights reserved.
# Demo: a tiny multi-modal video MAE (rgb + depth + semseg clips) on the
# rendered scene videos, sized for minutes on 2 CPU cores. Make the data:
#     python -m mmmae.datasets.demo scene-videos --root data/scene_videos \
#         --num-test 60
# then
#     python tools/train.py THIS_CONFIG
# and fine-tune with configs/multimodal_video/finetune/ (docs/
# multimodal_video.md, "Recipes").
# Clips of 8 frames (every 2nd of 16) at 64 x 64, patch 8, tubelet 2: a
# (4, 8, 8) grid, 768 tokens over the 3 modalities, 128 (1/6) visible.
# Encoder as the tiny VideoMAE of
#     videomae_vit-tiny-p8_1xb8-30e_scene-videos-rgb.py
# (4 blocks, width 192, 3 heads), so the two pretrainings compare at the
# same encoder, data and number of steps.
_base_ = [
    '../_base_/models/multimodal-video-mae_vit-base-p16.py',
    '../_base_/datasets/scene-videos_multimodal-video.py',
    '../_base_/schedules/multimae_pretrain_adamw.py',
    '../_base_/default_runtime.py',
]

num_classes = 6  # sky, floor, wall, sphere, box, cylinder
embed_dims = 192
model = dict(
    backbone=dict(
        input_adapters=dict(
            semseg=dict(num_classes=num_classes, dim_class_emb=16)),
        arch=dict(
            _delete_=True,
            embed_dims=embed_dims,
            num_layers=4,
            num_heads=3,
            mlp_ratio=4.),
        img_size=_base_.img_size,
        patch_size=_base_.patch_size,
        num_frames=_base_.clip_len),
    neck=dict(
        output_adapters=dict(semseg=dict(num_channels=num_classes)),
        common=dict(
            encoder_dims=embed_dims,
            embed_dims=96,
            num_layers=1,
            num_heads=3,
            img_size=_base_.img_size,
            patch_size=_base_.patch_size,
            num_frames=_base_.clip_len)),
    head=dict(
        tasks=dict(
            rgb=dict(loss=dict(patch_size=_base_.patch_size)),
            depth=dict(loss=dict(patch_size=_base_.patch_size)),
            semseg=dict(loss=dict(patch_size=_base_.patch_size)))))

# the lr is set directly for a tiny model trained for minutes (1e-4 x 8 /
# 256 would barely move it); auto_scale_lr stays off
base_lr = 1e-3
warmup_epochs = 4
max_epochs = 30
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(_base_.param_scheduler[0], end=warmup_epochs),
    dict(
        _base_.param_scheduler[1],
        eta_min=None,
        eta_min_ratio=1e-2,
        begin=warmup_epochs,
        end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
auto_scale_lr = dict(enable=False, base_batch_size=8)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=10, max_keep_ckpts=2))
# Frozen-feature probes every 5 epochs (and of the random init, before
# training), scored on val: kNN and linear top-1 of the motion class from
# RGB clips alone (`probe/`, comparable with the VideoMAE recipe's) and
# from RGB-D clips (`probe_rgbd/`). Each costs a few seconds.
probe_rgb = dict(
    _base_.probe_loader,
    dataset=dict(
        _base_.probe_loader.dataset,
        modalities=('rgb', ),
        pipeline=[
            *_base_.eval_pipeline,
            dict(type='mmmae.PackMultiModalVideoInputs')
        ]))
probe_rgbd = dict(
    probe_rgb, dataset=dict(probe_rgb['dataset'], modalities=('rgb',
                                                              'depth')))
custom_hooks = [
    *_base_.custom_hooks,
    *[
        dict(_base_.probe_hook, prefix=prefix, train_dataloader=loader,
             val_dataloader=dict(
                 loader, dataset=dict(loader['dataset'], split='val')))
        for prefix, loader in (('probe', probe_rgb),
                               ('probe_rgbd', probe_rgbd))
    ],
]
randomness = dict(seed=0)
