# Copyright (c) mmmae contributors. All rights reserved.
# The rendered scene videos (mmmae/datasets/demo/scene_videos.py; make them
# with
#     python -m mmmae.datasets.demo scene-videos --root data/scene_videos \
#         --num-test 60
# ): where they are and how a clip is read, shared by the pretraining and
# the action-recognition bases. mmmae.MultiModalVideoDataset lists the
# clips of {split}.txt (rgb mp4 + exact depth and semseg .npz each, layout
# in docs/multimodal_video.md); one clip of 8 frames, every 2nd (the whole
# 16-frame video), the same frame indices from every modality.
data_root = 'data/scene_videos'
clip_len = 8
frame_interval = 2
img_size = 64
modalities = ('rgb', 'depth', 'semseg')

load_pipeline = [
    dict(type='mmmae.VideoInit', num_threads=1),
    dict(
        type='mmaction.SampleFrames',
        clip_len=clip_len,
        frame_interval=frame_interval,
        num_clips=1),
    dict(type='mmmae.VideoDecode'),
    dict(type='mmmae.LoadMultiModalVideo'),
]
# evaluation view: the centre clip, short side img_size, centre crop (for
# the 64 x 64 renders: the whole clip and frame, one view)
eval_pipeline = [
    *[
        dict(t, test_mode=True) if t['type'] == 'mmaction.SampleFrames'
        else t for t in load_pipeline
    ],
    dict(type='mmmae.MultiModalVideoResize', scale=img_size),
    dict(type='mmmae.MultiModalVideoCenterCrop', crop_size=img_size),
]
scene_videos = dict(
    type='mmmae.MultiModalVideoDataset',
    data_root=data_root,
    modalities=modalities)
