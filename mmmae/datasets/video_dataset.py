# Copyright (c) mmmae contributors. All rights reserved.
"""A VideoDataset that survives unreadable videos.

Large video collections (Kinetics, SSv2, crawled sets) always contain some
missing, empty, truncated or undecodable files. The official VideoMAE
loader prints the error and silently retries another index; the stock
MMAction2 ``VideoDataset`` crashes the run. :class:`VideoMAEDataset` drops
what it can detect cheaply at start (missing and zero-byte files, with one
warning) and, at load time, turns a failure of the *loading* transforms into
"warn once, count, draw another sample", with the count shared across
DataLoader workers so the main process (and
:class:`~mmmae.engine.hooks.BadSampleLoggerHook`) can report it.
"""
import copy
import logging
import os
import os.path as osp
import re
import stat
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmaction.datasets import VideoDataset
from mmengine.fileio import list_from_file
from mmengine.logging import print_log

from mmmae.registry import DATASETS

__all__ = ['VideoMAEDataset']

# Failure codes stored per entry in shared memory (0 = not known bad).
_REASONS = {1: 'corrupt', 2: 'too short', 3: 'missing', 4: 'error'}
_CODES = {v: k for k, v in _REASONS.items()}

# Transforms whose failure means "this file cannot be read". Everything up
# to and including the last of them in the pipeline is the loading stage.
_LOADING_NAME = re.compile(r'(Init|Decode)$|^Load')


class _SharedFlags:
    """One ``uint8`` per dataset entry in shared memory.

    DataLoader workers (forked or spawned) write into the buffer the main
    process reads. Unlike a bare shared tensor, a deep copy (MMEngine deep
    copies a dataloader config that holds a dataset instance) is shared
    memory too, so the copy still works with workers.

    Args:
        num (int): number of entries.
    """

    def __init__(self, num: int) -> None:
        self.data = torch.zeros(num, dtype=torch.uint8).share_memory_()

    def __deepcopy__(self, memo: dict) -> '_SharedFlags':
        new = _SharedFlags(0)
        new.data = self.data.clone().share_memory_()
        return new


class _VideoTooShort(Exception):
    """Raised when a video has fewer than ``min_frames`` frames."""


def _is_local(path: str) -> bool:
    """Whether ``path`` is a local file path (no ``scheme://`` prefix)."""
    return '://' not in path


def _short(err: BaseException, limit: int = 200) -> str:
    """First line of an exception message, truncated (decord's are long)."""
    text = str(err).strip().splitlines()
    first = text[0] if text else ''
    # decord echoes bytes of the broken file; keep the log printable ASCII.
    first = ''.join(c if c.isprintable() and c.isascii() else '?'
                    for c in first)
    if len(first) > limit:
        first = first[:limit] + '...'
    return f'{type(err).__name__}: {first}' if first else type(err).__name__


def _name_list(items: Sequence[Tuple[str, str]], limit: int) -> str:
    """``'a.mp4 (corrupt), b.mp4 (missing) and 3 more'``."""
    shown = ', '.join(f'{p} ({r})' for p, r in items[:limit])
    if len(items) > limit:
        shown += f' and {len(items) - limit} more'
    return shown


