# Copyright (c) mmmae contributors. All rights reserved.
"""Scan a video annotation list, find the bad files, write a clean list.

Every entry is probed the way training would read it. The file's
structure is checked first, always (missing, empty, known container
signature, MP4/AVI/Matroska size fields: a cut file is ``truncated`` even
when a decoder reads the frames before the cut). Then it is opened *the
way the training pipeline opens it* (``--reader``, or ``--config`` to take
it from the config's train pipeline: ``mmaction.DecordInit`` reads the
file into memory, where decord segfaults on some cut AVIs it decodes fine
by path), its claimed frame count read, and evenly spaced frames decoded,
*including the last claimed one* (where a container that lies about its
length fails). Each probe runs in a killable helper process with
``--timeout``, so a file that hangs the decoder is reported as
``timeout`` and one that crashes it as ``crashed``. ``--cross-check N``
also compares the reader's random access with PyAV's sequential decoding
at N sampled frames and flags files where it returns wrong frames (decord
on AVI with B-frames is a known case).

The list format (paths with spaces: quoted, tab-separated, or followed by
an integer label) is the dataset's, see
:func:`mmmae.datasets.video_guard.parse_ann_line`.

Outputs, in ``--out-dir`` (default: next to the annotation file):

- ``{name}_clean.txt``: the annotation file without the bad entries
  (the other lines copied verbatim; comments and blank lines kept);
- ``{name}_report.json``: counts per reason and every bad entry
  (line, path, reason, detail);
- ``{name}_report.txt``: the same as a human summary (also printed).

Example::

    CFG=configs/videomae/videomae_vit-base-p16_64xb32-800e_kinetics400.py
    python tools/misc/check_dataset.py data/k400/train.txt \\
        --data-prefix data/k400/videos --workers 8 --timeout 60 \\
        --config $CFG

Then train on ``train_clean.txt``.
"""
import argparse
import json
import os
import os.path as osp
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import List, Optional, Sequence

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def guard_module():
    """``mmmae.datasets.video_guard``, loaded from its file when the
    package is not imported yet: it needs only numpy, decord and PyAV, and
    skipping ``mmmae/__init__`` (torch, mmaction, ...) makes the tool start
    in a second and its helper processes cheap to fork."""
    name = 'mmmae.datasets.video_guard'
    if name in sys.modules:
        return sys.modules[name]
    path = osp.join(REPO_ROOT, 'mmmae', 'datasets', 'video_guard.py')
    if not osp.isfile(path):  # an installed package without the sources
        import importlib
        return importlib.import_module(name)
    import importlib.util
    spec = importlib.util.spec_from_file_location('_mmmae_video_guard', path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # so results from helpers unpickle
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Find bad videos in an annotation list and write a '
        'clean list plus a report.')
    parser.add_argument('ann_file',
                        help='annotation file, one "path [label]" per line '
                        '(a path with spaces: "quoted", or a tab before '
                        'the label)')
    parser.add_argument('--data-prefix',
                        default='',
                        help='folder the annotation paths are relative to')
    parser.add_argument('--out-dir',
                        default=None,
                        help='where to write the clean list and the report '
                        '(default: the annotation file\'s folder)')
    parser.add_argument('--workers',
                        type=int,
                        default=max(1, min(8, os.cpu_count() or 1)),
                        help='files probed in parallel')
    parser.add_argument('--timeout',
                        type=float,
                        default=60.0,
                        help='seconds per file before its decoder is killed '
                        'and the file reported as "timeout" (0: no limit, '
                        'probe in process)')
    parser.add_argument('--num-indices',
                        type=int,
                        default=8,
                        help='evenly spaced frames decoded per file (first '
                        'and last claimed frame included)')
    parser.add_argument('--min-frames',
                        type=int,
                        default=1,
                        help='fewer frames is "too short" (use the '
                        'dataset\'s min_frames)')
    parser.add_argument('--cross-check',
                        type=int,
                        default=0,
                        metavar='N',
                        help='compare the reader\'s random access with '
                        'PyAV sequential decoding at N sampled frames')
    parser.add_argument('--cross-check-threshold',
                        type=float,
                        default=8.0,
                        help='mean |pixel difference| (0-255) above which a '
                        'cross-checked frame is wrong')
    parser.add_argument('--reader',
                        choices=guard_module().READERS,
                        default=None,
                        help='how to open each file, as training does: '
                        'decord-memory (mmaction.DecordInit: the file read '
                        'into memory), decord-path (mmmae.VideoInit, '
                        'backend decord), pyav (mmmae.VideoInit, backend '
                        'pyav: PyAVSeekReader). Default: from --config, '
                        'else decord-memory')
    parser.add_argument('--config',
                        default=None,
                        help='training config: take the reader from the '
                        'first *Init transform of its train pipeline, and '
                        'the delimiter and multi_class of its train dataset')
    parser.add_argument('--delimiter',
                        type=_delimiter,
                        default=None,
                        help='annotation field delimiter, as the dataset\'s '
                        '`delimiter` ("tab" or "\\t" for a tab). Default: '
                        'from --config, else " " (spaces; a tab still '
                        'separates a path with spaces from its label)')
    parser.add_argument('--multi-class',
                        action='store_true',
                        default=None,
                        help='several labels per line (the dataset\'s '
                        'multi_class). Default: from --config, else off')
    parser.add_argument('--no-progress',
                        action='store_true',
                        help='no progress bar')
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error('--workers must be >= 1')
    if args.timeout < 0:
        parser.error('--timeout must be >= 0')
    return args


