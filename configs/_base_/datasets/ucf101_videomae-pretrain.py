# Copyright (c) mmmae contributors. All rights reserved.
# UCF101 (split 1 train) pretraining data, as the official VideoMAE code reads
# it: the Kinetics-400 pipeline (16x4) with tube mask 0.75 (official UCF101
# script) over the (8, 14, 14) token grid. Labels are ignored.
_base_ = ['./kinetics400_videomae-pretrain.py']

data_root = 'data/ucf101/videos'
ann_file_train = 'data/ucf101/ucf101_train_split_1_videos.txt'
train_pipeline = [
    dict(t, mask_ratio=0.75) if t['type'] == 'TubeMaskGenerator' else t
    for t in _base_.train_pipeline
]
train_dataloader = dict(
    dataset=dict(
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root),
        pipeline=train_pipeline))
