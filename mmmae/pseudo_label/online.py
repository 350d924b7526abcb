# Copyright (c) mmmae contributors. All rights reserved.
"""Pseudo-labelling inside a data pipeline (small datasets, quick trials).

For ImageNet-scale pre-training label offline once with
``tools/generate_pseudo_labels.py``; running a labeller on every sample of
every epoch costs a full forward pass of the labelling model per image.
"""
import os
from typing import Optional, Union

import numpy as np
from mmcv.transforms import BaseTransform

from mmmae.registry import TRANSFORMS
from .labelers import BaseMMSegLabeler, build_labeler, encode_depth

__all__ = ['OnlinePseudoLabel']


@TRANSFORMS.register_module()
class OnlinePseudoLabel(BaseTransform):
    """Add a pseudo depth or semseg map predicted by a labeller.

    The labeller (and its model) is built lazily on the first call, once per
    process (so once per dataloader worker; the transform pickles without
    it). Two layouts are supported:

    * multi-modal (mmmae ``LoadMultiModalImages``): when ``results`` has an
      ``images`` dict, the input is ``images[src_key]`` (RGB uint8) and the
      label goes to ``images[out_key]``;
    * flat (``LoadImageFromFile``): the input is ``results[src_key]``
      (``channel_order`` BGR by default, as mmcv loads it) and the label
      goes to ``results[out_key]``.

    Output arrays follow the on-disk conventions the loaders produce, so
    online and offline labels are interchangeable: semseg -> ``(H, W)``
    int64 class ids; depth -> ``(H, W)`` float32 equal to the 16-bit PNG
    value divided by ``depth_divisor`` (quantised exactly like the offline
    tool, with ``round(depth * depth_scale)``), or the raw float depth when
    ``depth_scale`` is None.

    Args:
        labeler (dict | BaseMMSegLabeler): labeller config (registry
            ``mmmae.registry.PSEUDO_LABELERS``) or instance.
        out_key (str, optional): key / modality name of the output
            (default: the labeller's task, ``'semseg'`` or ``'depth'``).
        src_key (str, optional): input key / modality (default ``'rgb'``
            in the multi-modal layout, ``'img'`` in the flat one).
        channel_order (str): channel order of the flat input
            (``'bgr'``, default, or ``'rgb'``); multi-modal rgb is RGB.
        depth_scale (float, optional): metres -> PNG value (default 1000).
        depth_divisor (float): PNG value -> pipeline value (default
            ``2**16``, the mmmae multi-modal loader's ``depth_scale``).
        overwrite (bool): replace an existing label (default False: keep a
            label loaded from disk).
    """

    def __init__(self,
                 labeler: Union[dict, BaseMMSegLabeler],
                 out_key: Optional[str] = None,
                 src_key: Optional[str] = None,
                 channel_order: str = 'bgr',
                 depth_scale: Optional[float] = 1000.0,
                 depth_divisor: float = 2.0**16,
                 overwrite: bool = False):
        if channel_order not in ('rgb', 'bgr'):
            raise ValueError(f"channel_order must be 'rgb' or 'bgr', got "
                             f'{channel_order!r}')
        self.labeler_cfg = labeler
        self.out_key = out_key
        self.src_key = src_key
        self.channel_order = channel_order
        self.depth_scale = depth_scale
        self.depth_divisor = float(depth_divisor)
        self.overwrite = overwrite
        self._labeler: Optional[BaseMMSegLabeler] = None
        self._pid: Optional[int] = None

    @property
    def labeler(self) -> BaseMMSegLabeler:
        """The labeller, built on first use in this process."""
        if self._labeler is None or self._pid != os.getpid():
            self._labeler = build_labeler(self.labeler_cfg)
            self._pid = os.getpid()
        return self._labeler

    def __getstate__(self):
        state = self.__dict__.copy()
        if not isinstance(self.labeler_cfg, BaseMMSegLabeler):
            state['_labeler'] = None  # rebuilt in the worker
            state['_pid'] = None
        return state

    def _convert(self, label: np.ndarray, task: str) -> np.ndarray:
        if task == 'semseg':
            return label.astype(np.int64)
        if self.depth_scale is None:
            return label.astype(np.float32)
        return (encode_depth(label, self.depth_scale).astype(np.float32) /
                np.float32(self.depth_divisor))

    def transform(self, results: dict) -> dict:
        labeler = self.labeler
        out_key = self.out_key or labeler.task
        images = results.get('images')
        if isinstance(images, dict):
            store, src = images, self.src_key or 'rgb'
            order = 'rgb'
        else:
            store, src = results, self.src_key or 'img'
            order = self.channel_order
        if out_key in store and not self.overwrite:
            return results
        if src not in store:
            raise KeyError(f'OnlinePseudoLabel: input {src!r} is missing '
                           f'(keys: {sorted(store)})')
        label = labeler.predict([store[src]], channel_order=order)[0]
        store[out_key] = self._convert(label, labeler.task)
        return results

    def __repr__(self) -> str:
        cfg = self.labeler_cfg
        name = cfg.get('type') if isinstance(cfg, dict) else type(cfg).__name__
        return (f'{self.__class__.__name__}(labeler={name}, '
                f'out_key={self.out_key}, depth_scale={self.depth_scale})')
