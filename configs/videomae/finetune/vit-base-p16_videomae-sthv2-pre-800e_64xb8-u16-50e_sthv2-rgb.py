# Copyright (c) mmmae contributors. All rights reserved.
# VideoMAE ViT-B/16 fine-tuned on Something-Something V2 from the SSv2 800e
# VideoMAE pretraining (official V1 fine-tuning script; reference §2.3).
# The other SSv2 recipes inherit from this one.
_base_ = [
    '../../_base_/models/vit-base-p16_videomae-recognizer.py',
    '../../_base_/datasets/sthv2_videomae-finetune.py',
    '../../_base_/schedules/videomae_finetune_adamw.py',
    '../../_base_/recognition_runtime.py',
]

# Encoder weights: an mmmae pretraining checkpoint, or an official / HF /
# MMAction2 one (the layout is detected; decoder keys are reported, the
# pretrained final norm is dropped and fc_norm starts fresh, as official).
# Drop path 0.1: the model base's.
pretrained = ('work_dirs/videomae_vit-base-p16_64xb32-800e_sthv2/'
              'epoch_800.pth')
num_classes = 174
model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True, type='Pretrained', checkpoint=pretrained)),
    cls_head=dict(num_classes=num_classes),
    data_preprocessor=dict(
        blending=dict(augments=[
            dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
            dict(type='CutmixBlending', alpha=1., num_classes=num_classes)
        ])))

train_dataloader = dict(batch_size=8)  # videos per GPU

# lr = 0.0005 x 64 x 8 / 256 = 0.001 (auto_scale_lr);
# layer decay 0.75, min_lr 1e-06 per 256 videos.
base_lr = 0.0005
max_epochs = 50
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    _base_.param_scheduler[0],
    dict(
        _base_.param_scheduler[1],
        eta_min_ratio=_base_.min_lr / base_lr,
        end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
