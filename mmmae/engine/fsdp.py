# Copyright (c) mmmae contributors. All rights reserved.
"""FSDP helpers for MMEngine's ``FSDPStrategy`` (``FlexibleRunner``).

Configs name them by string, e.g.::

    strategy = dict(
        type='FSDPStrategy',
        model_wrapper=dict(
            auto_wrap_policy=dict(type='mmmae.vit_block_wrap_policy')),
        activation_checkpointing=dict(
            check_fn='mmmae.vit_block_checkpoint_fn'))

``MMFullyShardedDataParallel`` and ``FSDPStrategy`` call ``get`` on
MMEngine's root ``FUNCTIONS`` registry, which finds mmmae's child registry
only through the ``mmmae.`` prefix, so the names must keep it.
"""
import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.optim import OptimWrapper

from mmmae.registry import FUNCTIONS, OPTIM_WRAPPERS

__all__ = [
    'vit_block_wrap_policy', 'vit_block_checkpoint_fn',
    'ShardedGradClipOptimWrapper', 'setup_cpu_fsdp'
]


def _is_vit_block(module: nn.Module) -> bool:
    # imported here: mmmae.engine must stay importable without the models
    from mmmae.models.utils import TransformerBlock
    return isinstance(module, TransformerBlock)


@FUNCTIONS.register_module()
def vit_block_wrap_policy(module: nn.Module, recurse: bool,
                          nonwrapped_numel: int) -> bool:
    """FSDP auto-wrap policy: one FSDP unit per ViT block.

    Every encoder and decoder ``TransformerBlock`` (VideoMAE, MultiMAE)
    becomes its own unit, so only one block's full parameters are gathered at
    a time; the embeddings, norms and heads stay in the root unit.

    Args:
        module (nn.Module): Candidate module.
        recurse (bool): FSDP asks whether to descend into ``module``.
        nonwrapped_numel (int): Parameters not yet wrapped (unused: blocks
            are wrapped whatever their size).

    Returns:
        bool: Descend (always, when ``recurse``) / wrap ``module``.
    """
    if recurse:
        return True
    return _is_vit_block(module)


@FUNCTIONS.register_module()
def vit_block_checkpoint_fn(module: nn.Module) -> bool:
    """``check_fn`` of ``FSDPStrategy.activation_checkpointing``.

    Checkpoints each ``TransformerBlock`` (encoder and decoder), matching the
    units of :func:`vit_block_wrap_policy`. Use it instead of the backbone's
    ``with_cp`` (which covers the encoder only) when training with FSDP,
    never both (that would recompute each block twice).

    Args:
        module (nn.Module): Candidate module.

    Returns:
        bool: Whether to wrap ``module`` in a checkpoint wrapper.
    """
    return _is_vit_block(module)


@OPTIM_WRAPPERS.register_module()
class ShardedGradClipOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose norm clipping uses the global gradient norm of
    a sharded (FSDP ``FULL_SHARD`` / ``SHARD_GRAD_OP``) model.

    Under FSDP each rank holds a disjoint shard of every gradient, so
    ``torch.nn.utils.clip_grad_norm_`` (what ``OptimWrapper`` calls) would
    clip each shard by its own, smaller norm. Here the squared shard norms
    are summed over ranks first, as ``FSDP.clip_grad_norm_`` does; without a
    process group this is plain norm clipping. Only ``type='norm'`` with
    ``norm_type=2`` is supported, and only sharding strategies whose shards
    are disjoint (not ``NO_SHARD`` / ``HYBRID_SHARD``).

    Args:
        optimizer (Optimizer): Optimizer over the (sharded) parameters.
        **kwargs: ``OptimWrapper`` arguments, e.g.
            ``clip_grad=dict(max_norm=0.02)``.
    """

    def __init__(self, optimizer, **kwargs) -> None:
        super().__init__(optimizer, **kwargs)
        if self.clip_grad_kwargs:
            extra = set(self.clip_grad_kwargs) - {'max_norm', 'norm_type'}
            if (self.grad_name != 'grad_norm' or extra
                    or self.clip_grad_kwargs.get('norm_type', 2) != 2):
                raise ValueError(
                    'ShardedGradClipOptimWrapper supports clip_grad='
                    'dict(max_norm=...) (L2 norm clipping) only, got '
                    f'type={self.grad_name}, {self.clip_grad_kwargs}')

    def _clip_grad(self) -> None:
        grads = [
            p.grad for group in self.optimizer.param_groups
            for p in group['params']
            if p.requires_grad and p.grad is not None
        ]
        if not grads:
            return
        # an empty shard (0-numel view) contributes 0
        sq = torch.stack([g.detach().float().pow(2).sum()
                          for g in grads]).sum()
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(sq)
        total = sq.sqrt()
        coef = (self.clip_grad_kwargs['max_norm'] / (total + 1e-6)).clamp(
            max=1.0)
        torch._foreach_mul_(grads, coef.to(grads[0].dtype))
        self.message_hub.update_scalar('train/grad_norm', float(total))


def setup_cpu_fsdp(cfg):
    """Let an ``FSDPStrategy`` config run on CPU processes (gloo).

    ``FSDPStrategy`` passes ``device_id=LOCAL_RANK`` to FSDP, which means a
    CUDA device. Without CUDA this sets ``strategy.model_wrapper.device_id``
    to ``'cpu'`` (FSDP then keeps parameters and communication on the CPU;
    used by the tests and for debugging, not for speed). Does nothing with
    CUDA or for other strategies.

    Args:
        cfg (Config): Full config, modified in place.

    Returns:
        Config: ``cfg``.
    """
    strategy = cfg.get('strategy', None)
    if (torch.cuda.is_available() or strategy is None or strategy.get(
            'type', None) not in ('FSDPStrategy', 'mmengine.FSDPStrategy')):
        return cfg
    wrapper = strategy.get('model_wrapper', None)
    if wrapper is None:
        wrapper = strategy['model_wrapper'] = dict(
            type='MMFullyShardedDataParallel')
    wrapper['device_id'] = 'cpu'
    return cfg
