# Demo (tools/demo_multimae.py): tiny MultiMAE ViT (4 x 128, patch 8) + DPT
# head estimating the z-depth of the ray-cast scenes from RGB, from the
# encoder of configs/multimae/multimae_vit-tiny-p8_1xb16-60e_scenes.py (set
# init_cfg=None for the from-scratch baseline).
_base_ = [
    '../../_base_/models/multimae_vit-base-p16_dpt-depth.py',
    '../../_base_/datasets/scenes_multimae-depth-64x64.py',
    '../../_base_/schedules/multimae_finetune_dense_demo-20e.py',
    '../../_base_/segmentation_runtime.py',
]
pretrained = 'work_dirs/multimae_vit-tiny-p8_1xb16-60e_scenes/epoch_60.pth'
model = dict(
    data_preprocessor=dict(size=(64, 64)),
    backbone=dict(
        arch=dict(
            _delete_=True,
            embed_dims=128,
            num_layers=4,
            num_heads=4,
            mlp_ratio=4.),
        img_size=64,
        patch_size=8,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(
        in_channels=128,
        layer_dims=(16, 32, 64, 128),
        channels=32,
        patch_size=8,
        # scene z-depth statistics (metres) over valid pixels
        depth_mean=5.6,
        depth_std=3.3,
        max_depth=60.))
