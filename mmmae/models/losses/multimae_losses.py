# Copyright (c) mmmae contributors. All rights reserved.
"""Masked dense losses of MultiMAE (official ``multimae/criterion.py``).

Reduction (all three): per-pixel loss -> mean over channels -> times the
token mask nearest-upsampled to pixels -> per-sample mean over the masked
pixels -> ``nanmean`` over the batch (a sample with nothing masked is NaN
and skipped). If nothing at all is masked the loss is exactly 0. Without a
mask (``loss_on_unmasked``) the loss is the plain mean over all pixels.

Clips ``(B, C, T, H, W)`` (the multi-modal video MAE) are reduced the same
way with ``tubelet_size`` frames per token; their ``norm_pix`` target is
VideoMAE's (each channel of a ``t x p x p`` tubelet standardised).
"""
import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmmae.registry import MODELS

__all__ = [
    'MaskedMSELoss', 'MaskedL1Loss', 'MaskedCrossEntropyLoss',
    'norm_pix_target'
]


def norm_pix_target(target: torch.Tensor, patch: int,
                    eps: float = 1e-6, tubelet: int = 1) -> torch.Tensor:
    """Per-patch normalised image (official MultiMAE ``norm_pix``), or
    per-tubelet normalised clip (official VideoMAE).

    Each ``p x p`` patch is standardised over its ``p*p*C`` values (all
    channels pooled, layout ``(p1 p2 c)``): ``(x - mean) / sqrt(var + eps)``
    with the unbiased variance.

    A clip ``(B, C, T, H, W)``: each channel of each ``t x p x p`` tubelet
    is standardised over its ``t*p*p`` values, ``(x - mean) / (std + eps)``
    with the unbiased std (VideoMAE's target).

    Args:
        target (Tensor): ``(B, C, H, W)`` or ``(B, C, T, H, W)``.
        patch (int): Patch size ``p`` at this resolution.
        eps (float): Defaults to 1e-6.
        tubelet (int): Frames per token of a clip. Defaults to 1.

    Returns:
        Tensor: The shape of ``target``.
    """
    if target.dim() == 5:
        B, C, T, H, W = target.shape
        nt, nh, nw = T // tubelet, H // patch, W // patch
        x = target.reshape(B, C, nt, tubelet, nh, patch, nw, patch)
        x = x.permute(0, 2, 4, 6, 1, 3, 5, 7).reshape(
            B, nt * nh * nw, C, -1)
        x = (x - x.mean(-1, keepdim=True)) / (
            x.var(-1, keepdim=True).sqrt() + eps)
        x = x.reshape(B, nt, nh, nw, C, tubelet, patch, patch)
        return x.permute(0, 4, 1, 5, 2, 6, 3, 7).reshape(B, C, T, H, W)
    B, C, H, W = target.shape
    nh, nw = H // patch, W // patch
    x = target.reshape(B, C, nh, patch, nw, patch)
    x = x.permute(0, 2, 4, 3, 5, 1).reshape(B, nh * nw, patch * patch * C)
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True)
    x = (x - mean) / torch.sqrt(var + eps)
    x = x.reshape(B, nh, nw, patch, patch, C).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(B, C, H, W)


