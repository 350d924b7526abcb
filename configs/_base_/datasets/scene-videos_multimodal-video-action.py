# Copyright (c) mmmae contributors. All rights reserved.
# Action recognition on the rendered scene videos (scene-videos_loading.py,
# made with a test split): the 6 camera-motion classes (`motion_classes`
# of classes.json), with the clips' modalities stacked along channels for
# an MMAction2 recognizer. Without a test split, test on val:
# --cfg-options test_dataloader.dataset.split=val.
# Clips as in pretraining (8 frames, every 2nd, 64 x 64). Training: one
# random resized crop (area 0.4-1) for all frames and modalities; no flip
# (pan_left / pan_right are classes). Evaluation: the loading base's
# `eval_pipeline` (centre clip, centre crop). A config that changes
# `modalities` rebuilds the pipelines (see the -rgbd recipe).
_base_ = ['./scene-videos_loading.py']

modalities = ('rgb', )
pack = dict(type='mmmae.PackMultiModalVideoActionInputs',
            modalities=modalities)
train_pipeline = [
    *_base_.load_pipeline,
    dict(
        type='mmmae.MultiModalVideoRandomResizedCrop',
        size=_base_.img_size,
        scale=(0.4, 1.0)),
    pack,
]
val_pipeline = [*_base_.eval_pipeline, pack]
# the 8 x 2 clip is the whole video and the crop the whole frame: one view
test_pipeline = val_pipeline

scene_videos = dict(_base_.scene_videos, modalities=modalities)
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(scene_videos, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        scene_videos, split='val', pipeline=val_pipeline, test_mode=True))
test_dataloader = dict(
    val_dataloader,
    dataset=dict(val_dataloader['dataset'], split='test',
                 pipeline=test_pipeline))
val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
