# Copyright (c) mmmae contributors. All rights reserved.
# Demo (tools/demo_multimae.py, the default): the tiny scenes MultiMAE
# pretrained on RGB + depth only. The scenes' semseg is ground truth, not a
# pseudo-label, so pretraining on it would use the labels of every image;
# RGB-D is what an unlabelled RGB-D camera gives. Same encoder, masking
# budget (32 visible tokens, here of 128) and schedule as the base config;
# the ProbeHook still reads semseg, of its 100 labelled images only.
_base_ = ['./multimae_vit-tiny-p8_1xb16-60e_scenes.py']

modalities = ('rgb', 'depth')
model = dict(
    backbone=dict(
        input_adapters=dict(
            _delete_=True,
            rgb=dict(type='PatchedInputAdapter', in_channels=3),
            depth=dict(type='PatchedInputAdapter', in_channels=1))),
    neck=dict(
        output_adapters=dict(
            _delete_=True,
            rgb=dict(num_channels=3),
            norm_rgb=dict(num_channels=3, task='rgb'),
            depth=dict(num_channels=1)),
        common=dict(context_tasks=list(modalities))),
    head=dict(
        tasks=dict(
            _delete_=True,
            **{k: v
               for k, v in _base_.model.head.tasks.items()
               if k != 'semseg'})))
train_pipeline = [
    dict(t, modalities=modalities)
    if t['type'] == 'MultiModalMaskGenerator' else t
    for t in _base_.train_pipeline if t['type'] != 'SemSegDownsample'
]
train_dataloader = dict(
    dataset=dict(modalities=modalities, pipeline=train_pipeline))
