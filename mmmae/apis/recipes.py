# Copyright (c) mmmae contributors. All rights reserved.
"""Pretrained vs scratch with few labels: launch the runs, compare them.

The demos, and the studies built on them, ask whether masked-autoencoder
pretraining beats training the same model from scratch when only a few
labels exist:

* ``tools/demo.py`` (the main job, ``bash tools/demo.sh``): make the
  moving-digits clips (6 motion classes; train, val and test of disjoint
  handwriting); pretrain a tiny VideoMAE on every training clip without
  labels, while a ``ProbeHook`` logs the 10-NN top-1 of the frozen encoder
  on val (and once for the random init); fine-tune on a few labelled clips
  per class from the pretrained encoder and, as the baseline, from scratch
  with the scratch recipe (its own schedule and LR, chosen on val); test
  every run's last checkpoint (2 clips x 3 crops) and compare per seed
  (:func:`summarize_video_demo`).
* ``tools/demo_multimae.py``: pretrain a tiny MultiMAE on every rendered
  scene (RGB + depth, or + the scenes' ground-truth semseg, which then
  labels them all); a ``ProbeHook(features='patch')`` logs the patch probe
  of the frozen encoder fed RGB alone (a logistic regression and a 10-NN
  vote on the patches of the labelled images, scored on val as patch top-1
  and mIoU); fine-tune segmentation from RGB and from RGB-D and depth from
  RGB on the first ``--labelled`` images from both inits, each run scored
  by its one validation after its last epoch (:func:`summarize_dense_demo`).
* ``tools/analysis/pretrain_studies.py``: ``tools/demo.py`` once per
  pretraining variant (mask type and ratio, pretraining set), every
  variant with the same number of steps (:func:`study_table`).

Each run is a ``tools/train.py`` / ``tools/test.py`` subprocess
(:func:`run_command`, :func:`tool_command`), so a failing run stops the
driver with its own traceback; the drivers therefore work from a
repository checkout. Their results are read back from the work dirs
(:mod:`mmmae.utils.run_logs`), compared (:func:`compare_inits`) and
reported (:func:`report_summary`). Settings are chosen with ``--eval-split
val`` and reported on test; docs/experiments.md has the results and how
each setting was chosen.
"""
import json
import os
import os.path as osp
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

__all__ = [
    'VIDEO_DEMO_CONFIGS', 'RecipeError', 'DenseTask', 'add_run_args',
    'tool_command', 'run_command', 'pretraining_needed', 'check_outputs',
    'probe_hook_index', 'video_list_options', 'compare_inits',
    'summarize_video_demo', 'summarize_dense_demo', 'probe_table',
    'study_table',
    'format_times', 'write_json', 'report_summary'
]

INITS = ('pretrained', 'scratch')
# The moving-digits demo's configs, relative to the repository root: the
# pretraining, the fine-tuning from it and the scratch baseline's recipe.
_FT_DIR = 'configs/videomae/finetune/'
VIDEO_DEMO_CONFIGS = dict(
    pretrain='configs/videomae/videomae_vit-tiny-p8_1xb8-30e_moving-digits.py',
    finetune=_FT_DIR + ('vit-tiny-p8_videomae-moving-digits-pre-30e_1xb8-'
                        '8x4x1-30e_moving-digits-rgb.py'),
    scratch=_FT_DIR + 'vit-tiny-p8_scratch_1xb8-8x4x1-120e_moving-digits-'
    'rgb.py')


class RecipeError(RuntimeError):
    """A driver cannot go on (a missing checkpoint, an unknown variant), or
    its runs did not produce their outputs."""


@dataclass(frozen=True)
class DenseTask:
    """A downstream task of :func:`summarize_dense_demo` and how it is
    scored.

    Args:
        config (str): The fine-tuning config.
        metric (str): The metric compared, e.g. ``'mIoU'`` or ``'d1'``.
        title (str): What the task is, e.g. ``'depth from RGB'``.
        extra (tuple[str]): Further metrics recorded per run.
        lower_columns (tuple[str]): Metrics of ``extra`` shown next to
            ``metric`` in the table, where lower is better (``abs_rel``).
        higher_is_better (bool): The direction of ``metric``.
    """
    config: str
    metric: str
    title: str
    extra: Tuple[str, ...] = ()
    lower_columns: Tuple[str, ...] = ()
    higher_is_better: bool = True


