# Copyright (c) mmmae contributors. All rights reserved.
# HMDB51 (split 1 train) pretraining data. The official repo ships no HMDB51
# script (MCG-NJU/VideoMAE#38); the temporal stride of 2 is the paper
# appendix's (recalled, UNVERIFIED). Otherwise the Kinetics-400 pipeline:
# multi-scale corner crop resized to 224x224, no flip, tube mask 0.9, i.e.
# the Something-Something V2 pretraining pipeline.
_base_ = ['./sthv2_videomae-pretrain.py']

data_root = 'data/hmdb51/videos'
ann_file_train = 'data/hmdb51/hmdb51_train_split_1_videos.txt'
train_dataloader = dict(
    dataset=dict(ann_file=ann_file_train, data_prefix=dict(video=data_root)))
