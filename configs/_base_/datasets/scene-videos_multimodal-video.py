# Copyright (c) mmmae contributors. All rights reserved.
# Multi-modal video MAE pretraining data: the rendered scene videos
# (scene-videos_loading.py) at 64 x 64 with patch 8 and tubelet 2: a
# (4, 8, 8) token grid, 256 tokens per modality.
# VideoMAE's multi-scale corner crop, drawn once for every frame of every
# modality, no flip (as VideoMAE pretraining); semseg kept at 1/4 (the
# SemSegTubeletAdapter's and the semseg decoder's resolution).
# Masking: MultiMAE's budget on tubes (MultiModalTubeMaskGenerator): 1/6 of
# all tokens visible (128 of 3 x 256, as MultiMAE's 98 of 3 x 196), shared
# across the modalities by Dirichlet(1) draws, each modality tube-masked.
# A config that changes the sizes rebuilds `train_pipeline` (see
# configs/multimodal_video/ for examples).
_base_ = ['./scene-videos_loading.py']

patch_size = 8
tubelet_size = 2
token_grid = (_base_.clip_len // tubelet_size, _base_.img_size // patch_size,
              _base_.img_size // patch_size)
# 1/6 of the tokens of all modalities
num_visible = len(_base_.modalities) * token_grid[0] * token_grid[1] * \
    token_grid[2] // 6

train_pipeline = [
    *_base_.load_pipeline,
    dict(
        type='mmmae.MultiModalVideoMultiScaleCrop',
        input_size=_base_.img_size,
        scales=(1, .875, .75),
        max_wh_scale_gap=1,
        out_size=_base_.img_size),
    dict(type='mmmae.MultiModalVideoSemSegDownsample', factor=4),
    dict(
        type='mmmae.MultiModalTubeMaskGenerator',
        modalities=_base_.modalities,
        grid=token_grid,
        num_visible=num_visible,
        alpha=1.0),
    dict(type='mmmae.PackMultiModalVideoInputs', semseg_stride=4),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(_base_.scene_videos, split='train', pipeline=train_pipeline))
# Labelled clips for a ProbeHook (kNN and linear probes of frozen features;
# pretraining never reads the labels): the evaluation view of every train
# clip is the bank, the val clips are scored. A config sets the dataset's
# `modalities` (what the encoder sees) and the `pipeline`
# (`eval_pipeline` + its model's packer).
probe_loader = dict(
    batch_size=16,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(_base_.scene_videos, split='train', test_mode=True))
# every 5 epochs and of the random init: kNN and linear top-1
probe_hook = dict(type='mmmae.ProbeHook', interval=5, linear=True)
# pretraining evaluates nothing
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
