# Demo scenes for depth estimation from RGB: z-depth in metres as the target
# (uint16 mm on disk); the sky (65.535 m sentinel) is invalid (0) and never
# counted by the loss or the metric.
dataset_type = 'mmmae.MultiModalSegDataset'
data_root = 'data/scenes'
crop_size = (64, 64)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3),
    dict(type='mmmae.ApplyValidMask', max_depth=60.),
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.75, 1.5),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmmae.PackMultiModalSegInputs', modalities=('img', )),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3),
    dict(type='mmmae.ApplyValidMask', max_depth=60.),
    dict(type='mmmae.PackMultiModalSegInputs', modalities=('img', )),
]
scenes = dict(
    type=dataset_type,
    data_prefix=dict(img_path='rgb'),
    depth_gt=dict(dir='depth', suffix='.png'),
    img_suffix='.png')
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(scenes, data_root=data_root + '/train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(scenes, data_root=data_root + '/val',
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='mmmae.DepthMetric', min_depth_eval=1e-3, max_depth_eval=60.)
test_evaluator = val_evaluator
