# MultiMAE ViT-B/16 + ConvNeXt adapter head on NYUV2 semseg (40 classes),
# RGB-D input (one shared encoder over RGB and depth tokens; the head
# decodes the RGB tokens, as official).
# Reference: 56.0 mIoU (multimae.md 5.3, ViT-B 1600-epoch pre-training).
_base_ = [
    '../../_base_/models/multimae_vit-base-p16_convnext-seg-rgbd.py',
    '../../_base_/datasets/nyuv2_multimae-rgbd-640x640.py',
    '../../_base_/schedules/multimae_finetune_dense.py',
    '../../_base_/segmentation_runtime.py',
]
max_epochs = 200
model = dict(
    data_preprocessor=dict(
        size=_base_.crop_size, test_cfg=dict(size_divisor=16)),
    backbone=dict(img_size=_base_.crop_size),
    decode_head=dict(num_classes=40))
param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=20)
default_hooks = dict(checkpoint=dict(interval=20))
auto_scale_lr = dict(enable=False, base_batch_size=8)
