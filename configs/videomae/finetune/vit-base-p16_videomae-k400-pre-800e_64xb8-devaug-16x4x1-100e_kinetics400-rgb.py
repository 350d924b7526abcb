# Copyright (c) mmmae contributors. All rights reserved.
# vit-base-p16_videomae-k400-pre-800e_64xb8-16x4x1-100e_kinetics400-rgb.py
# with the augmentation after RandAugment on the accelerator. The workers
# decode, run the clip-consistent RandAugment on the full frames (the
# official order) and only *draw* the random resized crop, the flip and
# the random-erasing box (MMAction2's lazy=True and
# mmmae.LazyRandomErasing: the same random calls as the eager transforms);
# mmmae.LazyAugActionDataPreprocessor crops, resizes, flips and erases the
# batch on the GPU, then normalises and blends (MixUp / CutMix) as
# MMAction2's ActionDataPreprocessor. Validation and testing are unchanged.
# docs/pretraining.md, "Augmentation on the device".
_base_ = ['./vit-base-p16_videomae-k400-pre-800e_64xb8-16x4x1-100e_'
          'kinetics400-rgb.py']

model = dict(
    data_preprocessor=dict(type='mmmae.LazyAugActionDataPreprocessor'))

# the Resize to 320 before RandAugment stays eager (a no-op on the
# official pre-resized videos)
_lazy = ('RandomResizedCrop', 'Flip')
train_pipeline = [
    dict(t, lazy=True) if (t['type'].split('.')[-1] in _lazy or (
        t['type'].split('.')[-1] == 'Resize' and t['scale'] == (224, 224)))
    else
    dict(t, type='mmmae.LazyRandomErasing')
    if t['type'].split('.')[-1] == 'RandomErasing' else
    dict(type='mmmae.PackLazyActionInputs')
    if t['type'].split('.')[-1] == 'PackActionInputs' else t
    for t in _base_.train_pipeline
    if t['type'].split('.')[-1] != 'FormatShape'
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
