# Copyright (c) mmmae contributors. All rights reserved.
"""A VideoDataset that survives unreadable videos.

Large video collections (Kinetics, SSv2, crawled sets) always contain some
missing, empty, truncated or undecodable files. The official VideoMAE
loader prints the error and silently retries another index; the stock
MMAction2 ``VideoDataset`` crashes the run. :class:`VideoMAEDataset` drops
what it can detect cheaply at start (missing and zero-byte files, with one
warning) and, at load time, turns a failure of the *loading* transforms into
"warn once with the reason, count, draw a deterministic substitute" (or,
with ``on_bad_video='raise'``, stops at the first bad file), with the count
shared across DataLoader workers so the main process (and
:class:`~mmmae.engine.hooks.BadSampleLoggerHook`) can report it. With
``load_timeout`` the loading stage runs in a killable child process, so a
decoder that hangs inside C code cannot stall the run.
"""
import copy
import logging
import os
import os.path as osp
import re
import stat
import sys
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmaction.datasets import VideoDataset
from mmengine.fileio import list_from_file
from mmengine.logging import print_log

from mmmae.registry import DATASETS
from .video_guard import (REASONS, BadVideoError, ChildCrashed,
                          GuardedCaller, LoadTimeout, file_diagnosis,
                          short_error)

__all__ = ['VideoMAEDataset', 'BadVideoError']

# Failure codes stored per entry in shared memory (0 = not known bad).
_REASONS = {i + 1: r for i, r in enumerate(REASONS)}
_CODES = {v: k for k, v in _REASONS.items()}

_FIX = ('Fix: remove it from the annotation file (`python '
        'tools/misc/check_dataset.py ANN_FILE --data-prefix DIR --out-dir '
        'OUT` writes a clean list), or set on_bad_video=\'replace\' in the '
        'dataset config to train on a deterministic substitute instead.')

_EVAL_FIX = ('A metric computed on fewer videos than the list holds would '
             'be a wrong result. Fix: repair or remove the file (`python '
             'tools/misc/check_dataset.py ANN_FILE --data-prefix DIR '
             '--out-dir OUT` writes a clean list), or set '
             "on_bad_video='score_wrong' in this dataset config to score "
             'unreadable videos as wrong predictions (the metrics then '
             'report videos_evaluated of videos_listed).')

#: Seconds ``load_timeout='auto'`` allows the loading stage of one sample.
AUTO_LOAD_TIMEOUT = 120.0

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

    def __init__(self,
                 num: int,
                 dtype: torch.dtype = torch.uint8,
                 fill: int = 0) -> None:
        self.data = torch.full((num, ), fill, dtype=dtype).share_memory_()

    def __deepcopy__(self, memo: dict) -> '_SharedFlags':
        new = _SharedFlags(0)
        new.data = self.data.clone().share_memory_()
        return new


#: Failure codes found while decoding the *sampled* frames of a file that
#: opened: another clip of the same file may decode, so such an entry is
#: tried again whenever it is drawn. Every other failure is a property of the
#: file (or of the machine: timeout, crash) and the entry is skipped
#: afterwards. Either way a sample's outcome depends on the sample alone, not
#: on which samples were loaded before, which keeps a resumed run (whose
#: flags start empty) identical to the uninterrupted one.
_SAMPLE_DEPENDENT = frozenset([_CODES['frame count mismatch']])


class _LoadFailure(Exception):
    """A loading-stage failure whose reason is known from the stage it
    happened in (``'too short'``, ``'frame count mismatch'``) or from the
    file's structure, checked before decoding (``structural``)."""

    def __init__(self,
                 reason: str,
                 detail: str,
                 structural: bool = False) -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail
        self.structural = structural

    def __str__(self) -> str:
        return f'{self.reason}: {self.detail}'


def _is_local(path: str) -> bool:
    """Whether ``path`` is a local file path (no ``scheme://`` prefix)."""
    return '://' not in path


def _short(err: BaseException, limit: int = 200) -> str:
    """First line of an exception message, truncated (decord's are long)."""
    return short_error(err, limit)


