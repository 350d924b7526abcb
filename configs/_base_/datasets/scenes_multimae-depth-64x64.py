# Demo scenes for depth estimation from RGB: z-depth in metres as the target
# (uint16 mm on disk); the sky (65.535 m sentinel) is invalid (0) and never
# counted by the loss or the metric.
_base_ = ['./scenes_multimae-64x64.py']
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3),
    dict(type='mmmae.ApplyValidMask', max_depth=60.),
    dict(type='RandomResize', scale=_base_.crop_size, ratio_range=(0.75, 1.5),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=_base_.crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmmae.PackMultiModalSegInputs', modalities=('img', )),
]
# testing: the same without the random resize, crop and flip
test_pipeline = [
    t for t in train_pipeline
    if t['type'] not in ('RandomResize', 'RandomCrop', 'RandomFlip')
]
scenes = dict(depth_gt=dict(dir='depth', suffix='.png'))
train_dataloader = dict(dataset=dict(scenes, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(scenes, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='mmmae.DepthMetric', min_depth_eval=1e-3, max_depth_eval=60.)
test_evaluator = val_evaluator
