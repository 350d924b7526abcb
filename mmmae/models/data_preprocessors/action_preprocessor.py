# Copyright (c) mmmae contributors. All rights reserved.
"""MMAction2 data preprocessor for channel-stacked RGB / depth clips.

:class:`~mmmae.datasets.transforms.PackMultiModalVideoActionInputs` stacks
the modalities of a clip into one ``(V, C, T, H, W)`` tensor; this
preprocessor normalises each channel group the way the multi-modal video MAE
saw it in pretraining (rgb: mean/std; depth: per-clip truncated
standardisation over the valid pixels, invalid pixels 0), so MMAction2's
``Recognizer3D`` carries one tensor to
:class:`~mmmae.models.MultiModalViT`, which splits it again.
"""
from collections import OrderedDict
from typing import Mapping, Optional, Sequence

import torch
from mmaction.models.data_preprocessors import ActionDataPreprocessor
from mmengine.model.utils import stack_batch

from mmmae.registry import MODELS
from .lazy_geometry import apply_lazy_erasing, apply_lazy_geometry, lazy_params
from .seg_preprocessor import masked_truncated_standardize

__all__ = ['MultiModalActionDataPreprocessor', 'LazyAugActionDataPreprocessor']

IMAGENET_MEAN_255 = (123.675, 116.28, 103.53)
IMAGENET_STD_255 = (58.395, 57.12, 57.375)


@MODELS.register_module()
class MultiModalActionDataPreprocessor(ActionDataPreprocessor):
    """Batch and normalise channel-stacked clips ``(V, C, T, H, W)``.

    Args:
        channels (dict): Channel groups in stacking order, e.g.
            ``dict(rgb=3, depth=1)``; must match the packer's
            ``modalities`` and the backbone's ``input_channels``.
        mean (Sequence[float]): RGB mean, 0-255. Defaults to ImageNet.
        std (Sequence[float]): RGB std, 0-255. Defaults to ImageNet.
        rgb_keys (Sequence[str]): Groups normalised with mean/std.
        depth_keys (Sequence[str]): Groups standardised per clip
            (:func:`masked_truncated_standardize`, 0 = no depth).
        depth_trunc (float): Fraction of the valid depths dropped at each
            end for the statistics. Defaults to 0.1 (MultiMAE).
        blending (dict, optional): MMAction2 batch blending (mixup,
            cutmix), applied after the normalisation in training.
    """

    def __init__(self,
                 channels: Mapping[str, int] = dict(rgb=3),
                 mean: Sequence[float] = IMAGENET_MEAN_255,
                 std: Sequence[float] = IMAGENET_STD_255,
                 rgb_keys: Sequence[str] = ('rgb', ),
                 depth_keys: Sequence[str] = ('depth', ),
                 depth_trunc: float = 0.1,
                 blending: Optional[dict] = None) -> None:
        super().__init__(format_shape='NCTHW', blending=blending)
        self.channels = OrderedDict(channels)
        for name in self.channels:
            if name in rgb_keys and self.channels[name] != len(mean):
                raise ValueError(f'{name} has {self.channels[name]} '
                                 f'channels but mean has {len(mean)}')
        self.register_buffer(
            'rgb_mean',
            torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1, 1), False)
        self.register_buffer(
            'rgb_std',
            torch.tensor(std, dtype=torch.float32).view(-1, 1, 1, 1), False)
        self.rgb_keys = tuple(rgb_keys)
        self.depth_keys = tuple(depth_keys)
        self.depth_trunc = depth_trunc

    def preprocess(self, inputs, data_samples, training: bool = False):
        """Stack to ``(B, V, C, T, H, W)`` float and normalise each group."""
        batch = stack_batch(inputs).float()
        total = sum(self.channels.values())
        if batch.dim() != 6 or batch.shape[2] != total:
            raise ValueError(
                f'MultiModalActionDataPreprocessor got a batch of shape '
                f'{tuple(batch.shape)}; channels={dict(self.channels)} '
                f'expects (B, V, {total}, T, H, W) from '
                'PackMultiModalVideoActionInputs with the same modalities')
        parts, c = [], 0
        for name, n in self.channels.items():
            x = batch[:, :, c:c + n]
            c += n
            if name in self.rgb_keys:
                x = (x - self.rgb_mean) / self.rgb_std
            elif name in self.depth_keys:
                B, V = x.shape[:2]
                x = masked_truncated_standardize(
                    x.reshape(B * V, *x.shape[2:]),
                    self.depth_trunc).reshape(x.shape)
            parts.append(x)
        batch = torch.cat(parts, dim=2)
        if training and self.blending is not None:
            batch, data_samples = self.blending(batch, data_samples)
        return batch, data_samples


@MODELS.register_module()
class LazyAugActionDataPreprocessor(ActionDataPreprocessor):
    """MMAction2's ``ActionDataPreprocessor`` that first applies the crop,
    resize, flip and random erasing which the pipeline only drew
    (:class:`~mmmae.datasets.transforms.PackLazyActionInputs`), batched on
    the device; then normalisation and blending (MixUp / CutMix) as usual.

    Batches packed the eager way (``PackActionInputs``) pass through
    unchanged, so the same model config evaluates with the usual val / test
    pipelines. Arguments: those of ``ActionDataPreprocessor``;
    ``format_shape`` must be ``'NCTHW'``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.format_shape != 'NCTHW':
            raise ValueError(
                'LazyAugActionDataPreprocessor needs '
                f"format_shape='NCTHW', got {self.format_shape!r}")

    def preprocess(self, inputs, data_samples, training: bool = False):
        """Apply the recorded geometry, then ``ActionDataPreprocessor``'s
        steps; inputs ``(T, H, W, C)`` uint8 per lazy clip."""
        lazy = lazy_params(data_samples)
        if lazy:
            batch = apply_lazy_geometry(list(inputs), lazy, self.device,
                                        self._non_blocking)
            apply_lazy_erasing(batch, lazy)
            inputs = list(batch[:, None])  # one NCTHW view per clip
        return super().preprocess(inputs, data_samples, training)
