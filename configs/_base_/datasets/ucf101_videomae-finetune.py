# Copyright (c) mmmae contributors. All rights reserved.
# UCF101 (split 1) fine-tuning / testing data: the Kinetics-400 protocol
# (dense 16x4 sampling, RandAugment, flip, random erasing; test 5 clips x 3
# crops) on the native 320x240 videos.
_base_ = ['./kinetics400_videomae-finetune.py']

data_root = 'data/ucf101/videos'
data_root_val = data_root
ann_file_train = 'data/ucf101/ucf101_train_split_1_videos.txt'
ann_file_val = 'data/ucf101/ucf101_val_split_1_videos.txt'
ann_file_test = ann_file_val
# the videos are 240p: no short-side-320 pre-resize
train_pipeline = [
    t for t in _base_.train_pipeline
    if not (t['type'] == 'Resize' and t['scale'] == (-1, 320))
]

train_dataloader = dict(
    dataset=dict(
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root_val)))
test_dataloader = dict(
    dataset=dict(
        ann_file=ann_file_test, data_prefix=dict(video=data_root_val)))