def add_run_args(parser) -> None:
    """Add the options every pretrain-then-fine-tune driver shares
    (``--eval-split``, ``--runs``, ``--skip-pretrain`` and the three
    ``--*cfg-options``) to an ``argparse.ArgumentParser``."""
    parser.add_argument(
        '--eval-split', choices=('test', 'val'), default='test',
        help='split the fine-tuned models are scored on: val to choose '
        'settings, test to report')
    parser.add_argument(
        '--runs', nargs='+', choices=INITS, default=list(INITS),
        help='which fine-tuning runs to make (for sweeps; scratch alone '
        'skips pretraining)')
    parser.add_argument('--skip-pretrain', action='store_true',
                        help='reuse WORK_DIR/pretrain/epoch_<E>.pth')
    parser.add_argument(
        '--cfg-options', nargs='+', default=[],
        help='extra key=value overrides for the pretraining run')
    parser.add_argument(
        '--ft-cfg-options', nargs='+', default=[],
        help='extra key=value overrides for the pretrained fine-tuning '
        'runs')
    parser.add_argument(
        '--scratch-cfg-options', nargs='+', default=[],
        help='extra key=value overrides for the scratch runs')


def tool_command(script: str, *args, cfg_options: Sequence[str] = ()
                 ) -> List[str]:
    """``python <script> <args...> --cfg-options <cfg_options...>`` with
    this interpreter, e.g. ``tool_command('tools/train.py', cfg,
    '--work-dir', wd, cfg_options=['train_cfg.max_epochs=4'])``."""
    return [sys.executable, script, *map(str, args), '--cfg-options',
            *cfg_options]


def run_command(cmd: Sequence[str],
                what: str,
                tag: str = '[demo]',
                report_done: bool = True) -> float:
    """Run one command, echoed as ``<tag> <what>: <cmd>``; a failure raises.

    Args:
        cmd (Sequence[str]): The command, e.g. from :func:`tool_command`.
        what (str): What the run is, for the log lines.
        tag (str): Start of the log lines.
        report_done (bool): Also print ``<tag> <what>: done in <s>s``.

    Returns:
        float: The wall time in seconds.

    Raises:
        subprocess.CalledProcessError: The command failed.
    """
    print(f'{tag} {what}: ' + ' '.join(cmd), flush=True)
    tic = time.time()
    subprocess.run(cmd, check=True)
    took = time.time() - tic
    if report_done:
        print(f'{tag} {what}: done in {took:.0f}s', flush=True)
    return took


def pretraining_needed(runs: Sequence[str], skip_pretrain: bool,
                       checkpoint: str) -> bool:
    """Whether the pretraining run must be made.

    Only ``'pretrained'`` fine-tuning runs need its checkpoint;
    ``skip_pretrain`` reuses one from an earlier run.

    Raises:
        RecipeError: ``skip_pretrain`` for pretrained runs, and no
            ``checkpoint`` file.
    """
    need = 'pretrained' in runs
    if skip_pretrain or not need:
        if need and not osp.isfile(checkpoint):
            raise RecipeError(f'--skip-pretrain: no {checkpoint}')
        return False
    return True


def check_outputs(ok: bool, pretrained: bool, checkpoint: str,
                  probed: bool) -> None:
    """Fail a driver whose runs did not all give their numbers.

    Args:
        ok (bool): Every fine-tuning run gave its metric.
        pretrained (bool): The driver ran the pretraining itself.
        checkpoint (str): The pretraining's last checkpoint.
        probed (bool): The pretraining logged its probe curve.

    Raises:
        RecipeError: ``ok`` is false, or the pretraining run here left no
            checkpoint or no probe curve.
    """
    if not ok or pretrained and not (osp.isfile(checkpoint) and probed):
        raise RecipeError('the run did not produce its outputs; see the log')


