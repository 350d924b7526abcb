# MultiMAE ViT-B/16 + DPT regression head in mmseg's DepthEstimator
# (reference multimae.md 1.5 / 5.2: hooks at blocks 2, 5, 8, 11, layer dims
# 96/192/384/768, 256 features, berHu loss on the NYU-normalised target).
# Depths are metres; invalid pixels are 0 and never counted.
pretrained = ('checkpoints/'
              'multimae-b_98_rgb+-depth-semseg_1600e_multivit-afff3f8c.pth')
model = dict(
    type='DepthEstimator',
    data_preprocessor=dict(
        type='mmmae.MultiModalSegDataPreProcessor',
        modalities=dict(rgb=3),
        size=(256, 256),
        pad_val=0,
        # mmseg pads gt_depth_map with seg_pad_val: 0 = invalid
        seg_pad_val=0),
    backbone=dict(
        type='mmmae.MultiMAEViT',
        input_adapters=dict(
            rgb=dict(type='mmmae.PatchedInputAdapter', in_channels=3)),
        arch='b',
        img_size=(256, 256),
        patch_size=16,
        drop_path_rate=0.,
        out_indices=(2, 5, 8, 11),
        out_type='featmap',
        main_tasks=('rgb', ),
        input_channels=dict(rgb=3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(
        type='mmmae.DPTHead',
        in_channels=768,
        layer_dims=(96, 192, 384, 768),
        channels=256,
        head_type='regression',
        num_classes=1,
        patch_size=16,
        # official NYU_MEAN / NYU_STD (2070.7764 / 777.5723) in metres
        depth_mean=2.0708,
        depth_std=0.7776,
        min_depth=1e-3,
        max_depth=10.0,
        loss_decode=dict(type='mmmae.BerHuLoss', threshold=0.2)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
