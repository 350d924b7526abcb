# Copyright (c) mmmae contributors. All rights reserved.
"""Freeze a sub-module (the backbone) for linear probing."""
from typing import Any, Optional

import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from torch.nn.parallel import DistributedDataParallel

from mmmae.registry import HOOKS

__all__ = ['FreezeBackboneHook']


@HOOKS.register_module()
class FreezeBackboneHook(Hook):
    """Keep ``model.<module>`` frozen: no gradients and always in eval mode.

    At ``before_run`` every parameter of the module gets
    ``requires_grad=False``, so autograd records nothing through it (no
    activation memory, no backward cost) and the optimizer skips it (its
    ``grad`` stays None). Before every training iteration the module is put
    back in eval mode, because the train loop calls ``model.train()`` after
    the ``before_train_epoch`` hooks; that keeps dropout / drop path off and
    normalisation statistics fixed, as in MAE's linear probe.

    The optimizer is built before ``before_run``, so it still lists the
    frozen parameters; they never receive gradients. Configs also give them
    ``lr_mult=0, decay_mult=0`` so that they stay put even without this
    hook.

    Distributed training: DDP wraps the model before hooks run and expects a
    gradient for every parameter that required one at wrap time, so the
    config must set ``model_wrapper_cfg=dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)``; the
    hook raises a clear error otherwise. (A ``frozen`` backbone argument
    applied at build time would avoid that and the all-reduce of the
    backbone's zero gradients.)

    Args:
        module (str): Dotted name of the sub-module of the (unwrapped) model
            to freeze. Defaults to ``'backbone'``.
    """

    priority = 'VERY_HIGH'

    def __init__(self, module: str = 'backbone') -> None:
        self.module = module

    def _target(self, runner) -> nn.Module:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        try:
            return model.get_submodule(self.module)
        except AttributeError as e:
            raise AttributeError(
                f'FreezeBackboneHook: {type(model).__name__} has no '
                f'sub-module {self.module!r}') from e

    def before_run(self, runner) -> None:
        """Switch off gradients and training mode of the module."""
        target = self._target(runner)
        trainable = [p for p in target.parameters() if p.requires_grad]
        if trainable and isinstance(runner.model, DistributedDataParallel) \
                and not runner.model.find_unused_parameters:
            raise RuntimeError(
                f'FreezeBackboneHook freezes model.{self.module} after DDP '
                'has registered its parameters; DDP then waits forever for '
                'their gradients. Set model_wrapper_cfg=dict(type='
                "'MMDistributedDataParallel', find_unused_parameters=True) "
                'in the config.')
        target.requires_grad_(False)
        target.eval()
        num = sum(p.numel() for p in trainable)
        print_log(
            f'FreezeBackboneHook: froze model.{self.module} ({num} '
            'parameters, eval mode)',
            logger='current')

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: Optional[Any] = None) -> None:
        """Undo the ``model.train()`` of the train loop for the module."""
        target = self._target(runner)
        if target.training:
            target.eval()
