# Copyright (c) mmmae contributors. All rights reserved.
"""DPT dense-prediction head for ViT features (MultiMAE depth fine-tuning).

The head follows the DPT design that MultiMAE uses for NYUv2 depth and
Taskonomy (official ``DPTOutputAdapter``; written from the architecture
description, not from that code): four token maps from encoder layers
``[2, 5, 8, 11]`` at the patch grid (stride 16) are

1. *reassembled*: a 1x1 conv to ``layer_dims[i]``, then resampled to
   strides 4, 8, 16 and 32 of the image (ConvTranspose 4x up, ConvTranspose
   2x up, identity, 3x3 conv with stride 2);
2. projected to ``channels`` by 3x3 convs without bias;
3. *fused* coarse to fine by RefineNet-style blocks (residual conv units,
   2x bilinear upsampling, 1x1 output conv): strides 32 -> 16 -> 8 -> 4 -> 2;
4. decoded by an output head that upsamples 2x once more, so the output is
   at the full resolution of the (padded) network input.

It is written as an mmseg 1.x decode head, so it plugs into mmseg's
``DepthEstimator`` (``head_type='regression'``) and ``EncoderDecoder``
(``head_type='semseg'``).
"""
import inspect
import warnings
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.registry import DefaultScope
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.utils import SampleList
from torch import Tensor

from mmmae.registry import MODELS

__all__ = ['DPTHead']

#: NYUv2 depth statistics in metres. The official MultiMAE code normalises
#: with ``NYU_MEAN = 2070.7764`` and ``NYU_STD = 777.5723``, which look like
#: millimetres (the official converter stores 6553.6 units per metre, so a
#: mean of 2070.8 would be 0.32 m there, implausible for indoor scenes).
NYU_DEPTH_MEAN_M = 2.0708
NYU_DEPTH_STD_M = 0.7776


