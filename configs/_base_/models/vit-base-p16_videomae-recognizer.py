# Copyright (c) mmmae contributors. All rights reserved.
# VideoMAE ViT-B/16 action recognizer (official `vit_base_patch16_224` of
# modeling_finetune.py) as an MMAction2 Recognizer3D:
#   mmmae.VideoMAEViT with mean pooling + fc_norm (no CLS token, `norm` is
#   an Identity) -> TimeSformerHead (dropout + one Linear).
# Head init: the official code draws trunc-normal(std .02) and multiplies
# by init_scale 0.001; TimeSformerHead's trunc-normal with std 2e-5 and a
# zero bias is the same distribution.
# Training: mixup 0.8 / cutmix 1.0 switched per batch with probability 0.5
# (RandomBatchAugment picks one of the two uniformly), label smoothing 0.1
# folded into the (soft) targets as timm's mixup_target does.
num_classes = 400
model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='mmmae.VideoMAEViT',
        arch='b',
        img_size=224,
        patch_size=16,
        num_frames=16,
        tubelet_size=2,
        drop_path_rate=0.1,
        use_mean_pooling=True,
        with_cp=False,
        # fine-tuning from scratch: the official fine-tuning init. The
        # recipes replace this by dict(type='Pretrained', checkpoint=...).
        init_cfg=[
            dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
            dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
        ]),
    cls_head=dict(
        type='TimeSformerHead',
        num_classes=num_classes,
        in_channels=768,
        dropout_ratio=0.,
        init_std=0.02 * 0.001,
        label_smooth_eps=0.1,
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCTHW',
        blending=dict(
            type='RandomBatchAugment',
            augments=[
                dict(type='MixupBlending', alpha=0.8,
                     num_classes=num_classes),
                dict(type='CutmixBlending', alpha=1.,
                     num_classes=num_classes)
            ])))
