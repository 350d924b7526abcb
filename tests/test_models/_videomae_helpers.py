# Copyright (c) mmmae contributors. All rights reserved.
"""Tiny VideoMAE configs shared by the model tests."""
import numpy as np
import torch

TINY_ARCH = dict(embed_dims=64, num_layers=2, num_heads=4, mlp_ratio=4.)


def tiny_model_cfg(num_frames=4, norm_pix=True, img_size=32, patch_size=8):
    """Config of the fixture-sized model (enc 64x2x4, dec 32x2x2)."""
    return dict(
        type='mmmae.VideoMAE',
        backbone=dict(
            type='mmmae.VideoMAEViT',
            arch=dict(TINY_ARCH),
            img_size=img_size,
            patch_size=patch_size,
            num_frames=num_frames),
        neck=dict(
            type='mmmae.VideoMAEPretrainDecoder',
            embed_dims=64,
            decoder_embed_dims=32,
            decoder_depth=2,
            decoder_num_heads=2,
            patch_size=patch_size),
        head=dict(
            type='mmmae.VideoMAEPretrainHead',
            norm_pix=norm_pix,
            patch_size=patch_size))


def tube_masks(batch, grid=(2, 4, 4), num_visible_per_frame=4, seed=0):
    """``(batch, N)`` bool tube masks with a fixed visible count."""
    rng = np.random.default_rng(seed)
    t, h, w = grid
    out = []
    for _ in range(batch):
        per_frame = np.ones(h * w, dtype=bool)
        per_frame[rng.permutation(h * w)[:num_visible_per_frame]] = False
        out.append(np.tile(per_frame, t))
    return torch.from_numpy(np.stack(out))


def running_cell_decoder_masks(batch, grid=(2, 4, 4)):
    """``(batch, N)`` bool: half of the tokens decoded, pattern per sample."""
    t, h, w = grid
    out = []
    for b in range(batch):
        cells = []
        for ti in range(t):
            yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing='ij')
            cells.append(((yy + xx + ti + b) % 2 == 0).reshape(-1))
        out.append(np.concatenate(cells))
    return torch.from_numpy(np.stack(out))
