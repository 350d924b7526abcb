# Copyright (c) mmmae contributors. All rights reserved.
# Demo: a tiny MultiMAE on procedurally rendered scenes with EXACT depth and
# segmentation (6 classes), sized for minutes on 2 CPU cores. Make the data:
#     python -m mmmae.datasets.demo scenes --root data/scenes
# then
#     python tools/train.py THIS_CONFIG
#     python tools/visualize_multimae.py THIS_CONFIG \
#         work_dirs/THIS_CONFIG/epoch_60.pth data/scenes/val --out vis/
# 64x64 images, patch 8: 64 tokens per modality, 32 of 192 visible (1/6, as
# the paper's 98 of 588); rgb+ (rgb and norm_rgb), depth, semseg decoders.
_base_ = [
    '../_base_/models/multimae_vit-base-p16.py',
    '../_base_/datasets/imagenet_multimae-pretrain.py',
    '../_base_/schedules/multimae_pretrain_adamw.py',
    '../_base_/default_runtime.py',
]

img_size = 64
patch_size = 8
num_classes = 6  # sky, floor, wall, sphere, box, cylinder
model = dict(
    backbone=dict(
        input_adapters=dict(semseg=dict(num_classes=num_classes,
                                        dim_class_emb=16)),
        arch=dict(
            _delete_=True,
            embed_dims=128,
            num_layers=4,
            num_heads=4,
            mlp_ratio=4.),
        img_size=img_size,
        patch_size=patch_size),
    neck=dict(
        output_adapters=dict(semseg=dict(num_channels=num_classes)),
        common=dict(
            encoder_dims=128,
            embed_dims=64,
            num_layers=1,
            num_heads=4,
            img_size=img_size,
            patch_size=patch_size)),
    head=dict(
        tasks=dict(
            rgb=dict(loss=dict(patch_size=patch_size)),
            norm_rgb=dict(loss=dict(patch_size=patch_size)),
            depth=dict(loss=dict(patch_size=patch_size)),
            semseg=dict(loss=dict(patch_size=patch_size)))))

data_root = 'data/scenes'
train_pipeline = [
    dict(type='LoadMultiModalImages'),
    dict(
        type='MultiModalRandomResizedCrop',
        size=img_size,
        scale=(0.5, 1.0),
        interpolation=dict(rgb='bicubic', depth='bilinear',
                           semseg='nearest')),
    dict(type='MultiModalFlip', prob=0.5),
    dict(type='SemSegDownsample', factor=4),
    dict(
        type='MultiModalMaskGenerator',
        modalities=('rgb', 'depth', 'semseg'),
        grid=(img_size // patch_size, img_size // patch_size),
        num_visible=32,
        alpha=1.0),
    dict(type='PackMultiModalInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))

# the lr is set directly for a tiny model trained for minutes
base_lr = 1e-3
warmup_epochs = 5
max_epochs = 60
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(_base_.param_scheduler[0], end=warmup_epochs),
    dict(
        type='CosineAnnealingLR',
        eta_min_ratio=1e-2,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
auto_scale_lr = dict(enable=False, base_batch_size=16)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=10, max_keep_ckpts=2))

# Probe (labels only here; pretraining never reads them as labels): the
# frozen encoder sees RGB alone, each 8x8 patch token is a sample labelled
# with its majority class, a logistic regression is fit on the patches of
# the first 100 training images (the demo's labelled set) and scored on the
# val images: patch top-1 and patch mIoU, plus the 10-NN vote. Full-res
# semseg, no crop/flip. Cost, measured on 2 shared CPU cores with 1000
# train / 100 val images (RGB-D variant): a probe takes ~1.0 s (the first
# 1.9 s, decoding included) against ~10 s per training epoch, so ~2% of
# the pretraining time at interval=5 (probe/time_s and the running share
# are logged with every probe).
probe_pipeline = [
    dict(type='LoadMultiModalImages'),
    dict(type='PackMultiModalInputs', semseg_stride=None),
]
probe_loader = dict(
    batch_size=50,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='MultiModalFolderDataset',
        data_root=data_root,
        split='train',
        modalities=('rgb', 'semseg'),
        indices=100,
        pipeline=probe_pipeline,
        test_mode=True))
custom_hooks = [
    dict(type='mmmae.FiniteLossCheckHook'),
    dict(
        type='mmmae.ProbeHook',
        train_dataloader=probe_loader,
        val_dataloader=dict(
            probe_loader,
            dataset=dict(probe_loader['dataset'], split='val',
                         indices=None)),
        features='patch',
        probe_inputs=('rgb', ),
        label_key='semseg',
        linear=True,
        interval=5),
]
randomness = dict(seed=0)
