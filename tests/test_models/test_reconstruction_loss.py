# Copyright (c) mmmae contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F

from mmmae.models import PixelReconstructionLoss
from mmmae.registry import MODELS


def test_unweighted_is_mse_and_l1():
    pred, target = torch.randn(2, 5, 12), torch.randn(2, 5, 12)
    loss = MODELS.build(dict(type='mmmae.PixelReconstructionLoss'))
    torch.testing.assert_close(loss(pred, target), F.mse_loss(pred, target))
    l1 = PixelReconstructionLoss('L1', loss_weight=2.)
    torch.testing.assert_close(l1(pred, target),
                               2 * F.l1_loss(pred, target))
    with pytest.raises(ValueError):
        PixelReconstructionLoss('L3')
    with pytest.raises(ValueError):
        loss(pred, target[:, :4])


def test_weighted_v2_formula():
    pred, target = torch.randn(2, 5, 12), torch.randn(2, 5, 12)
    weight = torch.tensor([[1, 0, 1, 1, 0], [0, 0, 1, 0, 1]]).bool()
    loss = PixelReconstructionLoss()(pred, target, weight)
    per_token = ((pred - target)**2).mean(-1)
    ref = per_token[weight].sum() / weight.sum()
    torch.testing.assert_close(loss, ref)
    zero = PixelReconstructionLoss()(pred, target,
                                     torch.zeros(2, 5, dtype=torch.bool))
    assert zero.item() == 0.
    with pytest.raises(ValueError):
        PixelReconstructionLoss()(pred, target, weight[:, :3])


def test_half_precision_pred_gives_float32():
    pred = torch.randn(1, 3, 4).half()
    loss = PixelReconstructionLoss()(pred, torch.randn(1, 3, 4))
    assert loss.dtype == torch.float32
