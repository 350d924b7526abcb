# Copyright (c) mmmae contributors. All rights reserved.
"""Scan a video annotation list, find the bad files, write a clean list.

The logic of ``tools/misc/check_dataset.py``; :func:`check_video_list` is
the same scan from Python.

Every entry is probed the way training would read it. The file's
structure is checked first, always (missing, empty, known container
signature, MP4/AVI/Matroska size fields: a cut file is ``truncated`` even
when a decoder reads the frames before the cut). Then it is opened *the
way the training pipeline opens it* (``reader``, or ``config`` to take it
from the config's train pipeline: ``mmaction.DecordInit`` reads the file
into memory, where decord segfaults on some cut AVIs it decodes fine by
path), its claimed frame count read, and evenly spaced frames decoded,
*including the last claimed one* (where a container that lies about its
length fails). Each probe runs in a killable helper process with
``timeout``, so a file that hangs the decoder is reported as ``timeout``
and one that crashes it as ``crashed``. ``cross_check=N`` also compares
the reader's random access with PyAV's sequential decoding at N sampled
frames and flags files where it returns wrong frames (decord on AVI with
B-frames is a known case).

The list format (paths with spaces: quoted, tab-separated, or followed by
an integer label) is the dataset's, see
:func:`mmmae.datasets.video_guard.parse_ann_line`.

Outputs, in ``out_dir`` (default: next to the annotation file):

- ``{name}_clean.txt``: the annotation file without the bad entries
  (the other lines copied verbatim; comments and blank lines kept);
- ``{name}_report.json``: counts per reason and every bad entry
  (line, path, reason, detail);
- ``{name}_report.txt``: the same as a human summary
  (:func:`format_check_summary`).

This module needs only numpy, decord and PyAV (plus mmengine's ``Config``
for ``config``): the tool loads it and :mod:`~mmmae.datasets.video_guard`
from their files, without ``import mmmae`` (torch, mmaction), so it starts
in a second and its helper processes are cheap to fork.
"""
import json
import os
import os.path as osp
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import List, Optional, Tuple

if __package__:
    from . import video_guard
else:
    # loaded from its file, outside the package, by
    # tools/misc/check_dataset.py, which loads video_guard that way first
    video_guard = sys.modules['mmmae.datasets.video_guard']

__all__ = [
    'DatasetCheckError', 'check_video_list', 'format_check_summary',
    'check_settings_from_config', 'reader_for_transform'
]

#: Files probed in parallel by default.
DEFAULT_WORKERS = max(1, min(8, os.cpu_count() or 1))


class DatasetCheckError(ValueError):
    """The list or the config cannot be scanned; the message names the
    file (and line) and what to pass instead."""


def reader_for_transform(transform: dict) -> Optional[str]:
    """The reader that opens a file the way a loading transform does.

    Args:
        transform (dict): a pipeline entry (``type`` with or without its
            registry scope).

    Returns:
        str | None: ``'decord-memory'`` for ``DecordInit``,
        ``'decord-path'`` or ``'pyav'`` for ``VideoInit`` by its
        ``backend``, ``'pyav'`` for mmaction's ``PyAVInit`` (it decodes
        from a ``BytesIO`` from the start, with the same FFmpeg demuxer and
        decoder: the nearest reader), None when no reader imitates it.
    """
    name = _type_name(transform).rsplit('.', 1)[-1]
    if name == 'DecordInit':
        return 'decord-memory'
    if name == 'PyAVInit':
        return 'pyav'
    if name == 'VideoInit':
        # 'auto' opens all but .npy caches with decord, by path
        return {
            'pyav': 'pyav',
            'decord': 'decord-path',
            'auto': 'decord-path'
        }.get(transform.get('backend', 'decord'))
    return None


def _type_name(transform: dict) -> str:
    """A transform's ``type`` as text (a class given as ``type`` too)."""
    kind = transform.get('type')
    if not isinstance(kind, str):
        kind = getattr(kind, '__name__', str(kind))
    return kind


def _train_dataset_cfg(cfg) -> dict:
    """The train dataset of a config, unwrapped from dataset wrappers
    (``RepeatDataset``, ``ConcatDataset``: the first)."""
    ds = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    while 'pipeline' not in ds:
        inner = ds.get('dataset') or (ds.get('datasets') or [None])[0]
        if not inner:
            break
        ds = inner
    return ds


