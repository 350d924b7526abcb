# Copyright (c) mmmae contributors. All rights reserved.
"""NYU Depth v2 (labelled subset): 40-class segmentation and depth.

Files are written by ``tools/dataset_converters/prepare_nyuv2.py``::

    data_root/
        rgb/{train,test}/NNNN.png         RGB, 8-bit, 480x640
        depth/{train,test}/NNNN.png       uint16 MILLIMETRES, 0 = invalid
        labels40/{train,test}/NNNN.png    uint8, 0 = unlabelled, 1..40
        mask_valid/{train,test}/NNNN.png  uint8, non-zero (255) = valid

``NNNN`` is the **1-based** MATLAB index of the image in
``nyu_depth_v2_labeled.mat``, i.e. the same number as in ``splits.mat``
(``trainNdxs`` / ``testNdxs``), zero-padded to 4 digits.

Units: depth on disk is millimetres (not the official MultiMAE converter's
6553.6-per-metre scale); pipelines load it in metres with
``LoadModalities(modalities=dict(depth=dict(scale=1e-3)))`` (depth as input)
or mmseg's ``LoadDepthAnnotation(depth_rescale_factor=1e-3)`` (depth as
target).

Splits: 795 train / 654 test images; evaluation uses all 654 test images
(the official MultiMAE depth script evaluated only the first 100 by default).
"""
import logging
import os.path as osp
import warnings
from typing import List, Optional, Sequence

from mmengine.logging import print_log

from mmmae.registry import DATASETS
from .seg_datasets import MultiModalSegDataset

__all__ = ['NYUv2Dataset', 'NYUV2_CLASSES']

# Gupta et al. 2013 names, spelling (``refridgerator``) kept as published so
# that class-wise results line up with other codebases.
NYUV2_CLASSES = (
    'wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table', 'door',
    'window', 'bookshelf', 'picture', 'counter', 'blinds', 'desk', 'shelves',
    'curtain', 'dresser', 'pillow', 'mirror', 'floor mat', 'clothes',
    'ceiling', 'books', 'refridgerator', 'television', 'paper', 'towel',
    'shower curtain', 'box', 'whiteboard', 'person', 'night stand', 'toilet',
    'sink', 'lamp', 'bathtub', 'bag', 'otherstructure', 'otherfurniture',
    'otherprop')


def _bit_palette(num: int) -> List[List[int]]:
    """Distinct colours by spreading the bits of the id over R, G and B.

    Starts at id 1 so that no class is drawn black (black reads as
    "unlabelled" in visualisations).
    """
    palette = []
    for idx in range(1, num + 1):
        r = g = b = 0
        c = idx
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
            if not c:
                break
        palette.append([r, g, b])
    return palette


@DATASETS.register_module()
class NYUv2Dataset(MultiModalSegDataset):
    """NYUv2 labelled set (795 train / 654 test) for seg or depth.

    The converter's layout is described in this module's docstring: depth is
    uint16 **millimetres** on disk, 0 = invalid; ``mask_valid`` non-zero =
    valid. Label maps store 0 = unlabelled and 1..40 = classes, so
    ``reduce_zero_label=True`` (default) maps them to 0..39 with 0 -> 255
    (ignored); use mmseg's ``LoadAnnotations()`` (it reads the flag from
    the sample) or ``LoadAnnotations(reduce_zero_label=True)``.

    Args:
        data_root (str): Root written by ``prepare_nyuv2.py``.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        task (str): ``'seg'`` (``seg_map_path`` from ``labels40/``) or
            ``'depth'`` (``depth_map_path`` from ``depth/``, no seg map).
            Defaults to ``'seg'``.
        input_modalities (Sequence[str]): Extra inputs besides RGB, each
            attached as ``'<name>_path'`` from ``<name>/<split>/``; e.g.
            ``('depth',)`` for RGB-D or depth-only input (pack with
            ``PackMultiModalSegInputs(modalities=('img', 'depth'))`` or
            ``('depth',)``). Defaults to ``()``.
        with_mask_valid (bool): Attach ``mask_valid_path`` when
            ``mask_valid/<split>/`` exists; an absent folder means no mask
            (logged, not an error). Defaults to True.
        expect_full_test (bool): For ``split='test'``, warn when the split
            does not hold all 654 images (a partial test set makes results
            incomparable). Turn off for subsets on purpose. Defaults to True.
        img_suffix (str): RGB suffix. Defaults to ``'.png'``.
        seg_map_suffix (str): Label suffix. Defaults to ``'.png'``.
        reduce_zero_label (bool): Defaults to True (see above).
        **kwargs: :class:`MultiModalSegDataset` / ``BaseSegDataset``
            arguments. An explicit ``data_prefix``, ``modalities`` or
            ``depth_gt`` overrides (``modalities``: extends) what ``split``
            and ``task`` would set.
    """

    METAINFO = dict(classes=NYUV2_CLASSES, palette=_bit_palette(40))
    NUM_TRAIN = 795
    NUM_TEST = 654

    def __init__(self,
                 data_root: Optional[str] = None,
                 split: str = 'train',
                 task: str = 'seg',
                 input_modalities: Sequence[str] = (),
                 with_mask_valid: bool = True,
                 expect_full_test: bool = True,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = True,
                 **kwargs) -> None:
        if split not in ('train', 'test'):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        if task not in ('seg', 'depth'):
            raise ValueError(f"task must be 'seg' or 'depth', got {task!r}")
        if isinstance(input_modalities, str):
            input_modalities = (input_modalities, )
        self.split = split
        self.task = task
        self.expect_full_test = expect_full_test

        data_prefix = dict(img_path=f'rgb/{split}')
        if task == 'seg':
            data_prefix['seg_map_path'] = f'labels40/{split}'
        data_prefix = kwargs.pop('data_prefix', data_prefix)

        modalities = {
            name: dict(dir=f'{name}/{split}', suffix='.png')
            for name in input_modalities if name not in ('img', 'rgb')
        }
        mask_dir = f'mask_valid/{split}'
        if with_mask_valid:
            full = mask_dir if data_root is None else osp.join(
                data_root, mask_dir)
            if osp.isdir(full):
                modalities['mask_valid'] = dict(dir=mask_dir, suffix='.png')
            else:
                print_log(
                    f'NYUv2Dataset: no {full}; samples carry no mask_valid '
                    '(ApplyValidMask then leaves them unchanged)',
                    logger='current')
        modalities.update(kwargs.pop('modalities', None) or {})

        depth_gt = None
        if task == 'depth':
            depth_gt = dict(dir=f'depth/{split}', suffix='.png')
        depth_gt = kwargs.pop('depth_gt', depth_gt)

        super().__init__(
            modalities=modalities,
            depth_gt=depth_gt,
            data_root=data_root,
            data_prefix=data_prefix,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            reduce_zero_label=reduce_zero_label,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        n = len(data_list)
        print_log(
            f'NYUv2Dataset: {n} {self.split} samples (task={self.task}) '
            f'from {self.data_root}',
            logger='current')
        if self.split == 'test' and self.expect_full_test \
                and n != self.NUM_TEST:
            msg = (f'NYUv2Dataset: the test split has {n} images, not '
                   f'{self.NUM_TEST}. Results on a partial test set are not '
                   'comparable with published NYUv2 numbers (the official '
                   'MultiMAE depth script evaluated only 100 images). '
                   'Re-run tools/dataset_converters/prepare_nyuv2.py, or '
                   'pass expect_full_test=False for a deliberate subset.')
            print_log(msg, logger='current', level=logging.WARNING)
            warnings.warn(msg, UserWarning, stacklevel=2)
        return data_list
