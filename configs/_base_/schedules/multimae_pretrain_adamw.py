# Copyright (c) mmmae contributors. All rights reserved.
# MultiMAE pretraining schedule (official run_pretraining_multimae.py).
#
# LEARNING RATE: base lr 1e-4 per 256 images; auto_scale_lr multiplies it by
# world_size * batch_size / 256 (8 GPUs x 256 -> 8e-4).
# SCHEDULE: per-iteration linear warmup over 40 epochs (from 1e-4 x lr;
# MMEngine's LinearLR cannot start at 0, the official code does), then
# per-iteration cosine to 0.
# WEIGHT DECAY: AdamW (0.9, 0.95), wd 0.05 without decay on 1-D parameters
# (norms, biases), the global token, mask tokens, task and class embeddings,
# as MAE and MultiMAE fine-tuning do.
# FAITHFUL SWITCH: the official pretraining puts every parameter in one group
# and decays all of them (its optimizer factory's dict branch ignores the
# no-weight-decay lists). To reproduce that quirk exactly, set
#     optim_wrapper = dict(paramwise_cfg=None)
# (or --cfg-options optim_wrapper.paramwise_cfg=None).
# MIXED PRECISION: tools/train.py --amp (official: fp16 AMP).
_base_ = ['./mae_pretrain_adamw.py']
base_lr = 1e-4
max_epochs = 1600

optim_wrapper = dict(
    optimizer=dict(lr=base_lr),
    paramwise_cfg=dict(
        custom_keys={
            'global_tokens': dict(decay_mult=0.),
            'mask_token': dict(decay_mult=0.),
            'task_embeddings': dict(decay_mult=0.),
            'class_emb': dict(decay_mult=0.),
            'pos_emb': dict(decay_mult=0.),
        }))

param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], eta_min=0., end=max_epochs),
]

train_cfg = dict(max_epochs=max_epochs)
