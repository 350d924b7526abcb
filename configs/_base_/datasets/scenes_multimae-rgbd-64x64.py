# The ray-cast demo scenes (mmmae/datasets/demo/scenes.py; make them with
# `python -m mmmae.datasets.demo scenes --root data/scenes`): RGB, exact
# z-depth (uint16 mm) and 6-class semseg at 64x64, for the downstream demo.
# RGB and depth are loaded for every sample; the model's
# data_preprocessor.keep picks RGB or RGB-D. The sky has no surface (depth =
# 65.535 m sentinel): max_depth makes it invalid (0) in the depth input.
dataset_type = 'mmmae.MultiModalSegDataset'
data_root = 'data/scenes'
crop_size = (64, 64)
metainfo = dict(
    classes=('sky', 'floor', 'wall', 'sphere', 'box', 'cylinder'),
    palette=[[70, 130, 180], [128, 64, 128], [102, 102, 156],
             [220, 20, 60], [250, 170, 30], [0, 142, 0]])
load_depth = dict(
    type='mmmae.LoadModalities', modalities=dict(depth=dict(scale=1e-3)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    load_depth,
    dict(type='mmmae.ApplyValidMask', max_depth=60.),
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.75, 1.5),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmmae.PackMultiModalSegInputs', modalities=('img', 'depth')),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    load_depth,
    dict(type='mmmae.ApplyValidMask', max_depth=60.),
    dict(type='mmmae.PackMultiModalSegInputs', modalities=('img', 'depth')),
]
scenes = dict(
    type=dataset_type,
    metainfo=metainfo,
    data_prefix=dict(img_path='rgb', seg_map_path='semseg'),
    modalities=dict(depth=dict(dir='depth', suffix='.png')),
    img_suffix='.png',
    seg_map_suffix='.png',
    reduce_zero_label=False)
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
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
