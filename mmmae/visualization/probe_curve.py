# Copyright (c) mmmae contributors. All rights reserved.
"""Read the probe results a :class:`~mmmae.engine.ProbeHook` logged and plot
them against the training step."""
import json
import os
import os.path as osp
from typing import Dict, List, Optional

__all__ = ['read_probe_curve', 'plot_probe_curve']


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
    with open(scalars_json) as f:
        for line in f:
            rec = json.loads(line)
            if key in rec:
                steps.append(int(rec['step']))
                values.append(float(rec[key]))
            if key + '_random' in rec:
                random = float(rec[key + '_random'])
    return dict(steps=steps, values=values, random=random)


def plot_probe_curve(curve: Dict[str, object],
                     path: str,
                     title: Optional[str] = None,
                     chance: Optional[float] = None,
                     ylabel: str = 'kNN top-1 (%)') -> str:
    """Write a PNG of a probe curve, the random-init baseline and chance.

    Args:
        curve (dict): Output of :func:`read_probe_curve`.
        path (str): PNG to write (folders are created).
        title (str, optional): Plot title.
        chance (float, optional): Chance accuracy in ``[0, 1]``, drawn as a
            dotted line.
        ylabel (str): Y-axis label.

    Returns:
        str: ``path``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(curve['steps'], [100 * v for v in curve['values']], 'o-',
            color='tab:blue', label='pretraining encoder')
    if curve.get('random') is not None:
        ax.axhline(100 * curve['random'], color='tab:gray', ls='--',
                   label='random init (same probe)')
    if chance is not None:
        ax.axhline(100 * chance, color='tab:red', ls=':', label='chance')
    ax.set_xlabel('pretraining step')
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc='lower right', fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
