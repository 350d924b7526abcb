# Copyright (c) mmmae contributors. All rights reserved.
# Kinetics-400 pretraining data, as the official VideoMAE code reads it:
# 16 frames at a fixed stride of 4 from a random offset, multi-scale corner
# crop of the (pre-resized, short side 320) video resized to 224x224, no flip,
# tube mask 0.9 over the (8, 14, 14) token grid. Labels are ignored.
#
# Repeated sampling (VideoMAE V2 `--num_sample`): see
# ../../videomae/videomae_vit-base-p16_64xb8-rep4-200e_kinetics400.py
# (VideoMAEDataset `num_repeats`: one decode, several augmented views of one
# video), which documents the LR accounting.
dataset_type = 'VideoMAEDataset'
data_root = 'data/kinetics400/videos_train'
ann_file_train = 'data/kinetics400/kinetics400_train_list_videos.txt'

train_pipeline = [
    # PyAV with keyframe seeking: the exact frames (decord's random access
    # returns wrong frames on some B-frame files) at about 2x less CPU than
    # decord's random access (docs/benchmarks.md, "Data pipeline"); a file
    # PyAV cannot read is not retried with decord (fallback only goes
    # decord -> PyAV).
    # Videos on petrel/S3/HTTP: add backend_args=dict(backend='petrel') (or
    # MMAction2's io_backend='petrel'); URIs such as s3://... pick their
    # backend by prefix. A remote file is read whole into memory.
    dict(type='VideoInit', backend='pyav', num_threads=1),
    dict(
        type='mmaction.SampleFrames',
        clip_len=16,
        frame_interval=4,
        num_clips=1),
    dict(type='VideoDecode'),
    # official GroupMultiScaleCrop(224, [1, .875, .75, .66], max_distort=1,
    # fix_crop=True, more_fix_crop=True): 13 fixed offsets
    dict(
        type='mmaction.MultiScaleCrop',
        input_size=224,
        scales=(1, .875, .75, .66),
        random_crop=False,
        max_wh_scale_gap=1,
        num_fixed_crops=13),
    dict(type='mmaction.Resize', scale=(224, 224), keep_ratio=False),
    dict(type='mmaction.FormatShape', input_format='NCTHW'),
    dict(type='TubeMaskGenerator', input_size=(8, 14, 14), mask_ratio=0.9),
    dict(type='mmaction.PackActionInputs', algorithm_keys=('mask', )),
]

train_dataloader = dict(
    batch_size=32,  # per GPU
    # One decord thread per worker and 8 workers per GPU: a 16x4 clip costs
    # ~0.1 s of CPU to decode (docs/benchmarks.md, "Data pipeline"), so a
    # GPU at ~500 clips/s (bf16 ViT-B) needs more cores than the workers
    # here; see the docs for repeated sampling and the frame cache.
    # prefetch_factor stays at torch's default (2): setting it here would
    # make every `num_workers=0` override (tests, debugging) raise.
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    drop_last=True,  # as the official DataLoader
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root),
        pipeline=train_pipeline))

# pretraining has no validation or test loop
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
