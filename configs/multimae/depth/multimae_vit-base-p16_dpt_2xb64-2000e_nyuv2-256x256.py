# MultiMAE ViT-B/16 + DPT head for NYUv2 depth from RGB (reference delta1
# 86.4, multimae.md 5.3), recipe of multimae.md 5.2: 2000 epochs at batch
# 2 x 64, 256 crops, lr 1e-4 (absolute), 100 warmup epochs, wd 1e-4, layer
# decay 0.75, no drop path, berHu loss. Evaluated on all 654 test images.
_base_ = [
    '../../_base_/models/multimae_vit-base-p16_dpt-depth.py',
    '../../_base_/datasets/nyuv2_multimae-depth-256x256.py',
    '../../_base_/schedules/multimae_finetune_dense.py',
    '../../_base_/segmentation_runtime.py',
]
max_epochs = 2000
warmup_epochs = 100
model = dict(data_preprocessor=dict(test_cfg=dict(size_divisor=16)))
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))
param_scheduler = [
    dict(_base_.param_scheduler[0], end=warmup_epochs),
    dict(_base_.param_scheduler[1], begin=warmup_epochs, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=100)
default_hooks = dict(
    checkpoint=dict(interval=100, save_best='d1', rule='greater'),
    visualization=dict(_delete_=True, type='mmseg.SegVisualizationHook'))
auto_scale_lr = dict(enable=False, base_batch_size=128)
