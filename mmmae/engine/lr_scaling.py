# Copyright (c) mmmae contributors. All rights reserved.
"""Gradient accumulation in ``auto_scale_lr``'s batch size.

MMEngine scales the lr by ``world_size * train_dataloader.batch_size /
auto_scale_lr.base_batch_size`` (``Runner.scale_lr``, and
``BaseStrategy._scale_lr`` for ``FlexibleRunner``), ignoring gradient
accumulation: with ``optim_wrapper.accumulative_counts=k`` (or DeepSpeed's
``gradient_accumulation_steps=k``) an optimizer step sees ``k`` times that
many samples and should get ``k`` times the lr.
:func:`account_grad_accumulation` fixes this in the config, before the runner
is built, by dividing ``base_batch_size`` by ``k``: MMEngine then computes
the ratio of the *effective* batch, and nothing else changes (the lr stays
untouched when ``auto_scale_lr`` is disabled: the config's lr is then meant
verbatim). ``tools/train.py`` calls it; scripts that build runners
themselves should too.
"""
import logging
from typing import Optional

from mmengine.config import Config
from mmengine.logging import print_log

__all__ = ['grad_accumulation_steps', 'account_grad_accumulation']

_DEEPSPEED = ('DeepSpeedStrategy', 'mmengine.DeepSpeedStrategy')


def grad_accumulation_steps(cfg: Config) -> int:
    """Micro-batches per optimizer step that a config trains with.

    Args:
        cfg (Config): Full config.

    Returns:
        int: ``strategy.gradient_accumulation_steps`` under a
        ``DeepSpeedStrategy`` (DeepSpeed accumulates itself), else
        ``optim_wrapper.accumulative_counts`` (1 when unset).

    Raises:
        ValueError: The count is not a positive integer, or a DeepSpeed
            config also sets ``optim_wrapper.accumulative_counts`` (which
            ``DeepSpeedOptimWrapper`` does not accept).
    """
    optim_wrapper = cfg.get('optim_wrapper', None) or {}
    strategy = cfg.get('strategy', None) or {}
    counts = optim_wrapper.get('accumulative_counts', None)
    if strategy.get('type', None) in _DEEPSPEED:
        if counts is not None:
            raise ValueError(
                'DeepSpeed accumulates gradients itself: set '
                '`strategy.gradient_accumulation_steps` instead of '
                '`optim_wrapper.accumulative_counts` (found '
                f'{counts!r} in {cfg.filename}).')
        counts = strategy.get('gradient_accumulation_steps', None)
    counts = 1 if counts is None else counts
    if not isinstance(counts, int) or isinstance(counts, bool) or counts < 1:
        raise ValueError('gradient accumulation steps must be a positive '
                         f'integer, got {counts!r} in {cfg.filename}')
    return counts


def account_grad_accumulation(cfg: Config,
                              logger: Optional[str] = 'current') -> Config:
    """Make ``auto_scale_lr`` count accumulated micro-batches.

    With accumulation ``k > 1`` and ``auto_scale_lr.enable``, divides
    ``auto_scale_lr.base_batch_size`` by ``k`` so MMEngine's ratio becomes
    ``world_size * batch_size * k / base_batch_size`` (the effective batch),
    and logs what it did. The original value is kept in
    ``auto_scale_lr.base_batch_size_per_step`` (a second call is a no-op).

    Args:
        cfg (Config): Full config, modified in place.
        logger (str, optional): MMEngine logger name for the log line.

    Returns:
        Config: ``cfg``.
    """
    k = grad_accumulation_steps(cfg)
    scale = cfg.get('auto_scale_lr', None)
    if k == 1 or scale is None or 'base_batch_size_per_step' in scale:
        return cfg
    if not scale.get('enable', False):
        print_log(
            f'gradient accumulation x{k}: auto_scale_lr is disabled, so the '
            'configured lr is used as is (it should be the lr of the '
            f'effective batch, {k} x world_size x batch_size).',
            logger=logger,
            level=logging.WARNING)
        return cfg
    base = scale['base_batch_size']
    scale['base_batch_size_per_step'] = base
    scale['base_batch_size'] = base / k
    bs = cfg.train_dataloader.get('batch_size', '?')
    print_log(
        f'gradient accumulation x{k}: the effective batch is world_size x '
        f'{bs} x {k}; auto_scale_lr.base_batch_size {base} -> {base / k} so '
        'that MMEngine\'s lr scaling (which counts world_size x batch_size) '
        f'scales by the effective batch / {base}.',
        logger=logger,
        level=logging.INFO)
    return cfg