def check_settings_from_config(config: str) -> dict:
    """How a training config reads its list and opens its videos.

    Args:
        config (str): a training config file.

    Returns:
        dict: ``reader`` (one of ``video_guard.READERS``), ``reader_from``
        (the transform it comes from), ``delimiter`` and ``multi_class``
        of the train dataset.

    Raises:
        DatasetCheckError: the file is missing, it has no train pipeline,
            or its loading transform opens files in a way no reader
            imitates (``OpenCVInit``, ``FrameCacheInit``,
            ``VideoInit(backend='npy')``, ...).
    """
    if not osp.isfile(config):
        raise DatasetCheckError(f'config {config!r} does not exist')
    from mmengine.config import Config

    # custom_imports would import mmmae (and torch) for nothing here
    cfg = Config.fromfile(config, import_custom_modules=False)
    ds = _train_dataset_cfg(cfg)
    pipeline = ds.get('pipeline') or cfg.get('train_pipeline') or []
    for transform in pipeline:
        kind = _type_name(transform)
        if not kind.endswith('Init'):  # the loading stage opens the file
            continue
        reader = reader_for_transform(transform)
        if reader is None:
            raise DatasetCheckError(
                f'{config} opens videos with {dict(transform)}, which no '
                f'--reader imitates; pass --reader '
                f'({", ".join(video_guard.READERS)})')
        backend = transform.get('backend')
        return dict(reader=reader,
                    reader_from=f'{config}: {kind}' +
                    (f'(backend={backend!r})' if backend else ''),
                    delimiter=ds.get('delimiter', ' '),
                    multi_class=bool(ds.get('multi_class', False)))
    raise DatasetCheckError(f'found no *Init loading transform in the train '
                            f'pipeline of {config}; pass --reader')


def _resolve_settings(config: Optional[str], reader: Optional[str],
                      delimiter: Optional[str],
                      multi_class: Optional[bool]) -> dict:
    """``reader``, ``reader_from``, ``delimiter`` and ``multi_class``:
    as given, else from ``config``, else the defaults (the dataset's);
    ``reader_from`` says where the reader came from."""
    from_cfg = check_settings_from_config(config) if config else {}
    if reader is not None:
        reader_from = '--reader'
    elif from_cfg:
        reader, reader_from = from_cfg['reader'], from_cfg['reader_from']
    else:
        reader, reader_from = ('decord-memory',
                               'default: as mmaction.DecordInit')
    if delimiter is None:
        delimiter = from_cfg.get('delimiter', ' ')
    if multi_class is None:
        multi_class = from_cfg.get('multi_class', False)
    return dict(reader=reader, reader_from=reader_from, delimiter=delimiter,
                multi_class=multi_class)


def _read_entries(ann_file: str, delimiter: str,
                  multi_class: bool) -> Tuple[List[str], list]:
    """Every raw line of the list, and ``(line index, path)`` of each
    entry, read the way ``VideoMAEDataset`` reads it (blank lines and
    ``#`` comments are not entries).

    Raises:
        DatasetCheckError: the file is missing, or a line cannot be
            parsed (the dataset would refuse the list too).
    """
    if not osp.isfile(ann_file):
        raise DatasetCheckError(f'annotation file {ann_file!r} does not '
                                'exist')
    with open(ann_file, encoding='utf-8') as f:
        lines = f.read().splitlines()
    entries = []
    for i, line in enumerate(lines):
        try:
            entry = video_guard.parse_ann_line(line, delimiter,
                                               multi_label=multi_class)
        except ValueError as err:
            raise DatasetCheckError(f'{ann_file}:{i + 1}: cannot parse '
                                    f'{line.strip()!r}: {err}') from None
        if entry is not None:
            entries.append((i, entry[0]))
    return lines, entries


def _probe_file(path: str, num_indices: int, min_frames: int, cross_n: int,
                threshold: float, reader: str) -> dict:
    """Probe one file (runs in the helper process when guarded)."""
    result = video_guard.probe_video(path,
                                     num_indices=num_indices,
                                     min_frames=min_frames,
                                     reader=reader)
    if result['reason'] is None and cross_n > 0:
        seed = zlib.crc32(path.encode())
        try:
            cc = video_guard.cross_check(path, cross_n, threshold,
                                         seed=seed, reader=reader)
        except Exception as err:  # noqa: BLE001
            result.update(reason='wrong frames',
                          detail='cross-check failed: '
                          f'{video_guard.short_error(err)}')
        else:
            result['cross_check_max_diff'] = cc['max_diff']
            if not cc['ok']:
                result.update(reason='wrong frames', detail=cc['detail'])
    return result


