# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAE task losses and a linear classification head."""
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmmae.registry import MODELS
from ..utils import build_norm

__all__ = ['MultiMAEHead', 'MultiMAELinearHead']


@MODELS.register_module()
class MultiMAEHead(BaseModule):
    """Per-task masked losses of MultiMAE pre-training.

    Args:
        tasks (dict): ``task -> dict(loss=<loss cfg>, target=<modality>)``;
            ``target`` defaults to the task name (``norm_rgb`` uses
            ``target='rgb'`` with ``MaskedMSELoss(norm_pix=True)``). The
            mask of the target modality selects the pixels.
        loss_weights (dict, optional): ``task -> weight``; 1 when absent
            (the official sum is unweighted).
        uncertainty_weighting (bool): Learn one log-variance ``s`` per task
            and use ``exp(-s) * loss + s`` (official
            ``UncertaintyWeightingStrategy``; a task whose loss is exactly 0
            stays 0). Defaults to False.
        loss_on_unmasked (bool): Average over all pixels instead of the
            masked ones. Defaults to False (official pre-training).
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 tasks: Mapping[str, dict],
                 loss_weights: Optional[Mapping[str, float]] = None,
                 uncertainty_weighting: bool = False,
                 loss_on_unmasked: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.targets: Dict[str, str] = OrderedDict()
        losses = OrderedDict()
        for task, cfg in tasks.items():
            cfg = dict(cfg)
            self.targets[task] = cfg.pop('target', task)
            loss = cfg.pop('loss')
            if cfg:
                raise KeyError(f'task {task!r}: unknown keys {sorted(cfg)}')
            losses[task] = MODELS.build(loss) if isinstance(loss,
                                                            dict) else loss
        self.losses = nn.ModuleDict(losses)
        self.loss_weights = dict(loss_weights or {})
        unknown = set(self.loss_weights) - set(self.targets)
        if unknown:
            raise KeyError(f'loss_weights for unknown tasks {sorted(unknown)}')
        self.loss_on_unmasked = loss_on_unmasked
        self.uncertainty_weighting = uncertainty_weighting
        if uncertainty_weighting:
            self.log_vars = nn.Parameter(torch.zeros(len(self.targets)))

    def loss(self,
             preds: Mapping[str, torch.Tensor],
             inputs: Mapping[str, torch.Tensor],
             masks: Optional[Mapping[str, torch.Tensor]] = None,
             decoder_masks: Optional[Mapping[str, torch.Tensor]] = None
             ) -> Dict[str, torch.Tensor]:
        """Masked loss of every task.

        Args:
            preds (Mapping): ``task -> (B, C, h, w)`` decoder outputs.
            inputs (Mapping): ``modality -> target map`` (normalised rgb,
                standardised depth, ``(B, h, w)`` class ids).
            masks (Mapping, optional): ``modality -> (B, N)`` bool, True =
                masked. A modality without a mask (or ``loss_on_unmasked``)
                is averaged over all pixels.
            decoder_masks (Mapping, optional): VideoMAE V2 decoder masks,
                ``modality -> (B, N)`` bool, True = not reconstructed: the
                loss of the target modality counts only the reconstructed
                tokens among the masked ones.

        Returns:
            dict: ``loss_{task}`` scalars (weighted).
        """
        out = OrderedDict()
        for i, (task, target_name) in enumerate(self.targets.items()):
            if task not in preds or target_name not in inputs:
                # No target for this task in this batch (e.g. missing
                # pseudo label): nothing to learn.
                continue
            mask = None
            if not self.loss_on_unmasked and masks is not None:
                mask = masks.get(target_name, None)
            skipped = (decoder_masks or {}).get(target_name, None)
            if skipped is not None:
                mask = ~skipped if mask is None else mask & ~skipped
            loss = self.losses[task](preds[task].float(),
                                     inputs[target_name], mask)
            loss = loss * self.loss_weights.get(task, 1.)
            if self.uncertainty_weighting:
                s = self.log_vars[i]
                loss = (torch.exp(-s) * loss + s) * (loss != 0).to(loss.dtype)
            out[f'loss_{task}'] = loss
        return out


@MODELS.register_module()
class MultiMAELinearHead(BaseModule):
    """Classification head of MultiViT (official ``LinearOutputAdapter``):
    ``head(norm(pool(tokens)))``.

    Args:
        in_channels (int): Encoder width.
        num_classes (int): Classes.
        use_mean_pooling (bool): Mean over **all** tokens, the global ones
            included (official); otherwise the last (global) token.
        init_scale (float): Scale of the initial head weight and bias.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 use_mean_pooling: bool = True,
                 init_scale: float = 1.,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.use_mean_pooling = use_mean_pooling
        self.init_scale = init_scale
        self.norm = build_norm(in_channels)
        self.head = nn.Linear(in_channels, num_classes)

    def init_weights(self) -> None:
        """trunc-normal(.02) weight, zero bias, both times ``init_scale``."""
        if self.init_cfg is not None:
            return super().init_weights()
        nn.init.trunc_normal_(self.head.weight, std=.02)
        nn.init.zeros_(self.head.bias)
        self.head.weight.data.mul_(self.init_scale)

    def forward(self, tokens: Union[torch.Tensor, tuple]) -> torch.Tensor:
        """Classify.

        Args:
            tokens (Tensor | tuple): ``(B, N, D)`` encoder output, or the
                ``(tokens, info)`` tuple of :class:`MultiMAEViT`.

        Returns:
            Tensor: ``(B, num_classes)`` logits.
        """
        if isinstance(tokens, (tuple, list)):
            tokens = tokens[0]
        x = tokens.mean(1) if self.use_mean_pooling else tokens[:, -1]
        return self.head(self.norm(x))
