# Copyright (c) mmmae contributors. All rights reserved.
# UNVERIFIED: a paper-scale recipe assembled from the VideoMAE and MultiMAE
# ones; it has not been run and no result is claimed for it.
#
# Multi-modal video MAE ViT-B/16 on Kinetics-400 with pseudo depth and
# pseudo semseg, 800 epochs. Data: the K400 training videos in the
# multi-modal video layout (docs/multimodal_video.md), i.e.
#     data/kinetics400_mm/train.txt             "<name> <label>" per video
#     data/kinetics400_mm/train/rgb/<name>.mp4  (short side 320, as VideoMAE)
# plus the per-frame pseudo-labels written next to them by
#     python tools/generate_pseudo_labels.py data/kinetics400_mm \
#         --split train --task depth --config DEPTH_CFG.py \
#         --checkpoint DEPTH.pth --out-modality pseudo_depth
#     python tools/generate_pseudo_labels.py data/kinetics400_mm \
#         --split train --task semseg --config SEG_CFG.py \
#         --checkpoint SEG.pth --out-modality pseudo_semseg
# (train/pseudo_depth/<name>.npz, train/pseudo_semseg/<name>.npz). The
# semseg labeller is assumed to predict the 133 COCO panoptic classes of
# MultiMAE's pseudo-labels (the model base); for another one set the
# pseudo_semseg adapter's `num_classes` and decoder's `num_channels`.
# The modalities keep their folder names (pseudo_depth, pseudo_semseg) in
# the model, from adapters to losses, so the RGB-D fine-tuning
#     finetune/vit-base-p16_multimodal-video-mae-k400-pre-800e_
#         64xb8-16x4x1-100e_kinetics400-rgbd.py
# finds its depth adapter under the same name.
# Sampling and crop as VideoMAE K400 (16 frames at stride 4, multi-scale
# corner crop to 224, no flip): an (8, 14, 14) grid, 1568 tokens per
# modality; MultiMAE's budget of 1/6 of all tokens visible (784 of 4704,
# Dirichlet(1) shares, a tube mask per modality). That is 5x the visible
# tokens of VideoMAE's 90% masking (157), so an encoder step costs more.
# VideoMAE V2's decoder masking (running cells, 50% per modality) halves
# the decoders' queries; the losses count only the decoded masked tokens.
# Schedule: MultiMAE's (AdamW (0.9, 0.95), wd 0.05, no decay on tokens and
# embeddings, 40 warmup epochs, cosine to 0) at VideoMAE's K400 length and
# base lr (1.5e-4 per 256 clips; auto_scale_lr: 64 GPUs x 32 clips ->
# 1.2e-3). Use --amp (fp16 on CUDA).
_base_ = [
    '../_base_/models/multimodal-video-mae_vit-base-p16.py',
    '../_base_/datasets/scene-videos_multimodal-video.py',
    '../_base_/schedules/multimae_pretrain_adamw.py',
    '../_base_/default_runtime.py',
]

data_root = 'data/kinetics400_mm'
clip_len = 16
frame_interval = 4
img_size = 224
patch_size = 16
token_grid = (8, 14, 14)
num_visible = 784  # 3 x 1568 / 6
# the model's modality names are the dataset's folder names
names = dict(depth='pseudo_depth', semseg='pseudo_semseg')
modalities = ('rgb', 'pseudo_depth', 'pseudo_semseg')

model = dict(
    data_preprocessor=dict(
        depth_keys=(names['depth'], ), seg_keys=(names['semseg'], )),
    backbone=dict(
        input_adapters=dict(
            _delete_=True,
            **{
                names.get(k, k): v
                for k, v in _base_.model.backbone.input_adapters.items()
            })),
    neck=dict(
        output_adapters=dict(
            _delete_=True,
            **{
                names.get(k, k): v
                for k, v in _base_.model.neck.output_adapters.items()
            }),
        common=dict(context_tasks=list(modalities))),
    head=dict(
        tasks=dict(
            _delete_=True,
            **{
                names.get(k, k): v
                for k, v in _base_.model.head.tasks.items()
            })))

train_pipeline = [
    dict(t, backend='pyav') if t['type'] == 'mmmae.VideoInit' else
    dict(t, clip_len=clip_len, frame_interval=frame_interval)
    if t['type'] == 'mmaction.SampleFrames' else
    dict(t, input_size=img_size, out_size=img_size,
         scales=(1, .875, .75, .66))
    if t['type'] == 'mmmae.MultiModalVideoMultiScaleCrop' else
    dict(t, keys=(names['semseg'], ))
    if t['type'] == 'mmmae.MultiModalVideoSemSegDownsample' else
    dict(t, modalities=modalities, grid=token_grid, num_visible=num_visible,
         decoder_mask_ratio=0.5)
    if t['type'] == 'mmmae.MultiModalTubeMaskGenerator' else t
    for t in _base_.train_pipeline
]
train_dataloader = dict(
    batch_size=32,  # clips per GPU
    num_workers=8,
    pin_memory=True,
    dataset=dict(
        _base_.scene_videos,
        data_root=data_root,
        modalities=modalities,
        pipeline=train_pipeline))

base_lr = 1.5e-4
max_epochs = 800
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
auto_scale_lr = dict(enable=True, base_batch_size=256)
default_hooks = dict(checkpoint=dict(interval=50, max_keep_ckpts=3))
