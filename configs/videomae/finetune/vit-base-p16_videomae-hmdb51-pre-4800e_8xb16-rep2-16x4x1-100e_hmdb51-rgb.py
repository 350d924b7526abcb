# Copyright (c) mmmae contributors. All rights reserved.
# VideoMAE ViT-B/16 fine-tuned on HMDB51 (split 1) from the HMDB51 4800e
# VideoMAE pretraining. UNVERIFIED: there is no released HMDB51 fine-tuning
# script (MCG-NJU/VideoMAE#38); this is the UCF101 script on HMDB51 data.
_base_ = [
    './vit-base-p16_videomae-ucf101-pre-3200e_'
    '8xb16-rep2-16x4x1-100e_ucf101-rgb.py'
]

pretrained = ('work_dirs/videomae_vit-base-p16_8xb24-4800e_hmdb51/'
              'epoch_4800.pth')
data_root = 'data/hmdb51/videos'
ann_file_train = 'data/hmdb51/hmdb51_train_split_1_videos.txt'
ann_file_val = 'data/hmdb51/hmdb51_val_split_1_videos.txt'
num_classes = 51
model = dict(
    backbone=dict(init_cfg=dict(checkpoint=pretrained)),
    cls_head=dict(num_classes=num_classes),
    data_preprocessor=dict(
        blending=dict(augments=[
            dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
            dict(type='CutmixBlending', alpha=1., num_classes=num_classes)
        ])))
train_dataloader = dict(
    dataset=dict(ann_file=ann_file_train, data_prefix=dict(video=data_root)))
val_dataloader = dict(
    dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root)))
test_dataloader = val_dataloader
