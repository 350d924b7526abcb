# Copyright (c) mmmae contributors. All rights reserved.
# Multi-modal video MAE, ViT-B/16 (docs/multimodal_video.md): the MultiMAE-B
# pretraining model of multimae_vit-base-p16.py over 16-frame clips.
#   encoder: mmmae.MultiModalViT over the visible 2 x 16 x 16 tubelet tokens
#   of rgb, depth and semseg clips (semseg ids given at 1/4 resolution,
#   embedded as 2 x 4 x 4 tubelets of class embeddings), 1 global token
#   appended, fixed sin-cos (t, h, w) positions, no final norm;
#   decoders: one cross-attention decoder per modality
#   (mmmae.MultiModalVideoDecoder: dim 256, 2 blocks, 8 heads), each
#   predicting whole clips (semseg logits at 1/4);
#   losses, masked tubelets only, unweighted sum: rgb MSE on per-tubelet
#   normalised pixels (VideoMAE's norm_pix target; no separate plain-rgb
#   decoder as MultiMAE's rgb + norm_rgb pair), depth L1 on the per-clip
#   truncated-standardised depth, semseg cross-entropy.
# The inherited data preprocessor (MultiMAEDataPreprocessor) takes clips as
# they are: rgb (3, T, H, W) 0-255, depth (1, T, H, W) metres, semseg
# (T, H/4, W/4) ids.
_base_ = ['./multimae_vit-base-p16.py']

# (no top-level size variables: the dataset bases define theirs)
model = dict(
    backbone=dict(
        type='MultiModalViT',
        input_adapters=dict(
            _delete_=True,
            rgb=dict(type='TubeletInputAdapter', in_channels=3),
            depth=dict(type='TubeletInputAdapter', in_channels=1),
            semseg=dict(
                type='SemSegTubeletAdapter',
                num_classes=_base_.num_semseg_classes,
                dim_class_emb=64)),
        num_frames=16,
        tubelet_size=2),
    neck=dict(
        output_adapters=dict(
            _delete_=True,
            rgb=dict(num_channels=3),
            depth=dict(num_channels=1),
            semseg=dict(
                num_channels=_base_.num_semseg_classes, stride_level=4)),
        common=dict(
            type='MultiModalVideoDecoder',
            num_frames=16,
            tubelet_size=2)),
    head=dict(
        tasks=dict(
            _delete_=True,
            rgb=dict(
                loss=dict(
                    type='MaskedMSELoss',
                    patch_size=16,
                    norm_pix=True,
                    tubelet_size=2)),
            depth=dict(
                loss=dict(
                    type='MaskedL1Loss',
                    patch_size=16,
                    tubelet_size=2)),
            semseg=dict(
                loss=dict(
                    type='MaskedCrossEntropyLoss',
                    patch_size=16,
                    stride=4,
                    tubelet_size=2)))))
