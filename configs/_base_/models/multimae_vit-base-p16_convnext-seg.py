# MultiMAE ViT-B/16 + the official ConvNeXt semseg adapter in mmseg's
# EncoderDecoder (reference multimae.md 1.5: the head of every reported
# MultiMAE semseg number; not UperNet). Channel-stacked inputs: the pipeline
# packs the groups of ``data_preprocessor.modalities``; ``keep`` picks the
# ones the backbone sees (``input_channels``) and ``main_tasks`` the tokens
# the head decodes.
pretrained = ('checkpoints/'
              'multimae-b_98_rgb+-depth-semseg_1600e_multivit-afff3f8c.pth')
num_classes = 150
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='mmmae.MultiModalSegDataPreProcessor',
        modalities=dict(rgb=3),
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=(512, 512),
        pad_val=0,
        seg_pad_val=255),
    backbone=dict(
        type='mmmae.MultiMAEViT',
        input_adapters=dict(
            rgb=dict(type='mmmae.PatchedInputAdapter', in_channels=3)),
        arch='b',
        img_size=(512, 512),
        patch_size=16,
        num_global_tokens=1,
        drop_path_rate=0.1,
        out_indices=(-1, ),
        out_type='featmap',
        main_tasks=('rgb', ),
        input_channels=dict(rgb=3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(
        type='mmmae.ConvNeXtAdapterHead',
        in_channels=768,
        channels=384,
        preds_per_patch=16,
        num_blocks=4,
        num_classes=num_classes,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
