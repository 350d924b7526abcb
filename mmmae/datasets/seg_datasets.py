# Copyright (c) mmmae contributors. All rights reserved.
"""MMSeg datasets whose samples carry extra modalities (depth, pseudo labels).

The dense downstream tasks of MultiMAE feed RGB, depth or RGB-D to one
network. MMSeg's :class:`BaseSegDataset` only knows ``img_path`` and
``seg_map_path``; :class:`MultiModalSegDataset` adds one ``'<name>_path'``
key per extra modality, matched to the image by its relative name (never by
index), plus mmseg's ``depth_map_path`` when depth is the *target*.

Contract with the transforms (``mmmae/datasets/transforms/seg_modalities.py``):

* ``<name>_path``: file of modality ``name`` (e.g. ``depth_path``,
  ``mask_valid_path``, ``pseudo_semseg_path``), loaded by
  :class:`~mmmae.datasets.transforms.LoadModalities` into ``results[name]``.
* ``depth_map_path``: depth ground truth, loaded by mmseg's
  ``LoadDepthAnnotation`` into ``gt_depth_map``.
"""
import os.path as osp
from typing import Dict, List, Optional

from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset

from mmmae.registry import DATASETS

__all__ = ['MultiModalSegDataset']


@DATASETS.register_module()
class MultiModalSegDataset(BaseSegDataset):
    """:class:`BaseSegDataset` plus name-matched extra modality files.

    Args:
        modalities (dict, optional): ``name -> dict(dir=..., suffix=...)``
            with ``dir`` relative to ``data_root`` (like ``data_prefix``).
            Each sample gets ``f'{name}_path'``. Example:
            ``dict(depth=dict(dir='depth/train', suffix='.png'))``.
        depth_gt (dict, optional): ``dict(dir=..., suffix=...)`` of the depth
            *target*; sets mmseg's ``depth_map_path``.
        missing (str): A sample lacking a modality file: ``'error'`` (stop
            at load time naming the file) or ``'skip'`` (drop the sample,
            logging how many were dropped). Defaults to ``'error'``.
        **kwargs: :class:`BaseSegDataset` arguments (``data_root``,
            ``data_prefix``, ``img_suffix``, ``seg_map_suffix``, ``pipeline``,
            ``metainfo``, ``reduce_zero_label``, ...).
    """

    def __init__(self,
                 modalities: Optional[Dict[str, dict]] = None,
                 depth_gt: Optional[dict] = None,
                 missing: str = 'error',
                 **kwargs) -> None:
        if missing not in ('error', 'skip'):
            raise ValueError(
                f"missing must be 'error' or 'skip', got {missing!r}")
        self.modalities = dict(modalities or {})
        for name, cfg in self.modalities.items():
            if not isinstance(cfg, dict) or 'dir' not in cfg:
                raise ValueError(
                    f'modality {name!r} needs dict(dir=..., suffix=...), '
                    f'got {cfg!r}')
        self.depth_gt = depth_gt
        self.missing = missing
        super().__init__(**kwargs)

    def _join(self, d: str) -> str:
        root = self.data_root or ''
        return d if osp.isabs(d) or not root else osp.join(root, d)

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        img_dir = self.data_prefix.get('img_path', '') or ''
        extra = dict(self.modalities)
        if self.depth_gt is not None:
            extra['depth_map'] = self.depth_gt
        if not extra:
            return data_list
        kept, dropped = [], []
        for info in data_list:
            rel = osp.relpath(info['img_path'], img_dir) if img_dir else \
                osp.basename(info['img_path'])
            stem = rel[:-len(self.img_suffix)] if self.img_suffix and \
                rel.endswith(self.img_suffix) else osp.splitext(rel)[0]
            ok = True
            for name, cfg in extra.items():
                path = osp.join(
                    self._join(cfg['dir']), stem + cfg.get('suffix', '.png'))
                if not osp.isfile(path):
                    if self.missing == 'error':
                        raise FileNotFoundError(
                            f'{name} file {path} for image '
                            f'{info["img_path"]} does not exist. Check '
                            f"modalities['{name}'] (dir/suffix) or pass "
                            "missing='skip' to drop such samples.")
                    dropped.append(path)
                    ok = False
                    break
                info[f'{name}_path'] = path
            if ok:
                kept.append(info)
        if dropped:
            print_log(
                f'{type(self).__name__}: skipped {len(dropped)} of '
                f'{len(data_list)} samples with a missing modality file '
                f'(first: {dropped[0]})',
                logger='current')
        return kept