@DATASETS.register_module()
class VideoMAEDataset(VideoDataset):
    """Video list dataset for VideoMAE pretraining and fine-tuning.

    The annotation file holds one ``path [label]`` per line (MMAction2
    ``VideoDataset`` format); the label is optional and ``-1`` when absent,
    since pretraining ignores it. Blank lines and ``#`` comments are skipped.

    **At start** (``full_init``):

    - a missing annotation file raises ``FileNotFoundError`` naming it;
    - entries whose video file is missing or zero bytes are dropped, with
      *one* warning naming them, and recorded in :attr:`skipped` as
      ``(path, 'missing' | 'empty')``;
    - if no entry remains, a ``RuntimeError`` names the annotation file,
      ``data_prefix`` and the likely fix.

    Remote paths (``s3://...``) are not checked at start.

    **At load time** the pipeline runs in two stages. The *loading stage* is
    every transform up to and including the last one whose class name ends
    with ``Init``/``Decode`` or starts with ``Load`` (``DecordInit``,
    ``SampleFrames``, ``DecordDecode``, ...); if the pipeline has none, every
    transform is in it. An exception raised in the loading stage, a video
    with fewer than ``min_frames`` frames, or a loading stage that yields no
    frames marks the entry bad: it is warned about once (file and reason),
    counted, never decoded again, and in training another random entry is
    drawn instead (up to ``max_refetch`` times, as in MMEngine). In test mode
    a bad entry raises, because a substitute sample would bias the metric.
    An exception in a later transform (crop, format, mask) is a pipeline
    bug, not bad data: it is re-raised with the file name attached.

    Too-short videos: ``SampleFrames`` (``out_of_bound_opt='loop'``) loops
    the frames of a video shorter than ``clip_len * frame_interval``, as the
    official VideoMAE sampler repeats frames, so such a video is *used*, not
    skipped. Only a video with fewer than ``min_frames`` frames (default 1:
    no decodable frame) is bad. Set ``min_frames=clip_len * frame_interval``
    to skip short videos instead of looping them.

    The bad-entry flags live in shared memory (one ``uint8`` per entry, a
    ``share_memory_()`` tensor that stays shared when the dataset is deep
    copied), so failures found in DataLoader worker processes are visible to
    the main process: :attr:`num_skipped` is exact with any ``num_workers``
    (tested with fork). In distributed
    training each rank has its own flags; :meth:`get_skipped_videos` with
    ``all_ranks=True`` merges them.

    Args:
        ann_file (str): annotation file (``path [label]`` per line).
        pipeline (list[dict | callable]): data transforms.
        data_prefix (dict): ``dict(video=folder)`` joined to every path.
            Defaults to ``dict(video='')``.
        min_frames (int): a video with fewer frames is bad. Defaults to 1.
        check_files (bool): drop missing/empty local files at start.
            Defaults to True.
        max_logged_names (int): how many file names a warning lists before
            "and N more". Defaults to 20.
        num_repeats (int): Repeated augmentation (official VideoMAE
            ``--num_sample``): each video is decoded once and the
            transforms after the loading stage run ``num_repeats`` times,
            so a sample is a list of that many views sharing their frames.
            Use with ``collate_fn=dict(type='repeat_pseudo_collate')``.
            Training only. Defaults to 1 (a sample is one dict).
        **kwargs: passed to :class:`mmaction.datasets.VideoDataset`
            (``multi_class``, ``num_classes``, ``test_mode``, ``delimiter``,
            ``max_refetch``, ``lazy_init``, ...).
    """

    def __init__(self,
                 ann_file: str,
                 pipeline: List[Union[dict, Callable]],
                 data_prefix: Dict[str, Optional[str]] = dict(video=''),
                 min_frames: int = 1,
                 check_files: bool = True,
                 max_logged_names: int = 20,
                 num_repeats: int = 1,
                 **kwargs) -> None:
        self.min_frames = int(min_frames)
        self.num_repeats = int(num_repeats)
        if self.num_repeats < 1 or (self.num_repeats > 1
                                    and kwargs.get('test_mode', False)):
            raise ValueError(
                f'num_repeats={num_repeats}: must be >= 1, and 1 in test '
                'mode (repeated augmentation is a training technique)')
        self.check_files = check_files
        self.max_logged_names = max_logged_names
        # Set before super().__init__, which runs full_init().
        self.skipped: List[Tuple[str, str]] = []
        self._flags: Optional[_SharedFlags] = None
        self._last_error: Dict[int, str] = {}
        super().__init__(ann_file,
                         pipeline=pipeline,
                         data_prefix=data_prefix,
                         **kwargs)
        self._num_loading = self._find_loading_stage()

    # ------------------------------------------------------------------ start
    def load_data_list(self) -> List[dict]:
        """Parse the annotation file and drop missing/empty videos.

        Returns:
            list[dict]: ``dict(filename=..., label=...)`` per usable entry.
        """
        if _is_local(self.ann_file) and not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'annotation file {self.ann_file!r} does not exist (check '
                '`ann_file` and `data_root` in the dataset config)')
        data_list = self._parse_ann_file()
        if not data_list:
            raise RuntimeError(
                f'annotation file {self.ann_file!r} lists no video; expected '
                'one "relative/path.mp4 [label]" per line')
        if not self.check_files:
            return data_list

        kept, skipped = [], []
        for info in data_list:
            path = info['filename']
            reason = self._start_check(path)
            if reason is None:
                kept.append(info)
            else:
                skipped.append((path, reason))
        self.skipped = skipped
        if skipped:
            print_log(
                f'{type(self).__name__}: dropped {len(skipped)} of '
                f'{len(data_list)} entries of {self.ann_file} whose video is '
                f'missing or empty: '
                f'{_name_list(skipped, self.max_logged_names)}',
                logger='current',
                level=logging.WARNING)
        if not kept:
            prefix = self.data_prefix.get('video')
            raise RuntimeError(
                f'no readable video in annotation file {self.ann_file!r}: '
                f'all {len(data_list)} entries are missing or empty under '
                f'data_prefix={prefix!r} (first tried: {skipped[0][0]!r}). '
                'Fix: point `data_prefix=dict(video=...)` (or `data_root`) '
                'at the folder the annotation paths are relative to, or '
                'regenerate the annotation file.')
        return kept

    def _parse_ann_file(self) -> List[dict]:
        """Parse ``path [label]`` lines (MMAction2 ``VideoDataset`` format).

        Unlike ``VideoDataset.load_data_list`` it skips blank lines and
        ``#`` comments, tolerates repeated spaces, and names the offending
        line on a parse error.
        """
        data_list = []
        prefix = self.data_prefix.get('video')
        for lineno, line in enumerate(list_from_file(self.ann_file), 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            fields = (line.split() if self.delimiter == ' ' else
                      [f.strip() for f in line.split(self.delimiter)])
            try:
                if self.multi_class:
                    assert self.num_classes is not None, \
                        'multi_class=True needs num_classes'
                    label = list(map(int, fields[1:]))
                elif len(fields) == 1:
                    label = -1  # unlabeled (pretraining ignores labels)
                elif len(fields) == 2:
                    label = int(fields[1])
                else:
                    raise ValueError(f'expected "path [label]", got '
                                     f'{len(fields)} fields')
            except (ValueError, AssertionError) as err:
                raise ValueError(f'{self.ann_file}:{lineno}: cannot parse '
                                 f'{line!r}: {err}') from err
            filename = fields[0]
            if prefix is not None:
                filename = osp.join(prefix, filename)
            data_list.append(dict(filename=filename, label=label))
        return data_list

    @staticmethod
    def _start_check(path: str) -> Optional[str]:
        """``None`` when ``path`` looks usable, else the reason it is not."""
        if not _is_local(path):
            return None  # a stat per remote object would be too slow
        try:
            st = os.stat(path)
        except OSError:
            return 'missing'
        if not stat.S_ISREG(st.st_mode):
            return 'missing'  # e.g. a directory: the path is wrong
        return 'empty' if st.st_size == 0 else None

    def full_init(self) -> None:
        """Load the annotations, then allocate the shared failure flags."""
        if self._fully_initialized:
            return
        super().full_init()
        self._reset_failures()

    def _reset_failures(self) -> None:
        self._flags = _SharedFlags(len(self))
        self._last_error = {}

    @property
    def _failures(self) -> Optional[torch.Tensor]:
        """``(len(self),)`` uint8 failure codes (0 = not known bad)."""
        return None if self._flags is None else self._flags.data

    def get_subset_(self, indices: Union[Sequence[int], int]) -> None:
        """In-place subset; the failure flags restart for the new entries."""
        super().get_subset_(indices)
        self._reset_failures()

    def get_subset(self, indices: Union[Sequence[int], int]):
        """Subset copy with its own (fresh) failure flags."""
        sub = super().get_subset(indices)
        sub._reset_failures()
        return sub

    def _find_loading_stage(self) -> int:
        """Number of leading transforms whose failure means a bad file."""
        transforms = self.pipeline.transforms
        last = -1
        for i, t in enumerate(transforms):
            if _LOADING_NAME.search(type(t).__name__):
                last = i
        return len(transforms) if last < 0 else last + 1

    # ------------------------------------------------------------- load time
    def prepare_data(self, idx: int) -> Optional[dict]:
        """Run the pipeline on entry ``idx``.

        Returns:
            dict | list[dict] | None: the pipeline output (a list of
            ``num_repeats`` views when repeating), or None when the video
            is unreadable (recorded) or a transform rejected the sample.
        """
        data_info = self.get_data_info(idx)
        filename = data_info.get('filename', f'<entry {idx}>')
        transforms = self.pipeline.transforms
        results = data_info
        checked_frames = False
        try:
            for t in transforms[:self._num_loading]:
                results = t(results)
                if results is None:
                    return None
                if not checked_frames and 'total_frames' in results:
                    checked_frames = True
                    if results['total_frames'] < self.min_frames:
                        raise _VideoTooShort(
                            f'{results["total_frames"]} frames < min_frames='
                            f'{self.min_frames}')
            imgs = results.get('imgs')
            if imgs is not None and len(imgs) == 0:
                raise RuntimeError('no frame decoded')
        except Exception as err:  # noqa: BLE001  (any loading failure)
            self._record_failure(idx, filename, err)
            return None

        if self.num_repeats == 1:
            return self._augment(results, filename)
        # deep copies: in-place transforms (RandomErasing) must not leak
        # from one view into the next
        views = [
            self._augment(copy.deepcopy(results), filename)
            for _ in range(self.num_repeats)
        ]
        return None if any(v is None for v in views) else views

    def _augment(self, results: dict, filename: str) -> Optional[dict]:
        """Run the transforms after the loading stage."""
        for t in self.pipeline.transforms[self._num_loading:]:
            try:
                results = t(results)
            except Exception as err:
                # Not a data problem: keep the type, say which file and step.
                if hasattr(err, 'add_note'):
                    err.add_note(f'{type(self).__name__}: transform '
                                 f'{type(t).__name__} failed on {filename}')
                raise
            if results is None:
                return None
        return results

    def _record_failure(self, idx: int, filename: str,
                        err: BaseException) -> None:
        """Flag entry ``idx`` as bad and warn the first time it is seen."""
        if isinstance(err, _VideoTooShort):
            reason = 'too short'
        elif isinstance(err, FileNotFoundError):
            reason = 'missing'
        else:
            reason = 'corrupt'
        detail = _short(err)
        self._last_error[idx] = f'{reason}: {detail}'
        assert self._failures is not None
        first = int(self._failures[idx]) == 0
        self._failures[idx] = _CODES[reason]
        if first:
            # Other workers skip a flagged entry, so this is warned once.
            print_log(
                f'{type(self).__name__}: skipping unreadable video '
                f'{filename} ({reason}; {detail}); drawing another sample',
                logger='current',
                level=logging.WARNING)

    def _rand_good_index(self) -> int:
        """A random entry not known to be bad (numpy global RNG, like
        MMEngine's ``_rand_another``)."""
        assert self._failures is not None
        good = torch.nonzero(self._failures == 0).flatten()
        if good.numel() == 0:
            raise RuntimeError(
                f'every one of the {len(self)} videos in {self.ann_file!r} '
                'failed to load; ' + _name_list(self.skipped_videos, 5) +
                '. Check the files and the pipeline\'s loading transforms.')
        return int(good[np.random.randint(good.numel())])

    def __getitem__(self, idx: int) -> dict:
        """Pipeline output of entry ``idx``, or of a random good entry when
        ``idx`` is unreadable (training only).

        Raises:
            RuntimeError: in test mode when ``idx`` is unreadable; in
                training when every entry is bad or ``max_refetch`` draws
                all fail.
        """
        if not self._fully_initialized:
            print_log(
                'Please call `full_init()` method manually to accelerate '
                'the speed.',
                logger='current',
                level=logging.WARNING)
            self.full_init()
        assert self._failures is not None

        if self.test_mode:
            data = self.prepare_data(idx)
            if data is None:
                filename = self.get_data_info(idx).get('filename')
                why = self._last_error.get(idx, 'a transform returned None')
                raise RuntimeError(
                    f'cannot load {filename} in test mode ({why}); remove it '
                    f'from {self.ann_file} (a substitute sample would bias '
                    'the evaluation)')
            return data

        for _ in range(self.max_refetch + 1):
            # A known-bad entry is not decoded again.
            if int(self._failures[idx]) == 0:
                data = self.prepare_data(idx)
                if data is not None:
                    return data
            idx = self._rand_good_index()
        raise RuntimeError(
            f'no loadable sample after {self.max_refetch} refetches from '
            f'{self.ann_file!r}; check the pipeline')

    # ------------------------------------------------------------- reporting
    @property
    def load_failures(self) -> List[Tuple[str, str]]:
        """``(path, reason)`` of the entries found unreadable at load time
        (in this process or any DataLoader worker of this rank)."""
        if self._failures is None:
            return []
        return self._entries_from_flags(self._failures)

    def _entries_from_flags(self,
                            flags: torch.Tensor) -> List[Tuple[str, str]]:
        bad = torch.nonzero(flags).flatten().tolist()
        return [(self.get_data_info(i)['filename'],
                 _REASONS.get(int(flags[i]), 'error')) for i in bad]

    @property
    def skipped_videos(self) -> List[Tuple[str, str]]:
        """All skipped entries: dropped at start, then unreadable at load
        time, as ``(path, reason)``."""
        return list(self.skipped) + self.load_failures

    @property
    def num_skipped(self) -> int:
        """Number of skipped videos (dropped at start + failed at load)."""
        n = len(self.skipped)
        if self._failures is not None:
            n += int(torch.count_nonzero(self._failures))
        return n

    def get_skipped_videos(self,
                           all_ranks: bool = False) -> List[Tuple[str, str]]:
        """Skipped ``(path, reason)`` entries, optionally merged over ranks.

        Args:
            all_ranks (bool): all-reduce (max) the failure flags over the
                default process group first. Every rank must call it then.

        Returns:
            list[tuple[str, str]]: start-time drops, then load failures.
        """
        from mmengine.dist import all_reduce, get_world_size
        if not all_ranks or get_world_size() == 1 or self._failures is None:
            return self.skipped_videos
        flags = self._failures.to(torch.int32)
        all_reduce(flags, op='max')
        return list(self.skipped) + self._entries_from_flags(flags.cpu())
