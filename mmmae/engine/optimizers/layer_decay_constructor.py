# Copyright (c) mmmae contributors. All rights reserved.
"""Layer-wise learning-rate decay for ViT fine-tuning (BEiT / MAE / VideoMAE).

Grouping equals the official ``optim_factory.get_parameter_groups`` of
VideoMAE (V1 and V2):

* layer id: ``patch_embed`` (and ``pos_embed``/``cls_token``) = 0,
  ``blocks.k`` = ``k + 1``, everything else (``fc_norm``, the head) =
  ``L + 1``; lr scale ``decay_rate ** (L + 1 - id)``;
* no weight decay for 1-D parameters, names ending in ``.bias`` and the
  backbone's ``no_weight_decay()`` names.

The backbone decides the layer id through ``get_layer_depth(name,
prefix)`` (as in mmpretrain), so the constructor works for any model whose
``backbone`` implements it (mmmae ``VideoMAEViT``) inside an MMAction2
``Recognizer3D`` or any other algorithm.
"""
from typing import Dict, List, Optional, Tuple

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor

from mmmae.registry import OPTIM_WRAPPER_CONSTRUCTORS

__all__ = ['LayerDecayOptimWrapperConstructor']


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Optimizer-wrapper constructor with layer-wise lr decay.

    ``paramwise_cfg`` keys:

    * ``layer_decay_rate`` (float): Decay per layer. Defaults to 0.75.
    * ``backbone`` (str): Attribute holding the backbone. Defaults to
      ``'backbone'``.
    * ``no_decay_names`` (list[str]): Extra parameter names (relative to
      the model) without weight decay.

    Each parameter group carries ``lr = base_lr * lr_scale``, its
    ``weight_decay`` (0 or the optimizer's), and informational
    ``layer_id``/``lr_scale``. MMEngine's schedulers scale every group from
    its own initial lr, so warmup and cosine keep the per-layer ratios, and
    ``eta_min_ratio`` gives the official per-layer ``min_lr * lr_scale``.

    Example:
        >>> optim_wrapper = dict(
        ...     optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
        ...     constructor='mmmae.LayerDecayOptimWrapperConstructor',
        ...     paramwise_cfg=dict(layer_decay_rate=0.75))
    """

    _KEYS = ('layer_decay_rate', 'backbone', 'no_decay_names')

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        paramwise_cfg = dict(paramwise_cfg or {})
        unknown = set(paramwise_cfg) - set(self._KEYS)
        if unknown:
            raise KeyError(
                f'LayerDecayOptimWrapperConstructor got unknown '
                f'paramwise_cfg keys {sorted(unknown)}; it takes '
                f'{list(self._KEYS)}')
        self.decay_rate = float(paramwise_cfg.get('layer_decay_rate', 0.75))
        if not 0 < self.decay_rate <= 1:
            raise ValueError('layer_decay_rate must be in (0, 1], got '
                             f'{self.decay_rate}')
        self.backbone_attr = paramwise_cfg.get('backbone', 'backbone')
        self.extra_no_decay = set(paramwise_cfg.get('no_decay_names', ()))
        # the parent validates nothing of ours; a non-empty paramwise_cfg
        # makes its __call__ route every parameter through add_params
        super().__init__(optim_wrapper_cfg, None)
        self.paramwise_cfg = paramwise_cfg or dict(
            layer_decay_rate=self.decay_rate)

    def _backbone(self, module: nn.Module) -> nn.Module:
        backbone = getattr(module, self.backbone_attr, None)
        if backbone is None or not hasattr(backbone, 'get_layer_depth'):
            raise TypeError(
                f'{type(module).__name__}.{self.backbone_attr} must be a '
                'backbone with get_layer_depth(name, prefix) (e.g. '
                'mmmae.VideoMAEViT) for layer-wise lr decay')
        return backbone

    def param_group_key(self, module: nn.Module, name: str,
                        param: nn.Parameter) -> Tuple[int, bool]:
        """``(layer_id, decay)`` of a parameter, the official rule.

        Args:
            module (nn.Module): The model (unwrapped).
            name (str): Parameter name in the model.
            param (nn.Parameter): The parameter.

        Returns:
            tuple[int, bool]: Layer id and whether weight decay applies.
        """
        backbone = self._backbone(module)
        prefix = self.backbone_attr + '.'
        layer_id, _ = backbone.get_layer_depth(name, prefix)
        skip = {prefix + n for n in getattr(backbone, 'no_weight_decay',
                                            lambda: ())()}
        skip |= self.extra_no_decay
        decay = not (param.ndim == 1 or name.endswith('.bias')
                     or name in skip)
        return layer_id, decay

    def add_params(self, params: List[dict], module: nn.Module,
                   **kwargs) -> None:
        """Fill ``params`` with one group per (layer, decay) pair.

        Args:
            params (list[dict]): Param groups to extend (empty on entry).
            module (nn.Module): The model.
        """
        _, num_layers = self._backbone(module).get_layer_depth('', '')
        groups: Dict[Tuple[int, bool], dict] = {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            layer_id, decay = self.param_group_key(module, name, param)
            key = (layer_id, decay)
            if key not in groups:
                scale = self.decay_rate**(num_layers - 1 - layer_id)
                groups[key] = dict(
                    params=[],
                    param_names=[],
                    lr=self.base_lr * scale,
                    weight_decay=(self.base_wd or 0.) if decay else 0.,
                    lr_scale=scale,
                    layer_id=layer_id)
            groups[key]['params'].append(param)
            groups[key]['param_names'].append(name)
        for key in sorted(groups):
            params.append(groups[key])
        summary = ', '.join(
            f'{lid}{"" if d else "/no-wd"}: x{g["lr_scale"]:.4g} '
            f'({len(g["params"])})'
            for (lid, d), g in sorted(groups.items()))
        print_log(
            f'layer-wise lr decay {self.decay_rate} over {num_layers} layer '
            f'ids; groups (layer: lr scale (#params)): {summary}',
            logger='current')
