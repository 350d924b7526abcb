# Copyright (c) mmmae contributors. All rights reserved.
# videomae_vit-tiny-p8_1xb8-30e_moving-digits.py with the crop and resize
# drawn in the workers and applied by the data preprocessor (on the CPU
# here, on the GPU in a GPU run): the CPU demo of
# videomae_vit-base-p16_64xb32-devaug-800e_kinetics400.py.
_base_ = ['./videomae_vit-tiny-p8_1xb8-30e_moving-digits.py']

_geometry = ('MultiScaleCrop', 'Resize')
train_pipeline = [
    dict(t, lazy=True) if t['type'].split('.')[-1] in _geometry else
    dict(type='mmmae.PackLazyActionInputs', algorithm_keys=('mask', ))
    if t['type'].split('.')[-1] == 'PackActionInputs' else t
    for t in _base_.train_pipeline
    if t['type'].split('.')[-1] != 'FormatShape'
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
