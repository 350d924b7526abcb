# Copyright (c) mmmae contributors. All rights reserved.
# Demo: fine-tune the tiny multi-modal video MAE of
#     configs/multimodal_video/
#         multimodal-video-mae_vit-tiny-p8_1xb8-30e_scene-videos.py
# on the scene videos' 6 camera-motion classes with RGB input only (the
# depth and semseg adapters of the checkpoint are not used). Its siblings
# share this recipe and change only what their name says:
#     ..._scene-videos-rgbd.py     RGB-D input, same checkpoint
#     vit-tiny-p8_scratch_...      RGB from scratch (MultiMAE init)
#     vit-tiny-p8_videomae-pre-... RGB from a VideoMAE (rgb-only)
#                                  pretraining of the same budget
#
#     python tools/train.py THIS_CONFIG
#     python tools/test.py THIS_CONFIG work_dirs/THIS_CONFIG/epoch_30.pth
#
# The VideoMAE fine-tuning recipe scaled down as for moving digits
# (configs/videomae/finetune/vit-tiny-p8_videomae-moving-digits-*): AdamW
# (0.9, 0.999) wd 0.05, lr 2e-3 set directly, layer decay 0.9 (4 blocks),
# 1 warmup epoch then cosine, label smoothing 0.1; no mixup / cutmix, no
# drop path. Validated every 5 epochs; the LAST checkpoint is tested.
_base_ = [
    '../../_base_/models/multimodal-video-vit-base-p16_recognizer.py',
    '../../_base_/datasets/scene-videos_multimodal-video-action.py',
    '../../_base_/schedules/videomae_finetune_adamw.py',
    '../../_base_/recognition_runtime.py',
]

num_classes = 6
embed_dims = 192
pretrained = ('work_dirs/multimodal-video-mae_vit-tiny-p8_1xb8-30e_'
              'scene-videos/epoch_30.pth')
model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True,
            embed_dims=embed_dims,
            num_layers=4,
            num_heads=3,
            mlp_ratio=4.),
        img_size=_base_.img_size,
        patch_size=8,
        num_frames=_base_.clip_len,
        drop_path_rate=0.,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    cls_head=dict(
        num_classes=num_classes, in_channels=embed_dims, init_std=0.02))

base_lr = 2e-3
min_lr = 1e-5
warmup_epochs = 1
max_epochs = 30
optim_wrapper = dict(
    optimizer=dict(lr=base_lr), paramwise_cfg=dict(layer_decay_rate=0.9))
param_scheduler = [
    dict(_base_.param_scheduler[0], end=warmup_epochs),
    dict(
        _base_.param_scheduler[1],
        eta_min_ratio=min_lr / base_lr,
        begin=warmup_epochs,
        end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
auto_scale_lr = dict(enable=False, base_batch_size=8)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=10, max_keep_ckpts=1, save_best=None))
randomness = dict(seed=0)
