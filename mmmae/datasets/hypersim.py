# Copyright (c) mmmae contributors. All rights reserved.
"""Hypersim (Roberts et al., ICCV 2021) semantic segmentation with depth.

Expects the layout written by ``tools/dataset_converters/prepare_hypersim.py``
(see ``docs/datasets/hypersim.md``)::

    data_root/rgb/{train,val,test}/<scene>_<cam>_<frame:04d>.png
    data_root/depth/{split}/...png       uint16 millimetres, 0 = invalid
    data_root/semseg/{split}/...png      uint8 NYU40 id 1..40, 0 = unlabelled
    data_root/mask_valid/{split}/...png  uint8, non-zero = valid

Labels are NYU40 ids, so ``reduce_zero_label=True`` (the default) maps
0 -> 255 (ignored) and 1..40 -> 0..39, the order of ``METAINFO['classes']``.
Class names and palette are :class:`NYUv2Dataset`'s (the same NYU40
taxonomy of Gupta et al. 2013, which Hypersim's ``semantic.hdf5`` uses), so
a model trained on one evaluates on the other without a label map.
"""
from typing import Dict, Optional, Sequence, Union

from mmmae.registry import DATASETS
from .nyuv2 import NYUV2_CLASSES, NYUv2Dataset
from .seg_datasets import MultiModalSegDataset

__all__ = ['HypersimDataset']

_SPLITS = ('train', 'val', 'test')
_FILE = dict(suffix='.png')


@DATASETS.register_module()
class HypersimDataset(MultiModalSegDataset):
    """Hypersim NYU40 segmentation with depth and validity maps attached.

    Args:
        split (str): ``'train'``, ``'val'`` or ``'test'``; picks the
            sub-folder of every modality. Defaults to ``'train'``.
        modalities (Sequence[str] | dict, optional): Extra inputs attached
            as ``'<name>_path'``. Names are resolved to
            ``dict(dir=f'{name}/{split}', suffix='.png')``; a dict is used as
            given (see :class:`MultiModalSegDataset`). Defaults to
            ``('depth', 'mask_valid')``; ``()`` attaches none.
        depth_gt (bool | dict): Depth *target* (mmseg ``depth_map_path``):
            True for ``depth/{split}``, a dict as in
            :class:`MultiModalSegDataset`. Defaults to False.
        data_prefix (dict, optional): Defaults to
            ``dict(img_path=f'rgb/{split}', seg_map_path=f'semseg/{split}')``.
        reduce_zero_label (bool): Defaults to True (0 = unlabelled).
        **kwargs: :class:`MultiModalSegDataset` / ``BaseSegDataset``
            arguments (``data_root``, ``pipeline``, ``test_mode``,
            ``missing``, ...).

    In pipelines, load depth with ``LoadModalities(modalities=dict(
    depth=dict(scale=1e-3), mask_valid=dict(dtype='uint8')))`` (metres) and
    a depth target with ``LoadDepthAnnotation(depth_rescale_factor=1e-3)``.
    """

    METAINFO = dict(
        classes=NYUV2_CLASSES, palette=NYUv2Dataset.METAINFO['palette'])

    def __init__(self,
                 split: str = 'train',
                 modalities: Optional[Union[Sequence[str],
                                            Dict[str, dict]]] = (
                                                'depth', 'mask_valid'),
                 depth_gt: Union[bool, dict, None] = False,
                 data_prefix: Optional[dict] = None,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = True,
                 **kwargs) -> None:
        if split not in _SPLITS:
            raise ValueError(f'split must be one of {_SPLITS}, got {split!r}')
        self.split = split
        if modalities is None:
            modalities = {}
        elif not isinstance(modalities, dict):
            if isinstance(modalities, str):
                modalities = (modalities, )
            modalities = {
                m: dict(dir=f'{m}/{split}', **_FILE)
                for m in modalities
            }
        if depth_gt is True:
            depth_gt = dict(dir=f'depth/{split}', **_FILE)
        elif depth_gt is False:
            depth_gt = None
        if data_prefix is None:
            data_prefix = dict(
                img_path=f'rgb/{split}', seg_map_path=f'semseg/{split}')
        super().__init__(
            modalities=modalities,
            depth_gt=depth_gt,
            data_prefix=data_prefix,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            reduce_zero_label=reduce_zero_label,
            **kwargs)
