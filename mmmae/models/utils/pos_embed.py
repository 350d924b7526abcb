# Copyright (c) mmmae contributors. All rights reserved.
"""Fixed sin-cos positional tables and their resampling."""
from typing import Sequence

import torch
import torch.nn.functional as F

__all__ = [
    'get_sinusoid_table', 'interpolate_pos_table', 'build_2d_sincos_posemb',
    'resize_pos_emb_2d'
]


def get_sinusoid_table(n_position: int, dim: int) -> torch.Tensor:
    """1-D sin-cos table over a flattened token index (official VideoMAE).

    ``table[n, j] = sin(n / 10000^(2*(j//2)/dim))`` for even ``j`` and
    ``cos(...)`` for odd ``j``. Computed in float64 and cast to float32 so the
    values are bit-identical to the official numpy computation.

    Args:
        n_position (int): Number of positions ``N``.
        dim (int): Channels ``C``.

    Returns:
        Tensor: ``(N, C)`` float32.
    """
    pos = torch.arange(n_position, dtype=torch.float64)[:, None]
    j = torch.arange(dim, dtype=torch.float64)
    denom = torch.pow(
        torch.tensor(10000., dtype=torch.float64),
        2 * torch.div(j, 2, rounding_mode='floor') / dim)
    angle = pos / denom
    table = torch.empty_like(angle)
    table[:, 0::2] = torch.sin(angle[:, 0::2])
    table[:, 1::2] = torch.cos(angle[:, 1::2])
    return table.float()


def interpolate_pos_table(table: torch.Tensor, old_grid: Sequence[int],
                          new_grid: Sequence[int]) -> torch.Tensor:
    """Resample a token table laid out on a ``(T', H', W')`` grid.

    Trilinear interpolation (``align_corners=False``) over time and space, the
    VideoMAE V2 way of reusing a model at another clip length or resolution.

    Args:
        table (Tensor): ``(N, C)`` or ``(1, N, C)`` with
            ``N = prod(old_grid)``, token order ``(t, h, w)`` row-major.
        old_grid (Sequence[int]): ``(T', H', W')`` of ``table``.
        new_grid (Sequence[int]): Target ``(T'', H'', W'')``.

    Returns:
        Tensor: ``(N'', C)`` (or ``(1, N'', C)`` for a 3-D input), same dtype.
    """
    old_grid, new_grid = tuple(old_grid), tuple(new_grid)
    squeeze = table.dim() == 2
    if squeeze:
        table = table[None]
    num_old = old_grid[0] * old_grid[1] * old_grid[2]
    if table.shape[1] != num_old:
        raise ValueError(f'table has {table.shape[1]} rows, old grid '
                         f'{old_grid} needs {num_old}')
    if old_grid == new_grid:
        return table[0] if squeeze else table
    C = table.shape[-1]
    dtype = table.dtype
    grid = table.reshape(1, *old_grid, C).permute(0, 4, 1, 2, 3)
    # Interpolate in float32 at least; fp16 trilinear is lossy and
    # unsupported on some CPU builds.
    grid = F.interpolate(
        grid.float(), size=new_grid, mode='trilinear', align_corners=False)
    out = grid.permute(0, 2, 3, 4, 1).reshape(1, -1, C).to(dtype)
    return out[0] if squeeze else out


def build_2d_sincos_posemb(h: int,
                           w: int,
                           embed_dims: int = 768,
                           temperature: float = 10000.) -> torch.Tensor:
    """Fixed 2-D sin-cos grid embedding in the official MultiMAE layout.

    At grid cell ``(a, b)`` (``a`` = row, ``b`` = column) and with
    ``omega_k = temperature^(-k / (D/4))``, the channels are
    ``[sin(a omega), cos(a omega), sin(b omega), cos(b omega)]``, each block
    ``D/4`` wide. Computed in float32 like the official code so the values
    match the tables stored in official checkpoints.

    Args:
        h (int): Grid rows.
        w (int): Grid columns.
        embed_dims (int): Channels ``D``; must be divisible by 4.
        temperature (float): Frequency base. Defaults to 10000.

    Returns:
        Tensor: ``(1, D, h, w)`` float32.
    """
    if embed_dims % 4 != 0:
        raise ValueError(
            f'embed_dims ({embed_dims}) must be divisible by 4 for a 2-D '
            'sin-cos embedding')
    quarter = embed_dims // 4
    omega = torch.arange(quarter, dtype=torch.float32) / quarter
    omega = 1. / (temperature**omega)
    rows = torch.arange(h, dtype=torch.float32)[:, None] * omega  # (h, D/4)
    cols = torch.arange(w, dtype=torch.float32)[:, None] * omega  # (w, D/4)
    rows = torch.cat([rows.sin(), rows.cos()], dim=1)  # (h, D/2)
    cols = torch.cat([cols.sin(), cols.cos()], dim=1)  # (w, D/2)
    emb = torch.cat([
        rows[:, None, :].expand(h, w, -1), cols[None, :, :].expand(h, w, -1)
    ], dim=2)
    return emb.permute(2, 0, 1).unsqueeze(0).contiguous()


def resize_pos_emb_2d(pos_emb: torch.Tensor, size: Sequence[int],
                      mode: str = 'bicubic') -> torch.Tensor:
    """Resize a ``(1, D, h, w)`` grid embedding and flatten it to tokens.

    Args:
        pos_emb (Tensor): ``(1, D, h, w)``.
        size (Sequence[int]): Target grid ``(h', w')``.
        mode (str): ``'bicubic'`` (official patched input adapters) or
            ``'bilinear'`` (semseg adapter, decoders); ``align_corners=False``.

    Returns:
        Tensor: ``(1, h' * w', D)`` in row-major token order.
    """
    if tuple(pos_emb.shape[-2:]) != tuple(size):
        # Interpolating at the native size is the identity; skipping it
        # saves time and keeps values bit-exact.
        pos_emb = F.interpolate(
            pos_emb, size=tuple(size), mode=mode, align_corners=False)
    return pos_emb.flatten(2).transpose(1, 2)
