# Copyright (c) mmmae contributors. All rights reserved.
# Demo baseline: the RGB fine-tuning recipe of
#     vit-tiny-p8_multimodal-video-mae-pre-30e_1xb8-8x2x1-30e_
#         scene-videos-rgb.py
# from a randomly initialised encoder (the MultiMAE init), with the same
# schedule, so it shows what the pretraining adds at an equal fine-tuning
# budget. The schedule was not tuned for scratch: a random init usually
# wants more steps at a lower lr (the moving-digits baseline,
# configs/videomae/finetune/vit-tiny-p8_scratch_*, trains 4x longer at
# 2.5e-4), so compare against its final training loss too.
_base_ = [
    './vit-tiny-p8_multimodal-video-mae-pre-30e_'
    '1xb8-8x2x1-30e_scene-videos-rgb.py'
]

model = dict(backbone=dict(init_cfg=None))
