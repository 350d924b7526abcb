# MultiMAE ViT-B/16 in mmseg's UperNet exactly as mmseg's MAE ViT-B config
# (mae-base_upernet_8xb2-amp-160k_ade20k-512x512: 48.13 mIoU) builds it --
# blocks 3/5/7/11, Feature2Pyramid (x4 / x2 / x1 / x0.5), UPerHead 768,
# FCN auxiliary head on level 2, sliding-window test -- for a comparison
# with MAE on equal terms (reference multimae.md 1.5).
pretrained = ('checkpoints/'
              'multimae-b_98_rgb+-depth-semseg_1600e_multivit-afff3f8c.pth')
num_classes = 150
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='mmmae.MultiModalSegDataPreProcessor',
        modalities=dict(rgb=3),
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
        drop_path_rate=0.1,
        out_indices=(3, 5, 7, 11),
        out_type='featmap',
        main_tasks=('rgb', ),
        input_channels=dict(rgb=3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(
        type='Feature2Pyramid',
        embed_dim=768,
        rescales=[4, 2, 1, 0.5],
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='UPerHead',
        in_channels=[768, 768, 768, 768],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=768,
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=768,
        in_index=2,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))
