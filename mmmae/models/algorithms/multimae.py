# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAE multi-modal masked autoencoder algorithm."""
from typing import Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement

from mmmae.registry import MODELS
from mmmae.utils.compile_keys import register_compiled_keys_hook
from ..data_preprocessors.video_preprocessor import set_sample_field
from ..utils.config_checks import build_component

__all__ = ['MultiMAE']

SampleList = Sequence[BaseDataElement]
Inputs = Mapping[str, torch.Tensor]


def _build(cfg: Union[dict, nn.Module], field: str) -> nn.Module:
    return build_component(
        cfg, 'MultiMAE', field, MODELS, example=_EXAMPLES[field])


_EXAMPLES = dict(
    backbone='mmmae.MultiMAEViT',
    neck='mmmae.MultiMAEDecoder',
    head='mmmae.MultiMAEHead')


@MODELS.register_module()
class MultiMAE(BaseModel):
    """Multi-modal masked autoencoder (MultiMAE).

    The encoder (``backbone``, e.g. :class:`~mmmae.models.MultiMAEViT`)
    encodes the visible tokens of all input modalities, the decoders
    (``neck``, :class:`~mmmae.models.MultiMAEDecoder`) predict every task's
    full map, and ``head`` (:class:`~mmmae.models.MultiMAEHead`) computes
    the masked losses against the (normalised) inputs.

    Token masks come with the data: ``data_samples[i].masks`` is a dict
    ``modality -> (N_d,)`` bool, True = hidden from the encoder. Every sample
    must keep the same total number of visible tokens.

    Args:
        backbone (dict | nn.Module): Encoder.
        neck (dict | nn.Module): Decoders.
        head (dict | nn.Module, optional): Losses; needed by :meth:`loss`.
        data_preprocessor (dict | nn.Module, optional): Defaults to
            ``dict(type='mmmae.MultiMAEDataPreprocessor')``.
        init_cfg (dict | list, optional): MMEngine init config.
    """

    def __init__(self,
                 backbone: Union[dict, nn.Module],
                 neck: Union[dict, nn.Module],
                 head: Optional[Union[dict, nn.Module]] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='mmmae.MultiMAEDataPreprocessor')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = _build(backbone, 'backbone')
        self.neck = _build(neck, 'neck')
        self.head = _build(head, 'head') if head is not None else None
        # checkpoints saved from torch.compile'd models (`_orig_mod.` keys)
        # load, and clean ones load into compiled submodules
        register_compiled_keys_hook(self)

    @staticmethod
    def get_masks(inputs: Inputs, data_samples: Optional[SampleList]
                  ) -> Optional[Dict[str, torch.Tensor]]:
        """Stack ``data_samples[i].masks[d]`` into ``(B, N_d)`` bool.

        Args:
            inputs (Mapping): Batched inputs (for the device and batch size).
            data_samples (list, optional): Samples with a ``masks`` dict.

        Returns:
            dict | None: ``modality -> (B, N_d)`` bool, or None when the
            samples carry no masks.
        """
        if not data_samples:
            return None
        per_sample = [ds.get('masks', None) for ds in data_samples]
        if all(m is None for m in per_sample):
            return None
        if any(m is None for m in per_sample):
            raise ValueError('some data samples have masks and others not')
        ref = next(iter(inputs.values()))
        if len(per_sample) != ref.shape[0]:
            raise ValueError(f'{len(per_sample)} data samples for a batch '
                             f'of {ref.shape[0]}')
        keys = list(per_sample[0])
        out = {}
        for k in keys:
            rows = []
            for i, m in enumerate(per_sample):
                if k not in m:
                    raise KeyError(f'data sample {i} has no mask for {k!r}')
                v = m[k]
                if not isinstance(v, torch.Tensor):
                    v = torch.from_numpy(np.asarray(v))
                rows.append(v.to(ref.device).reshape(-1).bool())
            out[k] = torch.stack(rows)
        return out

    def forward(self,
                inputs: Inputs,
                data_samples: Optional[SampleList] = None,
                mode: str = 'tensor'):
        """Dispatch on ``mode``.

        Args:
            inputs (Mapping): ``modality -> batched tensor``.
            data_samples (list, optional): Samples carrying ``masks``.
            mode (str): ``'loss'``, ``'predict'`` or ``'tensor'``
                (:meth:`extract_feat`).

        Returns:
            dict | list | Tensor: See ``mode``.
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs,
                                     self.get_masks(inputs, data_samples))
        raise RuntimeError(f'invalid mode {mode!r}; use loss, predict or '
                           'tensor')

    def extract_feat(self,
                     inputs: Inputs,
                     masks: Optional[Mapping[str, torch.Tensor]] = None
                     ) -> torch.Tensor:
        """Encoder tokens.

        Args:
            inputs (Mapping): ``modality -> batched tensor`` (any subset).
            masks (Mapping, optional): ``modality -> (B, N_d)`` bool.

        Returns:
            Tensor: ``(B, N_vis + G, D)`` (all tokens without masks).
        """
        return self.backbone(inputs, masks)[0]

    def reconstruct(self,
                    inputs: Inputs,
                    masks: Optional[Mapping[str, torch.Tensor]] = None,
                    tasks: Optional[Sequence[str]] = None
                    ) -> Dict[str, torch.Tensor]:
        """Encode the visible tokens and run the decoders.

        Returns:
            dict: ``task -> (B, C, h, w)``.
        """
        tokens, info = self.backbone(inputs, masks)
        return self.neck(tokens, info, tasks)

    def loss(self, inputs: Inputs,
             data_samples: SampleList) -> Dict[str, torch.Tensor]:
        """Masked losses of a batch.

        Args:
            inputs (Mapping): Normalised ``modality -> (B, ...)``.
            data_samples (list): ``B`` samples with ``masks``.

        Returns:
            dict: ``loss_{task}`` scalars.
        """
        if self.head is None:
            raise RuntimeError('MultiMAE.loss needs a head')
        masks = self.get_masks(inputs, data_samples)
        if masks is None:
            raise ValueError(
                'MultiMAE.loss needs data_samples[i].masks (True = masked); '
                'add a multi-modal mask generator to the pipeline')
        preds = self.reconstruct(inputs, masks)
        return self.head.loss(preds, inputs, masks)

    def predict(self, inputs: Inputs,
                data_samples: Optional[SampleList] = None) -> SampleList:
        """Predict every task's map.

        Args:
            inputs (Mapping): Normalised ``modality -> (B, ...)``.
            data_samples (list, optional): Samples (with ``masks`` or not).

        Returns:
            list: Samples with ``pred`` (``task -> (C, h, w)``; semseg as
            logits) and ``masks`` (``modality -> (N_d,)`` bool; all False
            without masks) set.
        """
        masks = self.get_masks(inputs, data_samples)
        tokens, info = self.backbone(inputs, masks)
        preds = self.neck(tokens, info)
        B = tokens.shape[0]
        if data_samples is None:
            data_samples = [BaseDataElement() for _ in range(B)]
        for i, ds in enumerate(data_samples):
            set_sample_field(ds, 'pred', {t: p[i] for t, p in preds.items()})
            set_sample_field(ds, 'masks',
                             {t: m[i] for t, m in info.masks.items()})
        return data_samples
