# Copyright (c) mmmae contributors. All rights reserved.
"""Clip list of a multi-modal video dataset (RGB + depth + semseg videos).

Layout (``docs/multimodal_video.md``)::

    root/classes.json           {"classes", "palette", "motion_classes"}
    root/{split}.txt            "<name> <label>" per clip
    root/{split}/rgb/<name>.mp4
    root/{split}/<modality>/<name>.npz       key "frames", (T, H, W)
    root/{split}/<modality>/manifest.json    (depth: "scale")

The dataset only lists files, as :class:`MultiModalFolderDataset` does;
frames are read by the pipeline (``VideoInit`` -> ``SampleFrames`` ->
``VideoDecode`` -> :class:`~mmmae.datasets.transforms.LoadMultiModalVideo`).
"""
import json
import logging
import os.path as osp
from typing import List, Mapping, Optional, Sequence, Tuple

from mmengine.dataset import BaseDataset
from mmengine.fileio import list_from_file
from mmengine.logging import print_log

from mmmae.registry import DATASETS
from .multimodal_dataset import check_modalities
from .transforms.multimodal import _kind_of
from .transforms.multimodal_video import DEFAULT_DEPTH_SCALE
from .video_dataset import VideoMAEDataset, _name_list
from .video_guard import parse_ann_line

__all__ = ['MultiModalVideoDataset']