def _delimiter(text: str) -> str:
    """``--delimiter`` value: a shell makes a tab hard to type."""
    return '\t' if text in ('tab', '\\t') else text


def reader_for_transform(transform: dict) -> Optional[str]:
    """The ``--reader`` that opens a file the way a loading transform does.

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
    kind = transform.get('type')
    if not isinstance(kind, str):
        kind = getattr(kind, '__name__', str(kind))
    name = kind.rsplit('.', 1)[-1]
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


def config_settings(config: str) -> dict:
    """What ``--config`` sets: ``reader``, ``reader_from`` (the transform
    it comes from), ``delimiter`` and ``multi_class``.

    Raises:
        SystemExit: no train pipeline, or its loading transform opens
            files in a way no reader imitates (``OpenCVInit``,
            ``FrameCacheInit``, ``VideoInit(backend='npy')``, ...).
    """
    if not osp.isfile(config):
        raise SystemExit(f'check_dataset: config {config!r} does not exist')
    from mmengine.config import Config

    # custom_imports would import mmmae (and torch) for nothing here
    cfg = Config.fromfile(config, import_custom_modules=False)
    ds = _train_dataset_cfg(cfg)
    pipeline = ds.get('pipeline') or cfg.get('train_pipeline') or []
    for transform in pipeline:
        kind = transform.get('type')
        if not isinstance(kind, str):
            kind = getattr(kind, '__name__', str(kind))
        if not kind.endswith('Init'):  # the loading stage opens the file
            continue
        reader = reader_for_transform(transform)
        if reader is None:
            raise SystemExit(
                f'check_dataset: {config} opens videos with '
                f'{dict(transform)}, which no --reader imitates; pass '
                f'--reader ({", ".join(guard_module().READERS)})')
        backend = transform.get('backend')
        return dict(reader=reader,
                    reader_from=f'{config}: {kind}' +
                    (f'(backend={backend!r})' if backend else ''),
                    delimiter=ds.get('delimiter', ' '),
                    multi_class=bool(ds.get('multi_class', False)))
    raise SystemExit(f'check_dataset: found no *Init loading transform in '
                     f'the train pipeline of {config}; pass --reader')


def resolve_settings(args: argparse.Namespace) -> argparse.Namespace:
    """Fill ``reader``, ``delimiter`` and ``multi_class`` in ``args``:
    given on the command line, else from ``--config``, else the
    defaults; ``reader_from`` says where the reader came from."""
    from_cfg = config_settings(args.config) if args.config else {}
    if args.reader is not None:
        args.reader_from = '--reader'
    elif from_cfg:
        args.reader, args.reader_from = (from_cfg['reader'],
                                         from_cfg['reader_from'])
    else:
        args.reader, args.reader_from = ('decord-memory',
                                         'default: as mmaction.DecordInit')
    if args.delimiter is None:
        args.delimiter = from_cfg.get('delimiter', ' ')
    if args.multi_class is None:
        args.multi_class = from_cfg.get('multi_class', False)
    return args


def read_entries(ann_file: str,
                 delimiter: str = ' ',
                 multi_class: bool = False) -> tuple:
    """Read an annotation list the way ``VideoMAEDataset`` does.

    Args:
        ann_file (str): the list.
        delimiter (str): the dataset's ``delimiter``.
        multi_class (bool): the dataset's ``multi_class``.

    Returns:
        tuple: ``(lines, entries)``: every raw line, and ``(line index,
        path)`` of each entry (blank lines and ``#`` comments are not
        entries).

    Raises:
        SystemExit: the file is missing, or a line cannot be parsed (the
            dataset would refuse the list too).
    """
    if not osp.isfile(ann_file):
        raise SystemExit(f'check_dataset: annotation file {ann_file!r} does '
                         'not exist')
    parse = guard_module().parse_ann_line
    with open(ann_file, encoding='utf-8') as f:
        lines = f.read().splitlines()
    entries = []
    for i, line in enumerate(lines):
        try:
            entry = parse(line, delimiter, multi_label=multi_class)
        except ValueError as err:
            raise SystemExit(f'check_dataset: {ann_file}:{i + 1}: cannot '
                             f'parse {line.strip()!r}: {err}') from None
        if entry is not None:
            entries.append((i, entry[0]))
    return lines, entries


def check_one(path: str, num_indices: int, min_frames: int, cross_n: int,
              threshold: float, reader: str) -> dict:
    """Probe one file (runs in the helper process when guarded)."""
    g = guard_module()
    result = g.probe_video(path,
                           num_indices=num_indices,
                           min_frames=min_frames,
                           reader=reader)
    if result['reason'] is None and cross_n > 0:
        seed = zlib.crc32(path.encode())
        try:
            cc = g.cross_check(path, cross_n, threshold, seed=seed,
                               reader=reader)
        except Exception as err:  # noqa: BLE001
            result.update(reason='wrong frames',
                          detail=f'cross-check failed: {g.short_error(err)}')
        else:
            result['cross_check_max_diff'] = cc['max_diff']
            if not cc['ok']:
                result.update(reason='wrong frames', detail=cc['detail'])
    return result


class _Prober:
    """Probe files, each thread through its own killable helper."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.local = threading.local()
        self.callers: list = []

    def __call__(self, path: str) -> dict:
        g = guard_module()
        a = self.args
        why, detail = g.file_diagnosis(path)
        if why in ('missing', 'empty', 'not a video'):
            return dict(reason=why, detail=detail, num_frames=None)
        params = (path, a.num_indices, a.min_frames, a.cross_check,
                  a.cross_check_threshold, a.reader)
        try:
            if a.timeout == 0:
                return check_one(*params)
            caller = getattr(self.local, 'caller', None)
            if caller is None:
                caller = self.local.caller = g.GuardedCaller(check_one)
                self.callers.append(caller)
            return caller(*params, timeout=a.timeout)
        except (g.LoadTimeout, g.ChildCrashed) as err:
            # as in training: the decoder's fate first (it is what kills a
            # run), the structural finding (the likely cause) in the detail
            text = f'{a.reader}: {err}'
            if why is not None:
                text += f'; the file is {why}: {detail}'
            reason = 'timeout' if isinstance(err, g.LoadTimeout) else 'crashed'
            return dict(reason=reason, detail=text, num_frames=None)
        except Exception as err:  # noqa: BLE001
            return dict(reason=why or 'error',
                        detail=detail or g.short_error(err),
                        num_frames=None)


