# Copyright (c) mmmae contributors. All rights reserved.
"""Folder dataset of aligned modalities (MultiMAE pseudo-labelled data).

Layout (``docs/multimae_contract.md``)::

    data_root/{split}/{rgb,depth,semseg,...}/<relative/name>.<ext>

Files are matched **by relative path without extension** across
modalities; the list of samples comes from the main modality. The official
``MultiTaskDatasetFolder`` matches by index after sorting each modality's
list, so one missing file silently shifts every later sample; here a
missing file is either an error naming it or (``missing='skip'``) a
dropped sample, never a misalignment.

The dataset only lists files; decoding is the job of
:class:`~mmmae.datasets.transforms.LoadMultiModalImages` in the pipeline
(mmseg/mmpretrain style).
"""
import logging
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from mmmae.registry import DATASETS

__all__ = ['MultiModalFolderDataset', 'IMG_EXTENSIONS']

#: Extensions accepted by the official loader (``.jpx`` left out: neither
#: cv2 nor Pillow decodes JPEG 2000 part 2 reliably).
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')


def _scan(folder: str, extensions: Sequence[str]) -> Dict[str, str]:
    """``{relative/path/without/ext: full path}`` of the image files under
    ``folder`` (recursive, following symlinks).

    Raises:
        ValueError: two files differ only by extension (ambiguous match).
    """
    found: Dict[str, str] = {}
    exts = tuple(e.lower() for e in extensions)
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames.sort()
        for fname in sorted(filenames):
            stem, ext = osp.splitext(fname)
            if ext.lower() not in exts or fname.startswith('.'):
                continue
            full = osp.join(dirpath, fname)
            key = osp.relpath(osp.join(dirpath, stem),
                              folder).replace(os.sep, '/')
            if key in found:
                raise ValueError(
                    f'ambiguous files {found[key]!r} and {full!r}: they '
                    'match the same sample (matching ignores the '
                    'extension); remove one')
            found[key] = full
    return found


def check_modalities(modalities: Sequence[str],
                     missing: str) -> Tuple[str, ...]:
    """The ``modalities`` and ``missing`` arguments of the multi-modal
    datasets, checked.

    Returns:
        tuple[str, ...]: the modality names.

    Raises:
        ValueError: no names, a plain string, a repeated name, or
            ``missing`` other than ``'error'`` / ``'skip'``.
    """
    if isinstance(modalities, str) or not modalities:
        raise ValueError('modalities must be a non-empty sequence of '
                         f'names, got {modalities!r}')
    names = tuple(modalities)
    if len(set(names)) != len(names):
        raise ValueError(f'modalities has duplicates: {modalities!r}')
    if missing not in ('error', 'skip'):
        raise ValueError(f"missing must be 'error' or 'skip', got "
                         f'{missing!r}')
    return names


