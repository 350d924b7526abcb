# Copyright (c) mmmae contributors. All rights reserved.
"""MMSeg data preprocessor for channel-stacked RGB / depth / semseg inputs.

:class:`~mmmae.datasets.transforms.PackMultiModalSegInputs` stacks the
modalities of a sample into one ``(C, H, W)`` tensor; this preprocessor
normalises each channel group the way MultiMAE fine-tuning does, then pads
and batches like mmseg's ``SegDataPreProcessor``, so mmseg's
``EncoderDecoder`` / ``DepthEstimator`` (slide inference included) carry the
tensor unchanged to :class:`~mmmae.models.MultiMAEViT`, which splits it again
with the same channel layout.
"""
from collections import OrderedDict
from typing import Any, Dict, Mapping, Optional, Sequence

import torch
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.utils import stack_batch

from mmmae.registry import MODELS

__all__ = ['MultiModalSegDataPreProcessor', 'masked_truncated_standardize']


def masked_truncated_standardize(depth: torch.Tensor,
                                 trunc: float = 0.1,
                                 eps: float = 1e-6) -> torch.Tensor:
    """Per-image truncated standardisation over the *valid* pixels.

    Like :func:`~mmmae.models.data_preprocessors.truncated_standardize`
    (official MultiMAE depth normalisation), but the statistics come from the
    pixels with ``depth > 0`` only, and invalid pixels are 0 afterwards
    (official fine-tuning: "invalid pixels set to 0"). Vectorised over the
    batch.

    Args:
        depth (Tensor): ``(B, 1, H, W)`` (any ``(B, ...)``) depth, 0 =
            invalid.
        trunc (float): Fraction of the valid values dropped at each end.
        eps (float): Added to the variance.

    Returns:
        Tensor: Same shape, float.
    """
    B = depth.shape[0]
    flat = depth.reshape(B, -1).float()
    valid = flat > 0
    n = valid.sum(1)
    ordered = torch.sort(
        torch.where(valid, flat, torch.full_like(flat, float('inf'))),
        dim=1)[0]
    lo = (trunc * n).long()
    hi = ((1 - trunc) * n).long()
    pos = torch.arange(flat.shape[1], device=flat.device)
    keep = (pos >= lo[:, None]) & (pos < hi[:, None])
    cnt = keep.sum(1).clamp_min(1)
    kept = torch.where(keep, ordered, torch.zeros_like(ordered))
    mean = kept.sum(1) / cnt
    dev = torch.where(keep, ordered - mean[:, None], torch.zeros_like(ordered))
    var = dev.pow(2).sum(1) / (cnt - 1).clamp_min(1)
    out = (flat - mean[:, None]) / torch.sqrt(var[:, None] + eps)
    return torch.where(valid, out, torch.zeros_like(out)).reshape(depth.shape)


