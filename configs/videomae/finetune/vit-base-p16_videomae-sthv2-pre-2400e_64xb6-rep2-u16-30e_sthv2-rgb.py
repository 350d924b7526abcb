# Copyright (c) mmmae contributors. All rights reserved.
# VideoMAE ViT-B/16 fine-tuned on Something-Something V2 from the SSv2 2400e
# VideoMAE pretraining (official V1 fine-tuning script; reference §2.3).
_base_ = [
    '../../_base_/models/vit-base-p16_videomae-recognizer.py',
    '../../_base_/datasets/sthv2_videomae-finetune.py',
    '../../_base_/schedules/videomae_finetune_adamw.py',
    '../../_base_/recognition_runtime.py',
]

# Encoder weights: an mmmae pretraining checkpoint, or an official / HF /
# MMAction2 one (the layout is detected; decoder keys are reported, the
# pretrained final norm is dropped and fc_norm starts fresh, as official).
pretrained = ('work_dirs/videomae_vit-base-p16_64xb32-2400e_sthv2/'
              'epoch_2400.pth')
num_classes = 174
model = dict(
    backbone=dict(
        drop_path_rate=0.1,
        init_cfg=dict(
            _delete_=True, type='Pretrained', checkpoint=pretrained)),
    cls_head=dict(num_classes=num_classes),
    data_preprocessor=dict(
        blending=dict(augments=[
            dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
            dict(type='CutmixBlending', alpha=1., num_classes=num_classes)
        ])))

# Repeated augmentation (official --num_sample 2): each video is decoded
# once and augmented 2 times (the views share frames, as official). The
# batch counts videos: 64 GPUs x 6 videos = 384 for the lr scaling (as
# official), but every step trains on 768 clips.
train_dataloader = dict(
    batch_size=6,
    collate_fn=dict(type='repeat_pseudo_collate'),
    dataset=dict(num_repeats=2))

# lr = 0.0005 x 64 x 6 / 256 = 0.00075 (auto_scale_lr);
# layer decay 0.75, min_lr 1e-06 per 256 videos.
base_lr = 0.0005
min_lr = 1e-06
max_epochs = 30
optim_wrapper = dict(
    optimizer=dict(lr=base_lr), paramwise_cfg=dict(layer_decay_rate=0.75))
param_scheduler = [
    _base_.param_scheduler[0],
    dict(
        _base_.param_scheduler[1],
        eta_min_ratio=min_lr / base_lr,
        end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