def _inds(inds: np.ndarray, limit: int = 8) -> str:
    """``'[0, 2, ..., 38]'``: sampled indices, shortened for a log line."""
    vals = [int(i) for i in inds]
    if len(vals) > limit:
        return '[' + ', '.join(map(str, vals[:limit - 1])) + \
            f', ... {vals[-1]}] ({len(vals)} frames)'
    return str(vals)


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
    ``SampleFrames``, ``DecordDecode``, a PyAV or cached decoder, ...); if
    the pipeline has none, every transform is in it. An exception raised in
    the loading stage, a video with fewer than ``min_frames`` frames, or a
    loading stage that yields fewer frames than it sampled marks the entry
    bad, with one reason:

    ============================ =========================================
    ``missing`` / ``empty``      no such file / zero bytes
    ``not a video``              no known container signature
    ``truncated``                an MP4/MOV box or the AVI ``RIFF`` chunk
                                 runs past the end of the file, or an MP4
                                 lost its ``moov`` index
    ``too short``                fewer than ``min_frames`` frames
    ``frame count mismatch``     the header claims N frames but decoding
                                 the sampled indices fails or returns fewer
                                 frames (a container that lies about its
                                 length)
    ``timeout``                  the loading stage ran past ``load_timeout``
    ``crashed``                  the decoder killed its process (segfault),
                                 only detectable with ``load_timeout``
    ``corrupt``                  any other decoder failure
    ============================ =========================================

    A bad entry is warned about once (file, reason, decoder message),
    counted, and not decoded again, except after a ``frame count
    mismatch``: another clip of that file may decode, so it is tried
    whenever it is drawn (a sample's outcome then depends on the sample
    alone, which keeps resume bit-exact). An exception in a later transform
    (crop, format, mask) is a pipeline bug, not bad data: it is re-raised
    with the file name attached.

    **What happens then** (``on_bad_video``): ``'replace'`` (training
    default) trains on a substitute: entry ``j`` drawn from
    ``numpy.random.default_rng([seed, idx, attempt])`` over the other
    entries, ``attempt = 0, 1, ...`` until one loads (at most
    ``max_refetch``). The substitute therefore depends only on the seed and
    the data, not on the global RNG, the worker count or which worker saw
    the failure first; it is the same every epoch, and it is logged once
    (``replaced X (reason) by Y``) and listed in :attr:`replacements`.
    ``'raise'`` stops at the first bad file with a
    :class:`~mmmae.datasets.video_guard.BadVideoError` naming its path, the
    reason and the fix (at start for missing/empty files).

    **Evaluation** (``test_mode=True``) never loses a sample silently: a
    substitute would bias the metric, and so would dropping the entry. By
    default (``'raise'``) a missing or empty file fails the build naming
    every such file, and a file that fails to load fails the run naming
    it. With ``on_bad_video='score_wrong'`` every listed entry is kept and
    an unreadable one yields a placeholder sample (the frames of a readable
    entry, the bad entry's label, ``bad_video=<reason>`` in its metainfo)
    that :class:`~mmmae.evaluation.ScoreBadVideosAsWrong` scores as a wrong
    prediction; :class:`~mmmae.engine.BadSampleLoggerHook` (in the base
    runtimes) wraps the loop's metrics with it and enables the
    placeholders, and the metrics report ``videos_evaluated`` of
    ``videos_listed``. Without that hook the dataset raises instead.

    **Guarded loading** (``load_timeout``, on by default on Linux): a
    decoder can segfault on a damaged file (decord does on some truncated
    AVIs opened from memory, as ``mmaction.DecordInit`` opens them) or hang
    inside C code (dmlc/decord#363), where neither a Python thread timeout
    nor ``SIGALRM`` can interrupt it (a signal handler only runs between
    bytecodes). So the loading stage runs in a helper process forked from
    the worker on first use and reused
    (:class:`~mmmae.datasets.video_guard.GuardedCaller`): a segfault becomes
    a ``crashed`` entry instead of a dead DataLoader worker, and after
    ``load_timeout`` s a stuck helper is killed (``SIGKILL``), the entry is
    a ``timeout`` and the next sample forks a fresh helper. The frames come
    back through shared memory (one copy) and the global RNG states travel
    with each call, so the samples are identical to in-process loading and
    resume stays bit-exact. The cost is one fork per worker and 1-3 ms of
    CPU per 16-frame 320x240 sample (``docs/robustness.md``; the
    ``-noguard`` rows of ``tools/benchmark/data_pipeline.py``).
    ``load_timeout='auto'``
    (default) means 120 s on Linux and in-process elsewhere (no safe
    ``fork`` on macOS/Windows); ``None`` turns the guard off.

    Too-short videos: ``SampleFrames`` (``out_of_bound_opt='loop'``) loops
    the frames of a video shorter than ``clip_len * frame_interval``, as the
    official VideoMAE sampler repeats frames, so such a video is *used*, not
    skipped. Only a video with fewer than ``min_frames`` frames (default 1:
    no decodable frame) is bad. Set ``min_frames=clip_len * frame_interval``
    to skip short videos instead of looping them.

    The bad-entry flags (and the substitutes) live in shared memory (a
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
        on_bad_video (str, optional): training: ``'replace'`` (train on a
            deterministic substitute) or ``'raise'`` (stop at the first bad
            file); test mode: ``'raise'`` or ``'score_wrong'``. Defaults to
            None: ``'replace'`` for training, ``'raise'`` in test mode.
        load_timeout (float | str | None): seconds the loading stage of one
            sample may take in its killable helper process; ``'auto'``: 120
            on Linux, None elsewhere; None: in process, no limit and no
            protection from a decoder crash. Defaults to ``'auto'``.
        seed (int): seed of the substitute draw. Defaults to 0.
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
                 on_bad_video: Optional[str] = None,
                 load_timeout: Union[float, str, None] = 'auto',
                 seed: int = 0,
                 **kwargs) -> None:
        test_mode = kwargs.get('test_mode', False)
        if on_bad_video is None:
            on_bad_video = 'raise' if test_mode else 'replace'
        allowed = ('raise', 'score_wrong') if test_mode else ('replace',
                                                              'raise')
        if on_bad_video not in allowed:
            why = (' (a substitute sample would bias the metric)'
                   if on_bad_video == 'replace' else '')
            raise ValueError(
                f'on_bad_video={on_bad_video!r}{why}: expected one of '
                f'{allowed} with test_mode={test_mode}')
        if load_timeout == 'auto':
            load_timeout = (AUTO_LOAD_TIMEOUT
                            if sys.platform.startswith('linux') else None)
        if load_timeout is not None and not (
                isinstance(load_timeout, (int, float)) and load_timeout > 0):
            raise ValueError(f'load_timeout={load_timeout!r}: expected a '
                             "positive number of seconds, 'auto' or None")
        if load_timeout is not None and not hasattr(os, 'fork'):
            raise ValueError('load_timeout needs os.fork (Linux/macOS); '
                             'set load_timeout=None on this platform')
        self.on_bad_video = on_bad_video
        self.load_timeout = load_timeout
        self.seed = int(seed)
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
        self._substitutes: Optional[_SharedFlags] = None
        self._guard: Optional[GuardedCaller] = None
        self._structure_ok: Optional[np.ndarray] = None
        self._score_wrong_enabled = False
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

        if self.test_mode and self.on_bad_video == 'score_wrong':
            return data_list  # bad entries are scored, found at load time
        kept, skipped = [], []
        for info in data_list:
            path = info['filename']
            reason = self._start_check(path)
            if reason is None:
                kept.append(info)
                continue
            if self.on_bad_video == 'raise' and not self.test_mode:
                raise BadVideoError(
                    f'bad video {path} ({reason}) listed in '
                    f'{self.ann_file} (on_bad_video=\'raise\'). {_FIX}')
            skipped.append((path, reason))
        self.skipped = skipped
        if skipped and self.test_mode:
            raise BadVideoError(
                f'{len(skipped)} of {len(data_list)} videos listed in the '
                f'evaluation list {self.ann_file} are unreadable: '
                f'{_name_list(skipped, self.max_logged_names)}. {_EVAL_FIX}')
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
        """Parse the annotation list (MMAction2 ``VideoDataset`` format).

        The rules are those of
        :func:`~mmmae.datasets.video_guard.parse_ann_line`, shared with
        ``tools/misc/check_dataset.py``: blank lines and ``#`` comments
        are skipped, a path may contain spaces (quoted, tab-separated from
        its label, or followed by an integer label), the label is
        optional, and a parse error names the offending line.
        """
        # imported here: the module's import block is not part of this
        # method, and video_guard needs no torch, so the cost is nil
        from .video_guard import parse_ann_line
        data_list = []
        prefix = self.data_prefix.get('video')
        for lineno, line in enumerate(list_from_file(self.ann_file), 1):
            try:
                entry = parse_ann_line(line, self.delimiter,
                                       multi_label=self.multi_class)
                if entry is None:
                    continue
                filename, labels = entry
                if self.multi_class:
                    assert self.num_classes is not None, \
                        'multi_class=True needs num_classes'
                    label = labels
                else:  # -1: unlabeled (pretraining ignores labels)
                    label = labels[0] if labels else -1
            except (ValueError, AssertionError) as err:
                raise ValueError(f'{self.ann_file}:{lineno}: cannot parse '
                                 f'{line.strip()!r}: {err}') from err
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
        # substitute index per entry, -1 = never replaced
        self._substitutes = _SharedFlags(len(self), torch.int64, -1)
        # Per process (a pure function of the file: no need to share).
        self._structure_ok = np.zeros(len(self), dtype=bool)
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

        Raises:
            BadVideoError: the video is bad and ``on_bad_video='raise'``.
        """
        data_info = self.get_data_info(idx)
        filename = data_info.get('filename', f'<entry {idx}>')
        try:
            self._check_structure(idx, filename)
            if self.load_timeout is None:
                results = self._load(data_info)
            else:
                results = self._guarded_load(data_info)
        except Exception as err:  # noqa: BLE001  (any loading failure)
            self._record_failure(idx, filename, err)
            return None
        if results is None:
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

    def _check_structure(self, idx: int, filename: str) -> None:
        """Refuse a local file whose container is cut or not a video before
        any decoder sees it (decord can segfault on a truncated AVI), once
        per entry and process: a stat and a few small reads.

        Raises:
            _LoadFailure: ``not a video``, ``truncated``, ``missing``, ...
        """
        ok = self._structure_ok
        if ok is None or ok[idx] or not _is_local(filename):
            return
        if filename.endswith('.npy'):  # a frame cache, not a container
            ok[idx] = True
            return
        why, detail = file_diagnosis(filename)
        if why is not None:
            raise _LoadFailure(why, detail, structural=True)
        ok[idx] = True

    def _guarded_load(self, data_info: dict) -> Optional[dict]:
        """:meth:`_load` in this process's helper (forked on first use,
        reused, replaced after a timeout or crash)."""
        guard = self._guard
        if guard is None or not guard.usable:
            if guard is not None:
                guard.close()  # pipes inherited from another process
            guard = self._guard = GuardedCaller(self._load)
        return guard(data_info, timeout=self.load_timeout)

    def _load(self, results: dict) -> Optional[dict]:
        """Run the loading stage; raise on anything that makes the video
        unusable (in a child process when ``load_timeout`` is set).

        Raises:
            _LoadFailure: too short, or the decoder failed / returned fewer
                frames after the header claimed ``total_frames``.
            Exception: a failure before the frame count was known (open).
        """
        total = None
        for t in self.pipeline.transforms[:self._num_loading]:
            try:
                results = t(results)
            except Exception as err:
                inds = results.get('frame_inds')
                if total is None or inds is None:
                    raise  # failed to open: the file decides the reason
                inds = np.asarray(inds).ravel()
                raise _LoadFailure(
                    'frame count mismatch',
                    f'header claims {total} frames; {type(t).__name__} '
                    f'failed on sampled indices {_inds(inds)}: '
                    f'{_short(err)}') from err
            if results is None:
                return None
            if total is None and 'total_frames' in results:
                total = int(results['total_frames'])
                if total < self.min_frames:
                    raise _LoadFailure(
                        'too short',
                        f'{total} frames < min_frames={self.min_frames}')
        imgs = results.get('imgs')
        if imgs is not None:
            inds = results.get('frame_inds')
            want = None if inds is None else int(np.size(inds))
            if len(imgs) == 0 or (want is not None and len(imgs) < want):
                raise _LoadFailure(
                    'frame count mismatch',
                    f'header claims {total} frames; decoded {len(imgs)} of '
                    f'{want if want is not None else "?"} sampled frames')
        return results

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

    @staticmethod
    def classify_failure(filename: str,
                         err: BaseException) -> Tuple[str, str]:
        """``(reason, detail)`` of a loading-stage failure.

        The guard's verdict comes first (``timeout``, ``crashed``), then
        what the file itself shows (``missing``, ``empty``, ``not a
        video``, ``truncated``: the root cause even when the decoder
        failed later), then the stage the loader failed in (``too short``,
        ``frame count mismatch``), else ``corrupt``.

        Args:
            filename (str): the video path.
            err (BaseException): what the loading stage raised.

        Returns:
            tuple[str, str]: a reason from
            :data:`~mmmae.datasets.video_guard.REASONS` and a detail.
        """
        if isinstance(err, LoadTimeout):
            return 'timeout', str(err)
        if isinstance(err, ChildCrashed):
            return 'crashed', str(err)
        if isinstance(err, _LoadFailure) and err.structural:
            return err.reason, err.detail
        file_why, file_detail = (file_diagnosis(filename)
                                 if _is_local(filename) else (None, None))
        if file_why is not None:
            return file_why, f'{file_detail}; decoder: {_short(err)}'
        if isinstance(err, FileNotFoundError):
            return 'missing', _short(err)
        if isinstance(err, _LoadFailure):
            return err.reason, err.detail
        return 'corrupt', _short(err)

    def _record_failure(self, idx: int, filename: str,
                        err: BaseException) -> None:
        """Flag entry ``idx`` as bad and warn the first time it is seen.

        Raises:
            BadVideoError: when ``on_bad_video='raise'``.
        """
        reason, detail = self.classify_failure(filename, err)
        self._last_error[idx] = f'{reason}: {detail}'
        if self.on_bad_video == 'raise' and not self.test_mode:
            raise BadVideoError(
                f'bad video {filename} ({reason}: {detail}) '
                f"(on_bad_video='raise'). {_FIX}") from err
        assert self._failures is not None
        first = int(self._failures[idx]) == 0
        self._failures[idx] = _CODES[reason]
        if first:
            # Other workers skip a flagged entry, so this is warned once.
            print_log(
                f'{type(self).__name__}: skipping unreadable video '
                f'{filename} ({reason}; {detail})',
                logger='current',
                level=logging.WARNING)

    def substitute_index(self, idx: int, attempt: int) -> int:
        """The ``attempt``-th substitute candidate for entry ``idx``.

        Uniform over the other entries, from an RNG seeded by
        ``(seed, idx, attempt)``: independent of numpy's global RNG, of
        the worker count and of which entries are already known bad.

        Args:
            idx (int): the bad entry.
            attempt (int): 0 for the first candidate, 1 if that one is
                bad too, ...

        Returns:
            int: an index ``!= idx``.
        """
        n = len(self)
        rng = np.random.default_rng([self.seed, int(idx), int(attempt)])
        j = int(rng.integers(n - 1))
        return j + 1 if j >= idx else j

    def __getitem__(self, idx: int) -> dict:
        """Pipeline output of entry ``idx``, or of its deterministic
        substitute when ``idx`` is unreadable (training only).

        Raises:
            RuntimeError: in test mode when ``idx`` is unreadable; in
                training when every entry is bad or ``max_refetch``
                candidates all fail.
            BadVideoError: at the first bad video with
                ``on_bad_video='raise'``.
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
            data = None if self._known_bad(idx) else self.prepare_data(idx)
            if data is not None:
                return data
            filename = self.get_data_info(idx).get('filename')
            code = int(self._failures[idx])
            why = self._last_error.get(
                idx, _REASONS[code] if code else 'a transform returned None')
            if self.on_bad_video == 'score_wrong':
                if self._score_wrong_enabled:
                    return self._placeholder(idx, why)
                raise BadVideoError(
                    f'cannot load {filename} ({why}): '
                    "on_bad_video='score_wrong' needs "
                    "dict(type='mmmae.BadSampleLoggerHook') in custom_hooks "
                    'to score it as a wrong prediction')
            raise BadVideoError(
                f'cannot load evaluation video {filename} ({why}) listed in '
                f'{self.ann_file}. {_EVAL_FIX}')

        # A known-bad entry is not decoded again (unless its failure
        # depended on the sampled frames).
        if not self._known_bad(idx):
            data = self.prepare_data(idx)
            if data is not None:
                return data
        for attempt in range(self.max_refetch):
            self._check_any_good()
            if len(self) < 2:
                break
            j = self.substitute_index(idx, attempt)
            if self._known_bad(j):
                continue
            data = self.prepare_data(j)
            if data is not None:
                self._note_substitute(idx, j, attempt)
                return data
        self._check_any_good()
        raise RuntimeError(
            f'no loadable sample after {self.max_refetch} refetches from '
            f'{self.ann_file!r}; check the pipeline')

    def enable_wrong_scoring(self) -> None:
        """Let an unreadable entry yield a placeholder sample
        (``on_bad_video='score_wrong'``). Called by
        :class:`~mmmae.engine.BadSampleLoggerHook` once it wrapped the
        metrics with :class:`~mmmae.evaluation.ScoreBadVideosAsWrong`,
        before the DataLoader workers start."""
        if self.on_bad_video != 'score_wrong':
            raise ValueError("enable_wrong_scoring() needs on_bad_video="
                             f"'score_wrong', not {self.on_bad_video!r}")
        self._score_wrong_enabled = True

    def _placeholder(self, idx: int, why: str) -> dict:
        """A sample for unreadable entry ``idx``: the pipeline output of the
        first readable substitute (right shapes), carrying ``idx``'s label
        and ``bad_video`` (the reason) and ``filename`` in its metainfo."""
        data = None
        for attempt in range(self.max_refetch if len(self) > 1 else 0):
            j = self.substitute_index(idx, attempt)
            if not self._known_bad(j):
                data = self.prepare_data(j)
                if data is not None:
                    break
        if data is None:
            self._check_any_good()
            raise RuntimeError(
                f'no readable video to shape a placeholder for '
                f'{self._path(idx)} in {self.ann_file!r}')
        sample = data['data_samples']
        sample.set_gt_label(self.get_data_info(idx)['label'])
        sample.set_metainfo(
            dict(bad_video=why.split(':')[0], filename=self._path(idx)))
        return data

    def _known_bad(self, idx: int) -> bool:
        """Whether entry ``idx`` failed in a way every sample of it would."""
        assert self._failures is not None
        code = int(self._failures[idx])
        return code != 0 and code not in _SAMPLE_DEPENDENT

    def _check_any_good(self) -> None:
        assert self._failures is not None
        if bool((self._failures != 0).all()):
            raise RuntimeError(
                f'every one of the {len(self)} videos in {self.ann_file!r} '
                'failed to load; ' + _name_list(self.skipped_videos, 5) +
                '. Check the files and the pipeline\'s loading transforms.')

    def _note_substitute(self, idx: int, sub: int, attempt: int) -> None:
        """Record (shared) and log, once per entry, the substitute used."""
        assert self._substitutes is not None
        if int(self._substitutes.data[idx]) == sub:
            return
        self._substitutes.data[idx] = sub
        code = int(self._failures[idx]) if self._failures is not None else 0
        why = _REASONS.get(code, 'rejected by a transform')
        print_log(
            f'{type(self).__name__}: replaced {self._path(idx)} ({why}) by '
            f'{self._path(sub)} (seed={self.seed}, attempt={attempt})',
            logger='current',
            level=logging.INFO)

    def _path(self, idx: int) -> str:
        return self.get_data_info(idx).get('filename', f'<entry {idx}>')

    @property
    def replacements(self) -> List[Tuple[str, str]]:
        """``(bad path, substitute path)`` of every entry replaced so far
        (in this process or any DataLoader worker of this rank)."""
        if self._substitutes is None:
            return []
        subs = self._substitutes.data
        return [(self._path(i), self._path(int(subs[i])))
                for i in torch.nonzero(subs >= 0).flatten().tolist()]

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
