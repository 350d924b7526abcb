# Copyright (c) mmmae contributors. All rights reserved.
"""Input adapters of the multi-modal ViT: one per modality, each turning
its input into tokens with positions added.

* image maps: :class:`PatchedInputAdapter` (rgb, depth: ``Conv2d``
  ``p x p`` + a 2-D sin-cos ``pos_emb``) and :class:`SemSegInputAdapter`
  (class ids: embedding + ``Conv2d``), the official MultiMAE layout;
* videos: :class:`TubeletInputAdapter` (rgb, depth clips: ``t x p x p``
  tubelets, VideoMAE's 1-D sin-cos table over the flattened ``(t, h, w)``
  index, trilinearly resampled for other grids) and
  :class:`SemSegTubeletAdapter` (class-id clips).

Every adapter has ``get_grid(x)`` (the token grid of an input: ``(h, w)``
or ``(t, h, w)``) and ``forward(x) -> (B, N, D)`` tokens in row-major grid
order. Adapters of one model must give the same grid.
"""
import logging
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log

from mmmae.registry import MODELS
from ..utils import (build_2d_sincos_posemb, get_sinusoid_table,
                     interpolate_pos_table, resize_pos_emb_2d)
from ..utils.config_checks import check_divisible, to_ntuple

__all__ = [
    'PatchedInputAdapter', 'SemSegInputAdapter', 'TubeletInputAdapter',
    'SemSegTubeletAdapter', 'tubelet_tokens'
]


