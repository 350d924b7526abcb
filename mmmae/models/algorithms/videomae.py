# Copyright (c) mmmae contributors. All rights reserved.
"""VideoMAE / VideoMAE V2 masked video pretraining algorithm."""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn

from mmmae.registry import MODELS
from ..data_preprocessors.video_preprocessor import set_sample_field
from ..utils.config_checks import check_fields_agree
from .base import BaseMAE, SampleList, mask_row

__all__ = ['VideoMAE']


@MODELS.register_module()
class VideoMAE(BaseMAE):
    """Masked video autoencoder: encoder on visible tubes, pixel decoder.

    The token masks come with the data (``data_samples[i].mask``, True =
    hidden from the encoder, produced by a mask-generator transform). When
    the samples also carry ``decoder_mask`` (True = not reconstructed), the
    VideoMAE V2 dual-masking path is used.

    Args:
        backbone (dict | nn.Module): Encoder, e.g. ``mmmae.VideoMAEViT``.
        neck (dict | nn.Module): Decoder, e.g.
            ``mmmae.VideoMAEPretrainDecoder``.
        head (dict | nn.Module): Target/loss head, e.g.
            ``mmmae.VideoMAEPretrainHead``.
        data_preprocessor (dict | nn.Module, optional): Defaults to
            ``dict(type='mmmae.VideoMAEDataPreprocessor')``.
        init_cfg (dict | list, optional): MMEngine init config.
    """

    part_examples = dict(
        backbone='mmmae.VideoMAEViT',
        neck='mmmae.VideoMAEPretrainDecoder',
        head='mmmae.VideoMAEPretrainHead')
    default_preprocessor = 'mmmae.VideoMAEDataPreprocessor'

    def __init__(self,
                 backbone: Union[dict, nn.Module],
                 neck: Union[dict, nn.Module],
                 head: Union[dict, nn.Module],
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(backbone, neck, head, data_preprocessor, init_cfg)

    def _check_geometry(self) -> None:
        """Fail at build time when the parts disagree on the token geometry.

        The backbone's ``patch_size``/``tubelet_size`` decide the token grid
        and the pixels of a token; a decoder or target head built for
        another one passes the build and dies in the first iteration with an
        index/shape error far from the config. Parts without such an
        attribute (custom modules) are not compared.

        Raises:
            ValueError: Naming both fields and values, e.g.
                ``'VideoMAE: neck.patch_size=8 but backbone.patch_size=16'``.
        """
        def get(part: str, name: str):
            return getattr(getattr(self, part), name, None)

        pairs = []
        for part in ('neck', 'head'):
            for name in ('patch_size', 'tubelet_size'):
                pairs.append((f'{part}.{name}', get(part, name),
                              f'backbone.{name}', get('backbone', name)))
        for name in ('embed_dims', 'in_channels'):
            pairs.append((f'neck.{name}', get('neck', name),
                          f'backbone.{name}', get('backbone', name)))
        check_fields_agree(
            'VideoMAE', pairs,
            'The decoder and the reconstruction target must use the '
            "backbone's token geometry (patch and tubelet size decide the "
            'token grid and the pixels of each token; embed_dims and '
            'in_channels the decoder input and output): set them to the '
            "backbone's values.")

    # ------------------------------------------------------------------ masks
    @staticmethod
    def _stack_field(data_samples: SampleList, key: str,
                     device: torch.device) -> Optional[torch.Tensor]:
        values = [ds.get(key, None) for ds in data_samples]
        present = [v is not None for v in values]
        if not any(present):
            return None
        if not all(present):
            missing = [i for i, p in enumerate(present) if not p]
            raise ValueError(f'data samples {missing} have no {key!r} while '
                             'others do')
        rows = []
        for v in values:
            rows.append(mask_row(v).to(device))
        return torch.stack(rows).bool()

    def get_masks(
        self, inputs: torch.Tensor, data_samples: Optional[SampleList]
    ) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """Batched encoder and decoder masks from the data samples.

        Args:
            inputs (Tensor): ``(B, C, T, H, W)``.
            data_samples (list, optional): ``B`` samples with ``mask`` and
                optionally ``decoder_mask`` (``(N,)`` each).

        Returns:
            tuple: ``mask`` and ``decoder_mask``, ``(B, N)`` bool or None.
        """
        if data_samples is None:
            return None, None
        if len(data_samples) != inputs.shape[0]:
            raise ValueError(
                f'{len(data_samples)} data samples for {inputs.shape[0]} '
                'clips; multi-view inputs must go through '
                'VideoMAEDataPreprocessor, which expands the samples')
        mask = self._stack_field(data_samples, 'mask', inputs.device)
        decoder_mask = self._stack_field(data_samples, 'decoder_mask',
                                         inputs.device)
        if decoder_mask is not None and mask is None:
            raise ValueError('data samples have decoder_mask but no mask')
        return mask, decoder_mask

    @staticmethod
    def known_count(data_samples: Optional[SampleList],
                    key: str) -> Optional[int]:
        """A per-sample token count recorded on the host, if every sample
        has the same one.

        ``VideoMAEDataPreprocessor`` records ``num_visible`` and
        ``num_decoded`` while the masks are still on the CPU; with them the
        model gathers tokens with fixed shapes (no device sync).

        Args:
            data_samples (list, optional): The batch's samples.
            key (str): ``'num_visible'`` or ``'num_decoded'``.

        Returns:
            int | None: The common count, or None when a sample lacks it or
            the samples disagree (the model then counts on the device).
        """
        if not data_samples:
            return None
        values = {ds.get(key, None) for ds in data_samples}
        if len(values) != 1:
            return None
        value = values.pop()
        return None if value is None else int(value)

    def _require_masks(
        self, inputs: torch.Tensor, data_samples: Optional[SampleList],
        caller: str
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        mask, decoder_mask = self.get_masks(inputs, data_samples)
        if mask is None:
            raise ValueError(
                f'VideoMAE.{caller} needs data_samples[i].mask (True = '
                'masked); add a mask generator such as '
                "dict(type='mmmae.TubeMaskGenerator') to the pipeline")
        return mask, decoder_mask

    # ---------------------------------------------------------------- forward
    def _forward_tensor(self, inputs: torch.Tensor,
                        data_samples: Optional[SampleList]) -> torch.Tensor:
        return self.extract_feat(inputs, data_samples)

    def extract_feat(self,
                     inputs: torch.Tensor,
                     data_samples: Optional[SampleList] = None
                     ) -> torch.Tensor:
        """Encoder output.

        Args:
            inputs (Tensor): ``(B, C, T, H, W)``.
            data_samples (list, optional): With ``mask`` only the visible
                tokens are encoded.

        Returns:
            Tensor: ``(B, N_vis, D)``, or ``(B, N, D)`` without masks (``(B,
            D)`` for a mean-pooling backbone).
        """
        mask, _ = self.get_masks(inputs, data_samples)
        if mask is None:
            return self.backbone(inputs)
        return self.backbone(
            inputs, mask,
            num_visible=self.known_count(data_samples, 'num_visible'))

    def _reconstruct_tokens(
        self, inputs: torch.Tensor, data_samples: Optional[SampleList],
        caller: str
    ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        mask, decoder_mask = self._require_masks(inputs, data_samples, caller)
        counts = self._known_counts(data_samples, decoder_mask is not None)
        return self._predict_tokens(inputs, mask, decoder_mask,
                                    **counts), mask, decoder_mask

    def _known_counts(self, data_samples: SampleList,
                      dual: bool) -> Dict[str, Optional[int]]:
        return dict(
            num_visible=self.known_count(data_samples, 'num_visible'),
            num_decoded=self.known_count(data_samples, 'num_decoded')
            if dual else None)

    def _predict_tokens(self, inputs: torch.Tensor, mask: torch.Tensor,
                        decoder_mask: Optional[torch.Tensor],
                        num_visible: Optional[int],
                        num_decoded: Optional[int]) -> torch.Tensor:
        latent = self.backbone(inputs, mask, num_visible=num_visible)
        return self.neck(latent, mask, decoder_mask, num_decoded=num_decoded)

    def _denormalize(self, inputs: torch.Tensor) -> torch.Tensor:
        denormalize = getattr(self.data_preprocessor, 'denormalize', None)
        if denormalize is None:
            raise TypeError(
                f'{type(self.data_preprocessor).__name__} has no '
                'denormalize(); VideoMAE needs the un-normalised clip for its '
                "targets, use dict(type='mmmae.VideoMAEDataPreprocessor')")
        return denormalize(inputs)

    def loss(self, inputs: torch.Tensor,
             data_samples: SampleList) -> Dict[str, torch.Tensor]:
        """Reconstruction loss of a batch.

        Args:
            inputs (Tensor): ``(B, C, T, H, W)`` normalised clips.
            data_samples (list): ``B`` samples with ``mask`` (and
                ``decoder_mask`` for V2).

        Returns:
            dict: ``loss`` (scalar), plus the head's detached diagnostics
            (e.g. ``recon_content`` / ``recon_flat``, see
            :meth:`VideoMAEPretrainHead.loss_terms`), which MMEngine logs.
        """
        mask, decoder_mask = self._require_masks(inputs, data_samples,
                                                 'loss')
        return self.loss_terms_from_masks(
            inputs, mask, decoder_mask,
            **self._known_counts(data_samples, decoder_mask is not None))

    def loss_terms_from_masks(self,
                              inputs: torch.Tensor,
                              mask: torch.Tensor,
                              decoder_mask: Optional[torch.Tensor] = None,
                              num_visible: Optional[int] = None,
                              num_decoded: Optional[int] = None
                              ) -> Dict[str, torch.Tensor]:
        """:meth:`loss_from_masks` with the head's diagnostics: a dict
        with ``loss`` and, if the head reports them, detached extras."""
        pred = self._predict_tokens(inputs, mask, decoder_mask, num_visible,
                                    num_decoded)
        video01 = self._denormalize(inputs)
        if hasattr(self.head, 'loss_terms'):
            return self.head.loss_terms(pred, video01, mask, decoder_mask)
        return dict(loss=self.head.loss(pred, video01, mask, decoder_mask))

    def loss_from_masks(self,
                        inputs: torch.Tensor,
                        mask: torch.Tensor,
                        decoder_mask: Optional[torch.Tensor] = None,
                        num_visible: Optional[int] = None,
                        num_decoded: Optional[int] = None) -> torch.Tensor:
        """The tensor part of :meth:`loss`: encoder, decoder, targets, loss.

        With both counts known on the host it has fixed shapes and no
        device sync, so ``torch.compile`` captures it as one graph: what
        ``tools/benchmark/pretrain_step.py --compile`` compiles, and what
        MMEngine's ``compile=True`` (which compiles ``train_step``) ends up
        with after the eager mask stacking.

        Args:
            inputs (Tensor): ``(B, C, T, H, W)`` normalised clips.
            mask (Tensor): ``(B, N)`` bool, True = hidden from the encoder.
            decoder_mask (Tensor, optional): ``(B, N)`` bool, True = not
                reconstructed (V2).
            num_visible (int, optional): Visible tokens per sample.
            num_decoded (int, optional): V2: decoded tokens per sample.

        Returns:
            Tensor: Scalar loss.
        """
        return self.loss_terms_from_masks(inputs, mask, decoder_mask,
                                          num_visible, num_decoded)['loss']

    def predict(self, inputs: torch.Tensor,
                data_samples: SampleList) -> SampleList:
        """Reconstruct the masked tubes.

        Args:
            inputs (Tensor): ``(B, C, T, H, W)`` normalised clips.
            data_samples (list): ``B`` samples with ``mask``.

        Returns:
            list: The same samples with ``pred_video`` (``(C, T, H, W)`` in
            [0, 1], raw view, no ground-truth leak), ``pred_video_gt_stats``
            (de-normalised with the GT patch statistics, as the official
            visualisation) and ``mask`` (``(N,)`` bool) set.
        """
        pred, mask, decoder_mask = self._reconstruct_tokens(
            inputs, data_samples, 'predict')
        video01 = self._denormalize(inputs)
        raw = self.head.reconstruct(pred, video01, mask, decoder_mask)
        leaky = self.head.reconstruct(
            pred, video01, mask, decoder_mask, use_gt_stats=True)
        for i, ds in enumerate(data_samples):
            set_sample_field(ds, 'pred_video', raw[i])
            set_sample_field(ds, 'pred_video_gt_stats', leaky[i])
            set_sample_field(ds, 'mask', mask[i])
            if decoder_mask is not None:
                set_sample_field(ds, 'decoder_mask', decoder_mask[i])
        return data_samples
