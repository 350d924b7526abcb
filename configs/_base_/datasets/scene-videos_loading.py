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
scene_videos = dict(
    type='mmmae.MultiModalVideoDataset',
    data_root=data_root,
    modalities=modalities)
