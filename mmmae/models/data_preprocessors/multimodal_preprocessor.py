# Copyright (c) mmmae contributors. All rights reserved.
"""Data preprocessor for multi-modal (MultiMAE) inputs."""
from typing import Dict, Mapping, Sequence

import numpy as np
import torch
from mmengine.model import BaseDataPreprocessor

from mmmae.registry import MODELS

__all__ = ['MultiMAEDataPreprocessor', 'truncated_standardize']

IMAGENET_MEAN_255 = (123.675, 116.28, 103.53)
IMAGENET_STD_255 = (58.395, 57.12, 57.375)


def truncated_standardize(depth: torch.Tensor, trunc: float = 0.1,
                          eps: float = 1e-6) -> torch.Tensor:
    """Official per-image truncated depth standardisation.

    Per sample: sort all values, keep those between the ``trunc`` and
    ``1 - trunc`` quantile positions (``[int(trunc*n), int((1-trunc)*n))``),
    then ``(d - mean) / sqrt(var + eps)`` with their mean and unbiased
    variance. Robust to the far-away/invalid extremes of pseudo depth.

    Args:
        depth (Tensor): ``(B, ...)`` float.
        trunc (float): Fraction dropped at each end. Defaults to 0.1.
        eps (float): Defaults to 1e-6.

    Returns:
        Tensor: Same shape and dtype.
    """
    B = depth.shape[0]
    flat = depth.reshape(B, -1).float()
    n = flat.shape[1]
    kept = torch.sort(flat, dim=1)[0][:, int(trunc * n):int((1 - trunc) * n)]
    shape = (B, ) + (1, ) * (depth.dim() - 1)
    mean = kept.mean(dim=1).view(shape)
    var = kept.var(dim=1).view(shape)
    return ((depth.float() - mean) / torch.sqrt(var + eps)).to(depth.dtype)


@MODELS.register_module()
class MultiMAEDataPreprocessor(BaseDataPreprocessor):
    """Batch, normalise and move multi-modal inputs to the device.

    ``inputs`` is a list of per-sample dicts (``pseudo_collate``'d packed
    samples give a dict of lists, which is accepted too, as is a dict of
    batched tensors). Per modality:

    * ``rgb_keys``: uint8/float ``(3, H, W)`` (or clips ``(3, T, H, W)``)
      in 0-255 -> float ``(x - mean) / std``;
    * ``depth_keys``: float ``(1, H, W)`` (or ``(1, T, H, W)``) ->
      truncated per-sample standardisation (:func:`truncated_standardize`)
      when ``standardize_depth``;
    * ``seg_keys``: ``(h, w)`` (or ``(T, h, w)``) ids -> int64;
    * anything else: stacked and cast to float32.

    Data samples are passed through (moved to the device; their ``masks``
    are read by the algorithm).

    Args:
        mean (Sequence[float]): RGB mean, 0-255 units. Defaults to ImageNet.
        std (Sequence[float]): RGB std, 0-255 units. Defaults to ImageNet.
        rgb_keys (Sequence[str]): Defaults to ``('rgb',)``.
        depth_keys (Sequence[str]): Defaults to ``('depth',)``.
        seg_keys (Sequence[str]): Defaults to ``('semseg',)``.
        standardize_depth (bool): Defaults to True.
        depth_trunc (float): Fraction dropped at each end. Defaults to 0.1.
        non_blocking (bool): Non-blocking host-to-device copies.
    """

    def __init__(self,
                 mean: Sequence[float] = IMAGENET_MEAN_255,
                 std: Sequence[float] = IMAGENET_STD_255,
                 rgb_keys: Sequence[str] = ('rgb', ),
                 depth_keys: Sequence[str] = ('depth', ),
                 seg_keys: Sequence[str] = ('semseg', ),
                 standardize_depth: bool = True,
                 depth_trunc: float = 0.1,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        if len(mean) != len(std):
            raise ValueError('mean and std must have the same length')
        self.register_buffer(
            'mean', torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1),
            persistent=False)
        self.register_buffer(
            'std', torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1),
            persistent=False)
        self.rgb_keys = tuple(rgb_keys)
        self.depth_keys = tuple(depth_keys)
        self.seg_keys = tuple(seg_keys)
        self.standardize_depth = standardize_depth
        self.depth_trunc = depth_trunc

    @staticmethod
    def _to_tensor(x) -> torch.Tensor:
        if isinstance(x, np.ndarray):
            return torch.from_numpy(np.ascontiguousarray(x))
        if not isinstance(x, torch.Tensor):
            raise TypeError(f'expected a tensor or array, got {type(x)}')
        return x

    def _stack(self, inputs) -> Dict[str, torch.Tensor]:
        """list of dicts | dict of lists | dict of tensors -> dict of
        batched tensors."""
        if isinstance(inputs, (list, tuple)):
            if not inputs or not all(isinstance(i, Mapping) for i in inputs):
                raise TypeError('inputs must be a list of per-sample dicts')
            keys = list(inputs[0])
            for i, sample in enumerate(inputs):
                if list(sample) != keys:
                    raise KeyError(f'sample {i} has modalities '
                                   f'{list(sample)}, sample 0 has {keys}')
            inputs = {k: [s[k] for s in inputs] for k in keys}
        if not isinstance(inputs, Mapping):
            raise TypeError(
                f'inputs must be a dict or list of dicts, got {type(inputs)}')
        out = {}
        for k, v in inputs.items():
            if isinstance(v, (list, tuple)):
                v = torch.stack([self._to_tensor(x) for x in v])
            out[k] = self._to_tensor(v)
        return out

    def normalize(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Normalise one batched modality (see the class docstring)."""
        if name in self.rgb_keys:
            mean, std = self._stats(x)
            return (x.float() - mean) / std
        if name in self.depth_keys:
            x = x.float()
            if x.dim() == 3:
                x = x.unsqueeze(1)
            if self.standardize_depth:
                x = truncated_standardize(x, self.depth_trunc)
            return x
        if name in self.seg_keys:
            if x.dim() == 4 and x.shape[1] == 1:
                x = x.squeeze(1)
            return x.long()
        return x.float()

    def _stats(self, x: torch.Tensor):
        """Mean and std shaped for ``(B, 3, H, W)`` or ``(B, 3, T, H, W)``."""
        shape = (1, -1) + (1, ) * (x.dim() - 2)
        return self.mean.view(shape), self.std.view(shape)

    def denormalize_rgb(self, x: torch.Tensor) -> torch.Tensor:
        """Inverse of the rgb normalisation: 0-255 float ``(B, 3, H, W)``
        (or ``(B, 3, T, H, W)`` clips)."""
        mean, std = self._stats(x)
        return x * std + mean

    def forward(self, data: dict, training: bool = False) -> dict:
        """Batch and normalise.

        Args:
            data (dict): ``inputs`` (see the class docstring) and optionally
                ``data_samples``.
            training (bool): Unused (no batch augmentation).

        Returns:
            dict: ``inputs`` ``{name: batched tensor}`` on the device and
            ``data_samples``.
        """
        inputs = self._stack(data['inputs'])
        inputs = {
            k: self.normalize(k, self.cast_data(v))
            for k, v in inputs.items()
        }
        data_samples = data.get('data_samples', None)
        if data_samples is not None:
            data_samples = self.cast_data(data_samples)
        return dict(inputs=inputs, data_samples=data_samples)
