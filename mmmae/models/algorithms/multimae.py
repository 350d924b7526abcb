# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAE multi-modal masked autoencoder algorithm."""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.structures import BaseDataElement

from mmmae.registry import MODELS
from ..data_preprocessors.video_preprocessor import set_sample_field
from ..utils.config_checks import check_fields_agree
from .base import BaseMAE, SampleList, mask_row

__all__ = ['MultiMAE']

Inputs = Mapping[str, torch.Tensor]


@MODELS.register_module()
class MultiMAE(BaseMAE):
    """Multi-modal masked autoencoder (MultiMAE).

    The encoder (``backbone``, e.g. :class:`~mmmae.models.MultiMAEViT`)
    encodes the visible tokens of all input modalities, the decoders
    (``neck``, :class:`~mmmae.models.MultiMAEDecoder`) predict every task's
    full map, and ``head`` (:class:`~mmmae.models.MultiMAEHead`) computes
    the masked losses against the (normalised) inputs.

    Token masks come with the data: ``data_samples[i].masks`` is a dict
    ``modality -> (N_d,)`` bool, True = hidden from the encoder. Every sample
    must keep the same total number of visible tokens. Optional VideoMAE V2
    decoder masks, ``data_samples[i].decoder_masks`` (same layout, True =
    not reconstructed, e.g. from
    :class:`~mmmae.datasets.transforms.MultiModalTubeMaskGenerator` with
    ``decoder_mask_ratio``), make :meth:`loss` decode and score only the
    kept tokens; :meth:`predict` always decodes everything.

    Args:
        backbone (dict | nn.Module): Encoder.
        neck (dict | nn.Module): Decoders.
        head (dict | nn.Module, optional): Losses; needed by :meth:`loss`.
        data_preprocessor (dict | nn.Module, optional): Defaults to
            ``dict(type='mmmae.MultiMAEDataPreprocessor')``.
        init_cfg (dict | list, optional): MMEngine init config.
    """

    part_examples = dict(
        backbone='mmmae.MultiMAEViT',
        neck='mmmae.MultiMAEDecoder',
        head='mmmae.MultiMAEHead')
    default_preprocessor = 'mmmae.MultiMAEDataPreprocessor'

    def __init__(self,
                 backbone: Union[dict, nn.Module],
                 neck: Union[dict, nn.Module],
                 head: Optional[Union[dict, nn.Module]] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(backbone, neck, head, data_preprocessor, init_cfg)

    def _check_geometry(self) -> None:
        """Fail at build time when the decoders disagree with the encoder.

        Each decoder must read the encoder's width, predict on the grid of
        the modality it reconstructs (same full-resolution patch size and
        ``stride_level``) with that modality's channels, and every task of
        the head needs a decoder (the head skips tasks without a prediction,
        so a misspelled task would silently never be trained). Parts
        without the attributes (custom modules) are not compared.

        Raises:
            ValueError: Naming both fields and values, e.g.
                ``'MultiMAE: neck.output_adapters.rgb.patch_size=(16, 16)
                but backbone.input_adapters.rgb.patch_size=(8, 8)'``.
        """
        inputs = getattr(self.backbone, 'input_adapters', None)
        decoders = getattr(self.neck, 'output_adapters', None)
        if inputs is None or decoders is None:
            return
        pairs = []
        first = next(iter(inputs.values()), None)
        for name, dec in decoders.items():
            where = f'neck.output_adapters.{name}'
            proj = getattr(dec, 'proj_context', None)
            pairs.append((f'{where}.encoder_dims',
                          getattr(proj, 'in_features', None),
                          'backbone.embed_dims',
                          getattr(self.backbone, 'embed_dims', None)))
            task = getattr(dec, 'task', name)
            src = inputs[task] if task in inputs else first
            src_name = (f'backbone.input_adapters.{task}' if task in inputs
                        else f'backbone.input_adapters.{next(iter(inputs))}')
            stride = getattr(dec, 'stride_level', None)
            patch = getattr(dec, 'patch_size', None)
            if stride is not None and patch is not None:
                # decoders store the patch size at their own stride
                full = tuple(int(p) * int(stride) for p in patch)
                pairs.append((f'{where}.patch_size', full,
                              f'{src_name}.patch_size',
                              getattr(src, 'patch_size_full', None)))
            if task in inputs:
                pairs.append((f'{where}.stride_level', stride,
                              f'{src_name}.stride_level',
                              getattr(src, 'stride_level', None)))
                if hasattr(src, 'in_channels'):  # float maps: rgb, depth
                    pairs.append((f'{where}.num_channels',
                                  getattr(dec, 'num_channels', None),
                                  f'{src_name}.in_channels',
                                  src.in_channels))
        check_fields_agree(
            'MultiMAE', pairs,
            'Each decoder predicts the map of its task on the encoder\'s '
            'token grid: set its encoder_dims, patch_size, stride_level and '
            'num_channels to those of the backbone and the input adapter.')
        targets = getattr(self.head, 'targets', None)
        if targets is not None:
            orphans = [t for t in targets if t not in decoders]
            if orphans:
                raise ValueError(
                    f'MultiMAE: head.tasks {orphans} have no decoder in '
                    f'neck.output_adapters {list(decoders)}; their loss '
                    'would never be computed. Add the decoders or remove '
                    'the tasks from the head.')

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
        return MultiMAE.stack_masks(inputs, data_samples)[0]

    @staticmethod
    def stack_masks(
        inputs: Inputs, data_samples: Optional[SampleList]
    ) -> Tuple[Optional[Dict[str, torch.Tensor]], Optional[int]]:
        """:meth:`get_masks` plus the visible tokens per sample, counted
        while the masks are still on the host.

        The pipeline packs the masks as CPU tensors and the data
        preprocessor leaves the ``masks`` dict there, so each modality is
        stacked and counted on the host and copied to the device once.
        Only the total over modalities is returned: it is the same for
        every batch of a run (the per-modality split changes each sample),
        so a compiled graph specialised on it is reused.

        Args:
            inputs (Mapping): Batched inputs (for the device and batch size).
            data_samples (list, optional): Samples with a ``masks`` dict.

        Returns:
            tuple: The masks as :meth:`get_masks` returns them, and the
            common number of visible tokens per sample over all of them
            (None unless every mask row was on the host and the samples
            agree; the backbone then counts, and reports unequal samples).
        """
        out, counts = MultiMAE._stack_field(inputs, data_samples, 'masks')
        if not counts:
            return out, None
        totals = set(torch.stack(list(counts.values())).sum(0).tolist())
        return out, totals.pop() if len(totals) == 1 else None

    @staticmethod
    def stack_decoder_masks(
        inputs: Inputs, data_samples: Optional[SampleList]
    ) -> Tuple[Optional[Dict[str, torch.Tensor]], Dict[str, int]]:
        """Stack the VideoMAE V2 decoder masks ``data_samples[i].
        decoder_masks[d]`` (True = not reconstructed) into ``(B, N_d)``.

        Each modality's running-cell mask keeps the same number of tokens
        in every sample, counted here on the host (no device sync in the
        decoder's gather).

        Args:
            inputs (Mapping): Batched inputs (for the device and batch size).
            data_samples (list, optional): Samples, with ``decoder_masks``
                or without.

        Returns:
            tuple: ``modality -> (B, N_d)`` bool (None when no sample has
            decoder masks) and ``modality -> decoded tokens per sample`` for
            the modalities whose count was known on the host and equal.
        """
        out, counts = MultiMAE._stack_field(inputs, data_samples,
                                            'decoder_masks')
        common = {}
        for name, per_sample in (counts or {}).items():
            values = set(per_sample.tolist())
            if len(values) == 1:
                common[name] = values.pop()
        return out, common

    @staticmethod
    def _stack_field(
        inputs: Inputs, data_samples: Optional[SampleList], field: str
    ) -> Tuple[Optional[Dict[str, torch.Tensor]],
               Optional[Dict[str, torch.Tensor]]]:
        """Stack a per-sample dict of token masks.

        Args:
            inputs (Mapping): Batched inputs (for the device and batch size).
            data_samples (list, optional): Samples with a ``field`` dict.
            field (str): ``'masks'`` or ``'decoder_masks'``.

        Returns:
            tuple: ``name -> (B, N_d)`` bool on the inputs' device (None
            when no sample has the field), and ``name -> (B,)`` False
            counts per sample, computed on the host (None when a row came
            on another device).
        """
        if not data_samples:
            return None, None
        per_sample = [ds.get(field, None) for ds in data_samples]
        if all(m is None for m in per_sample):
            return None, None
        if any(m is None for m in per_sample):
            raise ValueError(f'some data samples have {field} and others not')
        ref = next(iter(inputs.values()))
        if len(per_sample) != ref.shape[0]:
            raise ValueError(f'{len(per_sample)} data samples for a batch '
                             f'of {ref.shape[0]}')
        out, counts = {}, {}
        for k in list(per_sample[0]):
            rows = []
            for i, m in enumerate(per_sample):
                if k not in m:
                    raise KeyError(
                        f'data sample {i} has no {field} entry for {k!r}')
                rows.append(mask_row(m[k]).bool())
            if counts is not None and all(r.device.type == 'cpu'
                                          for r in rows):
                stacked = torch.stack(rows)
                counts[k] = (~stacked).sum(1)
                out[k] = stacked.to(ref.device)
            else:
                counts = None
                out[k] = torch.stack([r.to(ref.device) for r in rows])
        return out, counts

    def _forward_tensor(self, inputs: Inputs,
                        data_samples: Optional[SampleList]) -> torch.Tensor:
        return self.extract_feat(inputs, self.get_masks(inputs, data_samples))

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
                    tasks: Optional[Sequence[str]] = None,
                    num_visible: Optional[int] = None,
                    decoder_masks: Optional[Mapping[str,
                                                    torch.Tensor]] = None,
                    num_decoded: Optional[Mapping[str, int]] = None
                    ) -> Dict[str, torch.Tensor]:
        """Encode the visible tokens and run the decoders.

        Args:
            inputs (Mapping): Normalised ``modality -> (B, ...)``.
            masks (Mapping, optional): ``modality -> (B, N_d)`` bool.
            tasks (Sequence[str], optional): Decoders to run (all if None).
            num_visible (int, optional): Visible tokens per sample over
                ``masks``, counted on the host (:meth:`stack_masks`): no
                device sync.
            decoder_masks (Mapping, optional): V2 decoder masking,
                ``modality -> (B, N_d)`` bool, True = not reconstructed; a
                decoder whose query modality has one predicts only the
                other tokens (zeros elsewhere).
            num_decoded (Mapping, optional): ``modality -> decoded tokens
                per sample``, counted on the host
                (:meth:`stack_decoder_masks`).

        Returns:
            dict: ``task -> (B, C, h, w)`` (``(B, C, T, H, W)`` for clips).
        """
        tokens, info = self.backbone(inputs, masks, num_visible)
        if decoder_masks is None:
            return self.neck(tokens, info, tasks)
        return self.neck(tokens, info, tasks, decoder_masks, num_decoded)

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
        masks, num_visible = self.stack_masks(inputs, data_samples)
        if masks is None:
            raise ValueError(
                'MultiMAE.loss needs data_samples[i].masks (True = masked); '
                'add a multi-modal mask generator to the pipeline')
        decoder_masks, num_decoded = self.stack_decoder_masks(
            inputs, data_samples)
        preds = self.reconstruct(inputs, masks, num_visible=num_visible,
                                 decoder_masks=decoder_masks,
                                 num_decoded=num_decoded)
        if decoder_masks is None:
            return self.head.loss(preds, inputs, masks)
        return self.head.loss(preds, inputs, masks, decoder_masks)

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
        masks, num_visible = self.stack_masks(inputs, data_samples)
        tokens, info = self.backbone(inputs, masks, num_visible)
        preds = self.neck(tokens, info)
        B = tokens.shape[0]
        if data_samples is None:
            data_samples = [BaseDataElement() for _ in range(B)]
        for i, ds in enumerate(data_samples):
            set_sample_field(ds, 'pred', {t: p[i] for t, p in preds.items()})
            set_sample_field(ds, 'masks',
                             {t: m[i] for t, m in info.masks.items()})
        return data_samples
