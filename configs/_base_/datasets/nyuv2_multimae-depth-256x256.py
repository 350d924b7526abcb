# NYUv2 depth (795 train / 654 test, depth in mm on disk, metres here) for
# the DPT head (reference multimae.md 5.2): shortest side 256, flip, colour
# jitter, random 256 crop. Evaluation predicts at shortest side 256 and
# compares with the ground truth at its original 640x480 on **all 654** test
# images (the official script used 100: MultiMAE issue #28), valid pixels =
# depth > 0 and mask_valid when the dataset has one.
dataset_type = 'mmmae.NYUv2Dataset'
data_root = 'data/nyuv2'
crop_size = (256, 256)
load_mask = dict(
    type='mmmae.LoadModalities',
    modalities=dict(mask_valid=dict(dtype='uint8', optional=True)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3),
    load_mask,
    dict(type='mmmae.ApplyValidMask'),
    dict(type='ResizeShortestEdge', scale=crop_size[0], max_size=100000),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='mmmae.PackMultiModalSegInputs', modalities=('img', )),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeShortestEdge', scale=crop_size[0], max_size=100000),
    dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3),
    load_mask,
    dict(type='mmmae.ApplyValidMask'),
    dict(type='mmmae.PackMultiModalSegInputs', modalities=('img', )),
]
nyu = dict(type=dataset_type, data_root=data_root, task='depth')
train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(nyu, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(nyu, split='test', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='mmmae.DepthMetric', min_depth_eval=1e-3, max_depth_eval=10.0)
test_evaluator = val_evaluator
