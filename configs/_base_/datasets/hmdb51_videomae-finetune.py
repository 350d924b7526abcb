# Copyright (c) mmmae contributors. All rights reserved.
# HMDB51 (split 1) fine-tuning / testing data: the UCF101 protocol.
_base_ = ['./ucf101_videomae-finetune.py']

data_root = 'data/hmdb51/videos'
data_root_val = data_root
ann_file_train = 'data/hmdb51/hmdb51_train_split_1_videos.txt'
ann_file_val = 'data/hmdb51/hmdb51_val_split_1_videos.txt'
ann_file_test = ann_file_val

train_dataloader = dict(
    dataset=dict(ann_file=ann_file_train, data_prefix=dict(video=data_root)))
val_dataloader = dict(
    dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root_val)))
test_dataloader = dict(
    dataset=dict(
        ann_file=ann_file_test, data_prefix=dict(video=data_root_val)))
