# Copyright (c) mmmae contributors. All rights reserved.
# Demo comparison: the RGB fine-tuning recipe of
#     vit-tiny-p8_multimodal-video-mae-pre-30e_1xb8-8x2x1-30e_
#         scene-videos-rgb.py
# (same data, pipeline, preprocessing, schedule and encoder size) on the
# encoder of a VideoMAE pretrained on the rgb of the same clips for the same
# number of steps:
#     configs/multimodal_video/
#         videomae_vit-tiny-p8_1xb8-30e_scene-videos-rgb.py
# The encoder is VideoMAE's (mmmae.VideoMAEViT: q/v biases, no global
# token, its pretrained final norm) returning its token map, so the same
# I3DHead pools it; everything but the encoder is shared.
_base_ = [
    './vit-tiny-p8_multimodal-video-mae-pre-30e_'
    '1xb8-8x2x1-30e_scene-videos-rgb.py'
]

pretrained = 'work_dirs/videomae_vit-tiny-p8_1xb8-30e_scene-videos-rgb/' \
    'epoch_30.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmmae.VideoMAEViT',
        arch=dict(
            embed_dims=_base_.embed_dims,
            num_layers=4,
            num_heads=3,
            feedforward_channels=4 * _base_.embed_dims),
        img_size=_base_.img_size,
        patch_size=8,
        num_frames=_base_.clip_len,
        tubelet_size=2,
        drop_path_rate=0.,
        use_mean_pooling=False,
        return_feat_map=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
