# Copyright (c) mmmae contributors. All rights reserved.
"""Bit-exact resume of epoch-based training at any iteration.

MMEngine 0.10.7's ``EpochBasedTrainLoop`` restarts a partly trained epoch
from its first batch (``runner.iter`` keeps counting, so a resumed run
trains more iterations than an uninterrupted one and on different data);
its checkpoints hold no RNG state; and DataLoader workers are seeded by
``worker_init_fn(worker_id, num_workers, rank, seed)`` without the epoch or
the sample, so augmentation depends on the worker that decodes a sample.
The pieces here fix that:

- :class:`ResumableEpochBasedTrainLoop` (``train_cfg.type``) starts a
  resumed epoch at the first untrained batch, via
  :class:`~mmmae.datasets.ResumableSampler` (nothing decoded for the skipped
  samples), keeps DataLoader iterator creation from consuming the global
  torch RNG, and tells every :class:`~mmmae.datasets.PerSampleSeed` in the
  training pipeline the epoch;
- :class:`~mmmae.datasets.PerSampleSeed` (first pipeline transform) seeds
  the augmentation RNGs from (seed, epoch, sample index);
- :class:`~mmmae.engine.RNGStateHook` stores and restores the main
  process's RNG states.

:func:`make_resumable` switches a config to all of them (``tools/train.py
--deterministic`` or ``resumable = True`` in a config).
"""
import logging
import os
from typing import Any, Iterator, List

import torch
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop

from mmmae.registry import LOOPS

__all__ = [
    'ResumableEpochBasedTrainLoop', 'make_resumable', 'find_transforms'
]


