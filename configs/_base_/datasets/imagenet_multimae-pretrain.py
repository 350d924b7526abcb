# Copyright (c) mmmae contributors. All rights reserved.
# Pseudo-labelled ImageNet-1K for MultiMAE pretraining (official layout):
#   data/imagenet_multitask/train/{rgb,depth,semseg}/<class>/<name>.<ext>
# rgb JPEG, depth 16-bit PNG (divided by 2**16), semseg PNG of COCO panoptic
# class ids. Make the depth / semseg folders with
#   python tools/generate_pseudo_labels.py data/imagenet_multitask --task ...
# (docs/pseudo_labels.md) or download the official ones. Files are matched by
# name; a missing one is an error naming it (missing='skip' drops the sample).
# One crop (scale 0.2-1, ratio 3/4-4/3) and one flip for every modality,
# bicubic for rgb and depth (PIL's default for the official I;16 depth),
# nearest for labels; semseg to 56x56;
# 98 of 3 x 196 tokens visible, shared across modalities by Dirichlet(1).
dataset_type = 'MultiModalFolderDataset'
data_root = 'data/imagenet_multitask'
modalities = ('rgb', 'depth', 'semseg')

train_pipeline = [
    dict(type='LoadMultiModalImages'),
    dict(
        type='MultiModalRandomResizedCrop',
        size=224,
        scale=(0.2, 1.0),
        ratio=(3 / 4, 4 / 3),
        interpolation=dict(rgb='bicubic', depth='bicubic',
                           semseg='nearest')),
    dict(type='MultiModalFlip', prob=0.5),
    dict(type='SemSegDownsample', factor=4),
    dict(
        type='MultiModalMaskGenerator',
        modalities=modalities,
        grid=(14, 14),
        num_visible=98,
        alpha=1.0,
        sample_tasks_uniformly=False),
    dict(type='PackMultiModalInputs'),
]

train_dataloader = dict(
    batch_size=256,  # per GPU
    num_workers=10,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        modalities=modalities,
        missing='error',
        pipeline=train_pipeline))

# pretraining has no validation or test loop
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