class ResidualConvUnit(nn.Module):
    """Pre-activation residual unit: ``x + conv(relu(conv(relu(x))))``.

    Args:
        channels (int): Input and output channels.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        """Args: x (Tensor): ``(B, C, H, W)``. Returns: ``(B, C, H, W)``."""
        # not inplace: ``x`` is also the residual branch
        out = self.conv1(F.relu(x))
        out = self.conv2(F.relu(out))
        return x + out


class FusionBlock(nn.Module):
    """RefineNet-style fusion of the running path with one skip feature.

    ``out = project(up(rcu_out(path + rcu_skip(skip))))``; the coarsest block
    has no skip and therefore no ``rcu_skip`` (an unused unit would need
    ``find_unused_parameters`` under DDP).

    Args:
        channels (int): Channels of the path and the skip.
        with_skip (bool): Whether ``forward`` receives a skip feature.
        align_corners (bool): Of the bilinear upsampling.
    """

    def __init__(self,
                 channels: int,
                 with_skip: bool = True,
                 align_corners: bool = True) -> None:
        super().__init__()
        self.rcu_skip = ResidualConvUnit(channels) if with_skip else None
        self.rcu_out = ResidualConvUnit(channels)
        self.project = nn.Conv2d(channels, channels, 1)
        self.align_corners = align_corners

    def forward(self,
                x: Tensor,
                skip: Optional[Tensor] = None,
                size: Optional[Tuple[int, int]] = None) -> Tensor:
        """Fuse, refine and upsample.

        Args:
            x (Tensor): Running path ``(B, C, h, w)``.
            skip (Tensor, optional): Skip feature ``(B, C, h', w')``; ``x``
                is resized to it if the grids differ (odd input sizes).
            size (tuple[int, int], optional): Output size; None: 2x.

        Returns:
            Tensor: ``(B, C, H_out, W_out)``.
        """
        if skip is not None:
            assert self.rcu_skip is not None
            if x.shape[2:] != skip.shape[2:]:
                x = F.interpolate(
                    x,
                    size=skip.shape[2:],
                    mode='bilinear',
                    align_corners=self.align_corners)
            x = x + self.rcu_skip(skip)
        x = self.rcu_out(x)
        if size is None:
            x = F.interpolate(
                x,
                scale_factor=2,
                mode='bilinear',
                align_corners=self.align_corners)
        else:
            x = F.interpolate(
                x,
                size=tuple(size),
                mode='bilinear',
                align_corners=self.align_corners)
        return self.project(x)


class Upsample(nn.Module):
    """``F.interpolate`` by a fixed factor as a module (for Sequential).

    Args:
        scale_factor (float): Resize factor.
        align_corners (bool): Of the bilinear interpolation.
    """

    def __init__(self, scale_factor: float, align_corners: bool) -> None:
        super().__init__()
        self.scale_factor = scale_factor
        self.align_corners = align_corners

    def forward(self, x: Tensor) -> Tensor:
        """Args: x (Tensor): ``(B, C, H, W)``. Returns ``(B, C, sH, sW)``."""
        return F.interpolate(
            x,
            scale_factor=self.scale_factor,
            mode='bilinear',
            align_corners=self.align_corners)


@MODELS.register_module()
class DPTHead(BaseDecodeHead):
    """DPT head (reassemble, fusion, output head) for ViT feature maps.

    Inputs are 4 maps ``(B, C_in, h, w)`` at the patch grid (``h = H / 16``),
    e.g. from ``mmmae.MultiMAEViT`` with ``out_indices=(2, 5, 8, 11)``
    (``C_in = embed_dims * len(main_tasks)``) or mmseg's
    ``VisionTransformer`` with 4 ``out_indices``.

    ``head_type='regression'`` (depth, for mmseg's ``DepthEstimator``):

    * the network predicts *normalised* depth ``(d - depth_mean) /
      depth_std``; ``loss_by_feat`` normalises the metric ground truth the
      same way, and ``predict_by_feat`` de-normalises, so predictions
      (``pred_depth_map``) are in the units of ``gt_depth_map`` (metres);
    * pixels with ``gt <= 0`` (or non-finite), and the padding that mmseg's
      data preprocessor adds (read from ``padding_size`` in the metainfo,
      so ``seg_pad_val`` does not matter), are excluded from the loss;
    * the output head is conv3x3 (``channels -> channels // 2``), 2x
      bilinear upsampling, conv3x3 (``-> 32``), ReLU, conv1x1 (``->
      num_classes``, this is ``conv_seg``).

    ``head_type='semseg'`` (for ``EncoderDecoder``): the DPT segmentation
    output head, conv3x3 (no bias) + norm + ReLU, dropout, conv1x1 to
    ``num_classes`` logits (``conv_seg``), 2x bilinear upsampling; loss and
    prediction are those of :class:`BaseDecodeHead` (``gt_sem_seg``,
    ``ignore_index``, ``loss_decode`` default ``CrossEntropyLoss``).

    Size for ViT-B (``in_channels=768``, defaults): 18.89 M parameters
    (reassemble 6.71 M, 3x3 projections 3.32 M, fusion 8.52 M, regression
    output head 0.33 M). The original DPT code also builds a skip residual
    unit in the coarsest fusion block that its forward never uses (1.18 M
    more); it is left out here so DDP needs no ``find_unused_parameters``.

    Args:
        in_channels (int | Sequence[int]): Channels of each of the 4 input
            maps (one int for all, or 4 ints).
        layer_dims (Sequence[int]): Channels after reassembling each level.
            Defaults to ``(96, 192, 384, 768)`` (DPT/MultiMAE, ViT-B).
        channels (int): Fusion width (``feature_dim``). Defaults to 256.
        head_type (str): ``'regression'`` or ``'semseg'``.
        num_classes (int): Output channels: 1 for depth, classes for
            semseg. Defaults to 1.
        patch_size (int): Backbone patch size. The output is resized to
            ``(h * patch_size, w * patch_size)``, the padded input size (a
            no-op for 16, where the strides already give full resolution).
        in_index (Sequence[int]): Which 4 backbone outputs to use. Defaults
            to ``(0, 1, 2, 3)``.
        depth_mean (float): Regression target mean, in gt units. Defaults
            to 2.0708 (NYUv2, metres; official 2070.7764 in what look like
            millimetres). Use 0 with ``depth_std=1`` to regress raw depth
            (e.g. with mmseg's ``SiLogLoss``).
        depth_std (float): Regression target std, in gt units. Defaults to
            0.7776 (NYUv2, metres; official 777.5723).
        min_depth (float, optional): Predictions (after de-normalising) are
            clamped to at least this. Defaults to None (no clamp).
        max_depth (float, optional): Upper clamp. Defaults to None.
        loss_decode (dict | Sequence[dict], optional): Loss config(s).
            None: ``dict(type='mmmae.BerHuLoss')`` for regression,
            ``dict(type='mmseg.CrossEntropyLoss')`` for semseg. For
            regression each loss is called as ``loss(pred, target,
            valid_mask=valid)`` when its ``forward`` takes ``valid_mask``,
            else as ``loss(pred, target)`` with ``target = 0`` at invalid
            pixels: such a loss must itself treat ``target <= 0`` as
            invalid (mmseg's ``SiLogLoss`` does) and only makes sense with
            ``depth_mean=0, depth_std=1``.
        dropout_ratio (float, optional): Dropout before ``conv_seg``.
            None: 0 for regression, 0.1 for semseg (DPT).
        norm_cfg (dict): Norm of the semseg output head. Defaults to
            ``dict(type='BN')`` (use ``SyncBN`` for multi-GPU).
        upsample_align_corners (bool): ``align_corners`` of the upsampling
            *inside* the head (fusion and output head). Defaults to True
            (DPT). ``align_corners`` (default False) is the one of the mmseg
            resizes to the gt/input size.
        **kwargs: Passed to :class:`BaseDecodeHead` (``ignore_index``,
            ``sampler``, ``init_cfg``, ...).
    """

    def __init__(self,
                 in_channels: Union[int, Sequence[int]],
                 layer_dims: Sequence[int] = (96, 192, 384, 768),
                 channels: int = 256,
                 head_type: str = 'regression',
                 num_classes: int = 1,
                 patch_size: int = 16,
                 in_index: Sequence[int] = (0, 1, 2, 3),
                 depth_mean: float = NYU_DEPTH_MEAN_M,
                 depth_std: float = NYU_DEPTH_STD_M,
                 min_depth: Optional[float] = None,
                 max_depth: Optional[float] = None,
                 loss_decode: Optional[Union[dict, Sequence[dict]]] = None,
                 dropout_ratio: Optional[float] = None,
                 norm_cfg: dict = dict(type='BN'),
                 upsample_align_corners: bool = True,
                 align_corners: bool = False,
                 **kwargs) -> None:
        if head_type not in ('regression', 'semseg'):
            raise ValueError(f'DPTHead: head_type must be one of '
                             f"('regression', 'semseg'), got {head_type!r}")
        if isinstance(in_channels, int):
            in_channels = [in_channels] * 4
        in_channels = list(in_channels)
        in_index = list(in_index)
        if len(in_channels) != 4 or len(in_index) != 4 or \
                len(layer_dims) != 4:
            raise ValueError(
                'DPTHead fuses exactly 4 levels; got in_channels='
                f'{in_channels}, in_index={in_index}, '
                f'layer_dims={list(layer_dims)}')
        if depth_std <= 0:
            raise ValueError(f'depth_std must be > 0, got {depth_std}')
        if loss_decode is None:
            loss_decode = dict(type='mmmae.BerHuLoss') \
                if head_type == 'regression' else \
                dict(type='mmseg.CrossEntropyLoss', use_sigmoid=False,
                     loss_weight=1.0)
        if dropout_ratio is None:
            dropout_ratio = 0.0 if head_type == 'regression' else 0.1
        with warnings.catch_warnings(), \
                DefaultScope.overwrite_default_scope('mmseg'):
            # (mmseg scope: loss_decode may name mmseg losses unprefixed)
            # BaseDecodeHead warns about a binary-segmentation threshold
            # whenever out_channels == 1, which is meaningless for depth
            warnings.filterwarnings('ignore', message='threshold is not')
            super().__init__(
                in_channels,
                channels,
                num_classes=num_classes,
                in_index=in_index,
                input_transform='multiple_select',
                loss_decode=loss_decode,
                dropout_ratio=dropout_ratio,
                norm_cfg=norm_cfg,
                align_corners=align_corners,
                **kwargs)
        self.head_type = head_type
        self.layer_dims = tuple(layer_dims)
        self.patch_size = patch_size
        self.depth_mean = float(depth_mean)
        self.depth_std = float(depth_std)
        self.min_depth = min_depth
        self.max_depth = max_depth
        self.upsample_align_corners = upsample_align_corners

        # strides 4, 8, 16, 32 from the stride-16 patch grid
        resamplers = [
            nn.ConvTranspose2d(layer_dims[0], layer_dims[0], 4, stride=4),
            nn.ConvTranspose2d(layer_dims[1], layer_dims[1], 2, stride=2),
            nn.Identity(),
            nn.Conv2d(layer_dims[3], layer_dims[3], 3, stride=2, padding=1),
        ]
        self.reassemble = nn.ModuleList([
            nn.Sequential(nn.Conv2d(c_in, dim, 1), resample)
            for c_in, dim, resample in zip(in_channels, layer_dims,
                                           resamplers)
        ])
        self.project = nn.ModuleList([
            nn.Conv2d(dim, channels, 3, padding=1, bias=False)
            for dim in layer_dims
        ])
        # fusion[3] is the coarsest (stride 32) block, fusion[0] the finest
        self.fusion = nn.ModuleList([
            FusionBlock(
                channels,
                with_skip=i < 3,
                align_corners=upsample_align_corners) for i in range(4)
        ])

        if head_type == 'regression':
            self.head = nn.Sequential(
                nn.Conv2d(channels, channels // 2, 3, padding=1),
                Upsample(2, upsample_align_corners),
                nn.Conv2d(channels // 2, 32, 3, padding=1),
                nn.ReLU(inplace=True))
            head_out = 32
        else:
            self.head = ConvModule(
                channels,
                channels,
                3,
                padding=1,
                conv_cfg=self.conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=self.act_cfg)
            head_out = channels
        # BaseDecodeHead built conv_seg from ``channels``; the DPT head's
        # classifier sees ``head_out`` channels. Same name, so init_cfg's
        # ``override=dict(name='conv_seg')`` still applies.
        self.conv_seg = nn.Conv2d(head_out, self.out_channels, 1)

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Predict a full-resolution map.

        Args:
            inputs (Sequence[Tensor]): Backbone outputs; the 4 selected by
                ``in_index`` are ``(B, C_in, h, w)`` at the patch grid.

        Returns:
            Tensor: ``(B, num_classes, h * patch_size, w * patch_size)``:
            normalised depth (regression) or logits (semseg).
        """
        xs = self._transform_inputs(inputs)
        h, w = xs[2].shape[2:]
        feats = [
            proj(reassemble(x)) for x, reassemble, proj in zip(
                xs, self.reassemble, self.project)
        ]
        path = self.fusion[3](feats[3], size=feats[2].shape[2:])
        path = self.fusion[2](path, feats[2], size=feats[1].shape[2:])
        path = self.fusion[1](path, feats[1], size=feats[0].shape[2:])
        path = self.fusion[0](path, feats[0])  # stride 4 -> 2
        out = self.cls_seg(self.head(path))  # regression: stride 2 -> 1
        if self.head_type == 'semseg':
            # DPT classifies at stride 2 and upsamples the logits
            out = F.interpolate(
                out,
                scale_factor=2,
                mode='bilinear',
                align_corners=self.upsample_align_corners)
        size = (h * self.patch_size, w * self.patch_size)
        if out.shape[2:] != size:
            out = F.interpolate(
                out,
                size=size,
                mode='bilinear',
                align_corners=self.upsample_align_corners)
        return out

    # ------------------------------------------------------------ depth ----
    def _stack_depth_gt(self, batch_data_samples: SampleList) -> Tensor:
        """Stack ``gt_depth_map`` ``(1, H, W)`` into ``(B, 1, H, W)``."""
        return torch.stack([
            sample.gt_depth_map.data.float()
            for sample in batch_data_samples
        ])

    @staticmethod
    def _padding_mask(gt: Tensor, batch_data_samples: SampleList) -> Tensor:
        """False on the border mmseg's preprocessor padded.

        Args:
            gt (Tensor): ``(B, 1, H, W)``.
            batch_data_samples (list[SegDataSample]): Carry ``padding_size``
                ``(left, right, top, bottom)`` after ``stack_batch``.

        Returns:
            Tensor: Bool ``(B, 1, H, W)``.
        """
        keep = torch.ones_like(gt, dtype=torch.bool)
        H, W = gt.shape[2:]
        for i, sample in enumerate(batch_data_samples):
            pad = sample.metainfo.get('padding_size', None)
            if pad is None:
                continue
            left, right, top, bottom = (int(p) for p in pad)
            if left:
                keep[i, :, :, :left] = False
            if right:
                keep[i, :, :, W - right:] = False
            if top:
                keep[i, :, :top] = False
            if bottom:
                keep[i, :, H - bottom:] = False
        return keep

    def normalize_depth(self, depth: Tensor) -> Tensor:
        """Metric depth to the regression target: ``(d - mean) / std``."""
        return (depth - self.depth_mean) / self.depth_std

    def denormalize_depth(self, pred: Tensor) -> Tensor:
        """Network output to metric depth: ``pred * std + mean``."""
        return pred * self.depth_std + self.depth_mean

    def loss_by_feat(self, seg_logits: Tensor,
                     batch_data_samples: SampleList) -> dict:
        """Compute the loss.

        Args:
            seg_logits (Tensor): ``forward`` output ``(B, K, H', W')``.
            batch_data_samples (list[SegDataSample]): With ``gt_depth_map``
                ``(1, H, W)`` in metres (regression) or ``gt_sem_seg``
                (semseg).

        Returns:
            dict[str, Tensor]: ``{loss_name: loss}`` per loss; regression
            also logs ``valid_ratio`` (fraction of supervised pixels, not a
            loss: no ``loss`` prefix).
        """
        if self.head_type == 'semseg':
            return super().loss_by_feat(seg_logits, batch_data_samples)
        gt = self._stack_depth_gt(batch_data_samples).to(seg_logits.device)
        pred = resize(
            input=seg_logits,
            size=gt.shape[2:],
            mode='bilinear',
            align_corners=self.align_corners)
        valid = (gt > 0) & torch.isfinite(gt) & \
            self._padding_mask(gt, batch_data_samples)
        # invalid targets become 0 (not garbage) so losses that ignore the
        # mask, with depth_mean=0 / depth_std=1, still see "0 = missing"
        target = torch.where(valid, self.normalize_depth(gt),
                             torch.zeros_like(gt))
        losses_decode = self.loss_decode if isinstance(
            self.loss_decode, nn.ModuleList) else [self.loss_decode]
        loss = dict()
        for loss_decode in losses_decode:
            if _accepts_valid_mask(loss_decode):
                value = loss_decode(pred, target, valid_mask=valid)
            else:
                # mmseg losses disagree on what ``weight`` means (SiLogLoss:
                # per sample); they get the 0-at-invalid target instead
                value = loss_decode(pred, target)
            name = loss_decode.loss_name
            loss[name] = loss[name] + value if name in loss else value
        loss['valid_ratio'] = valid.float().mean().detach()
        return loss

    def predict_by_feat(self, seg_logits: Tensor,
                        batch_img_metas: List[dict]) -> Tensor:
        """Resize to the (padded) input size; de-normalise depth.

        Args:
            seg_logits (Tensor): ``forward`` output ``(B, K, H', W')``.
            batch_img_metas (list[dict]): ``img_shape``/``pad_shape`` of
                the batch (as :class:`BaseDecodeHead` uses them).

        Returns:
            Tensor: ``(B, K, H, W)``: depth in gt units (regression,
            clamped to ``[min_depth, max_depth]`` when set) or logits.
        """
        out = super().predict_by_feat(seg_logits, batch_img_metas)
        if self.head_type == 'regression':
            out = self.denormalize_depth(out)
            if self.min_depth is not None or self.max_depth is not None:
                out = out.clamp(min=self.min_depth, max=self.max_depth)
        return out


def _accepts_valid_mask(loss_module: nn.Module) -> bool:
    """Whether ``loss_module.forward`` takes a ``valid_mask`` argument."""
    try:
        params = inspect.signature(loss_module.forward).parameters
    except (TypeError, ValueError):
        return False
    return 'valid_mask' in params
