# Copyright (c) mmmae contributors. All rights reserved.
# UNVERIFIED: a paper-scale recipe assembled from the VideoMAE and MultiMAE
# ones; it has not been run and no result is claimed for it.
#
# RGB-D action recognition on Kinetics-400 from the multi-modal video MAE
#     configs/multimodal_video/
#         multimodal-video-mae_vit-base-p16_64xb32-800e_kinetics400.py
# The "D" is the pseudo depth of that pretraining (K400 has no sensor
# depth): the val videos need it too,
#     python tools/generate_pseudo_labels.py data/kinetics400_mm \
#         --split val --task depth --config DEPTH_CFG.py \
#         --checkpoint DEPTH.pth --out-modality pseudo_depth
# (the same labeller as for train). Layout: data/kinetics400_mm/{train,val}
# with {split}.txt, rgb/<name>.mp4 and pseudo_depth/<name>.npz.
# Model: the pretrained rgb and pseudo_depth adapters embed both clips into
# one sequence (8 x 14 x 14 tokens each); I3DHead sees both token maps
# (2 x 768 channels).
# Recipe: VideoMAE's ViT-B K400 fine-tuning (64 GPUs x 8 videos, base lr
# 1e-3 per 256 -> 2e-3, layer decay 0.75, drop path 0.1, 100 epochs, 5
# warmup, mixup 0.8 / cutmix 1.0, label smoothing 0.1, 16 x 4 sampling)
# with the augmentations that exist for multi-modal clips: one random
# resized crop (0.08-1) and one flip for all frames and modalities; no
# RandAugment and no random erasing (rgb-only transforms), and 5 clips x 1
# centre crop at test time (no multi-modal three-crop).
_base_ = [
    '../../_base_/models/multimodal-video-vit-base-p16_recognizer.py',
    '../../_base_/datasets/scene-videos_multimodal-video-action.py',
    '../../_base_/schedules/videomae_finetune_adamw.py',
    '../../_base_/recognition_runtime.py',
]

data_root = 'data/kinetics400_mm'
clip_len = 16
frame_interval = 4
img_size = 224
num_classes = 400
modalities = ('rgb', 'pseudo_depth')
channels = dict(rgb=3, pseudo_depth=1)
pretrained = ('work_dirs/multimodal-video-mae_vit-base-p16_64xb32-800e_'
              'kinetics400/epoch_800.pth')
model = dict(
    data_preprocessor=dict(
        channels=channels,
        depth_keys=('pseudo_depth', ),
        blending=dict(
            type='RandomBatchAugment',
            augments=[
                dict(type='MixupBlending', alpha=0.8,
                     num_classes=num_classes),
                dict(type='CutmixBlending', alpha=1.,
                     num_classes=num_classes)
            ])),
    backbone=dict(
        input_adapters=dict(
            pseudo_depth=dict(type='mmmae.TubeletInputAdapter',
                              in_channels=1)),
        input_channels=channels,
        main_tasks=modalities,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    cls_head=dict(
        num_classes=num_classes, in_channels=len(modalities) * 768))

sampling = dict(clip_len=clip_len, frame_interval=frame_interval)
pack = dict(_base_.pack, modalities=modalities)
train_pipeline = [
    dict(t, backend='pyav') if t['type'] == 'mmmae.VideoInit' else
    dict(t, **sampling) if t['type'] == 'mmaction.SampleFrames' else
    dict(t, size=img_size, scale=(0.08, 1.0))
    if t['type'] == 'mmmae.MultiModalVideoRandomResizedCrop' else
    pack if t['type'] == pack['type'] else t
    for t in _base_.train_pipeline
]
# the flip goes right before the packer
train_pipeline.insert(-1, dict(type='mmmae.MultiModalVideoFlip', prob=0.5))
val_pipeline = [
    dict(t, **sampling) if t['type'] == 'mmaction.SampleFrames' else
    dict(t, scale=img_size) if t['type'] == 'mmmae.MultiModalVideoResize'
    else dict(t, crop_size=img_size)
    if t['type'] == 'mmmae.MultiModalVideoCenterCrop' else
    pack if t['type'] == pack['type'] else t
    for t in _base_.val_pipeline
]
test_pipeline = [
    dict(t, num_clips=5) if t['type'] == 'mmaction.SampleFrames' else t
    for t in val_pipeline
]
k400 = dict(
    _base_.scene_videos, data_root=data_root, modalities=modalities)
loader = dict(num_workers=8, pin_memory=True)
train_dataloader = dict(
    batch_size=8,  # videos per GPU
    drop_last=True,
    **loader,
    dataset=dict(k400, pipeline=train_pipeline))
val_dataloader = dict(**loader, dataset=dict(k400, pipeline=val_pipeline))
# one video (5 clips) per GPU, the val videos
test_dataloader = dict(
    batch_size=1,
    **loader,
    dataset=dict(k400, split='val', pipeline=test_pipeline))

# lr = 1e-3 x 64 x 8 / 256 = 2e-3 (auto_scale_lr); layer decay 0.75,
# min_lr 1e-6 per 256 videos, 5 warmup epochs, 100 epochs: the schedule
# base's values.