@MODELS.register_module()
class MultiModalSegDataPreProcessor(SegDataPreProcessor):
    """``SegDataPreProcessor`` for channel-stacked multi-modal inputs.

    Args:
        modalities (dict): Channel groups in stacking order, ``name ->
            channels``, e.g. ``dict(rgb=3, depth=1)``; must equal the
            backbone's ``input_channels``. Defaults to ``dict(rgb=3)``.
        mean (Sequence[float]): RGB mean (0-255 scale).
        std (Sequence[float]): RGB std.
        bgr_to_rgb (bool): Flip the RGB group from BGR (mmcv loading).
        keep (Sequence[str], optional): Channel groups passed on to the
            model, in ``modalities`` order; the others are dropped after
            loading. One RGB-D pipeline then serves RGB (``('rgb',)``),
            depth (``('depth',)``) and RGB-D models. Defaults to all.
        depth_norm (str): ``'truncated'`` (official per-image truncated
            standardisation over valid pixels, invalid -> 0) or ``'none'``.
            Applied to every group named ``depth*``.
        size, size_divisor, pad_val, seg_pad_val, test_cfg, batch_augments:
            As mmseg's ``SegDataPreProcessor``. Padding happens *after*
            normalisation, so ``pad_val=0`` is the mean colour for RGB and
            "invalid" for depth. For depth *targets* use ``seg_pad_val=0``
            (mmseg pads ``gt_depth_map`` with it).
    """

    def __init__(self,
                 modalities: Optional[Mapping[str, int]] = None,
                 mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375),
                 bgr_to_rgb: bool = True,
                 keep: Optional[Sequence[str]] = None,
                 depth_norm: str = 'truncated',
                 size: Optional[tuple] = None,
                 size_divisor: Optional[int] = None,
                 pad_val: float = 0,
                 seg_pad_val: float = 255,
                 batch_augments: Optional[list] = None,
                 test_cfg: Optional[dict] = None) -> None:
        super().__init__(
            mean=None,
            std=None,
            size=size,
            size_divisor=size_divisor,
            pad_val=pad_val,
            seg_pad_val=seg_pad_val,
            bgr_to_rgb=False,
            rgb_to_bgr=False,
            batch_augments=batch_augments,
            test_cfg=test_cfg)
        if depth_norm not in ('truncated', 'none'):
            raise ValueError(
                f"depth_norm must be 'truncated' or 'none', "
                f"got {depth_norm!r}")
        self.modalities = OrderedDict(modalities or dict(rgb=3))
        self.keep = tuple(keep) if keep is not None else tuple(
            self.modalities)
        unknown = [k for k in self.keep if k not in self.modalities]
        if unknown or not self.keep:
            raise ValueError(
                f'keep={list(self.keep)} must be a non-empty subset of '
                f'modalities {list(self.modalities)}')
        self.depth_norm = depth_norm
        self.flip_rgb = bgr_to_rgb
        self.register_buffer('rgb_mean',
                             torch.tensor(mean).view(-1, 1, 1), False)
        self.register_buffer('rgb_std',
                             torch.tensor(std).view(-1, 1, 1), False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise one stacked sample ``(C, H, W)`` group by group."""
        total = sum(self.modalities.values())
        if x.shape[0] != total:
            raise ValueError(
                f'input has {x.shape[0]} channels but modalities='
                f'{dict(self.modalities)} needs {total}; make '
                'data_preprocessor.modalities match the pipeline\'s '
                'PackMultiModalSegInputs(modalities=...)')
        parts, c = [], 0
        for name, n in self.modalities.items():
            part = x[c:c + n].float()
            c += n
            if name not in self.keep:
                continue
            if name == 'rgb':
                if self.flip_rgb and n == 3:
                    part = part[[2, 1, 0]]
                part = (part - self.rgb_mean) / self.rgb_std
            elif name.startswith('depth') and self.depth_norm == 'truncated':
                part = masked_truncated_standardize(part[None])[0]
            parts.append(part)
        return torch.cat(parts, 0)

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        """Normalise, pad and batch (see mmseg's ``SegDataPreProcessor``)."""
        data = self.cast_data(data)
        inputs = [self.normalize(x) for x in data['inputs']]
        data_samples = data.get('data_samples', None)
        if training:
            if data_samples is None:
                raise ValueError('training needs data_samples')
            inputs, data_samples = stack_batch(
                inputs=inputs,
                data_samples=data_samples,
                size=self.size,
                size_divisor=self.size_divisor,
                pad_val=self.pad_val,
                seg_pad_val=self.seg_pad_val)
            if self.batch_augments is not None:
                inputs, data_samples = self.batch_augments(
                    inputs, data_samples)
        elif self.test_cfg:
            inputs, padded = stack_batch(
                inputs=inputs,
                size=self.test_cfg.get('size', None),
                size_divisor=self.test_cfg.get('size_divisor', None),
                pad_val=self.pad_val,
                seg_pad_val=self.seg_pad_val)
            if data_samples is not None:
                for sample, pad_info in zip(data_samples, padded):
                    sample.set_metainfo({**pad_info})
        else:
            shape = inputs[0].shape[1:]
            if any(x.shape[1:] != shape for x in inputs):
                raise ValueError(
                    'test images of one batch differ in size; set '
                    'data_preprocessor.test_cfg=dict(size_divisor=...) or '
                    'test batch size 1')
            inputs = torch.stack(inputs, dim=0)
        return dict(inputs=inputs, data_samples=data_samples)
