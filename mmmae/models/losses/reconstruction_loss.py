# Copyright (c) mmmae contributors. All rights reserved.
"""Pixel reconstruction loss of VideoMAE (V1 mean, V2 token-weighted)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmmae.registry import MODELS

__all__ = ['PixelReconstructionLoss']


@MODELS.register_module()
class PixelReconstructionLoss(nn.Module):
    """L2 (or L1) loss between predicted and target token pixels.

    * No ``weight``: the mean over every element, i.e. ``nn.MSELoss()`` on
      the masked-token tensors (VideoMAE V1).
    * ``weight (B, N)``: per-token mean over channels, then
      ``(l * w).sum() / w.sum()`` (VideoMAE V2, where ``w`` marks the decoded
      tokens that the encoder did not see). An all-zero weight gives 0, not
      NaN.

    The loss is computed in float32 even when ``pred`` is half precision.

    Args:
        criterion (str): ``'L2'`` (squared error) or ``'L1'``.
        loss_weight (float): Multiplier of the result. Defaults to 1.
    """

    def __init__(self, criterion: str = 'L2', loss_weight: float = 1.) -> None:
        super().__init__()
        criterion = criterion.upper()
        if criterion not in ('L1', 'L2'):
            raise ValueError(f"criterion must be 'L1' or 'L2', got "
                             f'{criterion!r}')
        self.criterion = criterion
        self.loss_weight = loss_weight

    def forward(self,
                pred: torch.Tensor,
                target: torch.Tensor,
                weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): ``(B, N, L)`` predictions.
            target (Tensor): ``(B, N, L)`` targets.
            weight (Tensor, optional): ``(B, N)`` per-token weights.

        Returns:
            Tensor: Scalar loss.
        """
        if pred.shape != target.shape:
            raise ValueError(f'pred {tuple(pred.shape)} and target '
                             f'{tuple(target.shape)} differ in shape')
        # F.mse_loss / F.l1_loss: one fused kernel, no full-size difference
        # and square temporaries at the step's activation peak
        fn = F.mse_loss if self.criterion == 'L2' else F.l1_loss
        pred, target = pred.float(), target.float()
        if weight is None:
            loss = fn(pred, target)
        else:
            if weight.shape != pred.shape[:-1]:
                raise ValueError(f'weight {tuple(weight.shape)} must be '
                                 f'{tuple(pred.shape[:-1])}')
            err = fn(pred, target, reduction='none')
            weight = weight.to(err.dtype)
            loss = (err.mean(-1) * weight).sum() / weight.sum().clamp_min(
                torch.finfo(err.dtype).tiny)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return f'criterion={self.criterion!r}, loss_weight={self.loss_weight}'
