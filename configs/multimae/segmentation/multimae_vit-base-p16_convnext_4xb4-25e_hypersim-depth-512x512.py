# MultiMAE ViT-B/16 + ConvNeXt adapter head on Hypersim semseg (40 classes),
# depth-only input (the head decodes the depth tokens): the RGB-D recipe
# with the RGB channels dropped. Reference: 38.5 mIoU (multimae.md 5.3).
_base_ = ['./multimae_vit-base-p16_convnext_4xb4-25e_hypersim-rgbd-512x512.py']
model = dict(
    data_preprocessor=dict(keep=('depth', )),
    backbone=dict(
        input_adapters=dict(
            _delete_=True,
            depth=dict(type='mmmae.PatchedInputAdapter', in_channels=1)),
        input_channels=dict(_delete_=True, depth=1),
        main_tasks=('depth', )))
