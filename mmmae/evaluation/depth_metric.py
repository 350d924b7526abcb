# Copyright (c) mmmae contributors. All rights reserved.
"""Monocular depth metrics (NYUv2 protocol) over every evaluated image."""
import logging
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from mmmae.registry import METRICS

__all__ = ['DepthMetric']

#: Eigen crop of NYUv2 at 480x640 (rows 45:471, cols 41:601), the box
#: mmseg's ``DepthMetric(crop_type='nyu_crop')`` uses.
NYU_EIGEN_CROP = (45, 471, 41, 601)

# Per-image sufficient statistics: every metric is a function of these sums
# over the image's valid pixels, so image- and pixel-level aggregation share
# one pass and ranks only exchange a few floats per image.
_STATS = ('n', 'd1', 'd2', 'd3', 'abs_rel', 'sq_rel', 'sq_err', 'sq_log',
          'log', 'abs_log10')


def _get(sample, key):
    """``sample[key]`` for dicts (what the Evaluator passes), else attr."""
    if isinstance(sample, dict):
        return sample[key]
    return getattr(sample, key)


def _as_map(x: torch.Tensor) -> torch.Tensor:
    """``(1, H, W)`` or ``(H, W)`` -> float CPU ``(H, W)``."""
    x = torch.as_tensor(x).detach().float().cpu()
    if x.dim() == 3 and x.shape[0] == 1:
        x = x[0]  # not squeeze(): a 1-pixel-high map must stay 2-D
    if x.dim() != 2:
        raise ValueError(f'expected a depth map (1, H, W) or (H, W), got '
                         f'shape {tuple(x.shape)}')
    return x


def _metrics_from_stats(s: Dict[str, float]) -> Dict[str, float]:
    """Metric values from summed statistics (``s['n'] > 0``)."""
    n = s['n']
    mean_sq_log = s['sq_log'] / n
    mean_log = s['log'] / n
    return {
        'd1': s['d1'] / n,
        'd2': s['d2'] / n,
        'd3': s['d3'] / n,
        'abs_rel': s['abs_rel'] / n,
        'sq_rel': s['sq_rel'] / n,
        'rmse': (s['sq_err'] / n)**0.5,
        'rmse_log': mean_sq_log**0.5,
        'log10': s['abs_log10'] / n,
        # float error can make this a hair below 0 for a perfect prediction
        'silog': max(mean_sq_log - 0.5 * mean_log**2, 0.0)**0.5,
    }


