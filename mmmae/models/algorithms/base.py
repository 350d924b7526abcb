# Copyright (c) mmmae contributors. All rights reserved.
"""What the masked-autoencoder algorithms share (mmpretrain's
``BaseSelfSupervisor`` in spirit): building the parts, the build-time
geometry check, compiled-checkpoint keys and the ``mode`` dispatch."""
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement

from mmmae.registry import MODELS
from mmmae.utils.compile_keys import register_compiled_keys_hook
from ..utils.config_checks import build_component

SampleList = Sequence[BaseDataElement]


def mask_row(value: Any) -> torch.Tensor:
    """One sample's token mask as a flat tensor.

    Args:
        value (Tensor | np.ndarray | Sequence): ``(N,)`` or a grid such as
            ``(T', H', W')``; True/1 = hidden from the encoder.

    Returns:
        Tensor: ``(N,)``, on the device and dtype it came with (numpy and
        lists become CPU tensors).
    """
    if not isinstance(value, torch.Tensor):
        value = torch.from_numpy(np.asarray(value))
    return value.reshape(-1)


class BaseMAE(BaseModel):
    """An encoder (``backbone``), decoder(s) (``neck``) and a loss ``head``.

    Subclasses name an example type per part (shown when a part cannot be
    built), their default data preprocessor, check their parts' geometry in
    :meth:`_check_geometry` and define ``loss``, ``predict`` and
    :meth:`_forward_tensor`.

    Args:
        backbone (dict | nn.Module): Encoder.
        neck (dict | nn.Module): Decoder(s).
        head (dict | nn.Module, optional): Targets and loss; None leaves
            ``self.head`` None (for subclasses that allow it).
        data_preprocessor (dict | nn.Module, optional): Defaults to
            ``dict(type=self.default_preprocessor)``.
        init_cfg (dict | list, optional): MMEngine init config.
    """

    #: part -> an example ``type`` for error messages
    part_examples: Dict[str, str] = {}
    default_preprocessor: str = ''

    def __init__(self,
                 backbone: Union[dict, nn.Module],
                 neck: Union[dict, nn.Module],
                 head: Optional[Union[dict, nn.Module]],
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type=self.default_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = self._build(backbone, 'backbone')
        self.neck = self._build(neck, 'neck')
        self.head = self._build(head, 'head') if head is not None else None
        self._check_geometry()
        # checkpoints saved from torch.compile'd models (`_orig_mod.` keys)
        # load, and clean ones load into compiled submodules
        register_compiled_keys_hook(self)

    def _build(self, cfg: Union[dict, nn.Module], part: str) -> nn.Module:
        return build_component(
            cfg,
            type(self).__name__,
            part,
            MODELS,
            example=self.part_examples.get(part))

    def _check_geometry(self) -> None:
        """Raise ``ValueError`` at build time when the parts disagree."""

    def _forward_tensor(self, inputs, data_samples: Optional[SampleList]):
        """``mode='tensor'``: the encoder output."""
        raise NotImplementedError

    def forward(self,
                inputs,
                data_samples: Optional[SampleList] = None,
                mode: str = 'tensor'):
        """Dispatch on ``mode``.

        Args:
            inputs (Tensor | Mapping): The batch from the data preprocessor.
            data_samples (list, optional): Samples carrying the masks.
            mode (str): ``'loss'`` -> dict of losses; ``'predict'`` -> data
                samples with reconstructions; ``'tensor'`` -> encoder tokens.

        Returns:
            dict | list | Tensor: See ``mode``.
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward_tensor(inputs, data_samples)
        raise RuntimeError(f'invalid mode {mode!r}; use loss, predict or '
                           'tensor')
