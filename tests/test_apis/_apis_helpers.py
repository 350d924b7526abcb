# Copyright (c) mmmae contributors. All rights reserved.
"""Tiny versions of the demo configs for the mmmae.apis tests.

The real config files (pipelines, data preprocessors, default scopes) with
the models shrunk so a forward pass costs milliseconds on one CPU thread.
"""
import os.path as osp

import numpy as np

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
VIDEOMAE_CFG = osp.join(REPO_ROOT, 'configs', 'videomae',
                        'videomae_vit-tiny-p8_1xb8-30e_moving-digits.py')
RECOGNIZER_CFG = osp.join(
    REPO_ROOT, 'configs', 'videomae', 'finetune',
    'vit-tiny-p8_videomae-moving-digits-pre-30e_1xb8-8x4x1-30e_'
    'moving-digits-rgb.py')
MULTIMAE_CFG = osp.join(REPO_ROOT, 'configs', 'multimae',
                        'multimae_vit-tiny-p8_1xb16-60e_scenes.py')

TINY_ARCH = dict(embed_dims=32, num_layers=2, num_heads=2,
                 feedforward_channels=64)


def tiny_videomae_cfg(**options):
    """The moving-digits pretraining config (8 x 64 x 64 clips, patch 8,
    tubelet 2: 256 tokens) with a 2-block, 32-dim encoder."""
    from mmengine.config import Config
    cfg = Config.fromfile(VIDEOMAE_CFG)
    cfg.merge_from_dict({
        'model.backbone.arch': TINY_ARCH,
        'model.neck.embed_dims': 32,
        'model.neck.decoder_embed_dims': 16,
        'model.neck.decoder_depth': 1,
        'model.neck.decoder_num_heads': 2,
        **options
    })
    return cfg


def tiny_recognizer_cfg(**options):
    """The moving-digits fine-tuning config (Recognizer3D, mmaction scope,
    2 clips x ThreeCrop test pipeline, 6 classes), shrunk; no pretrained
    init_cfg (its file does not exist here)."""
    from mmengine.config import Config
    cfg = Config.fromfile(RECOGNIZER_CFG)
    cfg.merge_from_dict({
        'model.backbone.arch': TINY_ARCH,
        'model.backbone.init_cfg': None,
        'model.cls_head.in_channels': 32,
        **options
    })
    return cfg


def tiny_multimae_cfg(**options):
    """The scenes MultiMAE config (rgb, depth, semseg; 64 x 64, patch 8)
    with a 1-block, 32-dim encoder."""
    from mmengine.config import Config
    cfg = Config.fromfile(MULTIMAE_CFG)
    cfg.merge_from_dict({
        'model.backbone.arch': dict(embed_dims=32, num_layers=1,
                                    num_heads=2, mlp_ratio=2.),
        'model.neck.common.encoder_dims': 32,
        'model.neck.common.embed_dims': 16,
        'model.neck.common.num_heads': 2,
        **options
    })
    return cfg


def decode_resize_crop(path, frame_inds, short_side, crop=None):
    """Frames by hand (decord + cv2), as MMAction2's test pipeline does:
    keep-ratio bilinear resize of the short side, center crop (square
    ``crop``; None keeps the resized frames).

    Returns:
        np.ndarray: ``(T, crop, crop, 3)`` uint8 RGB.
    """
    import cv2
    import decord
    frames = decord.VideoReader(str(path)).get_batch(
        [int(i) for i in frame_inds]).asnumpy()
    h, w = frames.shape[1:3]
    scale = short_side / min(h, w)
    nw, nh = int(w * scale + 0.5), int(h * scale + 0.5)
    frames = np.stack([
        cv2.resize(f, (nw, nh), interpolation=cv2.INTER_LINEAR)
        for f in frames
    ])
    if crop is None:
        return frames
    top, left = (nh - crop) // 2, (nw - crop) // 2
    return frames[:, top:top + crop, left:left + crop]


def normalise(clip, mean, std):
    """``(T, H, W, 3)`` uint8 -> ``(1, 3, T, H, W)`` float32 tensor."""
    import torch
    x = (clip.astype(np.float32) - np.asarray(mean, np.float32)) / \
        np.asarray(std, np.float32)
    return torch.from_numpy(x).permute(3, 0, 1, 2)[None]
