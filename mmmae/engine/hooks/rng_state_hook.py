# Copyright (c) mmmae contributors. All rights reserved.
"""Save the RNG states in checkpoints and restore them on resume."""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook

from mmmae.registry import HOOKS

__all__ = ['RNGStateHook', 'get_rng_states', 'set_rng_states']


def get_rng_states() -> dict:
    """This process's global RNG states.

    Returns:
        dict: ``torch`` (CPU ``ByteTensor``), ``cuda`` (one per visible GPU,
        only when CUDA is initialized), ``numpy`` and ``python`` states.
    """
    states = dict(
        torch=torch.get_rng_state(),
        numpy=np.random.get_state(),
        python=random.getstate())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict) -> None:
    """Restore states from :func:`get_rng_states`."""
    torch.set_rng_state(states['torch'])
    np.random.set_state(states['numpy'])
    random.setstate(states['python'])
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Put the main process's RNG states into every checkpoint
    (``checkpoint['rng_state']``) and restore them when resuming.

    MMEngine 0.10.7 stores only the seed; a resumed run re-seeds and so
    draws different dropout / drop-path / noise than the uninterrupted run
    would have. The states are restored at ``before_train`` (after MMEngine's
    ``resume``, which may re-seed when the config seed differs, and after
    ``before_run``/``before_train`` of other hooks, this hook running last),
    and only when the checkpoint's iteration is the one being resumed, so
    ``load_from`` (fine-tuning from a pretrain checkpoint) is unaffected.

    Only rank 0's states are saved (MMEngine saves checkpoints on rank 0
    only); on other ranks the states restart from the seed.
    """

    priority = 'LOWEST'

    def __init__(self) -> None:
        self._pending: Optional[dict] = None
        self._pending_iter: Optional[int] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Add ``checkpoint['rng_state']``."""
        checkpoint['rng_state'] = get_rng_states()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Remember the states; applied in :meth:`before_train`."""
        self._pending = checkpoint.get('rng_state')
        self._pending_iter = checkpoint.get('meta', {}).get('iter')

    def before_train(self, runner) -> None:
        """Restore the states of the checkpoint being resumed."""
        if self._pending is None:
            return
        if self._pending_iter == runner.iter and runner.iter > 0:
            set_rng_states(self._pending)
            runner.logger.info('RNGStateHook: restored RNG states of '
                               f'iteration {runner.iter}')
        self._pending = None