@DATASETS.register_module()
class MultiModalFolderDataset(BaseDataset):
    """Aligned multi-modal image folders, matched by name.

    Each ``data_list`` entry is::

        dict(img_path={name: path, ...},   # one file per modality
             rel_path='class/name')         # relative path, no extension

    (``sample_idx`` is added by ``BaseDataset.get_data_info``.)

    Args:
        data_root (str): dataset root.
        split (str): sub-folder of ``data_root`` (``'train'``, ``'val'``);
            ``''`` for none. Defaults to ``'train'``.
        modalities (Sequence[str]): modality folders to load. Defaults to
            ``('rgb', 'depth', 'semseg')``.
        main_modality (str): the modality whose files define the samples.
            Defaults to ``'rgb'``.
        missing (str): what to do when another modality lacks a file of the
            main one: ``'error'`` (default) raises ``FileNotFoundError``
            naming the first missing files and the fix; ``'skip'`` drops
            those samples with one warning (count and first names). Extra
            files of other modalities are ignored (counted in the log).
        extensions (Sequence[str]): accepted file extensions.
        max_logged_names (int): names listed in messages before "and N
            more". Defaults to 10.
        pipeline (list): data transforms, usually starting with
            ``LoadMultiModalImages``.
        **kwargs: passed to :class:`mmengine.dataset.BaseDataset`
            (``test_mode``, ``indices``, ``lazy_init``, ``max_refetch``,
            ``serialize_data``, ``metainfo``).
    """

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 modalities: Sequence[str] = ('rgb', 'depth', 'semseg'),
                 main_modality: str = 'rgb',
                 missing: str = 'error',
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 max_logged_names: int = 10,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        self.modalities = check_modalities(modalities, missing)
        if main_modality not in self.modalities:
            raise ValueError(f'main_modality={main_modality!r} is not one of '
                             f'modalities={self.modalities}')
        self.split = split
        self.main_modality = main_modality
        self.missing = missing
        self.extensions = tuple(extensions)
        self.max_logged_names = int(max_logged_names)
        # Set before super().__init__, which runs full_init().
        self.skipped: List[Tuple[str, List[str]]] = []
        metainfo = dict(kwargs.pop('metainfo', None) or {})
        metainfo.setdefault('modalities', self.modalities)
        super().__init__(ann_file='',
                         metainfo=metainfo,
                         data_root=data_root,
                         data_prefix=dict(),
                         pipeline=list(pipeline),
                         **kwargs)

    def modality_dir(self, name: str) -> str:
        """Folder of modality ``name``."""
        return osp.join(self.data_root, self.split, name)

    def _names(self, items: Sequence[str]) -> str:
        shown = ', '.join(items[:self.max_logged_names])
        if len(items) > self.max_logged_names:
            shown += f' and {len(items) - self.max_logged_names} more'
        return shown

    def load_data_list(self) -> List[dict]:
        """List the samples of the main modality and match the others.

        Returns:
            list[dict]: ``dict(img_path={name: path}, rel_path=...)``.
        """
        for name in self.modalities:
            folder = self.modality_dir(name)
            if not osp.isdir(folder):
                raise FileNotFoundError(
                    f'modality folder {folder!r} does not exist; expected '
                    f'data_root/split/<modality>/ for modalities '
                    f'{self.modalities} (check data_root={self.data_root!r},'
                    f' split={self.split!r} and modalities)')
        files = {
            m: _scan(self.modality_dir(m), self.extensions)
            for m in self.modalities
        }
        main = files[self.main_modality]
        if not main:
            raise RuntimeError(
                f'no image file ({", ".join(self.extensions)}) under '
                f'{self.modality_dir(self.main_modality)!r}')

        data_list, skipped = [], []
        for key in sorted(main):
            absent = [m for m in self.modalities if key not in files[m]]
            if absent:
                skipped.append((key, absent))
                continue
            data_list.append(
                dict(img_path={m: files[m][key]
                               for m in self.modalities},
                     rel_path=key))
        self.skipped = skipped
        extra = {
            m: len(set(files[m]) - set(main))
            for m in self.modalities if m != self.main_modality
        }
        if any(extra.values()):
            print_log(
                f'{type(self).__name__}: ignoring files without a '
                f'{self.main_modality} counterpart: {extra}',
                logger='current',
                level=logging.INFO)
        if skipped:
            desc = [
                osp.join(self.modality_dir(m), key) + '.*'
                for key, absent in skipped for m in absent
            ]
            if self.missing == 'error':
                raise FileNotFoundError(
                    f'{len(skipped)} of {len(main)} samples of '
                    f'{self.modality_dir(self.main_modality)!r} lack a file '
                    f'in another modality: {self._names(desc)}. Fix: add the '
                    "missing files, or pass missing='skip' to drop those "
                    'samples')
            print_log(
                f'{type(self).__name__}: skipped {len(skipped)} of '
                f'{len(main)} samples with a missing modality file: '
                f'{self._names(desc)}',
                logger='current',
                level=logging.WARNING)
        if not data_list:
            raise RuntimeError(
                f'no complete sample under {self.data_root!r} split '
                f'{self.split!r}: every {self.main_modality} file lacks a '
                f'file of another modality ({self.modalities})')
        return data_list
