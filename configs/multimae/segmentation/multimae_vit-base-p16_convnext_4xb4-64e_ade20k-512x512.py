# MultiMAE ViT-B/16 fine-tuned on ADE20K with the official ConvNeXt adapter
# head (RGB input): reference 46.2 mIoU (multimae.md 5.3; the official script
# reports the best validation mIoU over epochs, as save_best does here).
_base_ = [
    '../../_base_/models/multimae_vit-base-p16_convnext-seg.py',
    '../../_base_/datasets/ade20k_multimae-512x512.py',
    '../../_base_/schedules/multimae_finetune_dense.py',
    '../../_base_/segmentation_runtime.py',
]
model = dict(
    decode_head=dict(num_classes=150),
    data_preprocessor=dict(test_cfg=dict(size=(512, 512))))
