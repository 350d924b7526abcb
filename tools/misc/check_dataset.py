# Copyright (c) mmmae contributors. All rights reserved.
"""Scan a video annotation list, find the bad files, write a clean list.

Probes every entry the way training reads it and writes, next to the list
(or in ``--out-dir``), ``{name}_clean.txt`` (the list without the bad
entries), ``{name}_report.json`` and ``{name}_report.txt`` (the summary,
also printed). What is checked and how: :mod:`mmmae.datasets.dataset_check`
(Python: ``check_video_list``) and ``docs/robustness.md``.

Example::

    CFG=configs/videomae/videomae_vit-base-p16_64xb32-800e_kinetics400.py
    python tools/misc/check_dataset.py data/k400/train.txt \\
        --data-prefix data/k400/videos --workers 8 --timeout 60 \\
        --config $CFG

Then train on ``train_clean.txt``.

Exit status: 0 when the scan ran (bad files are in the report), 1 when the
list or the config cannot be read, 2 on bad arguments.
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def light_import(name: str):
    """The mmmae module ``name``, loaded from its file when the package is
    not imported yet: ``video_guard``, ``dataset_check`` and ``utils.cli``
    need only numpy, decord and PyAV, and skipping ``mmmae/__init__``
    (torch, mmaction, ~6 s) makes the tool start in a second and its
    helper processes cheap to fork."""
    if name in sys.modules:
        return sys.modules[name]
    import importlib
    path = osp.join(REPO_ROOT, *name.split('.')) + '.py'
    if not osp.isfile(path):  # an installed package without sources
        return importlib.import_module(name)
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        '_' + name.replace('.', '_'), path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # so results from helpers unpickle
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


def checker():
    """``mmmae.datasets.dataset_check`` (after the ``video_guard`` it
    uses), see :func:`light_import`."""
    light_import('mmmae.datasets.video_guard')
    return light_import('mmmae.datasets.dataset_check')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    check = checker()
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
                        default=check.DEFAULT_WORKERS,
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
                        choices=check.video_guard.READERS,
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


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the scan; returns the exit status (see the module docstring)."""
    args = parse_args(argv)
    check = checker()

    def work() -> None:
        report = check.check_video_list(
            args.ann_file,
            args.data_prefix,
            out_dir=args.out_dir,
            reader=args.reader,
            config=args.config,
            delimiter=args.delimiter,
            multi_class=args.multi_class,
            workers=args.workers,
            timeout=args.timeout,
            num_indices=args.num_indices,
            min_frames=args.min_frames,
            cross_check=args.cross_check,
            cross_check_threshold=args.cross_check_threshold,
            progress=not args.no_progress)
        print(check.format_check_summary(report))

    run_cli = light_import('mmmae.utils.cli').run_cli
    return run_cli(work, check.DatasetCheckError, prefix='check_dataset: ')


if __name__ == '__main__':
    sys.exit(main())
