# Copyright (c) mmmae contributors. All rights reserved.
"""Read what a finished MMEngine run left in its work dir.

``tools/train.py`` writes ``WORK_DIR/<timestamp>/vis_data/scalars.json``:
one json record per line, holding the training ``loss`` with its
``epoch`` and ``step``, the validation metrics and the scalars of a
:class:`~mmmae.engine.ProbeHook` (``probe/knn_top1``, its random-init twin
``probe/knn_top1_random``, ...). ``tools/test.py`` writes its metrics to
``WORK_DIR/<timestamp>/<timestamp>.json``. A work dir used more than once
holds several timestamps; the functions taking a work dir read the newest
(the timestamps sort by time), and return an empty result when the run
logged nothing::

    from mmmae.utils.run_logs import read_losses, read_probe_curves
    losses = read_losses('work_dirs/demo/pretrain')    # {epoch: mean loss}
    curve = read_probe_curves('work_dirs/demo/pretrain')['probe/knn_top1']
    print(curve['random'], curve['steps'], curve['values'])

The demo and study drivers (``tools/demo.py``, ``tools/demo_multimae.py``,
``tools/benchmark/data_efficiency.py``) summarise their runs with these.
"""
import glob
import json
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence

__all__ = [
    'newest_file', 'find_scalars', 'iter_records', 'epoch_losses',
    'read_losses', 'read_final_loss', 'read_test_metrics', 'read_last_record',
    'read_probe_curve', 'read_probe_curves'
]


def newest_file(pattern: str) -> Optional[str]:
    """The last match of a glob ``pattern`` in name order (for MMEngine's
    timestamped folders the newest), or None."""
    found = sorted(glob.glob(pattern))
    return found[-1] if found else None


def find_scalars(work_dir: str) -> Optional[str]:
    """The newest ``vis_data/scalars.json`` of a work dir, or None."""
    return newest_file(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))


def iter_records(scalars_json: str) -> Iterator[dict]:
    """The records of an MMEngine json log, in logging order."""
    with open(scalars_json) as f:
        for line in f:
            yield json.loads(line)


def epoch_losses(scalars_json: str) -> Dict[int, float]:
    """Mean training loss per epoch of one scalar log.

    Returns:
        dict: ``{epoch: mean of the logged losses}``, epochs ascending.
    """
    per_epoch: Dict[int, List[float]] = {}
    for rec in iter_records(scalars_json):
        if 'loss' in rec and 'epoch' in rec:
            per_epoch.setdefault(rec['epoch'], []).append(rec['loss'])
    return {e: sum(v) / len(v) for e, v in sorted(per_epoch.items())}


def read_losses(work_dir: str) -> Dict[int, float]:
    """:func:`epoch_losses` of the newest log in ``work_dir`` (empty
    without one)."""
    log = find_scalars(work_dir)
    return epoch_losses(log) if log is not None else {}


def read_final_loss(work_dir: str) -> Optional[float]:
    """Mean training loss of the last epoch logged in ``work_dir`` (None
    without one)."""
    losses = read_losses(work_dir)
    return list(losses.values())[-1] if losses else None


def read_test_metrics(work_dir: str) -> dict:
    """Metrics of the newest ``tools/test.py`` run in ``work_dir``, e.g.
    ``{'acc/top1': 0.95, ...}`` (empty without one)."""
    log = newest_file(osp.join(work_dir, '*', '*.json'))
    if log is None:
        return {}
    with open(log) as f:
        return json.load(f)


def read_last_record(work_dir: str, key: str) -> dict:
    """The last record holding ``key`` in the newest scalar log of
    ``work_dir``, e.g. the final validation of a run for ``key='mIoU'``
    (empty without one)."""
    log = find_scalars(work_dir)
    last: dict = {}
    if log is not None:
        for rec in iter_records(log):
            if key in rec:
                last = rec
    return last


def read_probe_curve(scalars_json: str,
                     key: str = 'probe/knn_top1') -> Dict[str, object]:
    """Probe values of one run from its ``vis_data/scalars.json``.

    Args:
        scalars_json (str): MMEngine ``LocalVisBackend`` scalar file.
        key (str): Logged probe scalar. Defaults to ``'probe/knn_top1'``.

    Returns:
        dict: ``steps`` and ``values`` (lists, in logging order) and
        ``random`` (the untrained model's value, or None if not logged).
    """
    steps: List[int] = []
    values: List[float] = []
    random = None
    for rec in iter_records(scalars_json):
        if key in rec:
            steps.append(int(rec['step']))
            values.append(float(rec[key]))
        if key + '_random' in rec:
            random = float(rec[key + '_random'])
    return dict(steps=steps, values=values, random=random)


def read_probe_curves(
        work_dir: str,
        keys: Sequence[str] = ('probe/knn_top1', )
) -> Dict[str, Dict[str, object]]:
    """The probe curves (:func:`read_probe_curve`) of the newest log in
    ``work_dir``.

    Args:
        work_dir (str): The run's work dir.
        keys (Sequence[str]): Probe scalars to read.

    Returns:
        dict: ``{key: curve}`` for the keys logged at least once, in the
        order of ``keys``; empty without a log.
    """
    log = find_scalars(work_dir)
    if log is None:
        return {}
    curves = {k: read_probe_curve(log, k) for k in keys}
    return {k: c for k, c in curves.items() if c['steps']}