class _Prober:
    """Probe files, each thread through its own killable helper."""

    def __init__(self, reader: str, timeout: float, num_indices: int,
                 min_frames: int, cross_n: int, threshold: float) -> None:
        self.reader = reader
        self.timeout = timeout
        # _probe_file's arguments after the path
        self.params = (num_indices, min_frames, cross_n, threshold, reader)
        self.local = threading.local()
        self.callers: list = []

    def __call__(self, path: str) -> dict:
        g = video_guard
        why, detail = g.file_diagnosis(path)
        if why in ('missing', 'empty', 'not a video'):
            return dict(reason=why, detail=detail, num_frames=None)
        try:
            if self.timeout == 0:
                return _probe_file(path, *self.params)
            caller = getattr(self.local, 'caller', None)
            if caller is None:
                caller = self.local.caller = g.GuardedCaller(_probe_file)
                self.callers.append(caller)
            return caller(path, *self.params, timeout=self.timeout)
        except (g.LoadTimeout, g.ChildCrashed) as err:
            # as in training: the decoder's fate first (it is what kills a
            # run), the structural finding (the likely cause) in the detail
            text = f'{self.reader}: {err}'
            if why is not None:
                text += f'; the file is {why}: {detail}'
            reason = 'timeout' if isinstance(err, g.LoadTimeout) else 'crashed'
            return dict(reason=reason, detail=text, num_frames=None)
        except Exception as err:  # noqa: BLE001
            return dict(reason=why or 'error',
                        detail=detail or g.short_error(err),
                        num_frames=None)

    def close(self) -> None:
        for caller in self.callers:
            caller.close()


def _progress_bar(total: int, enabled: bool):
    """A tqdm bar on stderr, or None when tqdm is not installed."""
    try:
        from tqdm import tqdm
    except ImportError:  # optional dependency
        return None
    return tqdm(total=total,
                desc='checking videos',
                unit='file',
                disable=not enabled,
                file=sys.stderr)


def _probe_all(paths: List[str], prober: _Prober, workers: int,
               progress: bool) -> List[dict]:
    """Results of ``prober`` for ``paths``, in order, ``workers`` at a
    time; the helpers are closed at the end."""
    bar = _progress_bar(len(paths), progress)
    results: List[Optional[dict]] = [None] * len(paths)

    def run(k: int) -> None:
        results[k] = prober(paths[k])
        if bar is not None:
            bar.update(1)

    try:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, range(len(paths))))
    finally:
        prober.close()
    if bar is not None:
        bar.close()
    return results