class _MaskedLoss(nn.Module):
    """Shared reduction.

    Args:
        patch_size (int): Patch size at full resolution.
        stride (int): Resolution divisor of prediction/target (4 for
            semseg); the token is ``patch_size // stride`` pixels here.
        loss_weight (float): Multiplier. Defaults to 1.
        tubelet_size (int): Frames per token of clip predictions.
            Defaults to 1.
    """

    def __init__(self, patch_size: int = 16, stride: int = 1,
                 loss_weight: float = 1., tubelet_size: int = 1) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.stride = stride
        self.scale_factor = patch_size // stride
        self.loss_weight = loss_weight
        self.tubelet_size = tubelet_size

    def reduce(self, loss: torch.Tensor,
               mask: Optional[torch.Tensor]) -> torch.Tensor:
        """Reduce a per-pixel loss ``(B, H, W)``.

        Args:
            loss (Tensor): ``(B, H, W)`` or ``(B, T, H, W)`` (channels
                already averaged).
            mask (Tensor, optional): ``(B, N)`` bool/0-1, True = masked.

        Returns:
            Tensor: Scalar.
        """
        if mask is None:
            return loss.mean() * self.loss_weight
        B, size = loss.shape[0], tuple(loss.shape[1:])
        factors = (self.tubelet_size, self.scale_factor,
                   self.scale_factor)[-len(size):]
        grid = tuple(n // f for n, f in zip(size, factors))
        if mask.shape[-1] != math.prod(grid):
            raise ValueError(f'mask has {mask.shape[-1]} tokens, the '
                             f'{size} map has {math.prod(grid)} patches')
        m = mask.reshape(B, 1, *grid).to(loss.dtype)
        m = F.interpolate(m, size=size, mode='nearest').squeeze(1)
        # The mean over the samples that have masked pixels (the official
        # per-sample ratio + nanmean), without reading the mask back to
        # the host: a sample with none gets denominator 1 and weight 0, so
        # its gradient is 0, not the NaN of 0/0; with no such sample at all
        # the loss is 0 and keeps the graph.
        area = m.flatten(1).sum(1)
        has = area > 0
        per_sample = (loss * m).flatten(1).sum(1) / torch.where(
            has, area, torch.ones_like(area))
        count = has.sum().clamp_min(1).to(per_sample.dtype)
        return (per_sample * has).sum() / count * self.loss_weight


@MODELS.register_module()
class MaskedMSELoss(_MaskedLoss):
    """MSE on masked tokens, optionally against a per-patch normalised
    target.

    Args:
        patch_size (int): Defaults to 16.
        stride (int): Defaults to 1.
        norm_pix (bool): Normalise each patch of the target (``norm_rgb``).
        loss_weight (float): Defaults to 1.
        tubelet_size (int): Frames per token of clips. Defaults to 1.
    """

    def __init__(self, patch_size: int = 16, stride: int = 1,
                 norm_pix: bool = False, loss_weight: float = 1.,
                 tubelet_size: int = 1) -> None:
        super().__init__(patch_size, stride, loss_weight, tubelet_size)
        self.norm_pix = norm_pix

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): ``(B, C, H, W)`` or ``(B, C, T, H, W)``.
            target (Tensor): The shape of ``pred``.
            mask (Tensor, optional): ``(B, N)``, True = masked; None = all.

        Returns:
            Tensor: Scalar.
        """
        if self.norm_pix:
            target = norm_pix_target(
                target, self.scale_factor, tubelet=self.tubelet_size)
        loss = F.mse_loss(pred, target, reduction='none')
        if mask is None:
            return loss.mean() * self.loss_weight
        return self.reduce(loss.mean(dim=1), mask)


@MODELS.register_module()
class MaskedL1Loss(MaskedMSELoss):
    """L1 on masked tokens (depth); same arguments as
    :class:`MaskedMSELoss`."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Compute the loss; see :meth:`MaskedMSELoss.forward`."""
        if self.norm_pix:
            target = norm_pix_target(
                target, self.scale_factor, tubelet=self.tubelet_size)
        loss = F.l1_loss(pred, target, reduction='none')
        if mask is None:
            return loss.mean() * self.loss_weight
        return self.reduce(loss.mean(dim=1), mask)


@MODELS.register_module()
class MaskedCrossEntropyLoss(_MaskedLoss):
    """Cross-entropy on masked tokens (semseg logits at ``1/stride``).

    Args:
        patch_size (int): Defaults to 16.
        stride (int): Defaults to 4.
        label_smoothing (float): Defaults to 0.
        ignore_index (int): Defaults to -100 (PyTorch's, as official).
        loss_weight (float): Defaults to 1.
        tubelet_size (int): Frames per token of clips. Defaults to 1.
    """

    def __init__(self, patch_size: int = 16, stride: int = 4,
                 label_smoothing: float = 0., ignore_index: int = -100,
                 loss_weight: float = 1., tubelet_size: int = 1) -> None:
        super().__init__(patch_size, stride, loss_weight, tubelet_size)
        self.label_smoothing = label_smoothing
        self.ignore_index = ignore_index

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Logits ``(B, K, h, w)`` or ``(B, K, T, h, w)``.
            target (Tensor): Ids ``(B, h, w)`` (or ``(B, 1, h, w)``), or
                ``(B, T, h, w)`` for clips.
            mask (Tensor, optional): ``(B, N)``, True = masked; None = all.

        Returns:
            Tensor: Scalar.
        """
        if target.dim() == pred.dim():
            target = target.squeeze(1)
        loss = F.cross_entropy(
            pred,
            target.long(),
            reduction='none',
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing)
        return self.reduce(loss, mask)
