# Copyright (c) mmmae contributors. All rights reserved.
# Something-Something V2 fine-tuning / testing data (official ssv2.py):
# TSN "uniform" sampling of 16 segments (one random frame each in training),
# NO horizontal flip (left/right labels), test 2 clips x 3 crops: the two
# clips take interleaved frames of each segment (UniformSample test mode).
_base_ = ['./kinetics400_videomae-finetune.py']

data_root = 'data/sthv2/videos'
data_root_val = 'data/sthv2/videos'
ann_file_train = 'data/sthv2/sthv2_train_list_videos.txt'
ann_file_val = 'data/sthv2/sthv2_val_list_videos.txt'
ann_file_test = ann_file_val


def _sthv2(pipeline, num_clips, test_mode):
    out = []
    for t in pipeline:
        if t['type'] == 'SampleFrames':
            t = dict(
                type='UniformSample',
                clip_len=16,
                num_clips=num_clips,
                test_mode=test_mode)
        elif t['type'] == 'Resize' and t['scale'] == (-1, 320):
            continue  # SSv2 videos are 240p: no pre-resize in the recipe
        if t['type'] != 'Flip':
            out.append(t)
    return out


train_pipeline = _sthv2(_base_.train_pipeline, 1, False)
val_pipeline = _sthv2(_base_.val_pipeline, 1, True)
test_pipeline = _sthv2(_base_.test_pipeline, 2, True)

train_dataloader = dict(
    dataset=dict(
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        ann_file=ann_file_val,
        data_prefix=dict(video=data_root_val),
        pipeline=val_pipeline))
test_dataloader = dict(
    dataset=dict(
        ann_file=ann_file_test,
        data_prefix=dict(video=data_root_val),
        pipeline=test_pipeline))
