# Demo (tools/demo_multimae.py): tiny MultiMAE ViT (4 x 128, patch 8) +
# ConvNeXt adapter head fine-tuned for 6-class segmentation of the ray-cast
# scenes with RGB-D input (the head decodes the RGB tokens), from the encoder
# of configs/multimae/multimae_vit-tiny-p8_1xb16-60e_scenes.py (set
# init_cfg=None for the from-scratch baseline).
_base_ = [
    '../../_base_/models/multimae_vit-base-p16_convnext-seg.py',
    '../../_base_/datasets/scenes_multimae-rgbd-64x64.py',
    '../../_base_/schedules/multimae_finetune_dense.py',
    'mmseg::_base_/default_runtime.py',
]
default_scope = 'mmseg'
custom_imports = dict(imports=['mmmae'], allow_failed_imports=False)
pretrained = 'work_dirs/multimae_vit-tiny-p8_1xb16-60e_scenes/epoch_60.pth'
lr = 5e-4
max_epochs = 20
warmup_epochs = 2
model = dict(
    data_preprocessor=dict(
        modalities=dict(rgb=3, depth=1), keep=('rgb', 'depth'), size=(64, 64)),
    backbone=dict(
        input_adapters=dict(
            _delete_=True,
            rgb=dict(type='mmmae.PatchedInputAdapter', in_channels=3),
            depth=dict(type='mmmae.PatchedInputAdapter', in_channels=1)),
        arch=dict(
            _delete_=True,
            embed_dims=128,
            num_layers=4,
            num_heads=4,
            mlp_ratio=4.),
        img_size=64,
        patch_size=8,
        input_channels=dict(_delete_=True, rgb=3, depth=1),
        init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(
        in_channels=128, channels=64, num_blocks=1, num_classes=6))
optim_wrapper = dict(optimizer=dict(lr=lr))
param_scheduler = [
    dict(_base_.param_scheduler[0], end=warmup_epochs),
    dict(
        _base_.param_scheduler[1],
        eta_min_ratio=1e-2,
        begin=warmup_epochs,
        end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, save_best=None, max_keep_ckpts=1),
    visualization=dict(_delete_=True, type='SegVisualizationHook'))
auto_scale_lr = dict(enable=False, base_batch_size=16)
log_processor = dict(by_epoch=True)
