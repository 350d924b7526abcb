# Copyright (c) mmmae contributors. All rights reserved.
"""Reverse Huber (berHu) loss for depth regression (MultiMAE NYUv2 depth).

For a residual ``d = pred - target`` and a threshold ``c``::

    berhu(d) = |d|                    if |d| <= c
               (d ** 2 + c ** 2) / 2c  otherwise

``c = threshold * max |d|`` over the valid pixels of the whole batch, taken
without gradient, as in the MultiMAE NYUv2 fine-tuning recipe (threshold 0.2).
The two branches meet at ``|d| = c`` with equal value and slope, so the loss
is L1 for small residuals and L2-like for large ones.
"""
from typing import Optional

import torch
import torch.nn as nn

from mmmae.registry import MODELS

__all__ = ['BerHuLoss', 'berhu_loss']


def berhu_loss(pred: torch.Tensor,
               target: torch.Tensor,
               valid_mask: Optional[torch.Tensor] = None,
               threshold: float = 0.2,
               eps: float = 1e-12) -> torch.Tensor:
    """Per-pixel berHu loss with a batch-wide threshold.

    Args:
        pred (Tensor): Predictions, any shape, e.g. ``(B, 1, H, W)``.
        target (Tensor): Targets, the shape of ``pred``.
        valid_mask (Tensor, optional): Bool, broadcastable to ``pred``; True
            marks pixels that count. None: every pixel with a finite target.
        threshold (float): ``c = threshold * max |d|`` over valid pixels.
        eps (float): Lower bound of ``c`` in the quadratic branch's
            denominator.

    Returns:
        tuple[Tensor, Tensor]: The loss, the shape of ``pred`` (0 at invalid
        pixels), and the bool valid mask of the same shape.
    """
    finite = torch.isfinite(target)
    if valid_mask is None:
        valid = finite
    else:
        valid = valid_mask.bool().expand_as(pred) & finite
    # invalid targets may be NaN/inf; zeroing the residual there keeps them
    # out of the max and out of the gradient (where() alone would leak NaN)
    diff = torch.where(valid, pred - torch.nan_to_num(target),
                       torch.zeros_like(pred))
    abs_diff = diff.abs()
    c = threshold * abs_diff.detach().max() if valid.any() else \
        abs_diff.new_zeros(())
    # both where() branches are evaluated: a zero c (perfect batch) must not
    # produce 0/0 in the unused quadratic branch, its gradient would be NaN
    c_safe = c.clamp_min(eps)
    quadratic = (diff.pow(2) + c_safe.pow(2)) / (2 * c_safe)
    loss = torch.where(abs_diff <= c, abs_diff, quadratic)
    loss = torch.where(valid, loss, torch.zeros_like(loss))
    return loss, valid


@MODELS.register_module()
class BerHuLoss(nn.Module):
    """Reverse Huber loss, averaged over valid pixels.

    Follows the mmseg loss API, so it can sit in a decode head's
    ``loss_decode``. Validity is passed explicitly because the target it
    sees is usually *normalised* depth, where ``target > 0`` no longer
    marks valid pixels: :class:`mmmae.DPTHead` passes
    ``valid_mask = gt_depth > 0`` computed before normalising.

    Args:
        threshold (float): ``c = threshold * max |pred - target|`` over the
            valid pixels of the batch (detached). Defaults to 0.2 (MultiMAE).
        reduction (str): ``'mean'`` (over valid pixels), ``'sum'`` or
            ``'none'`` (per-pixel map, 0 at invalid pixels). Defaults to
            ``'mean'``.
        loss_weight (float): Multiplier. Defaults to 1.0.
        loss_name (str): Key in the loss dict; must start with ``loss_`` to
            be back-propagated by MMEngine. Defaults to ``'loss_berhu'``.
    """

    def __init__(self,
                 threshold: float = 0.2,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_berhu') -> None:
        super().__init__()
        assert reduction in ('mean', 'sum', 'none'), reduction
        assert threshold > 0, threshold
        self.threshold = threshold
        self.reduction = reduction
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self,
                pred: torch.Tensor,
                target: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                valid_mask: Optional[torch.Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> torch.Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): ``(B, 1, H, W)`` (any shape works).
            target (Tensor): Same shape as ``pred``.
            weight (Tensor, optional): Per-pixel weights broadcastable to
                ``pred``; they scale each pixel's loss (the mean still
                divides by the number of valid pixels). Pixels with weight 0
                still count as valid.
            valid_mask (Tensor, optional): Bool, broadcastable to ``pred``;
                True = pixel counts. None: all pixels with a finite target
                (so raw depth with 0 for "missing" must pass
                ``valid_mask=target > 0``).
            avg_factor (float, optional): Divisor of the ``'mean'``
                reduction instead of the number of valid pixels.
            reduction_override (str, optional): Overrides ``reduction``.
            **kwargs: Ignored (e.g. ``ignore_index`` from generic callers).

        Returns:
            Tensor: Scalar for ``'mean'``/``'sum'``; the shape of ``pred``
            for ``'none'``. A batch without any valid pixel gives an exact
            0 that is still connected to ``pred`` (never NaN).
        """
        reduction = reduction_override or self.reduction
        assert reduction in ('mean', 'sum', 'none'), reduction
        loss, valid = berhu_loss(
            pred, target, valid_mask=valid_mask, threshold=self.threshold)
        if weight is not None:
            loss = loss * weight
        if reduction == 'none':
            return self.loss_weight * loss
        total = loss.sum()
        if reduction == 'sum':
            return self.loss_weight * total
        if avg_factor is None:
            # clamp: an all-invalid batch sums to an exact 0 (times pred, so
            # the graph survives), never 0/0
            avg_factor = valid.sum().clamp_min(1)
        return self.loss_weight * total / avg_factor

    @property
    def loss_name(self) -> str:
        """str: Name of the loss item in the loss dict."""
        return self._loss_name
