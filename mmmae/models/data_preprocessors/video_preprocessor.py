# Copyright (c) mmmae contributors. All rights reserved.
"""Data preprocessor for masked video pretraining."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.model import BaseDataPreprocessor
from mmengine.structures import BaseDataElement

from mmmae.registry import MODELS
from .lazy_geometry import (apply_lazy_erasing, apply_lazy_geometry,
                            lazy_params)

__all__ = ['VideoMAEDataPreprocessor', 'set_sample_field']

IMAGENET_MEAN_255 = (123.675, 116.28, 103.53)
IMAGENET_STD_255 = (58.395, 57.12, 57.375)

MaskLike = Union[np.ndarray, torch.Tensor]


def set_sample_field(sample: BaseDataElement, name: str, value) -> None:
    """Set ``sample.<name>``, as metainfo when it already is metainfo.

    ``BaseDataElement`` refuses to turn a metainfo key into a data field, and
    a pipeline may pack masks either way.

    Args:
        sample (BaseDataElement): Data sample to update in place.
        name (str): Field name.
        value: New value.
    """
    if name in sample.metainfo_keys():
        sample.set_metainfo({name: value})
    else:
        setattr(sample, name, value)


@MODELS.register_module()
class VideoMAEDataPreprocessor(BaseDataPreprocessor):
    """Batch, normalise and move clips and token masks to the device.

    ``inputs`` is a list of per-sample uint8 tensors ``(V, C, T, H, W)`` (the
    output of mmaction's ``FormatShape('NCTHW')`` + ``PackActionInputs``; V
    views/clips per sample) or ``(C, T, H, W)``, or an already batched tensor
    ``(B, V, C, T, H, W)`` / ``(B, C, T, H, W)``. Views are flattened into the
    batch, so the model sees ``(B*V, C, T, H, W)`` float32. Samples packed by
    :class:`~mmmae.datasets.transforms.PackLazyActionInputs` (uint8
    ``(T, H, W, C)`` at the decoded resolution, crop / resize / flip only
    drawn) are cropped, resized and flipped here, on the device, as one batch
    (:func:`~mmmae.models.data_preprocessors.lazy_geometry.
    apply_lazy_geometry`).

    Masks are read from ``data_samples[i].mask`` and ``.decoder_mask``
    (numpy or tensor, ``(N,)`` or ``(V, N)``; a ``(N,)`` mask is shared by all
    views), converted to bool tensors on the device, and written back as one
    ``(N,)`` row per (sample, view). With ``V > 1`` the data-sample list is
    expanded (each view gets a clone) so that
    ``len(data_samples) == B * V``.

    While the masks are still on the host, the tokens each row keeps (False
    entries) are counted; when every row agrees, the count is recorded as
    the metainfo ``num_visible`` (``mask``) / ``num_decoded``
    (``decoder_mask``) of every sample. The model then selects tokens with
    fixed-size gathers: no device sync, one ``torch.compile`` graph.

    Args:
        mean (Sequence[float]): Per-channel mean in 0-255 units. Defaults to
            ImageNet.
        std (Sequence[float]): Per-channel std in 0-255 units. Defaults to
            ImageNet.
        to_float32 (bool): Cast floating inputs of other precisions to
            float32 (integer inputs always become float32). Defaults to True.
        non_blocking (bool): Non-blocking host-to-device copies.
    """

    mask_keys: Tuple[str, ...] = ('mask', 'decoder_mask')
    # metainfo name of the host-side count of False entries per mask row
    count_keys: Dict[str, str] = {
        'mask': 'num_visible',
        'decoder_mask': 'num_decoded'
    }

    def __init__(self,
                 mean: Sequence[float] = IMAGENET_MEAN_255,
                 std: Sequence[float] = IMAGENET_STD_255,
                 to_float32: bool = True,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        if len(mean) != len(std):
            raise ValueError('mean and std must have the same length')
        self.to_float32 = to_float32
        shape = (1, len(mean), 1, 1, 1)
        mean64 = torch.tensor(mean, dtype=torch.float64)
        std64 = torch.tensor(std, dtype=torch.float64)
        self.register_buffer(
            'mean', mean64.float().view(shape), persistent=False)
        self.register_buffer(
            'std', std64.float().view(shape), persistent=False)
        # Divided in float64 first, so ImageNet gives exactly the float32
        # constants of the official ``x * std + mean`` un-normalisation.
        self.register_buffer(
            'mean01', (mean64 / 255).float().view(shape), persistent=False)
        self.register_buffer(
            'std01', (std64 / 255).float().view(shape), persistent=False)

    # Not traced by torch.compile (MMEngine's `compile` wraps train_step,
    # which calls this): dynamo fails on the numpy masks inside the data
    # samples, and list munging plus host-to-device copies gain nothing.
    @torch.compiler.disable
    def forward(self, data: dict, training: bool = False) -> dict:
        """Pre-process one batch from the dataloader.

        Args:
            data (dict): ``inputs`` and optionally ``data_samples``.
            training (bool): Unused; masks come from the pipeline.

        Returns:
            dict: ``inputs`` ``(B*V, C, T, H, W)`` float and ``data_samples``
            (``B*V`` of them, or None).
        """
        data = self.cast_data(data)
        inputs = data['inputs']
        data_samples = data.get('data_samples', None)

        lazy = lazy_params(data_samples)
        if lazy:
            batch = apply_lazy_geometry(list(inputs), lazy, self.device,
                                        self._non_blocking)
            apply_lazy_erasing(batch, lazy)
        elif isinstance(inputs, torch.Tensor):
            batch = inputs
        else:
            batch = torch.stack(list(inputs))
        if batch.dim() == 6:
            num_views = batch.shape[1]
            batch = batch.flatten(0, 1)
        elif batch.dim() == 5:
            num_views = 1
        else:
            raise ValueError('inputs must be (V, C, T, H, W) or (C, T, H, W) '
                             f'per sample, got batch {tuple(batch.shape)}')
        if batch.shape[1] != self.mean.shape[1]:
            raise ValueError(f'inputs have {batch.shape[1]} channels, '
                             f'mean/std {self.mean.shape[1]}')
        # the lazy path's output is a fresh float tensor: normalise in place
        batch = self.normalize(batch, inplace=bool(lazy))

        if data_samples is not None:
            data_samples = self._prepare_samples(
                list(data_samples), num_views, batch.shape[0])
        return dict(inputs=batch, data_samples=data_samples)

    def normalize(self, x: torch.Tensor,
                  inplace: bool = False) -> torch.Tensor:
        """``(x - mean) / std`` in 0-255 units.

        Args:
            x (Tensor): ``(B, C, T, H, W)`` uint8 or float.
            inplace (bool): Overwrite a float ``x`` (the caller owns it).

        Returns:
            Tensor: ``(B, C, T, H, W)`` float (float32 unless a float input
            is kept by ``to_float32=False``).
        """
        if not x.is_floating_point():
            # The cast gives a fresh tensor, so in place is safe and saves
            # two full-size temporaries.
            x = x.float()
            return x.sub_(self.mean).div_(self.std)
        if inplace:
            return x.sub_(self.mean.to(x.dtype)).div_(self.std.to(x.dtype))
        if self.to_float32:
            x = x.float()
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Map a normalised clip back to ``[0, 1]`` pixels.

        Args:
            x (Tensor): ``(B, C, T, H, W)`` or ``(C, T, H, W)``.

        Returns:
            Tensor: Same shape, ``x * std / 255 + mean / 255``.
        """
        std01, mean01 = self.std01, self.mean01
        if x.dim() == 4:
            std01, mean01 = std01[0], mean01[0]
        return x * std01 + mean01

    def _stack_masks(self, masks: List[MaskLike], num_views: int,
                     key: str) -> Tuple[torch.Tensor, Optional[int]]:
        """Per-sample ``(N,)``/``(V, N)`` masks -> ``(B*V, N)`` bool, and
        the number of False entries per row when every row has the same
        and the masks were on the host (None otherwise: counting device
        masks would sync)."""
        rows = []
        for i, m in enumerate(masks):
            if not isinstance(m, torch.Tensor):
                m = torch.from_numpy(np.asarray(m))
            if m.dim() == 1:
                m = m[None].expand(num_views, -1)
            elif m.dim() == 2 and m.shape[0] == 1:
                m = m.expand(num_views, -1)
            elif m.dim() != 2 or m.shape[0] != num_views:
                raise ValueError(
                    f'data_samples[{i}].{key} has shape {tuple(m.shape)}; '
                    f'expected (N,) or ({num_views}, N) for {num_views} '
                    'view(s)')
            rows.append(m)
        count = None
        if all(r.device.type == 'cpu' for r in rows):
            host = torch.stack(rows).flatten(0, 1).bool()
            kept = host.shape[1] - host.sum(1)
            if bool((kept == kept[0]).all()):
                count = int(kept[0])
            # One host-to-device copy for the whole batch.
            stacked = host.to(self.device, non_blocking=self._non_blocking)
        else:
            stacked = torch.stack([r.to(self.device) for r in rows])
            stacked = stacked.flatten(0, 1).bool()
        return stacked, count

    def _prepare_samples(self, data_samples: List[BaseDataElement],
                         num_views: int,
                         batch_size: int) -> List[BaseDataElement]:
        if len(data_samples) * num_views != batch_size:
            raise ValueError(
                f'{len(data_samples)} data samples x {num_views} views != '
                f'{batch_size} clips')
        stacked, counts = {}, {}
        for key in self.mask_keys:
            values = [ds.get(key, None) for ds in data_samples]
            present = [v is not None for v in values]
            if not any(present):
                continue
            if not all(present):
                missing = [i for i, p in enumerate(present) if not p]
                raise ValueError(f'data samples {missing} have no {key!r} '
                                 'while others do')
            stacked[key], counts[key] = self._stack_masks(
                values, num_views, key)

        if num_views == 1:
            out = data_samples
        else:
            out = [
                ds.clone() for ds in data_samples for _ in range(num_views)
            ]
        for key, value in stacked.items():
            count_key = self.count_keys.get(key)
            for i, ds in enumerate(out):
                set_sample_field(ds, key, value[i])
                if count_key is None:
                    continue
                if counts[key] is not None:
                    ds.set_metainfo({count_key: counts[key]})
                elif count_key in ds.metainfo_keys():
                    # a count from an earlier pass would now be stale
                    ds.set_metainfo({count_key: None})
        return out
