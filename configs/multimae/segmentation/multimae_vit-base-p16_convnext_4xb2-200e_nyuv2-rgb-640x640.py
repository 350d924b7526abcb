# MultiMAE ViT-B/16 + ConvNeXt adapter head on NYUv2 semseg (40 classes),
# RGB input: the RGB-D recipe with the depth channels dropped by the data
# preprocessor. Reference: 52.0 mIoU (multimae.md 5.3).
_base_ = ['./multimae_vit-base-p16_convnext_4xb2-200e_nyuv2-rgbd-640x640.py']
model = dict(
    data_preprocessor=dict(keep=('rgb', )),
    backbone=dict(
        input_adapters=dict(
            _delete_=True,
            rgb=dict(type='mmmae.PatchedInputAdapter', in_channels=3)),
        input_channels=dict(_delete_=True, rgb=3),
        main_tasks=('rgb', )))
