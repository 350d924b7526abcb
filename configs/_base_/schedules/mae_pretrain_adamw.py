# Copyright (c) mmmae contributors. All rights reserved.
# The MAE-style pretraining schedule that the VideoMAE and MultiMAE recipes
# share; videomae_pretrain_adamw.py and multimae_pretrain_adamw.py add the
# lr, the epochs, the cosine floor and the parameters kept out of weight
# decay.
# AdamW (0.9, 0.95), wd 0.05 without decay on 1-D parameters (norms,
# biases). Per-iteration linear warmup over 40 epochs, from 1e-4 x lr
# (MMEngine's LinearLR cannot start at 0, the official codes do), then
# per-iteration cosine decay to the last epoch. The lr is per 256 samples:
# auto_scale_lr multiplies it by world_size * batch_size / 256.
warmup_epochs = 40

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0., bias_decay_mult=0., flat_decay_mult=0.))

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
        by_epoch=True,
        begin=warmup_epochs,
        convert_to_iter_based=True),
]

train_cfg = dict(type='EpochBasedTrainLoop')
auto_scale_lr = dict(enable=True, base_batch_size=256)
