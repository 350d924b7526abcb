# Demo (tools/demo_multimae.py): the scenes RGB-D segmentation config with
# RGB input only (the depth channel is dropped by the data preprocessor).
_base_ = ['./multimae_vit-tiny-p8_convnext_1xb16-20e_scenes-rgbd-64x64.py']
model = dict(
    data_preprocessor=dict(keep=('rgb', )),
    backbone=dict(
        input_adapters=dict(
            _delete_=True,
            rgb=dict(type='mmmae.PatchedInputAdapter', in_channels=3)),
        input_channels=dict(_delete_=True, rgb=3)))
