# Copyright (c) mmmae contributors. All rights reserved.
"""Reseed the global RNGs per sample from (seed, epoch, sample index)."""
import copy
import random
from typing import Optional

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmmae.registry import TRANSFORMS

__all__ = ['PerSampleSeed']


@TRANSFORMS.register_module()
class PerSampleSeed(BaseTransform):
    """Make every random transform after it a function of (seed, epoch,
    sample index) alone.

    Put it **first** in a training pipeline. For each sample it seeds
    Python's ``random``, numpy's global RNG and torch's global CPU RNG from
    ``np.random.SeedSequence([seed, epoch, sample_idx])``, so the crops,
    flips and masks (:class:`TubeMaskGenerator` draws from ``np.random``) of
    a sample no longer depend on which DataLoader worker decodes it, on how
    many samples that worker decoded before, or on whether the run was
    restarted. That is what makes a mid-epoch resume (the worker-to-batch
    assignment shifts) and ``persistent_workers`` (MMEngine's
    ``worker_init_fn`` seeds each worker once from ``(seed, worker_id,
    rank)``, without the epoch) reproduce the uninterrupted run bit for bit.

    The ``(seed, epoch)`` pair lives in a 2-element shared-memory tensor
    created here, in the main process, before DataLoader workers start, so
    :meth:`set_epoch` (called by
    :class:`~mmmae.engine.ResumableEpochBasedTrainLoop` before every epoch)
    reaches persistent workers too. Each epoch draws fresh augmentations:
    the same video gets different masks in different epochs.

    Notes:
        - A sample index repeated within an epoch (a distributed sampler
          padding the last batch, a repeat sampler) gets identical
          augmentation; with ``VideoMAEDataset(num_repeats=k)`` the ``k``
          views draw consecutively from the one seeded stream and differ.
        - With ``num_workers=0`` the pipeline runs in the main process and
          this reseeds the main process's RNGs too (still deterministic, but
          dropout then follows the data seeds); use ``num_workers >= 1``.
        - The statistics of the masks are unchanged, but the exact masks
          differ from the official generator's stream (which reseeds once
          per worker), so parity tests against official masks must not
          include this transform.

    **Required Keys:** sample_idx (set by MMEngine ``BaseDataset``).

    Args:
        seed (int, optional): base seed. None (default) takes the runner's
            seed via :meth:`set_epoch`.
    """

    def __init__(self, seed: Optional[int] = None) -> None:
        self.seed = seed
        # [seed, epoch]; shared so that forked/spawned workers see updates.
        self._state = torch.zeros(2, dtype=torch.int64).share_memory_()
        if seed is not None:
            self._state[0] = int(seed)

    def __deepcopy__(self, memo: dict) -> 'PerSampleSeed':
        # A plain deep copy of a shared tensor lands in private memory: the
        # copy's workers (forked after it) would never see set_epoch.
        # MMEngine's Runner deep-copies dataset objects passed to it.
        new = self.__class__.__new__(self.__class__)
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            if key != '_state':
                setattr(new, key, copy.deepcopy(value, memo))
        new._state = self._state.clone().share_memory_()
        return new

    def set_epoch(self, epoch: int, seed: Optional[int] = None) -> None:
        """Set the epoch (and the seed, unless fixed in the config) used
        for the next samples, in this process and in every worker."""
        if seed is not None and self.seed is None:
            self._state[0] = int(seed)
        self._state[1] = int(epoch)

    @property
    def epoch(self) -> int:
        return int(self._state[1])

    def sample_seed(self, sample_idx: int) -> np.ndarray:
        """The 32-bit words seeding sample ``sample_idx`` this epoch.

        Returns:
            np.ndarray: ``(3,)`` uint32 (numpy, python, torch seeds).
        """
        seed, epoch = self._state.tolist()
        return np.random.SeedSequence(
            [seed % (1 << 63), epoch, int(sample_idx)]).generate_state(3)

    def transform(self, results: dict) -> dict:
        """Reseed the RNGs for ``results['sample_idx']``; data unchanged."""
        idx = results.get('sample_idx')
        if idx is None:
            raise KeyError(
                'PerSampleSeed needs results["sample_idx"] (MMEngine '
                'BaseDataset.get_data_info sets it); put PerSampleSeed first '
                'in the pipeline of a BaseDataset subclass')
        words = self.sample_seed(idx)
        np.random.seed(int(words[0]))
        random.seed(int(words[1]))
        torch.manual_seed(int(words[2]))
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(seed={self.seed})'
