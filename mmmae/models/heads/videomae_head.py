# Copyright (c) mmmae contributors. All rights reserved.
"""VideoMAE pixel targets, loss and reconstruction."""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmmae.registry import MODELS
from ..utils import gather_rows, kept_indices, patchify, unpatchify

__all__ = ['VideoMAEPretrainHead']

IMAGENET_MEAN_01 = (0.485, 0.456, 0.406)
IMAGENET_STD_01 = (0.229, 0.224, 0.225)


@MODELS.register_module()
class VideoMAEPretrainHead(BaseModule):
    """Reconstruction target, loss and pixel reconstruction of VideoMAE.

    Works on the *un-normalised* clip in ``[0, 1]`` (``video01``). The target
    of each token is its ``t x p x p`` tube in the channel-last
    ``(p0 p1 p2 c)`` layout. With ``norm_pix=True`` (official default) every
    token and every colour channel is standardised separately over its
    ``t*p*p`` pixels: ``(x - mean) / (sqrt(var_unbiased) + eps)``, eps outside
    the square root (official ``engine_for_pretraining.py``; MAE/mae_st
    instead pool the channels and put eps inside).

    Args:
        loss (dict | nn.Module): Loss config or module. Defaults to
            ``dict(type='mmmae.PixelReconstructionLoss')``.
        norm_pix (bool): Per-patch, per-channel normalised target. With
            False the target is the raw ``[0, 1]`` pixels.
        patch_size (int): Spatial patch ``p``. Defaults to 16.
        tubelet_size (int): Frames per token ``t``. Defaults to 2.
        eps (float): Added to the patch std. Defaults to 1e-6.
        std_floor (float): Lower bound of the patch std (``[0, 1]`` pixel
            units) before ``eps`` is added. 0 (default) is the official
            target. On data with flat regions (static background, letter
            boxes) the official target scales compression and rounding noise
            of a near-constant tube up to unit variance: an unpredictable
            target that puts a floor under the loss and spends capacity on
            noise. A floor such as 0.02 keeps such tubes' targets near 0
            and leaves textured tubes as they were.
        content_std (float, optional): When set, :meth:`loss_terms` also
            reports (without gradient) the loss over *content* tokens (patch
            std, max over channels, ``>= content_std``) and over
            near-constant ones, ``recon_content`` / ``recon_flat``, and the
            flat share ``flat_ratio``, so a training log shows whether the
            model improves where there is something to predict. Defaults to
            None (not reported).
        mean (Sequence[float]): Dataset mean in ``[0, 1]`` units, used only by
            the raw reconstruction view. Defaults to ImageNet.
        std (Sequence[float]): Dataset std in ``[0, 1]`` units. Defaults to
            ImageNet.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 loss: Union[dict, nn.Module] = dict(
                     type='mmmae.PixelReconstructionLoss'),
                 norm_pix: bool = True,
                 patch_size: int = 16,
                 tubelet_size: int = 2,
                 eps: float = 1e-6,
                 std_floor: float = 0.,
                 content_std: Optional[float] = None,
                 mean: Sequence[float] = IMAGENET_MEAN_01,
                 std: Sequence[float] = IMAGENET_STD_01,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.loss_module = MODELS.build(loss) if isinstance(loss,
                                                            dict) else loss
        self.norm_pix = norm_pix
        self.patch_size = patch_size
        self.tubelet_size = tubelet_size
        self.eps = eps
        if std_floor < 0 or (content_std is not None and content_std <= 0):
            raise ValueError('std_floor must be >= 0 and content_std > 0, '
                             f'got {std_floor} and {content_std}')
        self.std_floor = std_floor
        self.content_std = content_std
        if len(mean) != len(std):
            raise ValueError('mean and std must have the same length')
        self.register_buffer(
            'mean01', torch.tensor(mean, dtype=torch.float32),
            persistent=False)
        self.register_buffer(
            'std01', torch.tensor(std, dtype=torch.float32),
            persistent=False)

    def _tubes(self, video01: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W)`` -> ``(B, N, t*p*p, C)`` float32."""
        B, C = video01.shape[:2]
        x = patchify(video01.float(), self.tubelet_size, self.patch_size)
        return x.view(B, x.shape[1], -1, C)

    def _patch_stats(self,
                     tubes: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Per token, per channel mean and
        ``max(sqrt(var_unbiased), std_floor) + eps``.

        Args:
            tubes (Tensor): ``(B, N, t*p*p, C)``.

        Returns:
            tuple[Tensor, Tensor]: both ``(B, N, 1, C)``.
        """
        mean = tubes.mean(dim=-2, keepdim=True)
        std = tubes.var(dim=-2, unbiased=True, keepdim=True).sqrt()
        if self.std_floor > 0:
            std = std.clamp_min(self.std_floor)
        return mean, std + self.eps

    def construct_target(self, video01: torch.Tensor) -> torch.Tensor:
        """Targets of every token.

        Args:
            video01 (Tensor): ``(B, C, T, H, W)`` clip in ``[0, 1]``.

        Returns:
            Tensor: ``(B, N, C*t*p*p)`` float32, channel-last
            ``(p0 p1 p2 c)``.
        """
        tubes = self._tubes(video01)
        if self.norm_pix:
            mean, std = self._patch_stats(tubes)
            tubes = (tubes - mean) / std
        return tubes.flatten(2)

    def _normalize_(self, tubes: torch.Tensor) -> torch.Tensor:
        """``norm_pix`` in place, on ``(B, N, t*p*p, C)`` tubes the caller
        owns."""
        if self.norm_pix:
            mean, std = self._patch_stats(tubes)
            tubes.sub_(mean).div_(std)
        return tubes

    def loss(self,
             pred: torch.Tensor,
             video01: torch.Tensor,
             mask: torch.Tensor,
             decoder_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Reconstruction loss: ``loss_terms(...)['loss']``.

        Returns:
            Tensor: Scalar. V1: over the masked tokens. V2: over the decoded
            tokens, weighted by ``mask`` (masked AND decoded tokens count).
        """
        return self.loss_terms(pred, video01, mask, decoder_mask)['loss']

    def loss_terms(self,
                   pred: torch.Tensor,
                   video01: torch.Tensor,
                   mask: torch.Tensor,
                   decoder_mask: Optional[torch.Tensor] = None
                   ) -> Dict[str, torch.Tensor]:
        """Reconstruction loss and, with ``content_std``, its split.

        Args:
            pred (Tensor): ``(B, N_pred, C*t*p*p)`` decoder output.
            video01 (Tensor): ``(B, C, T, H, W)`` clip in ``[0, 1]``.
            mask (Tensor): ``(B, N)`` bool, True = hidden from the encoder.
            decoder_mask (Tensor, optional): ``(B, N)`` bool, True = not
                reconstructed (V2).

        Returns:
            dict[str, Tensor]: ``loss`` (scalar, see :meth:`loss`); with
            ``content_std`` also the detached scalars ``recon_content``,
            ``recon_flat`` (0 when a group is empty) and ``flat_ratio``.
        """
        # pred.shape[1] is the host-known count: sync-free gathers
        keep = mask if decoder_mask is None else ~decoder_mask
        idx = kept_indices(keep, pred.shape[1], 'the predictions')
        weight = None if decoder_mask is None else gather_rows(mask, idx)
        with torch.no_grad():
            tubes = gather_rows(self._tubes(video01), idx)
            if self.content_std is not None:
                flat = tubes.std(dim=-2).amax(-1) < self.content_std
            # Normalise the gathered copy in place: the statistics are per
            # token, so the values equal construct_target()'s, with one
            # full-size temporary at the activation peak instead of three.
            target = self._normalize_(tubes).flatten(2)
        terms = dict(loss=self.loss_module(pred, target) if weight is None
                     else self.loss_module(pred, target, weight))
        if self.content_std is not None:
            terms.update(self._split_terms(pred, target, flat, weight))
        return terms

    def _split_terms(self, pred: torch.Tensor, target: torch.Tensor,
                     flat: torch.Tensor, weight: Optional[torch.Tensor]
                     ) -> Dict[str, torch.Tensor]:
        """Detached per-group means of the per-token loss.

        Args:
            pred (Tensor): ``(B, N_pred, L)``.
            target (Tensor): ``(B, N_pred, L)``.
            flat (Tensor): ``(B, N_pred)`` bool, near-constant tokens.
            weight (Tensor, optional): ``(B, N_pred)`` V2 token weights.

        Returns:
            dict[str, Tensor]: ``recon_content``, ``recon_flat``,
            ``flat_ratio``.
        """
        with torch.no_grad():
            l1 = getattr(self.loss_module, 'criterion', 'L2') == 'L1'
            fn = F.l1_loss if l1 else F.mse_loss
            err = fn(pred.float(), target, reduction='none').mean(-1)
            w = torch.ones_like(err) if weight is None else weight.float()
            w_flat = w * flat
            w_content = w - w_flat
            tiny = torch.finfo(err.dtype).tiny
            return dict(
                recon_content=(err * w_content).sum() /
                w_content.sum().clamp_min(tiny),
                recon_flat=(err * w_flat).sum() / w_flat.sum().clamp_min(tiny),
                flat_ratio=w_flat.sum() / w.sum().clamp_min(tiny))

    def reconstruct(self,
                    pred: torch.Tensor,
                    video01: torch.Tensor,
                    mask: torch.Tensor,
                    decoder_mask: Optional[torch.Tensor] = None,
                    use_gt_stats: bool = False,
                    undecoded_value: Optional[float] = None) -> torch.Tensor:
        """Paste predictions into the input clip.

        Visible tokens keep the input pixels; the masked tokens that have a
        prediction are replaced by it. A ``norm_pix`` prediction is brought
        back to pixels in one of two ways:

        * ``use_gt_stats=False`` (raw view): ``pred * std + mean`` with the
          *dataset* ``mean``/``std`` per channel. It uses no information from
          the hidden pixels, so it shows what the model alone knows (with
          per-patch contrast only roughly right).
        * ``use_gt_stats=True``: each patch is de-normalised with the mean and
          std of the *ground-truth* patch, as the official visualisation
          does. This leaks the hidden patches' colour and contrast, so it
          looks better than what the model predicts.

        Without ``norm_pix`` the prediction already is pixels and both views
        are the same. With a V2 ``decoder_mask`` only tokens that are masked
        AND decoded are replaced; masked tokens that were not decoded have no
        prediction and keep the input pixels, unless ``undecoded_value`` is
        given, which then fills them (e.g. 0.5 for grey) so the
        visualisation does not pass ground truth off as a prediction.

        Args:
            pred (Tensor): ``(B, N_pred, C*t*p*p)`` decoder output.
            video01 (Tensor): ``(B, C, T, H, W)`` clip in ``[0, 1]``.
            mask (Tensor): ``(B, N)`` bool, True = hidden from the encoder.
            decoder_mask (Tensor, optional): ``(B, N)`` bool, True = not
                reconstructed.
            use_gt_stats (bool): De-normalise with the GT patch statistics.
            undecoded_value (float, optional): Fill for masked, undecoded
                tokens.

        Returns:
            Tensor: ``(B, C, T, H, W)`` float32 in ``[0, 1]``.
        """
        B, C, T, H, W = video01.shape
        t, p = self.tubelet_size, self.patch_size
        grid = (T // t, H // p, W // p)
        tubes = self._tubes(video01)
        L = tubes.shape[2]
        pred = pred.detach().float().reshape(B, -1, L, C)

        if decoder_mask is None:
            pred_pos = mask
            write = mask
        else:
            pred_pos = ~decoder_mask
            write = mask & pred_pos
        # Which prediction rows land on hidden tokens (flattened, row-major
        # over (sample, ascending token): the same order as tubes[write]).
        rows = mask[pred_pos].reshape(B, -1)

        if self.norm_pix:
            if use_gt_stats:
                mean, std = self._patch_stats(tubes)
                mean = mean[pred_pos].reshape(B, -1, 1, C)
                std = std[pred_pos].reshape(B, -1, 1, C)
            else:
                mean = self.mean01.to(pred.device).view(1, 1, 1, C)
                std = self.std01.to(pred.device).view(1, 1, 1, C)
            pred = pred * std + mean

        out = tubes.clone()
        out[write] = pred[rows]
        if undecoded_value is not None and decoder_mask is not None:
            out[mask & decoder_mask] = undecoded_value
        out = out.clamp_(0., 1.).flatten(2)
        return unpatchify(out, grid, t, p, C)
