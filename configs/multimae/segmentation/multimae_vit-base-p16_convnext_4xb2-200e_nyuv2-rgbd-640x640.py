# MultiMAE ViT-B/16 + ConvNeXt adapter head on NYUV2 semseg (40 classes),
# RGB-D input (one shared encoder over RGB and depth tokens; the head
# decodes the RGB tokens, as official).
# Reference: 56.0 mIoU (multimae.md 5.3, ViT-B 1600-epoch pre-training).
_base_ = [
    '../../_base_/models/multimae_vit-base-p16_convnext-seg.py',
    '../../_base_/datasets/nyuv2_multimae-rgbd-640x640.py',
    '../../_base_/schedules/multimae_finetune_dense.py',
    'mmseg::_base_/default_runtime.py',
]
default_scope = 'mmseg'
custom_imports = dict(imports=['mmmae'], allow_failed_imports=False)
crop_size = (640, 640)
max_epochs = 200
model = dict(
    data_preprocessor=dict(
        modalities=dict(rgb=3, depth=1),
        keep=('rgb', 'depth'),
        size=crop_size,
        test_cfg=dict(size_divisor=16)),
    backbone=dict(
        input_adapters=dict(
            _delete_=True,
            rgb=dict(type='mmmae.PatchedInputAdapter', in_channels=3),
            depth=dict(type='mmmae.PatchedInputAdapter', in_channels=1)),
        img_size=crop_size,
        input_channels=dict(_delete_=True, rgb=3, depth=1),
        main_tasks=('rgb', )),
    decode_head=dict(num_classes=40))
param_scheduler = [
    dict(_base_.param_scheduler[0]),
    dict(_base_.param_scheduler[1], end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=20)
default_hooks = dict(checkpoint=dict(interval=20))
log_processor = dict(by_epoch=True)
auto_scale_lr = dict(enable=False, base_batch_size=8)
