# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAE image-classification head for mmpretrain's ``ImageClassifier``.

The official fine-tuning head (``LinearOutputAdapter``) is
``Linear(LayerNorm(mean(tokens)))`` where the mean runs over **every**
encoder token, the global token included. :class:`MultiMAEClsHead` is that
head on top of mmpretrain's :class:`~mmpretrain.models.heads.ClsHead` (loss,
soft mixup/cutmix targets, predictions), with

* ``norm='LN'`` for fine-tuning (official) and ``norm='BN'`` for the MAE
  linear-probe protocol (``BatchNorm1d`` without affine, eps 1e-6, in front
  of the linear layer);
* parameter names ``norm.*`` / ``head.*``, equal to the official
  ``output_adapters.cls.{norm,head}.*`` and to the ``head.*`` keys of
  :func:`~mmmae.checkpoint.multimae.convert_official_multimae`, so an
  official MultiViT classifier loads into ``ImageClassifier`` by a key
  rename only.
"""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.registry import DefaultScope
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

from mmmae.registry import MODELS
from ..utils import build_norm

__all__ = ['MultiMAEClsHead']


@MODELS.register_module()
class MultiMAEClsHead(ClsHead):
    """Mean-pooled token classifier of MultiMAE (``LinearOutputAdapter``).

    ``logits = head(norm(pool(tokens)))`` with ``tokens`` the
    ``(B, N + G, D)`` output of :class:`~mmmae.models.MultiMAEViT` built
    with ``out_indices=(-1,)`` and ``out_type='raw'`` (patch tokens of the
    present modalities, then the ``G`` global tokens).

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Token width ``D``.
        norm (str, optional): ``'LN'`` (LayerNorm, eps 1e-6; official
            fine-tuning), ``'BN'`` (``BatchNorm1d(affine=False, eps=1e-6)``;
            MAE linear probe) or None (no normalisation). Defaults to
            ``'LN'``.
        use_mean_pooling (bool): Average **all** tokens, the global ones
            included (official). False takes the last token, i.e. the
            (last) global token. Defaults to True.
        init_scale (float, optional): The head weight is trunc-normal(.02)
            times ``init_scale`` and the bias 0 (the official recipe's
            ``init_scale 0.001`` gives std 2e-5, MAE's fine-tuning head;
            0.5 gives MAE's linear-probe std 0.01). None reproduces what the
            official code *effectively* does: ``MultiMAE.__init__``
            re-initialises every Linear with xavier-uniform after building
            the adapters, which overrides ``init_scale`` (verified by
            running the official code). Defaults to 1e-3.
        loss (dict): mmpretrain loss config. Use ``LabelSmoothLoss`` (mode
            ``'original'``) for label smoothing; it takes the soft targets
            of mixup/cutmix, smoothing the mixed target as timm does.
            Defaults to ``dict(type='CrossEntropyLoss', loss_weight=1.0)``.
        topk (int | tuple[int]): Top-k of the training accuracy
            (``cal_acc``). Defaults to ``(1, )``.
        cal_acc (bool): Log training accuracy (meaningless with mixup).
            Defaults to False.
        init_cfg (dict, optional): MMEngine init config; when given it
            replaces the init described above.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 norm: Optional[str] = 'LN',
                 use_mean_pooling: bool = True,
                 init_scale: Optional[float] = 1e-3,
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 topk: Union[int, Tuple[int]] = (1, ),
                 cal_acc: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        if isinstance(loss, dict):
            # Loss names are mmpretrain's, also when the head is built from
            # another default scope (e.g. 'mmmae').
            with DefaultScope.overwrite_default_scope('mmpretrain'):
                loss = MMPRETRAIN_MODELS.build(loss)
        super().__init__(
            loss=loss, topk=topk, cal_acc=cal_acc, init_cfg=init_cfg)
        if num_classes <= 0:
            raise ValueError(f'num_classes={num_classes} must be positive')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.use_mean_pooling = use_mean_pooling
        self.init_scale = init_scale
        if norm == 'LN':
            self.norm = build_norm(in_channels)
        elif norm == 'BN':
            # MAE's linear probe: a parameter-free BatchNorm whitens the
            # frozen features so one lr suits every backbone.
            self.norm = nn.BatchNorm1d(in_channels, affine=False, eps=1e-6)
        elif norm is None:
            self.norm = nn.Identity()
        else:
            raise ValueError(f"norm must be 'LN', 'BN' or None, got {norm!r}")
        self.head = nn.Linear(in_channels, num_classes)

    def init_weights(self) -> None:
        """Scaled trunc-normal head (or xavier with ``init_scale=None``),
        zero bias; ``init_cfg`` overrides both."""
        if self.init_cfg is not None:
            super().init_weights()
            return
        if self.init_scale is None:
            nn.init.xavier_uniform_(self.head.weight)
        else:
            nn.init.trunc_normal_(self.head.weight, std=.02)
            self.head.weight.data.mul_(self.init_scale)
        nn.init.zeros_(self.head.bias)
        self._is_init = True

    def pre_logits(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Pool and normalise the tokens of the last output.

        Args:
            feats (Sequence[Tensor]): Backbone outputs; ``feats[-1]`` is
                ``(B, N + G, D)`` tokens (global token(s) last).

        Returns:
            Tensor: ``(B, D)`` normalised features.
        """
        tokens = feats[-1]
        if tokens.dim() != 3:
            raise ValueError(
                'MultiMAEClsHead needs (B, N + G, D) tokens; got shape '
                f'{tuple(tokens.shape)}. Build the backbone with '
                "out_type='raw'.")
        x = tokens.mean(1) if self.use_mean_pooling else tokens[:, -1]
        return self.norm(x)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Classify.

        Args:
            feats (Sequence[Tensor]): Backbone outputs, see
                :meth:`pre_logits`.

        Returns:
            Tensor: ``(B, num_classes)`` logits.
        """
        return self.head(self.pre_logits(feats))