def probe_hook_index(cfg) -> int:
    """Position of the ``ProbeHook`` in a config's ``custom_hooks``, for
    ``custom_hooks.<i>.<key>=<value>`` overrides.

    Args:
        cfg (str | mmengine.Config): The config or its path.
    """
    if isinstance(cfg, str):
        from mmengine.config import Config
        cfg = Config.fromfile(cfg)
    return next(i for i, h in enumerate(cfg.custom_hooks)
                if 'ProbeHook' in h['type'])


def video_list_options(data_root: str,
                       splits: Sequence[Tuple[str, str]],
                       prefix: str = '') -> List[str]:
    """``--cfg-options`` that point video dataloaders at the annotation
    lists ``<data_root>/<split>.txt`` of a folder of clips.

    Args:
        data_root (str): The dataset folder.
        splits (Sequence[tuple[str, str]]): ``(loader, split)`` pairs,
            e.g. ``[('train_dataloader', 'train')]``.
        prefix (str): Before every key, e.g. ``'custom_hooks.2.'`` for the
            loaders of a hook.
    """
    return [
        f'{prefix}{loader}.dataset.{key}={value}' for loader, split in splits
        for key, value in (('ann_file', f'{data_root}/{split}.txt'),
                           ('data_prefix.video', data_root))
    ]


def compare_inits(values: Mapping[str, Sequence[Optional[float]]],
                  higher_is_better: bool = True,
                  scale: float = 1.0) -> Optional[dict]:
    """Pretrained vs scratch over paired seeds.

    Args:
        values (Mapping[str, Sequence[float | None]]): One metric per seed
            for ``'pretrained'`` and ``'scratch'`` (value ``i`` of both
            from seed ``i``; None: the run gave no number).
        higher_is_better (bool): The metric's direction.
        scale (float): Multiplies the means, e.g. 100 for points.

    Returns:
        dict | None: ``mean`` (per key of ``values``, scaled), ``gap``
        (pretrained - scratch mean) and ``ahead`` (seeds where pretrained
        is better); None unless both have a number for every seed.
    """
    if not all(values.get(n) and None not in values[n] for n in INITS):
        return None
    mean = {n: scale * sum(v) / len(v) for n, v in values.items()}
    pairs = zip(values['pretrained'], values['scratch'])
    ahead = sum((p > s) if higher_is_better else (p < s) for p, s in pairs)
    return dict(mean=mean, gap=mean['pretrained'] - mean['scratch'],
                ahead=ahead)