@DATASETS.register_module()
class MultiModalVideoDataset(BaseDataset):
    """Clips of a multi-modal video dataset, listed by ``{split}.txt``.

    Each ``data_list`` entry is::

        dict(filename='root/split/rgb/<name>.mp4',   # read by VideoInit
             clip_name='<name>', label=3,            # -1 when unlabelled
             modalities=('rgb', 'depth', 'semseg'),
             modality_path={'depth': '.../depth/<name>.npz', ...},
             modality_kinds={'rgb': 'rgb', 'depth': 'depth', ...},
             depth_scale={'depth': 1000.0},          # from the manifests
             start_index=0)                          # for SampleFrames

    The rgb video is always required, also when ``modalities`` lacks
    ``rgb`` (depth-only fine-tuning): its length decides the sampled frame
    indices and every ``.npz`` must have as many frames.

    At build time every listed clip's files are checked (a stat each, no
    decoding): a missing or empty file raises ``FileNotFoundError`` naming
    the files (``missing='error'``, default) or drops the clip with one
    warning (``missing='skip'``, listed in :attr:`skipped`). Frame counts
    are checked when a clip is loaded (:class:`LoadMultiModalVideo`).

    ``metainfo`` holds what ``root/classes.json`` has: ``classes`` (pixel
    classes of semseg), ``palette``, ``motion_classes`` (clip labels), plus
    ``modalities``; a ``metainfo`` argument overrides single keys.

    Args:
        data_root (str): dataset root.
        split (str): split name: ``{split}.txt`` and ``{split}/``.
            Defaults to ``'train'``.
        modalities (Sequence[str]): modalities to load, in output order;
            any folder name, e.g. ``'pseudo_depth'``. Defaults to
            ``('rgb', 'depth', 'semseg')``.
        ann_file (str, optional): clip list; relative paths are joined to
            ``data_root``. Defaults to ``'{split}.txt'``.
        pipeline (Sequence): data transforms.
        test_mode (bool): evaluation mode. Defaults to False.
        kinds (dict, optional): name -> ``'rgb' | 'depth' | 'semseg'`` for
            folder names that are not in
            :data:`~mmmae.datasets.transforms.DEFAULT_MODALITY_KINDS`.
        video_ext (str): extension of the rgb videos. Defaults to
            ``'.mp4'``.
        missing (str): ``'error'`` or ``'skip'``, see above.
        classes_file (str, optional): class names file; relative to
            ``data_root``. Defaults to ``'classes.json'`` (optional then;
            a file named explicitly must exist).
        max_logged_names (int): files named in a message before "and N
            more". Defaults to 10.
        **kwargs: passed to :class:`mmengine.dataset.BaseDataset`
            (``metainfo``, ``indices``, ``lazy_init``, ``serialize_data``,
            ``max_refetch``).
    """

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 modalities: Sequence[str] = ('rgb', 'depth', 'semseg'),
                 ann_file: Optional[str] = None,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 kinds: Optional[Mapping[str, str]] = None,
                 video_ext: str = '.mp4',
                 missing: str = 'error',
                 classes_file: Optional[str] = None,
                 max_logged_names: int = 10,
                 **kwargs) -> None:
        self.modalities = check_modalities(modalities, missing)
        self.kinds = {m: _kind_of(m, kinds) for m in self.modalities}
        self.split = split
        self.video_ext = video_ext
        self.missing = missing
        self.max_logged_names = int(max_logged_names)
        # Set before super().__init__, which runs full_init().
        self.skipped: List[Tuple[str, str]] = []
        metainfo = self._read_classes(data_root, classes_file)
        metainfo['modalities'] = self.modalities
        metainfo.update(kwargs.pop('metainfo', None) or {})
        super().__init__(
            ann_file=f'{split}.txt' if ann_file is None else ann_file,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=dict(),
            pipeline=list(pipeline),
            test_mode=test_mode,
            **kwargs)

    @staticmethod
    def _read_classes(data_root: str, classes_file: Optional[str]) -> dict:
        """``classes``, ``palette`` and ``motion_classes`` of the file."""
        path = osp.join(data_root, classes_file or 'classes.json')
        if not osp.isfile(path):
            if classes_file is not None:
                raise FileNotFoundError(f'classes_file {path!r} does not '
                                        'exist')
            return {}
        with open(path) as f:
            meta = json.load(f)
        return {
            k: meta[k]
            for k in ('classes', 'palette', 'motion_classes') if k in meta
        }

    def modality_dir(self, name: str) -> str:
        """Folder of modality ``name``."""
        return osp.join(self.data_root, self.split, name)

    def _depth_scale(self, name: str) -> float:
        """Stored value per metre of a depth modality (its manifest's
        ``scale``, else 1000)."""
        path = osp.join(self.modality_dir(name), 'manifest.json')
        if not osp.isfile(path):
            return DEFAULT_DEPTH_SCALE
        with open(path) as f:
            scale = json.load(f).get('scale')
        return float(scale) if scale else DEFAULT_DEPTH_SCALE

    def load_data_list(self) -> List[dict]:
        """Parse the clip list and find every clip's files.

        Returns:
            list[dict]: one entry per clip (see the class doc).
        """
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'clip list {self.ann_file!r} does not exist (expected '
                f'data_root/{self.split}.txt, or pass ann_file)')
        scales = {
            m: self._depth_scale(m)
            for m, kind in self.kinds.items() if kind == 'depth'
        }
        data_list: List[dict] = []
        bad: List[Tuple[str, str]] = []
        for lineno, line in enumerate(list_from_file(self.ann_file), 1):
            try:
                entry = parse_ann_line(line)
            except ValueError as err:
                raise ValueError(f'{self.ann_file}:{lineno}: cannot parse '
                                 f'{line.strip()!r}: {err}') from err
            if entry is None:
                continue
            name, labels = entry
            video = osp.join(self.modality_dir('rgb'), name + self.video_ext)
            paths = {
                m: osp.join(self.modality_dir(m), name + '.npz')
                for m, kind in self.kinds.items() if kind != 'rgb'
            }
            absent = [(p, why) for p in [video, *paths.values()]
                      for why in [VideoMAEDataset._start_check(p)] if why]
            if absent:
                bad.extend(absent)
                continue
            data_list.append(
                dict(filename=video, clip_name=name,
                     label=labels[0] if labels else -1,
                     modalities=self.modalities, modality_path=paths,
                     modality_kinds=dict(self.kinds), depth_scale=scales,
                     start_index=0, modality='RGB'))
        self.skipped = bad
        if bad:
            names = _name_list(bad, self.max_logged_names)
            if self.missing == 'error':
                raise FileNotFoundError(
                    f'{len(bad)} files of the clips listed in '
                    f'{self.ann_file} are missing or empty: {names}. Fix: '
                    "add them, or pass missing='skip' to drop those clips")
            print_log(
                f'{type(self).__name__}: dropped the clips of {len(bad)} '
                f'missing or empty files: {names}',
                logger='current',
                level=logging.WARNING)
        if not data_list:
            raise RuntimeError(
                f'no usable clip in {self.ann_file!r} (modalities '
                f'{self.modalities} under {self.modality_dir("")})')
        return data_list
