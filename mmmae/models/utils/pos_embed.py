# Copyright (c) mmmae contributors. All rights reserved.
"""Fixed sin-cos positional tables and their resampling."""
from typing import Sequence

import torch
import torch.nn.functional as F

__all__ = ['get_sinusoid_table', 'interpolate_pos_table']


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
