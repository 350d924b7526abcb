# Copyright (c) mmmae contributors. All rights reserved.
"""A longer (or shorter) run is a longer (or shorter) schedule.

Configs write ``end=max_epochs`` in their param schedulers, and Python
evaluates that when the file is loaded. ``--cfg-options
train_cfg.max_epochs=100`` therefore changes only the loop: a cosine laid
out for 20 epochs ends at epoch 20 and epochs 21-100 train at its minimum.
:func:`follow_train_length` moves the schedulers that ended with the old
run to the new length (``max_iters`` likewise for iteration-based loops),
keeps warmups, and refuses what it cannot move unambiguously, naming the
fields to set. ``tools/train.py`` calls it after merging ``--cfg-options``.
"""
from typing import Iterable, Optional

from mmengine.config import Config
from mmengine.logging import print_log

__all__ = ['follow_train_length']

INF = int(1e9)  # MMEngine's default `end`: such a scheduler never ends
# lengths besides `end` (None = end - begin); moved along when they equal it
_SPANS = ('T_max', 'total_steps')
# positions inside the curve: stretching or keeping them are both plausible
_SHAPES = ('milestones', 'periods')


def _schedulers(scheds, bases, label='param_scheduler',
                path='param_scheduler'):
    """Yield ``(label, option path, scheduler, base scheduler or None)``."""
    if isinstance(scheds, dict) and 'type' not in scheds:
        # one list per optimizer (multi-optimizer wrappers)
        bases = bases if isinstance(bases, dict) else {}
        for name, sub in scheds.items():
            yield from _schedulers(sub, bases.get(name), f'{label}.{name}',
                                   f'{path}.{name}')
    elif isinstance(scheds, dict):
        yield label, path, scheds, bases if isinstance(bases, dict) else None
    elif isinstance(scheds, (list, tuple)):
        bases = bases if isinstance(bases, (list, tuple)) else []
        for i, sched in enumerate(scheds):
            yield (f'{label}[{i}]', f'{path}.{i}', sched,
                   bases[i] if i < len(bases) else None)


def follow_train_length(cfg: Config,
                        base_cfg: Config,
                        cfg_options: Optional[Iterable[str]] = None
                        ) -> Config:
    """Make the param schedulers follow an overridden training length.

    Only schedulers counted in the loop's unit (``by_epoch=True``, MMEngine's
    default, for epoch-based loops, ``by_epoch=False`` for iteration-based
    ones) whose ``end`` equalled the old length are moved, with ``T_max`` /
    ``total_steps`` when those were set to ``end - begin``. Schedulers that
    end earlier (warmup) keep their length; one that ends later (a run
    deliberately cut short) is kept while the new run still ends within it.
    A field the user overrode is never touched.

    Args:
        cfg (Config): The config after the overrides; changed in place.
        base_cfg (Config): The same config as loaded from its file, before
            ``--cfg-options``.
        cfg_options (Iterable[str], optional): The keys of ``--cfg-options``
            (e.g. ``'param_scheduler.1.end'``). A field named there counts as
            set by the user even when its value did not change. Without
            them, only changed values do.

    Returns:
        Config: ``cfg``.

    Raises:
        ValueError: The length changed and a scheduler cannot follow it
            unambiguously: a warmup longer than the new run, a scheduler
            starting after it, ``milestones`` / ``periods``, an explicit
            ``T_max`` / ``total_steps`` other than ``end - begin``, a finite
            ``end`` counted in the other unit, or an ``end`` past the old
            length that the new run exceeds. The message names the
            ``--cfg-options`` fields to set.
    """
    train_cfg = cfg.get('train_cfg') or {}
    # MMEngine's Runner.build_train_loop: by_epoch if given, else the type's
    # length argument (EpochBasedTrainLoop: max_epochs, IterBased: max_iters)
    by_epoch = train_cfg.get('by_epoch', 'max_iters' not in train_cfg)
    key = 'max_epochs' if by_epoch else 'max_iters'
    unit = 'epochs' if by_epoch else 'iterations'
    old = (base_cfg.get('train_cfg') or {}).get(key)
    new = train_cfg.get(key)
    if old is None or new is None or old == new:
        return cfg
    options = list(cfg_options or [])
    loop = f'train_cfg.{key}={new} (was {old})'
    changes, problems = [], []
    for label, path, sched, base in _schedulers(
            cfg.get('param_scheduler'), base_cfg.get('param_scheduler')):

        def user_set(field):
            full = f'{path}.{field}'
            return (base is None or sched.get(field) != base.get(field)
                    or any(full == o or full.startswith(o + '.')
                           for o in options))

        def refuse(field, why):
            if not user_set(field):
                problems.append(f'`{label}.{field}` ({sched.get("type")}) '
                                f'{why}; set it with --cfg-options '
                                f'{path}.{field}=N')

        begin, end = sched.get('begin', 0), sched.get('end', INF)
        if end >= INF or user_set('end'):
            continue  # follows any length, or the user decided
        if sched.get('by_epoch', True) != by_epoch:
            other = 'iterations' if by_epoch else 'epochs'
            refuse('end', f'= {end} counts {other}, not {unit}: unclear '
                   'how it should follow')
        elif end < old:  # warmup and the like keep their length
            if new < end:
                refuse('end', f'= {end} is past the new length {new}')
        elif end > old:  # laid out past the old run: cut short on purpose
            if new > end:
                refuse('end', f'= {end} was past the old length {old}: '
                       'unclear how it should follow')
            elif new < begin:
                refuse('begin', f'= {begin} is past the new length {new}')
        else:  # ended with the run: follow it
            if new <= begin:
                refuse('begin', f'= {begin} leaves it nothing to run in '
                       f'{new} {unit}')
            for field in _SHAPES:
                if field in sched:
                    refuse(field, f'= {sched[field]} was laid out for {old} '
                           f'{unit}: unclear how it should follow')
            update = {'end': new}
            for field in _SPANS:
                span = sched.get(field)
                if span is None or user_set(field):
                    continue
                if span != end - begin:
                    refuse(field, f'= {span} is not end - begin: unclear '
                           'how it should follow')
                update[field] = new - begin
            changes.append(
                (sched, update, f'{label} ({sched.get("type")}): ' +
                 ', '.join(f'{f} {sched[f]} -> {v}'
                           for f, v in update.items()) +
                 f' {unit}, to follow {loop}'))
    if problems:
        raise ValueError(
            f'The param schedulers cannot follow {loop}:\n  ' +
            '\n  '.join(problems) + '\nA field given in --cfg-options is '
            'kept as given, even at its config value.')
    for sched, update, line in changes:
        sched.update(update)
        print_log(line, logger='current')
    return cfg
