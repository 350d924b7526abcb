# Copyright (c) mmmae contributors. All rights reserved.
# VideoMAE ViT-B/16 fine-tuned on Kinetics-400 from the K400 800e
# VideoMAE pretraining (official V1 fine-tuning script; reference §2.3).
# The other K400 recipes inherit from this one.
_base_ = [
    '../../_base_/models/vit-base-p16_videomae-recognizer.py',
    '../../_base_/datasets/kinetics400_videomae-finetune.py',
    '../../_base_/schedules/videomae_finetune_adamw.py',
    '../../_base_/recognition_runtime.py',
]

# Encoder weights: an mmmae pretraining checkpoint, or an official / HF /
# MMAction2 one (the layout is detected; decoder keys are reported, the
# pretrained final norm is dropped and fc_norm starts fresh, as official).
# Drop path 0.1: the model base's.
pretrained = ('work_dirs/videomae_vit-base-p16_64xb32-800e_kinetics400/'
              'epoch_800.pth')
model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True, type='Pretrained', checkpoint=pretrained)))

train_dataloader = dict(batch_size=8)  # videos per GPU

# lr = 0.001 x 64 x 8 / 256 = 0.002 (auto_scale_lr); layer decay 0.75,
# min_lr 1e-06 per 256 videos, 100 epochs: the schedule base's values.
