# Copyright (c) mmmae contributors. All rights reserved.
# VideoMAE fine-tuning schedule (official run_class_finetuning.py).
#
# LEARNING RATE. `optimizer.lr` is the BASE lr per 256 videos; auto_scale_lr
# multiplies it by world_size * train_dataloader.batch_size / 256, the
# official `lr * batch_size * num_gpus / 256`. With repeated augmentation
# (`-rep2-` configs, official `--num_sample 2`) the batch counts VIDEOS, not
# clips, exactly as the official code: each step then trains on twice the
# clips the lr was scaled for. The configs say so next to the dataloader.
#
# LAYER-WISE LR DECAY (mmmae.LayerDecayOptimWrapperConstructor): patch
# embedding = layer 0, block k = k + 1, fc_norm and head = L + 1, lr scale
# decay ** (L + 1 - id); no weight decay on 1-D parameters and biases.
#
# SCHEDULE. Per-iteration linear warmup over 5 epochs, then per-iteration
# cosine to min_lr = 1e-6 per 256 videos (scaled like the lr, so
# eta_min_ratio = min_lr / base_lr; per layer it is min_lr * lr_scale, as
# official). Warmup starts at 1e-4 x lr instead of 0 (see the pretraining
# schedule: MMEngine's LinearLR cannot start from 0).
#
# MIXED PRECISION: `tools/train.py --amp` (the official code trains in fp16).
# GRADIENT CLIPPING: off, as the official default; switch it on with
#     optim_wrapper = dict(clip_grad=dict(max_norm=5.0))
base_lr = 1e-3
min_lr = 1e-6
warmup_epochs = 5
max_epochs = 100
layer_decay = 0.75

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=base_lr, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='mmmae.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=layer_decay),
    clip_grad=None)

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min_ratio=min_lr / base_lr,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]

train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

auto_scale_lr = dict(enable=True, base_batch_size=256)