@METRICS.register_module()
class DepthMetric(BaseMetric):
    """Depth estimation metrics over **all** evaluated images.

    For each image, pixels count when ``gt > 0`` (invalid pixels are 0 by
    the project's convention, e.g. after ``mmmae.ApplyValidMask``), ``gt``
    is finite, ``min_depth_eval < gt < max_depth_eval`` and they lie inside
    ``crop`` (if given). Predictions are clamped to at least ``min_pred``
    so ratios and logs stay finite. With ``p`` prediction and ``g`` ground
    truth over the valid pixels:

    * ``d1``/``d2``/``d3``: fraction (0..1, as in mmseg) of pixels with
      ``max(p / g, g / p) < 1.25 ** k``;
    * ``abs_rel = mean(|p - g| / g)``, ``sq_rel = mean((p - g) ** 2 / g)``;
    * ``rmse = sqrt(mean((p - g) ** 2))`` (gt units: metres);
    * ``rmse_log = sqrt(mean((ln p - ln g) ** 2))``;
    * ``log10 = mean(|log10 p - log10 g|)``;
    * ``silog = sqrt(mean(e ** 2) - 0.5 * mean(e) ** 2)``, ``e = ln p -
      ln g`` (mmseg's definition, no x100).

    Key names match mmseg's ``DepthMetric``. Aggregation:

    * ``aggregate='image'`` (default, NYUv2 convention): each metric is
      computed per image, then averaged over every image with at least one
      valid pixel. The official MultiMAE script evaluated only the first 100
      of the 654 NYUv2 test images (``--max_val_images``, MultiMAE issue
      #28); this metric always uses every image it is given and reports
      ``num_images`` so the 654 can be checked in the log.
    * ``aggregate='pixel'``: pool the valid pixels of all images, then
      compute each metric once.

    Images without any valid pixel are excluded from both aggregates (no
    NaN), counted in ``num_empty_images`` and logged with a warning.

    If ``pred_depth_map`` and ``gt_depth_map`` differ in size (e.g. the gt
    was not resized with the image) the prediction is bilinearly resized to
    the gt.

    Args:
        min_depth_eval (float): Exclusive lower bound of evaluated gt.
            Defaults to 0 (``gt > 0`` is always required).
        max_depth_eval (float): Exclusive upper bound. Defaults to inf
            (NYUv2 papers often use 10).
        crop (tuple[int, int, int, int] | str, optional): Evaluate only
            rows ``top:bottom`` and columns ``left:right`` given as ``(top,
            bottom, left, right)`` in gt pixels, or ``'nyu_crop'`` for the
            Eigen crop :data:`NYU_EIGEN_CROP` (480x640 gt). Defaults to None.
        min_pred (float): Lower clamp of predictions. Defaults to 1e-3.
        aggregate (str): ``'image'`` or ``'pixel'``. Defaults to ``'image'``.
        metrics (Sequence[str], optional): Subset of :attr:`METRICS` to
            report. Defaults to all.
        collect_device (str): ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the result keys. Defaults to None.
    """

    METRICS = ('d1', 'd2', 'd3', 'abs_rel', 'sq_rel', 'rmse', 'rmse_log',
               'log10', 'silog')

    def __init__(self,
                 min_depth_eval: float = 0.0,
                 max_depth_eval: float = float('inf'),
                 crop: Optional[Union[str, Sequence[int]]] = None,
                 min_pred: float = 1e-3,
                 aggregate: str = 'image',
                 metrics: Optional[Sequence[str]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if aggregate not in ('image', 'pixel'):
            raise ValueError(
                f"aggregate must be 'image' or 'pixel', got {aggregate!r}")
        if isinstance(crop, str):
            if crop != 'nyu_crop':
                raise ValueError(f"crop must be None, 'nyu_crop' or (top, "
                                 f'bottom, left, right), got {crop!r}')
            crop = NYU_EIGEN_CROP
        if crop is not None:
            crop = tuple(int(c) for c in crop)
            if len(crop) != 4:
                raise ValueError(
                    f'crop must be (top, bottom, left, right), got {crop}')
        self.crop: Optional[Tuple[int, int, int, int]] = crop
        metrics = tuple(self.METRICS if metrics is None else metrics)
        unknown = set(metrics) - set(self.METRICS)
        if unknown:
            raise ValueError(f'unknown depth metrics {sorted(unknown)}; '
                             f'choose from {self.METRICS}')
        self.metrics = metrics
        if min_pred <= 0:
            raise ValueError(f'min_pred must be > 0, got {min_pred}')
        self.min_depth_eval = min_depth_eval
        self.max_depth_eval = max_depth_eval
        self.min_pred = min_pred
        self.aggregate = aggregate

    def _eval_mask(self, gt: torch.Tensor) -> torch.Tensor:
        """Bool mask of evaluated pixels of a gt map ``(H, W)``."""
        mask = (gt > 0) & torch.isfinite(gt) & (gt > self.min_depth_eval) & \
            (gt < self.max_depth_eval)
        if self.crop is not None:
            top, bottom, left, right = self.crop
            crop_mask = torch.zeros_like(mask)
            crop_mask[top:bottom, left:right] = True
            mask &= crop_mask
        return mask

    def image_stats(self, pred: torch.Tensor,
                    gt: torch.Tensor) -> Dict[str, float]:
        """Summed statistics of one image's evaluated pixels.

        Args:
            pred (Tensor): Predicted depth ``(H', W')`` or ``(1, H', W')``.
            gt (Tensor): Ground truth ``(H, W)`` or ``(1, H, W)``; 0 marks
                invalid pixels.

        Returns:
            dict[str, float]: ``n`` (valid pixels) and the sums in
            ``_STATS``; all zero when ``n == 0``.
        """
        gt, pred = _as_map(gt), _as_map(pred)
        if pred.shape != gt.shape:
            pred = F.interpolate(
                pred[None, None],
                size=gt.shape,
                mode='bilinear',
                align_corners=False)[0, 0]
        mask = self._eval_mask(gt)
        g = gt[mask].double()
        p = pred[mask].double().clamp_min(self.min_pred)
        if g.numel() == 0:
            return {k: 0.0 for k in _STATS}
        ratio = torch.maximum(p / g, g / p)
        err = p - g
        log_err = torch.log(p) - torch.log(g)
        return {
            'n': float(g.numel()),
            'd1': (ratio < 1.25).sum().item(),
            'd2': (ratio < 1.25**2).sum().item(),
            'd3': (ratio < 1.25**3).sum().item(),
            'abs_rel': (err.abs() / g).sum().item(),
            'sq_rel': (err.pow(2) / g).sum().item(),
            'sq_err': err.pow(2).sum().item(),
            'sq_log': log_err.pow(2).sum().item(),
            'log': log_err.sum().item(),
            'abs_log10': (torch.log10(p) - torch.log10(g)).abs().sum().item(),
        }

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store per-image statistics (one result per sample).

        Args:
            data_batch: Unused.
            data_samples (Sequence[dict]): Model outputs with
                ``pred_depth_map`` and ``gt_depth_map`` (``PixelData`` or
                their dict form, ``data`` of shape ``(1, H, W)``).
        """
        for sample in data_samples:
            pred = _get(_get(sample, 'pred_depth_map'), 'data')
            gt = _get(_get(sample, 'gt_depth_map'), 'data')
            stats = self.image_stats(pred, gt)
            if stats['n'] == 0:
                try:
                    stats['img_path'] = _get(sample, 'img_path')
                except (KeyError, AttributeError):
                    stats['img_path'] = None
            self.results.append(stats)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Aggregate the per-image statistics.

        Args:
            results (list[dict]): Outputs of :meth:`image_stats`, one per
                image, gathered from all ranks.

        Returns:
            dict[str, float]: The selected metrics, plus ``num_images``
            (images evaluated) and ``num_empty_images`` (skipped for lack of
            valid pixels). Metrics are NaN only if no image had a valid
            pixel.
        """
        valid = [r for r in results if r['n'] > 0]
        empty = [r for r in results if r['n'] == 0]
        if empty:
            names = [r.get('img_path') for r in empty[:5]]
            print_log(
                f'DepthMetric: {len(empty)} of {len(results)} images have no '
                f'valid gt pixel and are excluded (first: {names})',
                logger='current',
                level=logging.WARNING)
        if not valid:
            values = {k: float('nan') for k in self.METRICS}
        elif self.aggregate == 'image':
            per_image = [_metrics_from_stats(r) for r in valid]
            values = {
                k: sum(m[k] for m in per_image) / len(per_image)
                for k in self.METRICS
            }
        else:
            total = {k: sum(r[k] for r in valid) for k in _STATS}
            values = _metrics_from_stats(total)
        out = OrderedDict((k, values[k]) for k in self.metrics)
        out['num_images'] = len(valid)
        out['num_empty_images'] = len(empty)
        table = ', '.join(f'{k}: {v:.4f}' for k, v in out.items()
                          if k in self.metrics)
        print_log(
            f'DepthMetric ({self.aggregate} mean over {len(valid)} images, '
            f'{len(empty)} without valid pixels): {table}',
            logger='current')
        return out
