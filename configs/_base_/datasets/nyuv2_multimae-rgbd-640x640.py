# NYUv2 semseg (40 classes, 795 train / 654 test: validation and test use
# all 654 test images) with RGB and depth loaded for every sample
# (tools/dataset_converters/prepare_nyuv2.py layout, depth in mm): the
# Hypersim RGB-D pipelines (same NYU40 labels, depth and mask_valid handling)
# at 640x640.
_base_ = ['./hypersim_multimae-rgbd-512x512.py']
dataset_type = 'mmmae.NYUv2Dataset'
data_root = 'data/nyuv2'
crop_size = (640, 640)
# the base pipelines with their resize and crop at crop_size
train_pipeline = [
    dict(t, scale=crop_size) if t['type'] == 'RandomResize' else
    dict(t, crop_size=crop_size) if t['type'] == 'RandomCrop' else t
    for t in _base_.train_pipeline
]
test_pipeline = [
    dict(t, scale=crop_size) if t['type'] == 'Resize' else t
    for t in _base_.test_pipeline
]
nyu = dict(
    type=dataset_type,
    data_root=data_root,
    task='seg',
    input_modalities=('depth', ))
train_dataloader = dict(
    batch_size=2, dataset=dict(nyu, split='train', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(nyu, split='test', pipeline=test_pipeline))
test_dataloader = val_dataloader
