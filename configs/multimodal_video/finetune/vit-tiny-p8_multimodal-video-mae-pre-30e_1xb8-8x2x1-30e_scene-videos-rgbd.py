# Copyright (c) mmmae contributors. All rights reserved.
# Demo: the RGB fine-tuning recipe of
#     vit-tiny-p8_multimodal-video-mae-pre-30e_1xb8-8x2x1-30e_
#         scene-videos-rgb.py
# with RGB-D input: the clip's rgb (3 channels) and depth (1, metres, 0 = no
# depth) are stacked, the preprocessor standardises the depth per clip as
# pretraining did, and the pretrained rgb and depth adapters embed them into
# one token sequence; the head sees the rgb and depth token maps side by
# side (2 x 192 channels).
_base_ = [
    './vit-tiny-p8_multimodal-video-mae-pre-30e_'
    '1xb8-8x2x1-30e_scene-videos-rgb.py'
]

modalities = ('rgb', 'depth')
channels = dict(rgb=3, depth=1)
model = dict(
    data_preprocessor=dict(channels=channels),
    backbone=dict(
        input_adapters=dict(
            depth=dict(type='mmmae.TubeletInputAdapter', in_channels=1)),
        input_channels=channels,
        main_tasks=modalities),
    cls_head=dict(in_channels=len(modalities) * _base_.embed_dims))

pack = dict(_base_.pack, modalities=modalities)
train_pipeline = [
    pack if t['type'] == pack['type'] else t for t in _base_.train_pipeline
]
val_pipeline = [
    pack if t['type'] == pack['type'] else t for t in _base_.val_pipeline
]
test_pipeline = val_pipeline
scene_videos = dict(_base_.scene_videos, modalities=modalities)
train_dataloader = dict(dataset=dict(scene_videos, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(scene_videos, pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(scene_videos, pipeline=test_pipeline))
