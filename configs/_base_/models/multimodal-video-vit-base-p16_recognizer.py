# Copyright (c) mmmae contributors. All rights reserved.
# Action recognizer on the multi-modal video MAE encoder (MMAction2
# Recognizer3D, docs/multimodal_video.md):
#   mmmae.PackMultiModalVideoActionInputs stacks the clip's modalities along
#   channels -> mmmae.MultiModalActionDataPreprocessor normalises each group
#   as pretraining did (rgb mean/std, depth per-clip truncated
#   standardisation) -> mmmae.MultiModalViT splits the channels again
#   (input_channels), encodes every token of every modality and returns the
#   last block's tokens of `main_tasks` as one (B, D * len(main_tasks), T',
#   H', W') map (as_tuple=False: Recognizer3D hands it to the head as is)
#   -> I3DHead (spatio-temporal average, one Linear).
# This base is RGB input from scratch (the MultiMAE init). RGB-D: add the
# depth adapter, `input_channels=dict(rgb=3, depth=1)`, `main_tasks=('rgb',
# 'depth')`, the preprocessor's `channels` and twice the head's
# `in_channels`. Pretrained: `backbone.init_cfg=dict(type='Pretrained',
# checkpoint=...)` loads the encoder of a multi-modal video MAE checkpoint;
# adapters the checkpoint lacks keep their init.
num_classes = 400
model = dict(
    type='Recognizer3D',
    data_preprocessor=dict(
        type='mmmae.MultiModalActionDataPreprocessor',
        channels=dict(rgb=3)),
    backbone=dict(
        type='mmmae.MultiModalViT',
        input_adapters=dict(
            rgb=dict(type='mmmae.TubeletInputAdapter', in_channels=3)),
        arch='b',
        img_size=224,
        patch_size=16,
        num_frames=16,
        tubelet_size=2,
        num_global_tokens=1,
        drop_path_rate=0.1,
        out_indices=(-1, ),
        out_type='featmap',
        main_tasks=('rgb', ),
        as_tuple=False,
        input_channels=dict(rgb=3)),
    cls_head=dict(
        type='I3DHead',
        num_classes=num_classes,
        in_channels=768,
        dropout_ratio=0.,
        init_std=0.02 * 0.001,  # VideoMAE's head init scale
        label_smooth_eps=0.1,
        average_clips='prob'))
