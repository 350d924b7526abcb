# Copyright (c) mmmae contributors. All rights reserved.
import math

import pytest
import torch

from mmmae.models.losses import BerHuLoss, berhu_loss

# five pixels; the third is invalid (gt 0 -> masked out by the caller)
PRED = [1.0, 2.0, 0.5, 3.0, 1.3]
TARGET = [1.5, 2.0, 0.0, 1.0, 1.0]
VALID = [True, True, False, True, True]


def _inputs(requires_grad=False):
    pred = torch.tensor(PRED).view(1, 1, 1, 5).requires_grad_(requires_grad)
    target = torch.tensor(TARGET).view(1, 1, 1, 5)
    valid = torch.tensor(VALID).view(1, 1, 1, 5)
    return pred, target, valid


def test_hand_computed_value_and_threshold():
    pred, target, valid = _inputs(requires_grad=True)
    # valid residuals d = pred - target: -0.5, 0, 2.0, 0.3
    # c = 0.2 * max|d| = 0.2 * 2.0 = 0.4
    c = 0.2 * 2.0
    per_pixel = [
        (0.5**2 + c**2) / (2 * c),  # |d| = 0.5 > c: (0.25 + 0.16) / 0.8
        0.0,  # |d| = 0
        (2.0**2 + c**2) / (2 * c),  # |d| = 2 > c: (4 + 0.16) / 0.8 = 5.2
        0.3,  # |d| = 0.3 <= c: L1
    ]
    expected = sum(per_pixel) / 4  # (0.5125 + 0 + 5.2 + 0.3) / 4
    assert expected == pytest.approx(1.503125)
    loss = BerHuLoss()(pred, target, valid_mask=valid)
    assert loss.item() == pytest.approx(expected, rel=1e-6)

    loss.backward()
    # c is detached: d/dd of (d^2 + c^2) / 2c is d / c; L1 branch sign(d);
    # everything divided by the 4 valid pixels
    expected_grad = [-0.5 / c / 4, 0.0, 0.0, 2.0 / c / 4, 1.0 / 4]
    assert pred.grad.view(-1).tolist() == pytest.approx(expected_grad)


def test_per_pixel_map_and_branch_boundary():
    pred, target, valid = _inputs()
    loss, mask = berhu_loss(pred, target, valid)
    assert mask.view(-1).tolist() == VALID
    assert loss.view(-1).tolist() == pytest.approx(
        [0.5125, 0.0, 0.0, 5.2, 0.3])
    # continuity at |d| = c: both branches give c
    c = 0.4
    assert (c**2 + c**2) / (2 * c) == pytest.approx(c)


def test_invalid_pixels_are_ignored():
    pred, target, valid = _inputs()
    ref = BerHuLoss()(pred, target, valid_mask=valid)
    pred2 = pred.clone()
    pred2[0, 0, 0, 2] = 1e4  # would dominate max|d| and the mean if used
    target2 = target.clone()
    target2[0, 0, 0, 2] = float('nan')
    out = BerHuLoss()(pred2, target2, valid_mask=valid)
    assert out.item() == pytest.approx(ref.item(), rel=1e-6)
    # no mask: non-finite targets are still excluded
    no_mask = BerHuLoss()(pred2, target2)
    assert no_mask.item() == pytest.approx(ref.item(), rel=1e-6)


def test_all_invalid_batch_is_zero_and_differentiable():
    pred = torch.randn(2, 1, 4, 4, requires_grad=True)
    target = torch.zeros(2, 1, 4, 4)
    loss = BerHuLoss()(pred, target, valid_mask=target > 0)
    assert loss.item() == 0.0
    assert loss.requires_grad
    loss.backward()
    assert torch.equal(pred.grad, torch.zeros_like(pred))


def test_perfect_prediction_has_finite_gradient():
    # c = 0: the unused quadratic branch must not make 0/0
    pred = torch.ones(1, 1, 2, 2, requires_grad=True)
    loss = BerHuLoss()(pred, torch.ones(1, 1, 2, 2))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.isfinite(pred.grad).all()


def test_reductions_weight_and_name():
    pred, target, valid = _inputs()
    loss_map = BerHuLoss(reduction='none')(pred, target, valid_mask=valid)
    assert loss_map.shape == pred.shape
    total = 0.5125 + 5.2 + 0.3
    summed = BerHuLoss(reduction='sum', loss_weight=2.0)(
        pred, target, valid_mask=valid)
    assert summed.item() == pytest.approx(2 * total)
    weight = torch.tensor([1.0, 1.0, 1.0, 0.0, 1.0]).view(1, 1, 1, 5)
    weighted = BerHuLoss()(pred, target, weight=weight, valid_mask=valid)
    assert weighted.item() == pytest.approx((0.5125 + 0.3) / 4)
    by_factor = BerHuLoss()(pred, target, valid_mask=valid, avg_factor=2.0)
    assert by_factor.item() == pytest.approx(total / 2)
    assert BerHuLoss().loss_name == 'loss_berhu'
    assert BerHuLoss(loss_name='loss_depth').loss_name == 'loss_depth'
    # threshold is configurable: c = 0.5 * 2 = 1 puts |d| = 0.5 in L1
    half = BerHuLoss(threshold=0.5)(pred, target, valid_mask=valid)
    assert half.item() == pytest.approx(
        (0.5 + 0 + (4 + 1) / 2 + 0.3) / 4)
    assert not math.isnan(half.item())


def test_build_from_mmseg_scope():
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    loss = MODELS.build(dict(type='mmmae.BerHuLoss', loss_weight=0.5))
    assert isinstance(loss, BerHuLoss) and loss.loss_weight == 0.5
