# Copyright (c) mmmae contributors. All rights reserved.
"""MMSeg pipeline pieces for RGB / depth / RGB-D (and pseudo-label) inputs.

Extra modalities ride along as *segmentation fields*: :class:`LoadModalities`
puts ``results[name]`` into ``results['seg_fields']``, so mmseg's own
geometric transforms (``RandomResize``, ``RandomCrop``, ``RandomFlip``,
``Resize``) move them in lockstep with the image, with nearest resampling
(no blending across invalid depth holes), while photometric transforms touch
the RGB ``img`` only. :class:`PackMultiModalSegInputs` finally concatenates
the chosen modalities channel-wise into one ``inputs`` tensor, which mmseg's
``EncoderDecoder`` (slide inference included) can carry unchanged;
:class:`~mmmae.models.MultiModalSegDataPreProcessor` normalises each channel
group and the backbone splits them again.
"""
from typing import Dict, Optional, Sequence

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import fileio
from mmseg.datasets.transforms import PackSegInputs

from mmmae.registry import TRANSFORMS

__all__ = ['LoadModalities', 'ApplyValidMask', 'PackMultiModalSegInputs']


@TRANSFORMS.register_module()
class LoadModalities(BaseTransform):
    """Load extra modality maps named by ``results[f'{name}_path']``.

    Args:
        modalities (dict): ``name -> dict(scale=1.0, dtype='float32')``.
            Files are decoded unchanged (16-bit PNG kept), multiplied by
            ``scale`` (e.g. ``1e-3`` for millimetre depth -> metres) and cast
            to ``dtype``. ``mask_valid`` style maps use ``dtype='uint8'``
            (non-zero = valid; ``binary``, on by default for a map named
            ``mask_valid``, stores them as 0/1). ``resize_to_img=True``
            resamples the map (nearest) to the current ``img`` size, for
            test pipelines that load modalities after ``Resize`` (so that
            ground truth keeps its original size, as mmseg evaluates).
            ``optional=True``
            skips a modality whose path the sample lacks (e.g. a
            ``mask_valid`` folder that a dataset does not have).
        backend_args (dict, optional): MMEngine file backend arguments.

    Required keys: ``<name>_path``. Added keys: ``<name>`` ``(H, W)`` (or
    ``(H, W, C)``); ``seg_fields`` extended with every name.
    """

    def __init__(self,
                 modalities: Dict[str, dict],
                 backend_args: Optional[dict] = None) -> None:
        super().__init__()
        if not modalities:
            raise ValueError('LoadModalities needs at least one modality')
        self.modalities = {k: dict(v or {}) for k, v in modalities.items()}
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        for name, cfg in self.modalities.items():
            key = f'{name}_path'
            if key not in results and cfg.get('optional', False):
                continue
            if key not in results:
                raise KeyError(
                    f'LoadModalities: sample {results.get("img_path")} has '
                    f'no {key!r}; give the dataset modalities=dict({name}='
                    "dict(dir=..., suffix=...)) (MultiModalSegDataset)")
            path = results[key]
            arr = mmcv.imfrombytes(
                fileio.get(path, backend_args=self.backend_args),
                flag='unchanged',
                backend='cv2')
            if arr is None:
                raise ValueError(f'LoadModalities: cannot decode {path}')
            dtype = np.dtype(cfg.get('dtype', 'float32'))
            scale = cfg.get('scale', 1.0)
            if dtype == np.uint8 and cfg.get('binary', name == 'mask_valid'):
                arr = (arr > 0).astype(np.uint8)
            elif scale != 1.0:
                arr = arr.astype(np.float32) * scale
            arr = arr.astype(dtype, copy=False)
            if cfg.get('resize_to_img', False) and 'img' in results and \
                    arr.shape[:2] != results['img'].shape[:2]:
                h, w = results['img'].shape[:2]
                arr = mmcv.imresize(arr, (w, h), interpolation='nearest')
            results[name] = arr
            fields = results.setdefault('seg_fields', [])
            if name not in fields:
                fields.append(name)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(modalities={self.modalities})'


