# Copyright (c) mmmae contributors. All rights reserved.
"""Video <-> token-patch reshapes in the official channel-last layout.

A token of a ``(B, C, T, H, W)`` clip holds a ``t x p x p`` tube; its values
are flattened as ``(p0 p1 p2 c)`` (frame in tube, row, column, channel; the
channel fastest), i.e. einops
``'b c (t p0) (h p1) (w p2) -> b (t h w) (p0 p1 p2 c)'``.
"""
from typing import Sequence

import torch

__all__ = ['patchify', 'unpatchify']


def patchify(video: torch.Tensor, tubelet_size: int,
             patch_size: int) -> torch.Tensor:
    """Cut a clip into flattened tubes.

    Args:
        video (Tensor): ``(B, C, T, H, W)`` with ``T % t == 0`` and
            ``H % p == W % p == 0``.
        tubelet_size (int): ``t``.
        patch_size (int): ``p``.

    Returns:
        Tensor: ``(B, N, t*p*p*C)``, ``N = (T/t)(H/p)(W/p)``, row-major
        ``(t, h, w)`` token order.
    """
    B, C, T, H, W = video.shape
    t, p = tubelet_size, patch_size
    if T % t or H % p or W % p:
        raise ValueError(f'video {tuple(video.shape)} is not divisible into '
                         f'tubes of {t}x{p}x{p}')
    x = video.reshape(B, C, T // t, t, H // p, p, W // p, p)
    # (B, C, T', t, H', p, W', p) -> (B, T', H', W', t, p, p, C)
    x = x.permute(0, 2, 4, 6, 3, 5, 7, 1)
    return x.reshape(B, (T // t) * (H // p) * (W // p), t * p * p * C)


def unpatchify(patches: torch.Tensor, grid: Sequence[int], tubelet_size: int,
               patch_size: int, in_channels: int = 3) -> torch.Tensor:
    """Inverse of :func:`patchify`.

    Args:
        patches (Tensor): ``(B, N, t*p*p*C)``.
        grid (Sequence[int]): Token grid ``(T', H', W')`` with
            ``N = T'H'W'``.
        tubelet_size (int): ``t``.
        patch_size (int): ``p``.
        in_channels (int): ``C``. Defaults to 3.

    Returns:
        Tensor: ``(B, C, T'*t, H'*p, W'*p)``.
    """
    B, N, L = patches.shape
    Tg, Hg, Wg = grid
    t, p, C = tubelet_size, patch_size, in_channels
    if N != Tg * Hg * Wg or L != t * p * p * C:
        raise ValueError(f'patches {tuple(patches.shape)} do not match grid '
                         f'{tuple(grid)} with tubes {t}x{p}x{p}x{C}')
    x = patches.reshape(B, Tg, Hg, Wg, t, p, p, C)
    # (B, T', H', W', t, p, p, C) -> (B, C, T', t, H', p, W', p)
    x = x.permute(0, 7, 1, 4, 2, 5, 3, 6)
    return x.reshape(B, C, Tg * t, Hg * p, Wg * p)