def check_video_list(ann_file: str,
                     data_prefix: str = '',
                     *,
                     out_dir: Optional[str] = None,
                     reader: Optional[str] = None,
                     config: Optional[str] = None,
                     delimiter: Optional[str] = None,
                     multi_class: Optional[bool] = None,
                     workers: int = DEFAULT_WORKERS,
                     timeout: float = 60.0,
                     num_indices: int = 8,
                     min_frames: int = 1,
                     cross_check: int = 0,
                     cross_check_threshold: float = 8.0,
                     progress: bool = True) -> dict:
    """Probe every entry of an annotation list; write the clean list and
    the report (see the module docstring).

    Args:
        ann_file (str): the list, one ``path [label]`` per line.
        data_prefix (str): folder the paths are relative to.
        out_dir (str, optional): where to write the outputs. Defaults to
            the folder of ``ann_file``.
        reader (str, optional): how to open each file, one of
            ``video_guard.READERS``. Defaults to the one of ``config``,
            else ``'decord-memory'`` (``mmaction.DecordInit``).
        config (str, optional): training config to take the reader,
            ``delimiter`` and ``multi_class`` from (its train pipeline and
            dataset); explicit arguments win.
        delimiter (str, optional): the dataset's ``delimiter``. Defaults
            to the config's, else ``' '``.
        multi_class (bool, optional): the dataset's ``multi_class``.
            Defaults to the config's, else False.
        workers (int): files probed in parallel.
        timeout (float): seconds per file before its decoder is killed
            and the file is ``timeout``; 0 probes in this process (a
            crashing decoder then kills it).
        num_indices (int): evenly spaced frames decoded per file (first
            and last claimed frame included).
        min_frames (int): fewer frames is ``too short``.
        cross_check (int): compare the reader's random access with PyAV
            sequential decoding at this many sampled frames (0: off).
        cross_check_threshold (float): mean absolute pixel difference
            (0-255) above which a cross-checked frame is wrong.
        progress (bool): show a progress bar on stderr.

    Returns:
        dict: the report also written to ``{name}_report.json``:
        ``ann_file``, ``data_prefix``, ``num_entries``, ``num_good``,
        ``num_bad``, ``counts`` (per reason), ``bad`` (``line``, ``path``,
        ``file``, ``reason``, ``detail``, ``num_frames`` per bad entry),
        ``clean_list``, ``seconds`` and ``options``.

    Raises:
        DatasetCheckError: the list or the config is missing or cannot be
            read.
        ValueError: ``workers < 1``, ``timeout < 0`` or an unknown
            ``reader``.
    """
    if workers < 1:
        raise ValueError(f'workers must be >= 1, got {workers}')
    if timeout < 0:
        raise ValueError(f'timeout must be >= 0, got {timeout}')
    if reader is not None and reader not in video_guard.READERS:
        raise ValueError(f'reader={reader!r}: expected one of '
                         f'{video_guard.READERS}')
    settings = _resolve_settings(config, reader, delimiter, multi_class)
    reader = settings['reader']
    lines, entries = _read_entries(ann_file, settings['delimiter'],
                                   settings['multi_class'])
    if reader == 'pyav':
        # PyAVSeekReader's module imports torch (mmcv): once here, so the
        # forked helpers inherit it instead of each paying seconds
        import importlib
        importlib.import_module('mmmae.datasets.transforms.video_decode')
    paths = [osp.join(data_prefix, p) for _, p in entries]
    prober = _Prober(reader, timeout, num_indices, min_frames, cross_check,
                     cross_check_threshold)
    start = time.monotonic()
    results = _probe_all(paths, prober, workers, progress)

    bad_lines = set()
    bad = []
    for (line_idx, rel), path, res in zip(entries, paths, results):
        if res['reason'] is not None:
            bad_lines.add(line_idx)
            bad.append(
                dict(line=line_idx + 1,
                     path=rel,
                     file=path,
                     reason=res['reason'],
                     detail=res.get('detail'),
                     num_frames=res.get('num_frames')))

    out_dir = out_dir or osp.dirname(osp.abspath(ann_file))
    os.makedirs(out_dir, exist_ok=True)
    stem = osp.splitext(osp.basename(ann_file))[0]
    clean_path = osp.join(out_dir, f'{stem}_clean.txt')
    with open(clean_path, 'w', encoding='utf-8') as f:
        f.write(''.join(f'{line}\n' for i, line in enumerate(lines)
                        if i not in bad_lines))
    report = dict(
        ann_file=osp.abspath(ann_file),
        data_prefix=data_prefix,
        num_entries=len(entries),
        num_good=len(entries) - len(bad),
        num_bad=len(bad),
        counts=video_guard.summarize(b['reason'] for b in bad),
        bad=bad,
        clean_list=clean_path,
        seconds=round(time.monotonic() - start, 3),
        options=dict(reader=reader,
                     reader_from=settings['reader_from'],
                     config=config,
                     delimiter=settings['delimiter'],
                     multi_class=settings['multi_class'],
                     workers=workers,
                     timeout=timeout,
                     num_indices=num_indices,
                     min_frames=min_frames,
                     cross_check=cross_check,
                     cross_check_threshold=cross_check_threshold),
    )
    with open(osp.join(out_dir, f'{stem}_report.json'), 'w') as f:
        json.dump(report, f, indent=2)
    with open(osp.join(out_dir, f'{stem}_report.txt'), 'w') as f:
        f.write(format_check_summary(report) + '\n')
    return report


def format_check_summary(report: dict, limit: int = 50) -> str:
    """The human summary of a :func:`check_video_list` report (what
    ``{name}_report.txt`` holds and the tool prints).

    Args:
        report (dict): the report.
        limit (int): bad files listed at most; the rest are counted.

    Returns:
        str: the summary (no trailing newline).
    """
    out = [
        f"check_dataset: {report['ann_file']}",
        f"  data prefix: {report['data_prefix'] or '(none)'}",
        f"  reader: {report['options']['reader']} "
        f"({report['options']['reader_from']})",
        f"  entries: {report['num_entries']}, good: {report['num_good']}, "
        f"bad: {report['num_bad']} ({report['seconds']:.1f} s)",
    ]
    if report['counts']:
        out.append('  bad per reason:')
        width = max(len(r) for r in report['counts'])
        for reason, n in report['counts'].items():
            out.append(f'    {reason:<{width}}  {n}')
    if report['bad']:
        out.append('  bad files:')
        for item in report['bad'][:limit]:
            out.append(f"    line {item['line']}: {item['path']} "
                       f"({item['reason']}) {item['detail'] or ''}".rstrip())
        if len(report['bad']) > limit:
            out.append(f"    ... and {len(report['bad']) - limit} more (see "
                       'the json report)')
    out.append(f"  clean list: {report['clean_list']}")
    return '\n'.join(out)
