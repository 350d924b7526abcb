# Copyright (c) mmmae contributors. All rights reserved.
import math

import pytest
import torch
from mmengine.structures import PixelData

from mmmae.evaluation import DepthMetric

# Image A (2x2): the bottom-left pixel has gt 0 -> invalid.
GT_A = [[2.0, 1.0], [0.0, 4.0]]
PRED_A = [[2.5, 1.0], [3.0, 2.0]]
# Image B (1x2): all valid.
GT_B = [[1.0, 3.0]]
PRED_B = [[1.2, 3.0]]
# Image C (1x2): no valid pixel.
GT_C = [[0.0, 0.0]]
PRED_C = [[1.0, 1.0]]


def _sample(pred, gt, as_dict=True, img_path='x.png'):
    sample = dict(
        pred_depth_map=PixelData(data=torch.tensor(pred)[None]),
        gt_depth_map=PixelData(data=torch.tensor(gt)[None]),
        img_path=img_path)
    if as_dict:  # what mmengine's Evaluator passes (to_dict())
        sample['pred_depth_map'] = sample['pred_depth_map'].to_dict()
        sample['gt_depth_map'] = sample['gt_depth_map'].to_dict()
    return sample


def _run(metric, samples):
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def expected_image_a():
    # valid (p, g): (2.5, 2), (1, 1), (2, 4)
    # ratios max(p/g, g/p): 1.25, 1.0, 2.0 (1.25 is not < 1.25)
    return dict(
        d1=1 / 3,  # only ratio 1.0
        d2=2 / 3,  # 1.25 and 1.0 < 1.5625
        d3=2 / 3,  # 2.0 >= 1.953125
        abs_rel=(0.5 / 2 + 0 / 1 + 2 / 4) / 3,
        sq_rel=(0.25 / 2 + 0 / 1 + 4 / 4) / 3,
        rmse=math.sqrt((0.25 + 0 + 4) / 3),
        rmse_log=math.sqrt(
            (math.log(1.25)**2 + 0 + math.log(0.5)**2) / 3),
        log10=(abs(math.log10(2.5 / 2)) + 0 + abs(math.log10(2 / 4))) / 3,
    )


def expected_image_b():
    # (p, g): (1.2, 1), (3, 3); ratios 1.2, 1.0
    return dict(
        d1=1.0,
        d2=1.0,
        d3=1.0,
        abs_rel=(0.2 / 1 + 0) / 2,
        sq_rel=(0.04 / 1 + 0) / 2,
        rmse=math.sqrt((0.04 + 0) / 2),
        rmse_log=math.sqrt((math.log(1.2)**2 + 0) / 2),
        log10=(math.log10(1.2) + 0) / 2,
    )


def test_hand_computed_image_mean_skips_empty_image():
    metric = DepthMetric()
    samples = [
        _sample(PRED_A, GT_A),
        _sample(PRED_B, GT_B),
        _sample(PRED_C, GT_C, img_path='empty.png')
    ]
    res = _run(metric, samples)
    a, b = expected_image_a(), expected_image_b()
    for key in a:
        # mean over the 2 images with valid pixels; C is excluded
        assert res[key] == pytest.approx((a[key] + b[key]) / 2, rel=1e-6), key
    assert res['d1'] == pytest.approx((1 / 3 + 1) / 2)
    assert res['abs_rel'] == pytest.approx((0.25 + 0.1) / 2)
    assert res['num_images'] == 2
    assert res['num_empty_images'] == 1
    assert all(math.isfinite(v) for v in res.values())
    # silog, mmseg's definition, image A: e = ln(1.25), 0, ln(0.5)
    e = [math.log(1.25), 0.0, math.log(0.5)]
    silog_a = math.sqrt(
        sum(x * x for x in e) / 3 - 0.5 * (sum(e) / 3)**2)
    e = [math.log(1.2), 0.0]
    silog_b = math.sqrt(
        sum(x * x for x in e) / 2 - 0.5 * (sum(e) / 2)**2)
    assert res['silog'] == pytest.approx((silog_a + silog_b) / 2, rel=1e-6)


def test_pixel_aggregate_pools_valid_pixels():
    metric = DepthMetric(aggregate='pixel', metrics=['d1', 'abs_rel', 'rmse'])
    res = _run(metric, [
        _sample(PRED_A, GT_A, as_dict=False),
        _sample(PRED_B, GT_B, as_dict=False),
        _sample(PRED_C, GT_C, as_dict=False)
    ])
    # 5 valid pixels: (2.5, 2), (1, 1), (2, 4), (1.2, 1), (3, 3)
    assert res['d1'] == pytest.approx(3 / 5)
    assert res['abs_rel'] == pytest.approx((0.25 + 0 + 0.5 + 0.2 + 0) / 5)
    assert res['rmse'] == pytest.approx(
        math.sqrt((0.25 + 0 + 4 + 0.04 + 0) / 5))
    assert set(res) == {'d1', 'abs_rel', 'rmse', 'num_images',
                        'num_empty_images'}


def test_only_empty_images_give_nan_not_crash():
    res = _run(DepthMetric(), [_sample(PRED_C, GT_C)])
    assert res['num_images'] == 0 and res['num_empty_images'] == 1
    assert math.isnan(res['d1'])


def test_eval_range_crop_clamp_and_resize():
    # max_depth_eval drops gt 4 from image A: pixels (2.5, 2), (1, 1) remain
    res = _run(DepthMetric(max_depth_eval=3.0, metrics=['abs_rel']),
               [_sample(PRED_A, GT_A)])
    assert res['abs_rel'] == pytest.approx((0.25 + 0) / 2)
    # min_depth_eval is exclusive: gt 1 goes
    res = _run(DepthMetric(min_depth_eval=1.0, metrics=['abs_rel']),
               [_sample(PRED_A, GT_A)])
    assert res['abs_rel'] == pytest.approx((0.25 + 0.5) / 2)
    # crop (top, bottom, left, right) keeps only the first row
    res = _run(DepthMetric(crop=(0, 1, 0, 2), metrics=['abs_rel']),
               [_sample(PRED_A, GT_A)])
    assert res['abs_rel'] == pytest.approx((0.25 + 0) / 2)
    # a negative prediction is clamped to min_pred before logs and ratios
    res = _run(DepthMetric(min_pred=0.5), [_sample([[-1.0]], [[1.0]])])
    assert res['d1'] == 0.0
    assert res['log10'] == pytest.approx(abs(math.log10(0.5)))
    assert res['abs_rel'] == pytest.approx(0.5)
    # a prediction at half resolution is resized to the gt
    res = _run(DepthMetric(metrics=['rmse']),
               [_sample([[2.0]], [[2.0, 2.0], [2.0, 2.0]])])
    assert res['rmse'] == pytest.approx(0.0)


def test_bad_arguments():
    with pytest.raises(ValueError):
        DepthMetric(aggregate='scene')
    with pytest.raises(ValueError):
        DepthMetric(metrics=['delta1'])
    with pytest.raises(ValueError):
        DepthMetric(crop='kitti')
    assert DepthMetric(crop='nyu_crop').crop == (45, 471, 41, 601)


def test_build_from_mmseg_scope():
    from mmengine.registry import METRICS, init_default_scope
    init_default_scope('mmseg')
    metric = METRICS.build(dict(type='mmmae.DepthMetric', prefix='nyu'))
    assert isinstance(metric, DepthMetric)
    res = _run(metric, [_sample(PRED_B, GT_B)])
    assert res['nyu/d1'] == 1.0 and res['nyu/num_images'] == 1
