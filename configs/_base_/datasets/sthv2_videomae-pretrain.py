# Copyright (c) mmmae contributors. All rights reserved.
# Something-Something V2 pretraining data, as the official VideoMAE code
# reads it: the Kinetics-400 pipeline with a fixed stride of 2 ("16x2") over
# the native 240p video. Labels are ignored.
_base_ = ['./kinetics400_videomae-pretrain.py']

data_root = 'data/sthv2/videos'
ann_file_train = 'data/sthv2/sthv2_train_list_videos.txt'
train_pipeline = [
    dict(t, frame_interval=2) if t['type'] == 'mmaction.SampleFrames' else t
    for t in _base_.train_pipeline
]
train_dataloader = dict(
    dataset=dict(
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root),
        pipeline=train_pipeline))
