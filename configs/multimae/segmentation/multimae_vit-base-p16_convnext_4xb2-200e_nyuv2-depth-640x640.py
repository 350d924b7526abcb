# MultiMAE ViT-B/16 + ConvNeXt adapter head on NYUv2 semseg (40 classes),
# depth-only input (the head decodes the depth tokens): the RGB-D recipe
# with the RGB channels dropped. Reference: 41.4 mIoU (multimae.md 5.3).
_base_ = ['./multimae_vit-base-p16_convnext_4xb2-200e_nyuv2-rgbd-640x640.py']
model = dict(
    data_preprocessor=dict(keep=('depth', )),
    backbone=dict(
        input_adapters=dict(
            _delete_=True,
            depth=dict(type='mmmae.PatchedInputAdapter', in_channels=1)),
        input_channels=dict(_delete_=True, depth=1),
        main_tasks=('depth', )))