@TRANSFORMS.register_module()
class ApplyValidMask(BaseTransform):
    """Blank out invalid pixels with the sentinels the losses understand.

    Labels of invalid pixels become ``ignore_index`` and depth maps 0 (depth
    heads, losses and :class:`~mmmae.evaluation.DepthMetric` treat
    ``depth <= 0`` as invalid). Without ``results[key]`` (no mask file for
    this dataset) the sample is returned unchanged, so ``mask_valid`` is
    optional, not a crash (official MultiMAE issues #14, #27). A map of
    another size than the mask (e.g. an input resized for testing while the
    labels keep the original size) gets the mask resampled to its size
    (nearest).

    Args:
        key (str): Validity map (non-zero = valid). Defaults to
            ``'mask_valid'``.
        ignore_index (int): Label for invalid pixels. Defaults to 255.
        zero_keys (Sequence[str]): Maps set to 0 where invalid (present
            ones only). Defaults to ``('gt_depth_map', 'depth')``.
        max_depth (float, optional): Depths above this are invalid too in
            the ``zero_keys`` maps (e.g. a "sky" sentinel written as the
            largest 16-bit value). Defaults to None.
    """

    def __init__(self,
                 key: str = 'mask_valid',
                 ignore_index: int = 255,
                 zero_keys: Sequence[str] = ('gt_depth_map', 'depth'),
                 max_depth: Optional[float] = None) -> None:
        super().__init__()
        self.max_depth = max_depth
        self.key = key
        self.ignore_index = ignore_index
        self.zero_keys = tuple(zero_keys)

    def transform(self, results: dict) -> dict:
        if self.max_depth is not None:
            for k in self.zero_keys:
                if k in results:
                    arr = results[k]
                    results[k] = np.where(arr > self.max_depth, 0,
                                          arr).astype(arr.dtype)
        mask = results.get(self.key)
        if mask is None:
            return results
        mask = np.asarray(mask)
        if mask.ndim == 3:
            mask = mask.min(-1)
        mask = (mask != 0).astype(np.uint8)

        def invalid_for(arr: np.ndarray) -> np.ndarray:
            if arr.shape[:2] != mask.shape:
                h, w = arr.shape[:2]
                return mmcv.imresize(
                    mask, (w, h), interpolation='nearest') == 0
            return mask == 0

        if 'gt_seg_map' in results:
            seg = results['gt_seg_map'].copy()
            seg[invalid_for(seg)] = self.ignore_index
            results['gt_seg_map'] = seg
        for k in self.zero_keys:
            if k in results:
                arr = results[k].copy()
                arr[invalid_for(arr)] = 0
                results[k] = arr
        return results


@TRANSFORMS.register_module()
class PackMultiModalSegInputs(PackSegInputs):
    """:class:`PackSegInputs` with modalities concatenated channel-wise.

    Args:
        modalities (Sequence[str]): Channel groups in order; ``'img'`` is the
            RGB image, any other name a map from :class:`LoadModalities`
            (``(H, W)`` -> 1 channel). E.g. ``('img', 'depth')`` for RGB-D,
            ``('depth',)`` for depth only. Defaults to ``('img',)``.
        meta_keys (Sequence[str]): As mmseg's; ``modalities`` is added.

    Added keys: ``inputs`` ``(C_total, H, W)`` float32 when more than one
    group (or a non-image group) is packed.
    """

    def __init__(self, modalities: Sequence[str] = ('img', ), **kwargs):
        super().__init__(**kwargs)
        if not modalities:
            raise ValueError('PackMultiModalSegInputs needs modalities')
        self.modalities = tuple(modalities)
        self.meta_keys = tuple(self.meta_keys) + ('modalities', )

    def transform(self, results: dict) -> dict:
        if self.modalities != ('img', ):
            maps = []
            shape = None
            for name in self.modalities:
                if name not in results:
                    raise KeyError(
                        f'PackMultiModalSegInputs: {name!r} is not loaded '
                        f'for {results.get("img_path")}; add it to '
                        'LoadModalities')
                arr = results[name]
                if arr.ndim == 2:
                    arr = arr[..., None]
                if shape is not None and arr.shape[:2] != shape:
                    raise ValueError(
                        f'modality {name!r} is {arr.shape[:2]} but earlier '
                        f'ones are {shape} ({results.get("img_path")}): '
                        'load every modality at the image size')
                shape = arr.shape[:2]
                maps.append(arr.astype(np.float32, copy=False))
            results = dict(results)
            results['img'] = np.ascontiguousarray(np.concatenate(maps, -1))
        results['modalities'] = self.modalities
        return super().transform(results)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(modalities={self.modalities}, '
                f'meta_keys={self.meta_keys})')