def summarize_video_demo(runs: Sequence[Tuple[int, str, dict]],
                         curve: Optional[dict],
                         times: Dict[str, float],
                         seeds: Sequence[int],
                         eval_split: str,
                         num_classes: int,
                         labelled_clips: int,
                         labelled_split: str,
                         labels_per_class: int
                         ) -> Tuple[dict, bool, List[str]]:
    """The summary of ``tools/demo.py``: top-1 per seed and init.

    Args:
        runs (Sequence[tuple]): ``(seed, init, result)`` per fine-tuning
            run; ``result`` holds ``top1`` (None: not tested),
            ``final_train_loss`` and ``epochs``.
        curve (dict, optional): The pretraining's 10-NN probe curve.
        times (dict): Seconds per stage, stored as they are.
        seeds (Sequence[int]): The fine-tuning seeds.
        eval_split (str): The split the runs were tested on.
        num_classes (int): For the chance level.
        labelled_clips (int): Number of labelled clips fine-tuned on.
        labelled_split (str): Their annotation list (without ``.txt``).
        labels_per_class (int): As asked (0: all).

    Returns:
        tuple: The summary (``summary.json``), whether every run gave its
        top-1, and the table and verdict as lines of text.
    """
    top1 = {n: [r['top1'] for s, m, r in runs if m == n] for n in INITS}
    loss = {n: [r['final_train_loss'] for s, m, r in runs if m == n]
            for n in INITS}
    summary = dict(
        pretrained=top1['pretrained'], scratch=top1['scratch'],
        seeds=list(seeds), eval_split=eval_split, final_train_loss=loss,
        epochs={m: r['epochs'] for s, m, r in runs},
        labelled_clips=labelled_clips, labelled_split=labelled_split,
        labels_per_class=labels_per_class, probe=curve, times_s=times)
    lines = []
    if curve:
        pts = ', '.join(f'{s}: {100 * v:.0f}%'
                        for s, v in zip(curve['steps'], curve['values']))
        lines.append('probe during pretraining (10-NN top-1 on val, step: '
                     f'value): {pts}; random init '
                     f'{100 * curve["random"]:.0f}%')
    lines += [
        f'fine-tuning on {labelled_clips} labelled clips ({labelled_split}'
        f'.txt); scored on the {eval_split} split, {num_classes} classes '
        f'(chance {100 / num_classes:.1f}%), 2 clips x 3 crops',
        f'  {"encoder":<11}{"seed":>5}{"epochs":>8}{"top-1":>8}'
        f'{"final train loss":>18}'
    ]
    for seed, name, r in runs:
        top = f'{100 * r["top1"]:7.1f}%' if r['top1'] is not None else \
            '    n/a'
        fl = r['final_train_loss']
        lines.append(f'  {name:<11}{seed:>5}{r["epochs"]:>8}{top}' +
                     (f'{fl:18.3f}' if fl is not None else ''))
    ok = all(v is not None for vs in top1.values() for v in vs)
    cmp = compare_inits(top1, scale=100)
    if cmp:
        mean, gap, wins = cmp['mean'], cmp['gap'], cmp['ahead']
        summary['mean_gap_points'] = gap
        verdict = ('pretraining helped' if gap > 0 and wins == len(seeds)
                   else 'pretraining did NOT clearly help')
        lines.append(
            f'{verdict}: pretrained {mean["pretrained"]:.1f}% vs scratch '
            f'{mean["scratch"]:.1f}% mean top-1 ({gap:+.1f} points), '
            f'ahead in {wins} of {len(seeds)} seeds')
    return summary, ok, lines


def probe_table(runs: Mapping[str, Tuple[str, str]],
                probes: Sequence[str] = ('knn', 'linear')
                ) -> Tuple[Dict[str, dict], List[str]]:
    """Frozen-feature probes of pretraining runs (logged by their
    :class:`~mmmae.engine.ProbeHook`), as a summary and a table: the
    random-init value next to the last one.

    Args:
        runs (Mapping[str, tuple[str, str]]): ``label -> (work_dir,
            prefix)``, e.g. ``{'mm-rgbd': ('work/pretrain_mm',
            'probe_rgbd')}``.
        probes (Sequence[str]): Probe names (``'<prefix>/<probe>_top1'``).

    Returns:
        tuple: ``label -> probe -> curve`` (:func:`~mmmae.utils.run_logs.
        read_probe_curves`, values in ``[0, 1]``; a run without the scalar
        has none) and the table lines (top-1 in %).
    """
    from mmmae.utils.run_logs import read_probe_curves
    rows: Dict[str, dict] = {}
    lines = ['| encoder, probe input | ' + ' | '.join(
        f'{p} top-1: random init -> pretrained' for p in probes) + ' |',
        '|---' * (len(probes) + 1) + '|']
    for label, (work_dir, prefix) in runs.items():
        keys = [f'{prefix}/{p}_top1' for p in probes]
        curves = read_probe_curves(work_dir, keys)
        rows[label] = {p: curves[k] for p, k in zip(probes, keys)
                       if k in curves}
        cells = []
        for p in probes:
            c = rows[label].get(p)
            if c is None:
                cells.append('-')
                continue
            rnd = '-' if c['random'] is None else f'{100 * c["random"]:.1f}'
            cells.append(f'{rnd} -> {100 * c["values"][-1]:.1f}')
        lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')
    return rows, lines


_PERCENT_METRICS = ('mIoU', 'aAcc', 'mAcc')


def _fmt(v, key, sign=''):
    """Metrics in % with 2 decimals, the depth ratios with 3."""
    if v is None:
        return 'n/a'
    return f'{v:{sign}.2f}' if key in _PERCENT_METRICS else f'{v:{sign}.3f}'