def find_transforms(obj: Any, attr: str, _depth: int = 0) -> List[Any]:
    """Pipeline transforms with attribute ``attr`` under ``obj``.

    Looks through DataLoaders and dataset wrappers (``.dataset``,
    ``.datasets``), ``pipeline`` (``Compose``) and nested ``transforms``
    lists (``Compose``, ``RandomChoice``). Samplers are not searched.

    Returns:
        list: the transforms, each once, in traversal order.
    """
    found: List[Any] = []
    if obj is None or _depth > 10:
        return found
    children: List[Any] = [
        getattr(obj, name) for name in ('dataset', 'pipeline')
        if getattr(obj, name, None) is not None
    ]
    children += list(getattr(obj, 'datasets', None) or [])
    for t in list(getattr(obj, 'transforms', None) or []):
        if hasattr(t, attr):
            found.append(t)
        children.append(t)
    for child in children:
        for t in find_transforms(child, attr, _depth + 1):
            if all(t is not f for f in found):
                found.append(t)
    return found


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` that resumes mid-epoch where it stopped.

    On resume from ``iter_N.pth`` saved inside epoch ``e`` (by an
    iteration-based ``CheckpointHook``), the epoch continues at batch
    ``N - e * len(dataloader)`` with the batches the uninterrupted run
    would have drawn, ``batch_idx`` counting on from there. With a
    :class:`~mmmae.datasets.ResumableSampler` (or any sampler with
    ``skip_next_epoch(num_samples)``) the trained samples are skipped
    without loading; other samplers fall back to fetching and discarding
    the trained batches (correct, but it decodes them), with a warning.

    Before every epoch it calls ``set_epoch(epoch, seed=runner.seed)`` on the
    :class:`~mmmae.datasets.PerSampleSeed` transforms of the training
    pipeline, and it creates the DataLoader iterator with the global torch
    RNG state saved and restored (torch draws the workers' base seed from
    it), so a resumed run, which creates the iterator at a different point,
    does not shift the model's random stream.

    Args: as :class:`mmengine.runner.EpochBasedTrainLoop`.
    """

    def _sampler(self):
        sampler = getattr(self.dataloader.batch_sampler, 'sampler', None)
        return sampler if sampler is not None else self.dataloader.sampler

    def _batch_size(self) -> int:
        bs = self.dataloader.batch_size
        return bs if bs is not None else self.dataloader.batch_sampler.\
            batch_size

    def _iterate(self, start: int) -> Iterator:
        """The DataLoader iterator, positioned at batch ``start``."""
        skip = getattr(self._sampler(), 'skip_next_epoch', None)
        if start > 0 and skip is not None:
            skip(start * self._batch_size())
        rng = torch.get_rng_state()
        iterator = iter(self.dataloader)
        torch.set_rng_state(rng)
        if start > 0 and skip is None:
            print_log(
                f'{type(self._sampler()).__name__} cannot skip samples: '
                f'loading and discarding the {start} batches of epoch '
                f'{self._epoch} trained before the resume (use '
                'sampler=dict(type="mmmae.ResumableSampler") to skip them '
                'without decoding)',
                logger='current',
                level=logging.WARNING)
            for _ in range(start):
                next(iterator)
        return iterator

    def run_epoch(self) -> None:
        """Iterate the rest of one epoch (all of it unless resuming)."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        seed = getattr(self.runner, 'seed', None)
        for t in find_transforms(self.dataloader, 'set_epoch'):
            t.set_epoch(self._epoch, seed=seed)
        num_batches = len(self.dataloader)
        start = self._iter - self._epoch * num_batches
        if not 0 <= start <= num_batches:
            print_log(
                f'iteration {self._iter} is not inside epoch '
                f'{self._epoch + 1} '
                f'of {num_batches} batches (did the dataset or batch size '
                'change since the checkpoint?); training the whole epoch',
                logger='current',
                level=logging.WARNING)
            start = 0
        elif start > 0:
            print_log(
                f'resuming inside epoch {self._epoch + 1}: skipping its '
                f'first {start} of {num_batches} batches (trained before '
                'the checkpoint)',
                logger='current')
        if start < num_batches:
            for idx, data_batch in enumerate(self._iterate(start), start):
                self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1


def _pipelines(dataset_cfg: Any) -> List[list]:
    """The ``pipeline`` lists of a dataset config and wrapped ones."""
    if not isinstance(dataset_cfg, dict):
        return []
    found = []
    if isinstance(dataset_cfg.get('pipeline'), list):
        found.append(dataset_cfg['pipeline'])
    found += _pipelines(dataset_cfg.get('dataset'))
    for sub in dataset_cfg.get('datasets', None) or []:
        found += _pipelines(sub)
    return found


_SEED_TYPES = ('PerSampleSeed', 'mmmae.PerSampleSeed')


def make_resumable(cfg):
    """Switch a training config to bit-exact resumable training.

    - ``train_cfg.type``: ``EpochBasedTrainLoop`` ->
      ``mmmae.ResumableEpochBasedTrainLoop`` (other loops are kept, with a
      warning, and then the sampler and pipelines are left alone);
    - ``train_dataloader.sampler``: ``DefaultSampler`` ->
      ``mmmae.ResumableSampler``;
    - ``mmmae.PerSampleSeed`` is put first in every training pipeline
      (including wrapped datasets) that lacks it;
    - ``mmmae.RNGStateHook`` and ``mmmae.FiniteLossCheckHook`` are added
      to ``custom_hooks`` when missing;
    - ``randomness.deterministic = True`` and a fixed ``randomness.seed``
      (0 when unset: a resumed run must know the seed).

    Args:
        cfg (mmengine.Config): the config, changed in place.

    Returns:
        mmengine.Config: ``cfg``.
    """
    train_cfg = cfg.get('train_cfg') or {}
    if 'type' not in train_cfg and train_cfg.get('by_epoch', False):
        # MMEngine's `train_cfg = dict(by_epoch=True, ...)` form
        train_cfg.pop('by_epoch')
        train_cfg['type'] = 'EpochBasedTrainLoop'
    loop = train_cfg.get('type', None)
    epoch_based = True
    if loop in ('EpochBasedTrainLoop', 'mmengine.EpochBasedTrainLoop'):
        train_cfg['type'] = 'mmmae.ResumableEpochBasedTrainLoop'
        cfg.train_cfg = train_cfg
    elif loop not in ('mmmae.ResumableEpochBasedTrainLoop',
                      'ResumableEpochBasedTrainLoop'):
        # e.g. IterBasedTrainLoop + InfiniteSampler: no epoch to seed
        # samples with, so PerSampleSeed would repeat augmentations.
        epoch_based = False
        print_log(
            f'make_resumable: train loop {loop} is kept and the data '
            'pipeline is not changed; only EpochBasedTrainLoop configs get '
            'bit-exact resume (docs/resume.md)',
            logger='current',
            level=logging.WARNING)

    loader = cfg.get('train_dataloader')
    if isinstance(loader, dict) and epoch_based:
        sampler = loader.get('sampler') or {}
        if sampler.get('type') in ('DefaultSampler',
                                   'mmengine.DefaultSampler'):
            sampler['type'] = 'mmmae.ResumableSampler'
        for pipeline in _pipelines(loader.get('dataset')):
            if not (pipeline and isinstance(pipeline[0], dict)
                    and pipeline[0].get('type') in _SEED_TYPES):
                pipeline.insert(0, dict(type='mmmae.PerSampleSeed'))

    hooks = list(cfg.get('custom_hooks', None) or [])
    types = {h.get('type') for h in hooks if isinstance(h, dict)}
    for name in ('RNGStateHook', 'FiniteLossCheckHook'):
        if name not in types and f'mmmae.{name}' not in types:
            hooks.append(dict(type=f'mmmae.{name}'))
    cfg.custom_hooks = hooks

    randomness = dict(cfg.get('randomness', None) or {})
    if randomness.get('seed') is None:
        randomness['seed'] = 0
    randomness['deterministic'] = True
    cfg.randomness = randomness
    # torch.use_deterministic_algorithms (set by MMEngine for
    # deterministic=True) makes cuBLAS raise without this; no-op on CPU.
    os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
    return cfg