def _progress(total: int, disable: bool):
    try:
        from tqdm import tqdm
    except ImportError:  # optional dependency: count on stderr instead
        return None
    return tqdm(total=total,
                desc='checking videos',
                unit='file',
                disable=disable,
                file=sys.stderr)


def format_summary(report: dict, limit: int = 50) -> str:
    """The human summary of a report (what ``{name}_report.txt`` holds)."""
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


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the scan; returns the process exit code (0)."""
    args = resolve_settings(parse_args(argv))
    summarize = guard_module().summarize
    lines, entries = read_entries(args.ann_file, args.delimiter,
                                  args.multi_class)
    if args.reader == 'pyav':
        # PyAVSeekReader's module imports torch (mmcv): once here, so the
        # forked helpers inherit it instead of each paying seconds
        import importlib
        importlib.import_module('mmmae.datasets.transforms.video_decode')
    paths = [osp.join(args.data_prefix, p) for _, p in entries]
    prober = _Prober(args)
    bar = _progress(len(paths), args.no_progress)
    results: List[Optional[dict]] = [None] * len(paths)
    start = time.monotonic()

    def run(k: int) -> None:
        results[k] = prober(paths[k])
        if bar is not None:
            bar.update(1)

    try:
        with ThreadPoolExecutor(args.workers) as pool:
            list(pool.map(run, range(len(paths))))
    finally:
        for caller in prober.callers:
            caller.close()
    if bar is not None:
        bar.close()

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

    out_dir = args.out_dir or osp.dirname(osp.abspath(args.ann_file))
    os.makedirs(out_dir, exist_ok=True)
    stem = osp.splitext(osp.basename(args.ann_file))[0]
    clean_path = osp.join(out_dir, f'{stem}_clean.txt')
    with open(clean_path, 'w', encoding='utf-8') as f:
        f.write(''.join(f'{line}\n' for i, line in enumerate(lines)
                        if i not in bad_lines))
    report = dict(
        ann_file=osp.abspath(args.ann_file),
        data_prefix=args.data_prefix,
        num_entries=len(entries),
        num_good=len(entries) - len(bad),
        num_bad=len(bad),
        counts=summarize(b['reason'] for b in bad),
        bad=bad,
        clean_list=clean_path,
        seconds=round(time.monotonic() - start, 3),
        options=dict(reader=args.reader,
                     reader_from=args.reader_from,
                     config=args.config,
                     delimiter=args.delimiter,
                     multi_class=args.multi_class,
                     workers=args.workers,
                     timeout=args.timeout,
                     num_indices=args.num_indices,
                     min_frames=args.min_frames,
                     cross_check=args.cross_check,
                     cross_check_threshold=args.cross_check_threshold),
    )
    with open(osp.join(out_dir, f'{stem}_report.json'), 'w') as f:
        json.dump(report, f, indent=2)
    summary = format_summary(report)
    with open(osp.join(out_dir, f'{stem}_report.txt'), 'w') as f:
        f.write(summary + '\n')
    print(summary)
    return 0


if __name__ == '__main__':
    sys.exit(main())