def _dense_entry(name: str, task: DenseTask, runs: Dict[tuple, dict],
                 inits: Sequence[str], seeds: Sequence[int]
                 ) -> Tuple[dict, List[str]]:
    """Summary entry and table lines of one task of
    :func:`summarize_dense_demo`."""
    key = task.metric
    entry = dict(metric=key, seeds=list(seeds), config=task.config)

    def per_seed(name, get):
        return [get(runs.get((name, s), {})) for s in seeds]

    for init in inits:
        entry[init] = per_seed(init, lambda r: r.get('metrics', {}).get(key))
        for k in task.extra:
            entry.setdefault('extra', {}).setdefault(k, {})[init] = per_seed(
                init, lambda r: r.get('metrics', {}).get(k))
        entry.setdefault('final_train_loss', {})[init] = per_seed(
            init, lambda r: r.get('final_train_loss'))
    cols = [(n, key) for n in inits]
    cols += [(n, c) for c in task.lower_columns for n in inits]
    direction = 'higher' if task.higher_is_better else 'lower'
    lines = [f'{task.title} ({name}): {key}' + (
        f' ({direction} is better) and ' + ' and '.join(
            f'{c} (lower is better)' for c in task.lower_columns)
        if task.lower_columns else '')]
    lines.append('  seed' + ''.join(f'{f"{n} {k}":>22}' for n, k in cols))

    def value(init, k, i):
        return (entry[init] if k == key else entry['extra'][k][init])[i]

    for i, seed in enumerate(seeds):
        lines.append(f'  {seed:>4}' + ''.join(
            f'{_fmt(value(n, k, i), k):>22}' for n, k in cols))
    cmp = compare_inits({n: entry[n] for n in inits}, task.higher_is_better)
    if cmp:
        mean = cmp['mean']
        entry.update(mean=mean, mean_gap=cmp['gap'],
                     pretrained_ahead=cmp['ahead'])
        lines.append(
            f'  mean {key}: pretrained {_fmt(mean["pretrained"], key)} vs '
            f'scratch {_fmt(mean["scratch"], key)} (gap '
            f'{_fmt(cmp["gap"], key, "+")}); pretrained ahead in '
            f'{cmp["ahead"]} of {len(seeds)} seeds')
        for k, per_run in entry.get('extra', {}).items():
            if all(v is not None for vs in per_run.values() for v in vs):
                entry.setdefault('extra_mean', {})[k] = {
                    n: sum(vs) / len(vs) for n, vs in per_run.items()}
        for c in task.lower_columns:
            if c in entry.get('extra_mean', {}):
                m = entry['extra_mean'][c]
                lines.append(f'  mean {c}: pretrained {m["pretrained"]:.3f} '
                             f'vs scratch {m["scratch"]:.3f}')
    return entry, lines


