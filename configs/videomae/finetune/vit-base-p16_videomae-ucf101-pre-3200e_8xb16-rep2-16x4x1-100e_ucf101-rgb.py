# Copyright (c) mmmae contributors. All rights reserved.
# VideoMAE ViT-B/16 fine-tuned on UCF101 (split 1) from the UCF101 3200e
# VideoMAE pretraining (official V1 fine-tuning script; reference §2.3).
_base_ = [
    '../../_base_/models/vit-base-p16_videomae-recognizer.py',
    '../../_base_/datasets/ucf101_videomae-finetune.py',
    '../../_base_/schedules/videomae_finetune_adamw.py',
    '../../_base_/recognition_runtime.py',
]

# Encoder weights: an mmmae pretraining checkpoint, or an official / HF /
# MMAction2 one (the layout is detected; decoder keys are reported, the
# pretrained final norm is dropped and fc_norm starts fresh, as official).
pretrained = ('work_dirs/videomae_vit-base-p16_8xb24-3200e_ucf101/'
              'epoch_3200.pth')
num_classes = 101
model = dict(
    backbone=dict(
        drop_path_rate=0.2,
        init_cfg=dict(
            _delete_=True, type='Pretrained', checkpoint=pretrained)),
    cls_head=dict(num_classes=num_classes, dropout_ratio=0.5),
    data_preprocessor=dict(
        blending=dict(augments=[
            dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
            dict(type='CutmixBlending', alpha=1., num_classes=num_classes)
        ])))

# Repeated augmentation (official --num_sample 2): each video is decoded
# once and augmented 2 times (the views share frames, as official). The
# batch counts videos: 8 GPUs x 16 videos = 128 for the lr scaling (as
# official), but every step trains on 256 clips.
train_dataloader = dict(
    batch_size=16,
    collate_fn=dict(type='repeat_pseudo_collate'),
    dataset=dict(num_repeats=2))

# lr = 0.0005 x 8 x 16 / 256 = 0.00025 (auto_scale_lr);
# layer decay 0.7, min_lr 1e-05 per 256 videos, 100 epochs (the schedule
# base's).
base_lr = 0.0005
min_lr = 1e-05
optim_wrapper = dict(
    optimizer=dict(lr=base_lr), paramwise_cfg=dict(layer_decay_rate=0.7))
param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], eta_min_ratio=min_lr / base_lr),
]
