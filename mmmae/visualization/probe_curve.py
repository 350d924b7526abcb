# Copyright (c) mmmae contributors. All rights reserved.
"""Plot the probe results a :class:`~mmmae.engine.ProbeHook` logged against
the training step.

The curves come from :func:`mmmae.utils.run_logs.read_probe_curve` (one
scalar file) or :func:`~mmmae.utils.run_logs.read_probe_curves` (the newest
log of a work dir); ``read_probe_curve`` is re-exported here, where it
lived before.
"""
import os
import os.path as osp
from typing import Dict, Mapping, Optional, Sequence

from mmmae.utils.run_logs import read_probe_curve, read_probe_curves

__all__ = [
    'read_probe_curve', 'plot_probe_curve', 'plot_run_probe_curves',
    'draw_probe_curves', 'plot_probe_panels', 'plot_probe_table',
    'plot_study'
]


def _save(fig, path: str) -> str:
    """Lay out, write (folders are created) and close a figure."""
    import matplotlib.pyplot as plt
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


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
    return _save(fig, path)


def plot_run_probe_curves(work_dir: str,
                          path: str,
                          keys: Sequence[str] = ('probe/knn_top1', ),
                          **kwargs) -> Dict[str, Dict[str, object]]:
    """Read the probe curves of a run and plot the first of ``keys``.

    Args:
        work_dir (str): The run's work dir (its newest log is read).
        path (str): PNG to write, when the run logged ``keys[0]``.
        keys (Sequence[str]): Probe scalars to read; the first is plotted.
        **kwargs: ``title``, ``chance`` and ``ylabel`` of
            :func:`plot_probe_curve`.

    Returns:
        dict: ``{key: curve}`` of the keys logged (see
        :func:`~mmmae.utils.run_logs.read_probe_curves`).
    """
    curves = read_probe_curves(work_dir, keys)
    if keys[0] in curves:
        plot_probe_curve(curves[keys[0]], path, **kwargs)
    return curves


def draw_probe_curves(ax,
                      curves: Mapping[str, Dict[str, object]],
                      chance: Optional[float] = None,
                      xlabel: str = 'pretraining step',
                      ylabel: str = 'kNN top-1 (%)',
                      title: Optional[str] = None) -> None:
    """Draw several probe curves (in %) on one matplotlib axis, e.g. the
    variants of a study or the seeds of a benchmark.

    Args:
        ax (matplotlib.axes.Axes): The axis.
        curves (Mapping[str, dict]): ``{legend label: curve}``, each an
            output of :func:`read_probe_curve`.
        chance (float, optional): Chance accuracy in ``[0, 1]``, drawn as a
            red dotted line.
        xlabel (str): X-axis label.
        ylabel (str): Y-axis label.
        title (str, optional): Axis title.
    """
    for label, curve in curves.items():
        ax.plot(curve['steps'], [100 * v for v in curve['values']], 'o-',
                ms=3, label=label)
    if chance is not None:
        ax.axhline(100 * chance, color='r', ls=':', label='chance')
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)


def plot_probe_panels(panels: Mapping[str, Mapping[str, Dict[str, object]]],
                      path: str,
                      chance: Optional[float] = None,
                      xlabel: str = 'pretraining step') -> str:
    """One axis per probe, several runs' curves on each, with every run's
    random-init value as a dashed line in its colour.

    Args:
        panels (Mapping): ``panel title (y label) -> {legend label:
            curve}``, curves as :func:`read_probe_curve` returns them.
        path (str): PNG to write (folders are created).
        chance (float, optional): Chance accuracy in ``[0, 1]``.
        xlabel (str): X-axis label.

    Returns:
        str: ``path``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, max(len(panels), 1),
                             figsize=(5.5 * max(len(panels), 1), 3.8),
                             squeeze=False)
    for ax, (title, curves) in zip(axes[0], panels.items()):
        draw_probe_curves(ax, curves, chance, xlabel, ylabel=title)
        for line, curve in zip(ax.get_lines(), curves.values()):
            if curve.get('random') is not None:
                ax.axhline(100 * curve['random'], color=line.get_color(),
                           ls='--', lw=1)
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_probe_table(probes: Mapping[str, Mapping[str, Dict[str, object]]],
                     path: str,
                     chance: Optional[float] = None) -> Optional[str]:
    """:func:`plot_probe_panels` of the ``label -> probe -> curve`` table
    that :func:`mmmae.apis.recipes.probe_table` reads: one panel per probe
    (``'knn'``, ``'linear'``), one curve per label.

    Returns:
        str | None: ``path``, or None when no curve was logged.
    """
    panels: Dict[str, Dict[str, Dict[str, object]]] = {}
    for label, curves in probes.items():
        for probe, curve in curves.items():
            panels.setdefault(f'{probe} top-1 (%)', {})[label] = curve
    return plot_probe_panels(panels, path, chance) if panels else None


def plot_study(results: Mapping[str, dict],
               path: str,
               title: str,
               chance: Optional[float] = None,
               probe_label: str = 'kNN top-1 (%)',
               top1_label: str = 'fine-tuned top-1 (%)',
               top1_title: Optional[str] = None) -> str:
    """Write a PNG comparing pretraining variants: their probe curves
    (left) and their fine-tuned top-1, mean bar and one dot per seed
    (right).

    Args:
        results (Mapping[str, dict]): Per variant ``top1`` (one value per
            seed, in ``[0, 1]``) and, except for the ``'scratch'``
            baseline (drawn last, in grey), the probe curve ``probe``.
        path (str): PNG to write (folders are created).
        title (str): Figure title.
        chance (float, optional): Chance accuracy, on the probe plot.
        probe_label (str): Y-axis label of the probe plot.
        top1_label (str): Y-axis label of the top-1 plot.
        top1_title (str, optional): Title of the top-1 plot.

    Returns:
        str: ``path``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    names = [n for n in results if n != 'scratch']
    draw_probe_curves(ax, {n: results[n]['probe'] for n in names},
                      chance=chance, ylabel=probe_label,
                      title='probe during pretraining (step 0: random init)')
    bars = names + (['scratch'] if 'scratch' in results else [])
    for i, n in enumerate(bars):
        vals = [100 * v for v in results[n]['top1']]
        ax2.bar(i, sum(vals) / len(vals), alpha=0.7,
                color='tab:gray' if n == 'scratch' else 'tab:blue')
        ax2.plot([i] * len(vals), vals, 'k.')
    ax2.set_xticks(range(len(bars)), bars, fontsize=8)
    ax2.set_ylabel(top1_label)
    if top1_title:
        ax2.set_title(top1_title, fontsize=9)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)
