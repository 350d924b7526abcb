# The demo scenes' 6-class semseg with RGB and exact z-depth (uint16 mm)
# loaded for every sample, for the downstream demo; the model's
# data_preprocessor.keep picks RGB or RGB-D. The sky has no surface (depth =
# 65.535 m sentinel): max_depth makes it invalid (0) in the depth input.
_base_ = ['./scenes_multimae-64x64.py']
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
    dict(type='RandomResize', scale=_base_.crop_size, ratio_range=(0.75, 1.5),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=_base_.crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmmae.PackMultiModalSegInputs', modalities=('img', 'depth')),
]
# testing: the same without the random resize, crop and flip
test_pipeline = [
    t for t in train_pipeline
    if t['type'] not in ('RandomResize', 'RandomCrop', 'RandomFlip')
]
scenes = dict(
    metainfo=metainfo,
    data_prefix=dict(seg_map_path='semseg'),
    modalities=dict(depth=dict(dir='depth', suffix='.png')),
    seg_map_suffix='.png',
    reduce_zero_label=False)
train_dataloader = dict(dataset=dict(scenes, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(scenes, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
