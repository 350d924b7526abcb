# Copyright (c) mmmae contributors. All rights reserved.
"""A DefaultSampler that can start an epoch part-way, without decoding."""
import itertools
from typing import Iterator, List, Optional

from mmengine.dataset import DefaultSampler

from mmmae.registry import DATA_SAMPLERS

__all__ = ['ResumableSampler']


@DATA_SAMPLERS.register_module()
class ResumableSampler(DefaultSampler):
    """:class:`mmengine.dataset.DefaultSampler` that can skip the first
    samples of its next epoch and remembers the indices it yielded.

    The order is exactly ``DefaultSampler``'s (a permutation seeded by
    ``seed + epoch``, then this rank's share), so a run that resumes mid-epoch
    sees the same remaining samples as the uninterrupted run. The skipped
    samples are never handed to the DataLoader, so nothing is decoded for
    them (MMEngine's ``IterBasedTrainLoop`` instead fetches and discards
    every skipped batch). :class:`~mmmae.engine.ResumableEpochBasedTrainLoop`
    calls :meth:`skip_next_epoch`.

    Args: as :class:`mmengine.dataset.DefaultSampler` (``dataset``,
        ``shuffle``, ``seed``, ``round_up``).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._skip = 0
        self._epoch_indices: Optional[List[int]] = None

    def skip_next_epoch(self, num_samples: int) -> None:
        """Drop the first ``num_samples`` of the next ``__iter__`` (one
        shot).

        Args:
            num_samples (int): samples of this rank already trained on, i.e.
                ``batches_done * batch_size``.
        """
        if num_samples < 0:
            raise ValueError(f'num_samples must be >= 0, got {num_samples}')
        self._skip = int(num_samples)

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        self._epoch_indices = indices
        skip, self._skip = self._skip, 0
        return itertools.islice(iter(indices), skip, None)

    def epoch_indices(self) -> Optional[List[int]]:
        """This rank's dataset indices of the current epoch in order,
        including the skipped ones (None before the first epoch)."""
        return self._epoch_indices
