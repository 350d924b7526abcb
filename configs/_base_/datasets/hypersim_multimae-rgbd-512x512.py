# Hypersim semseg (40 NYU40 classes) with RGB and depth loaded for every
# sample (tools/dataset_converters/prepare_hypersim.py layout, depth in mm).
# Invalid pixels (mask_valid == 0) become label 255 and depth 0 before any
# geometric transform; depth rides along as a segmentation field (nearest
# resampling, same crop and flip as the image). The model's
# data_preprocessor.keep chooses RGB, depth or RGB-D.
dataset_type = 'mmmae.HypersimDataset'
data_root = 'data/hypersim'
crop_size = (512, 512)
load_modalities = dict(
    type='mmmae.LoadModalities',
    modalities=dict(
        depth=dict(scale=1e-3),
        mask_valid=dict(dtype='uint8', optional=True)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    load_modalities,
    dict(type='mmmae.ApplyValidMask'),
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.1, 2.0),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='mmmae.PackMultiModalSegInputs', modalities=('img', 'depth')),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(
        type='mmmae.LoadModalities',
        modalities=dict(
            depth=dict(scale=1e-3, resize_to_img=True),
            mask_valid=dict(dtype='uint8', optional=True))),
    dict(type='mmmae.ApplyValidMask'),
    dict(type='mmmae.PackMultiModalSegInputs', modalities=('img', 'depth')),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, data_root=data_root, split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, split='val',
        pipeline=test_pipeline))
test_dataloader = dict(
    val_dataloader, dataset=dict(val_dataloader['dataset'], split='test'))
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