class _GridAdapter(nn.Module):
    """Common part of the image adapters: grid bookkeeping and ``pos_emb``.

    Args:
        embed_dims (int): Token width ``D``.
        patch_size (int | tuple): Patch size at full resolution.
        stride_level (int): Input resolution is ``1/stride_level`` of full.
        img_size (int | tuple): Full-resolution size the stored ``pos_emb``
            is built for.
        pos_mode (str): Interpolation used at other grid sizes.
    """

    is_video = False

    def __init__(self, embed_dims: int, patch_size: Union[int, Sequence[int]],
                 stride_level: int, img_size: Union[int, Sequence[int]],
                 pos_mode: str) -> None:
        super().__init__()
        self.embed_dims = embed_dims
        self.patch_size_full = to_ntuple(patch_size, 2)
        self.stride_level = stride_level
        ph, pw = self.patch_size_full
        if ph % stride_level or pw % stride_level:
            raise ValueError(f'patch_size {self.patch_size_full} is not '
                             f'divisible by stride_level {stride_level}')
        # Patch size on the (possibly down-scaled) input map.
        self.patch_size = (ph // stride_level, pw // stride_level)
        self.img_size = to_ntuple(img_size, 2)
        check_divisible(type(self).__name__, 'img_size', self.img_size,
                        'patch_size', self.patch_size_full)
        self.grid_size = (self.img_size[0] // ph, self.img_size[1] // pw)
        self.pos_mode = pos_mode
        # Fixed, but a (frozen) Parameter so it is in the state dict like the
        # official checkpoints (strict key parity).
        self.pos_emb = nn.Parameter(
            build_2d_sincos_posemb(*self.grid_size, embed_dims),
            requires_grad=False)

    def get_grid(self, x: torch.Tensor) -> Tuple[int, int]:
        """Token grid of an input map ``(..., h, w)`` at this stride."""
        h, w = x.shape[-2:]
        ph, pw = self.patch_size
        if h % ph or w % pw:
            raise ValueError(
                f'{type(self).__name__}: input size {(h, w)} is not '
                f'divisible by its patch size {self.patch_size}')
        return h // ph, w // pw

    def _add_pos(self, tokens: torch.Tensor,
                 grid: Tuple[int, int]) -> torch.Tensor:
        pos = resize_pos_emb_2d(self.pos_emb, grid, self.pos_mode)
        return tokens + pos.to(tokens.dtype)


@MODELS.register_module()
class PatchedInputAdapter(_GridAdapter):
    """Tokens of a dense float map (rgb, depth, ...): Conv2d ``P x P`` +
    fixed 2-D sin-cos ``pos_emb`` (bicubic-resized for other grids).

    Args:
        in_channels (int): Channels of the map (3 for rgb, 1 for depth).
        embed_dims (int): Token width ``D``. Defaults to 768.
        patch_size (int | tuple): Patch size at full resolution. Defaults to
            16.
        stride_level (int): Resolution divisor of the input. Defaults to 1.
        img_size (int | tuple): Full-resolution size of the stored
            ``pos_emb``. Defaults to 224.
    """

    def __init__(self,
                 in_channels: int,
                 embed_dims: int = 768,
                 patch_size: Union[int, Sequence[int]] = 16,
                 stride_level: int = 1,
                 img_size: Union[int, Sequence[int]] = 224) -> None:
        super().__init__(embed_dims, patch_size, stride_level, img_size,
                         'bicubic')
        self.in_channels = in_channels
        self.proj = nn.Conv2d(
            in_channels,
            embed_dims,
            kernel_size=self.patch_size,
            stride=self.patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a map.

        Args:
            x (Tensor): ``(B, C, h, w)`` (``h = H / stride_level``).

        Returns:
            Tensor: ``(B, N, D)`` in ``(h, w)`` row-major order.
        """
        grid = self.get_grid(x)
        tokens = self.proj(x).flatten(2).transpose(1, 2)
        return self._add_pos(tokens, grid)


@MODELS.register_module()
class SemSegInputAdapter(_GridAdapter):
    """Tokens of a class-id map given at ``1/stride_level`` resolution.

    ``class_emb`` (``nn.Embedding``) turns ids into ``dim_class_emb``
    channels, then a Conv2d with kernel = stride = ``patch_size /
    stride_level`` gives the same token grid as the full-resolution
    modalities; ``pos_emb`` is resized bilinearly (as official).

    Args:
        num_classes (int): Number of class ids (embedding rows).
        embed_dims (int): Token width ``D``. Defaults to 768.
        patch_size (int | tuple): Patch size at full resolution. Defaults to
            16.
        stride_level (int): Resolution divisor of the map. Defaults to 4.
        img_size (int | tuple): Full-resolution size of the stored
            ``pos_emb``. Defaults to 224.
        dim_class_emb (int): Class embedding width. Defaults to 64.
        padding_idx (int, optional): ``nn.Embedding`` padding index (the
            official fine-tuning uses ``num_classes - 1`` for an extra
            "unlabelled" row).
    """

    def __init__(self,
                 num_classes: int,
                 embed_dims: int = 768,
                 patch_size: Union[int, Sequence[int]] = 16,
                 stride_level: int = 4,
                 img_size: Union[int, Sequence[int]] = 224,
                 dim_class_emb: int = 64,
                 padding_idx: Optional[int] = None) -> None:
        super().__init__(embed_dims, patch_size, stride_level, img_size,
                         'bilinear')
        self.num_classes = num_classes
        self.class_emb = nn.Embedding(
            num_classes, dim_class_emb, padding_idx=padding_idx)
        self.proj = nn.Conv2d(
            dim_class_emb,
            embed_dims,
            kernel_size=self.patch_size,
            stride=self.patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a class-id map.

        Args:
            x (Tensor): ``(B, h, w)`` int64 ids in ``[0, num_classes)``
                (``h = H / stride_level``); a ``(B, 1, h, w)`` map is
                accepted too.

        Returns:
            Tensor: ``(B, N, D)``.
        """
        if x.dim() == 4:
            x = x.squeeze(1)
        grid = self.get_grid(x)
        x = self.class_emb(x.long()).permute(0, 3, 1, 2)  # (B, E, h, w)
        tokens = self.proj(x).flatten(2).transpose(1, 2)
        return self._add_pos(tokens, grid)


def tubelet_tokens(x: torch.Tensor, proj: nn.Conv3d
                   ) -> Tuple[torch.Tensor, Tuple[int, int, int]]:
    """Non-overlapping tubelet embedding with a ``Conv3d``'s weights.

    The stride equals the kernel, so the convolution is a patchify (one
    reshape/permute copy) followed by one matmul with the flattened kernel:
    the same function, 1.5x faster than ``nn.Conv3d`` for forward + weight
    gradient of two ViT-B clips on a 2-core CPU.

    Args:
        x (Tensor): ``(B, C, T, H, W)``.
        proj (nn.Conv3d): Kernel = stride = ``(t, ph, pw)``.

    Returns:
        tuple: tokens ``(B, N, D)`` in ``(t, h, w)`` row-major order and the
        grid ``(T', H', W')``.
    """
    T, H, W = x.shape[-3:]
    t, ph, pw = proj.kernel_size
    if T % t or H % ph or W % pw:
        raise ValueError(f'input clip (T, H, W)={(T, H, W)} is not '
                         f'divisible by the tubelet {(t, ph, pw)}')
    B, C = x.shape[:2]
    grid = (T // t, H // ph, W // pw)
    # (B, C, T', t, H', ph, W', pw) -> (B, T' H' W', C t ph pw): the
    # flattening order of the Conv3d weight, tokens in (t, h, w) order
    patches = x.reshape(B, C, grid[0], t, grid[1], ph, grid[2],
                        pw).permute(0, 2, 4, 6, 1, 3, 5, 7).reshape(
                            B, grid[0] * grid[1] * grid[2], -1)
    weight = proj.weight.reshape(proj.out_channels, -1)
    return F.linear(patches, weight, proj.bias), grid


class _TubeletAdapter(nn.Module):
    """Common part of the video adapters: the tubelet geometry and the
    fixed position table.

    The table is VideoMAE's 1-D sin-cos table over the flattened token
    index of the configured ``(T', H', W')`` grid, a non-persistent buffer
    (not in checkpoints, as official). Another grid gets the table
    trilinearly resampled over time and space, logged once and cached.

    Args:
        embed_dims (int): Token width ``D``.
        patch_size (int | tuple): Spatial patch at full resolution.
        tubelet_size (int): Frames per token ``t``.
        num_frames (int): Configured clip length ``T``.
        img_size (int | tuple): Configured full-resolution frame size.
        stride_level (int): The input is ``1/stride_level`` of the full
            spatial resolution (4 for class-id maps).
    """

    is_video = True

    def __init__(self, embed_dims: int, patch_size: Union[int, Sequence[int]],
                 tubelet_size: int, num_frames: int,
                 img_size: Union[int, Sequence[int]],
                 stride_level: int = 1) -> None:
        super().__init__()
        name = type(self).__name__
        self.embed_dims = embed_dims
        self.patch_size_full = to_ntuple(patch_size, 2)
        self.stride_level = stride_level
        check_divisible(name, 'patch_size', self.patch_size_full,
                        'stride_level', (stride_level, stride_level))
        self.patch_size = tuple(p // stride_level
                                for p in self.patch_size_full)
        self.tubelet_size = tubelet_size
        self.num_frames = num_frames
        self.img_size = to_ntuple(img_size, 2)
        check_divisible(name, 'num_frames', num_frames, 'tubelet_size',
                        tubelet_size)
        check_divisible(name, 'img_size', self.img_size, 'patch_size',
                        self.patch_size_full)
        self.grid_size = (num_frames // tubelet_size,
                          self.img_size[0] // self.patch_size_full[0],
                          self.img_size[1] // self.patch_size_full[1])
        num = self.grid_size[0] * self.grid_size[1] * self.grid_size[2]
        self.register_buffer(
            'pos_embed',
            get_sinusoid_table(num, embed_dims)[None],
            persistent=False)
        # tables of other token grids: {(grid, device, dtype): table}
        self._pos_cache: Dict[tuple, torch.Tensor] = {}

    def get_grid(self, x: torch.Tensor) -> Tuple[int, int, int]:
        """Token grid ``(T', H', W')`` of a clip ``(..., T, h, w)``."""
        T, h, w = x.shape[-3:]
        t, (ph, pw) = self.tubelet_size, self.patch_size
        if T % t or h % ph or w % pw:
            raise ValueError(
                f'{type(self).__name__}: input (T, h, w)={(T, h, w)} is not '
                f'divisible by its tubelet {(t, ph, pw)}')
        return T // t, h // ph, w // pw

    def get_pos_embed(self, grid: Sequence[int]) -> torch.Tensor:
        """Position table of a token grid.

        Args:
            grid (Sequence[int]): ``(T', H', W')`` of the input.

        Returns:
            Tensor: ``(1, T'H'W', D)``.
        """
        grid = tuple(int(g) for g in grid)
        if grid == self.grid_size:
            return self.pos_embed
        key = (grid, self.pos_embed.device, self.pos_embed.dtype)
        table = self._pos_cache.get(key)
        if table is None:
            if not self._pos_cache:
                print_log(
                    f'{type(self).__name__}: the input gives a {grid} token '
                    f'grid, the model was built for {self.grid_size} '
                    '(img_size / num_frames): interpolating the position '
                    'table once and caching it',
                    logger='current',
                    level=logging.INFO)
            table = interpolate_pos_table(self.pos_embed, self.grid_size,
                                          grid)
            self._pos_cache[key] = table
        return table

    def _add_pos(self, tokens: torch.Tensor,
                 grid: Sequence[int]) -> torch.Tensor:
        return tokens + self.get_pos_embed(grid).to(tokens.dtype)


@MODELS.register_module()
class TubeletInputAdapter(_TubeletAdapter):
    """Tokens of a dense float clip (rgb, depth video): ``t x p x p``
    tubelets through a ``Conv3d`` (``proj``, the official VideoMAE
    ``patch_embed.proj`` layout) plus the fixed position table.

    Args:
        in_channels (int): Channels of the clip (3 rgb, 1 depth).
        embed_dims (int): Token width. Defaults to 768.
        patch_size (int | tuple): Spatial patch. Defaults to 16.
        tubelet_size (int): Frames per token. Defaults to 2.
        num_frames (int): Configured clip length. Defaults to 16.
        img_size (int | tuple): Configured frame size. Defaults to 224.
    """

    def __init__(self,
                 in_channels: int,
                 embed_dims: int = 768,
                 patch_size: Union[int, Sequence[int]] = 16,
                 tubelet_size: int = 2,
                 num_frames: int = 16,
                 img_size: Union[int, Sequence[int]] = 224) -> None:
        super().__init__(embed_dims, patch_size, tubelet_size, num_frames,
                         img_size)
        self.in_channels = in_channels
        kernel = (tubelet_size, *self.patch_size)
        self.proj = nn.Conv3d(
            in_channels, embed_dims, kernel_size=kernel, stride=kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a clip.

        Args:
            x (Tensor): ``(B, C, T, H, W)``.

        Returns:
            Tensor: ``(B, N, D)`` in ``(t, h, w)`` row-major order, with the
            positions added.
        """
        tokens, grid = tubelet_tokens(x, self.proj)
        return self._add_pos(tokens, grid)


@MODELS.register_module()
class SemSegTubeletAdapter(_TubeletAdapter):
    """Tokens of a class-id clip given at ``1/stride_level`` resolution:
    ``class_emb`` turns ids into ``dim_class_emb`` channels, then tubelets of
    ``t x (p / stride_level)^2`` give the grid of the full-resolution
    modalities.

    Args:
        num_classes (int): Class ids (embedding rows).
        embed_dims (int): Token width. Defaults to 768.
        patch_size (int | tuple): Spatial patch at full resolution.
            Defaults to 16.
        tubelet_size (int): Frames per token. Defaults to 2.
        num_frames (int): Configured clip length. Defaults to 16.
        img_size (int | tuple): Configured full-resolution frame size.
            Defaults to 224.
        stride_level (int): Resolution divisor of the id maps. Defaults
            to 4.
        dim_class_emb (int): Class embedding width. Defaults to 64.
        padding_idx (int, optional): ``nn.Embedding`` padding index.
    """

    def __init__(self,
                 num_classes: int,
                 embed_dims: int = 768,
                 patch_size: Union[int, Sequence[int]] = 16,
                 tubelet_size: int = 2,
                 num_frames: int = 16,
                 img_size: Union[int, Sequence[int]] = 224,
                 stride_level: int = 4,
                 dim_class_emb: int = 64,
                 padding_idx: Optional[int] = None) -> None:
        super().__init__(embed_dims, patch_size, tubelet_size, num_frames,
                         img_size, stride_level)
        self.num_classes = num_classes
        self.class_emb = nn.Embedding(
            num_classes, dim_class_emb, padding_idx=padding_idx)
        kernel = (tubelet_size, *self.patch_size)
        self.proj = nn.Conv3d(
            dim_class_emb, embed_dims, kernel_size=kernel, stride=kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a class-id clip.

        Args:
            x (Tensor): ``(B, T, h, w)`` int64 ids (``h = H /
                stride_level``); ``(B, 1, T, h, w)`` is accepted too.

        Returns:
            Tensor: ``(B, N, D)``.
        """
        if x.dim() == 5:
            x = x.squeeze(1)
        x = self.class_emb(x.long()).permute(0, 4, 1, 2, 3)  # (B,E,T,h,w)
        tokens, grid = tubelet_tokens(x, self.proj)
        return self._add_pos(tokens, grid)