def summarize_dense_demo(results: Mapping[str, Dict[tuple, dict]],
                         tasks: Mapping[str, DenseTask],
                         settings: dict,
                         curves: Mapping[str, dict],
                         pre_losses: Dict[int, float],
                         times: Dict[str, float],
                         probe_key: str = 'probe/linear_miou'
                         ) -> Tuple[dict, bool, List[str]]:
    """The summary of ``tools/demo_multimae.py``: per task, the metric of
    every fine-tuning run and the pretrained - scratch gap.

    Args:
        results (Mapping[str, dict]): Per task, ``{(init, seed): run}``;
            a run holds ``metrics`` (from its last validation) and
            ``final_train_loss``. A missing run counts as no number.
        tasks (Mapping[str, DenseTask]): The tasks run, in table order.
        settings (dict): The demo's settings, stored as they are; read:
            ``num_train``, ``labelled``, ``num_val``, ``num_test``,
            ``eval_split``, ``pretrain_modalities``, ``seeds``, ``runs``.
        curves (Mapping[str, dict]): The pretraining's probe curves.
        pre_losses (dict): Mean pretraining loss per epoch.
        times (dict): Seconds per stage, stored as they are.
        probe_key (str): The curve shown, a linear patch mIoU.

    Returns:
        tuple: The summary (``summary.json``), whether every run gave its
        metric, and the tables as lines of text.
    """
    s = settings
    n_eval = s['num_test'] if s['eval_split'] == 'test' else s['num_val']
    lines = [f'pretraining: {s["num_train"]} images '
             f'({s["pretrain_modalities"]}), fine-tuning: the first '
             f'{s["labelled"]}; scored on {s["eval_split"]} ({n_eval} '
             'images), last weights']
    if pre_losses:
        first, last = min(pre_losses), max(pre_losses)
        lines.append(f'pretraining loss: epoch {first} '
                     f'{pre_losses[first]:.3f} -> epoch {last} '
                     f'{pre_losses[last]:.3f}')
    curve = curves.get(probe_key)
    if curve:
        pts = ', '.join(f'{st}: {100 * v:.1f}'
                        for st, v in zip(curve['steps'], curve['values']))
        rnd = curve['random']
        lines.append('probe during pretraining (linear patch mIoU % on '
                     f'val, RGB only; step: value): {pts}' +
                     (f'; random init {100 * rnd:.1f}'
                      if rnd is not None else ''))
    summary, ok = {}, True
    for name, task in tasks.items():
        entry, task_lines = _dense_entry(name, task, results.get(name, {}),
                                         s['runs'], s['seeds'])
        ok &= all(v is not None for n in s['runs'] for v in entry[n])
        summary[name] = entry
        lines += task_lines
    summary.update(
        probe=dict(curve, key=probe_key) if curve else None,
        probe_curves=dict(curves),
        times_s=times,
        final_train_loss=dict(
            pretrain=pre_losses[max(pre_losses)] if pre_losses else None,
            **{t: summary[t]['final_train_loss'] for t in tasks}),
        pretrain_loss_per_epoch=pre_losses,
        settings=settings)
    return summary, ok, lines


def study_table(results: Mapping[str, dict],
                probe_steps: Sequence[int] = (500, 1000)) -> List[str]:
    """Markdown table of a pretraining study (``results.json`` of
    ``tools/analysis/pretrain_studies.py``, its ``variants``).

    Args:
        results (Mapping[str, dict]): Per variant ``top1`` (fine-tuned,
            one per seed) and, optional, ``steps`` and the pretraining's
            probe curve ``probe``.
        probe_steps (Sequence[int]): Steps whose probe value is shown
            between the random init and the last one.

    Returns:
        list[str]: The table's lines.
    """
    shown = ' / '.join(map(str, probe_steps))
    lines = [f'| variant | steps | probe: random -> {shown} / last | '
             'fine-tune top-1 per seed | mean |', '|---|---|---|---|---|']
    for name, r in results.items():
        ft = [100 * v for v in r['top1']]
        pr = '-'
        if 'probe' in r:
            c = dict(zip(r['probe']['steps'], r['probe']['values']))
            pts = [c.get(st) for st in probe_steps]
            pts.append(r['probe']['values'][-1])
            pr = f'{100 * r["probe"]["random"]:.1f} -> ' + ' / '.join(
                '-' if v is None else f'{100 * v:.1f}' for v in pts)
        lines.append(f'| {name} | {r.get("steps", "-")} | {pr} | ' +
                     ' / '.join(f'{v:.1f}' for v in ft) +
                     f' | {sum(ft) / len(ft):.1f} |')
    return lines


def format_times(times: Mapping[str, float]) -> str:
    """``'data 15s, pretrain 505s, ..., total 864s (14.4 min)'``; ``times``
    holds ``total``."""
    return ', '.join(f'{k} {v:.0f}s' for k, v in times.items()) + \
        f' ({times["total"] / 60:.1f} min)'


def write_json(obj, path: str) -> str:
    """Write ``obj`` as indented json (folders are created); return
    ``path``."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(obj, f, indent=1)
    return path


def report_summary(summary: dict,
                   lines: Sequence[str],
                   work_dir: str,
                   tag: str = '[demo]') -> str:
    """Print a demo's summary lines under a header and write
    ``<work_dir>/summary.json``; return its path."""
    print(f'\n{tag} ===== summary =====')
    for line in lines:
        print(f'{tag} {line}')
    return write_json(summary, osp.join(work_dir, 'summary.json'))
