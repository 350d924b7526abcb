# Copyright (c) mmmae contributors. All rights reserved.
# videomae_vit-base-p16_64xb32-800e_kinetics400.py with the augmentation on
# the accelerator: the DataLoader workers decode and only *draw* the
# multi-scale crop (MMAction2's lazy=True: same random calls, the box is
# recorded); mmmae.PackLazyActionInputs packs the uint8 frames at their
# decoded size, and the data preprocessor crops, resizes (bilinear, as
# cv2) and normalises the whole batch on the GPU. Masks still come from
# the workers. Same sampling, same pixels within cv2's rounding
# (docs/pretraining.md, "Augmentation on the device").
# VideoDecode bounds the decoded short side to 320 (area downsampling fused
# with the RGB conversion): a no-op on the official data, pre-resized to
# short side 320; on raw videos it keeps what the workers ship to the GPU
# small (a 16-frame 1080p clip is 100 MB as uint8, 9 MB at 320).
_base_ = ['./videomae_vit-base-p16_64xb32-800e_kinetics400.py']

_geometry = ('MultiScaleCrop', 'Resize')
train_pipeline = [
    dict(t, lazy=True) if t['type'].split('.')[-1] in _geometry else
    dict(t, max_short_side=320) if t['type'].split('.')[-1] == 'VideoDecode'
    else
    dict(type='mmmae.PackLazyActionInputs', algorithm_keys=('mask', ))
    if t['type'].split('.')[-1] == 'PackActionInputs' else t
    for t in _base_.train_pipeline
    if t['type'].split('.')[-1] != 'FormatShape'
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
