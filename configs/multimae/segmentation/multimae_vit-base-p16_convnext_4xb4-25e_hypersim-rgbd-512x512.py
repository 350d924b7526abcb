# MultiMAE ViT-B/16 + ConvNeXt adapter head on HYPERSIM semseg (40 classes),
# RGB-D input (one shared encoder over RGB and depth tokens; the head
# decodes the RGB tokens, as official).
# Reference: 47.6 mIoU (multimae.md 5.3, ViT-B 1600-epoch pre-training).
_base_ = [
    '../../_base_/models/multimae_vit-base-p16_convnext-seg-rgbd.py',
    '../../_base_/datasets/hypersim_multimae-rgbd-512x512.py',
    '../../_base_/schedules/multimae_finetune_dense.py',
    '../../_base_/segmentation_runtime.py',
]
max_epochs = 25
model = dict(
    data_preprocessor=dict(
        size=_base_.crop_size, test_cfg=dict(size_divisor=16)),
    backbone=dict(img_size=_base_.crop_size),
    decode_head=dict(num_classes=40))
param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
default_hooks = dict(checkpoint=dict(interval=1))
