# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAE's ConvNeXt semantic-segmentation head as an mmseg decode head.

Every MultiMAE semseg number (ADE20K, Hypersim, NYUv2) comes from this head,
not from UperNet, so reproducing them needs it. Pipeline for one feature map
of ViT tokens at the patch grid ``(B, C_in, h, w)``:

1. ``proj_dec``: a per-token ``Linear(C_in -> channels * preds_per_patch)``;
   each token's output is laid out as an ``s x s`` block (``s =
   sqrt(preds_per_patch)``) of ``channels``-dim pixels, giving a
   ``(B, channels, s*h, s*w)`` map (stride ``patch_size / s``: 1/4 for
   patch 16 and 16 predictions per patch).
2. ``blocks``: ``num_blocks`` ConvNeXt blocks (depthwise 7x7, LayerNorm,
   4x MLP with GELU, residual; no layer scale).
3. ``final_layer``: 1x1 conv to ``num_classes``.

The full-resolution bilinear upsampling of the official adapter happens in
:class:`BaseDecodeHead`'s ``loss_by_feat`` / ``predict_by_feat``.

Token -> pixel order of ``proj_dec`` (kept fixed so that official weights
load by a plain key rename): output feature ``k`` of token ``(i, j)`` is
channel ``c = k % channels`` of sub-pixel ``(a, b)`` with
``a * s + b = k // channels``, and lands at pixel ``(i * s + a, j * s + b)``.
That is the "position-major, channel-minor" order ``(s, s, channels)``, not
``nn.PixelShuffle``'s channel-major ``(channels, s, s)``.
"""
import math
from typing import List, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn.bricks import DropPath
from mmengine.registry import DefaultScope
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import Tensor

from mmmae.registry import MODELS

__all__ = ['ConvNeXtAdapterHead', 'ConvNeXtBlock', 'tokens_to_map']


def tokens_to_map(x: Tensor, scale: int) -> Tensor:
    """Lay out per-token predictions as ``scale x scale`` pixel blocks.

    Args:
        x (Tensor): ``(B, h, w, scale * scale * C)`` per-token outputs whose
            last axis is ordered ``(a, b, c)`` (sub-row, sub-column,
            channel), i.e. index ``(a * scale + b) * C + c``.
        scale (int): Side of each token's block.

    Returns:
        Tensor: ``(B, C, h * scale, w * scale)`` with token ``(i, j)``'s
        sub-pixel ``(a, b)`` at ``(i * scale + a, j * scale + b)``.
    """
    b, h, w, k = x.shape
    c = k // (scale * scale)
    x = x.reshape(b, h, w, scale, scale, c)
    # (B, h, a, w, b, C) -> merge (h, a) and (w, b) into pixel rows/columns
    x = x.permute(0, 5, 1, 3, 2, 4)
    return x.reshape(b, c, h * scale, w * scale)


class ConvNeXtBlock(nn.Module):
    """ConvNeXt block without layer scale, as in the MultiMAE adapter.

    ``x + DropPath(pwconv2(GELU(pwconv1(LN(dwconv(x))))))`` with the
    LayerNorm and the two Linears applied channels-last. Sub-module names
    (``dwconv``, ``norm``, ``pwconv1``, ``pwconv2``) follow the official
    checkpoint so its keys map one to one.

    Args:
        dim (int): Channels ``C``.
        mlp_ratio (float): Hidden width of the MLP over ``dim``.
            Defaults to 4.
        drop_path (float): Stochastic depth rate. Defaults to 0.
        norm_eps (float): LayerNorm epsilon. Defaults to 1e-6 (ConvNeXt).
    """

    def __init__(self,
                 dim: int,
                 mlp_ratio: float = 4.,
                 drop_path: float = 0.,
                 norm_eps: float = 1e-6) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=norm_eps)
        self.pwconv1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(hidden, dim)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else \
            nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block.

        Args:
            x (Tensor): ``(B, C, H, W)``.

        Returns:
            Tensor: ``(B, C, H, W)``.
        """
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + self.drop_path(y.permute(0, 3, 1, 2))


@MODELS.register_module()
class ConvNeXtAdapterHead(BaseDecodeHead):
    """MultiMAE ``ConvNeXtAdapter`` semantic-segmentation head (mmseg).

    Args:
        in_channels (int): Channels ``C_in`` of the selected input map, i.e.
            ``embed_dims * len(main_tasks)`` of the backbone (768 for ViT-B
            on RGB).
        channels (int): Per-pixel width of the decoder map. Defaults to 384
            (the official ``embed_dim 6144 / preds_per_patch 16``).
        preds_per_patch (int): Pixels each token becomes; must be a perfect
            square ``s * s``. The decoder map has stride
            ``patch_size / s``. Defaults to 16.
        num_blocks (int): ConvNeXt blocks. Defaults to 4.
        mlp_ratio (float): ConvNeXt MLP expansion. Defaults to 4.
        drop_path_rate (float): Maximum stochastic depth, linear over the
            blocks. Defaults to 0 (official).
        dropout_ratio (float): Dropout before ``final_layer``. Defaults to 0
            (the official adapter has none; mmseg's default would be 0.1).
        in_index (int): Which backbone output to decode. Defaults to -1.
        init_cfg (dict, optional): MMEngine init config. Without one the
            weights use truncated normal (std 0.02) for Linear / Conv, zero
            biases and unit LayerNorms.
        **kwargs: Other :class:`BaseDecodeHead` arguments (``num_classes``,
            ``loss_decode``, ``ignore_index``, ``align_corners``,
            ``out_channels``, ``threshold``, ...).

    Shapes: input ``inputs[in_index]`` ``(B, C_in, h, w)``; output logits
    ``(B, num_classes, h * s, w * s)``, resized to the label or input size
    by :meth:`loss_by_feat` / :meth:`predict_by_feat` (bilinear).
    """

    def __init__(self,
                 in_channels: int,
                 channels: int = 384,
                 preds_per_patch: int = 16,
                 num_blocks: int = 4,
                 mlp_ratio: float = 4.,
                 drop_path_rate: float = 0.,
                 dropout_ratio: float = 0.,
                 in_index: int = -1,
                 init_cfg=None,
                 **kwargs) -> None:
        if 'input_transform' in kwargs and \
                kwargs['input_transform'] is not None:
            raise ValueError('ConvNeXtAdapterHead decodes one map; '
                             'input_transform must be None')
        scale = math.isqrt(int(preds_per_patch))
        if preds_per_patch < 1 or scale * scale != preds_per_patch:
            raise ValueError('preds_per_patch must be a perfect square '
                             f'(s * s pixels per token), got '
                             f'{preds_per_patch}')
        # mmseg builds loss_decode (``CrossEntropyLoss`` unprefixed) from
        # the current scope; pin mmseg so the head also builds under mmmae.
        with DefaultScope.overwrite_default_scope('mmseg'):
            super().__init__(
                in_channels,
                channels,
                dropout_ratio=dropout_ratio,
                in_index=in_index,
                init_cfg=init_cfg,
                **kwargs)
        # The official key is ``final_layer``; dropping mmseg's ``conv_seg``
        # keeps one classifier in the state dict.
        del self.conv_seg
        self.preds_per_patch = int(preds_per_patch)
        self.scale = scale
        self.proj_dec = nn.Linear(in_channels, channels * preds_per_patch)
        dpr = torch.linspace(0, drop_path_rate, num_blocks).tolist() \
            if num_blocks else []
        self.blocks = nn.Sequential(*[
            ConvNeXtBlock(channels, mlp_ratio=mlp_ratio, drop_path=dpr[i])
            for i in range(num_blocks)
        ])
        self.final_layer = nn.Conv2d(channels, self.out_channels, 1)
        if init_cfg is None:
            self._default_init()

    def _default_init(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def project(self, x: Tensor) -> Tensor:
        """Per-token projection laid out at ``s`` times the token grid.

        Args:
            x (Tensor): ``(B, C_in, h, w)`` token map.

        Returns:
            Tensor: ``(B, channels, h * s, w * s)``, see :func:`tokens_to_map`
            for the element order.
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'{type(self).__name__} expects (B, {self.in_channels}, h, w)'
                f' token maps (in_channels = embed_dims * len(main_tasks)), '
                f'got {tuple(x.shape)}')
        x = self.proj_dec(x.permute(0, 2, 3, 1))
        return tokens_to_map(x, self.scale)

    def cls_seg(self, feat: Tensor) -> Tensor:
        """Classify each pixel.

        Args:
            feat (Tensor): ``(B, channels, H', W')``.

        Returns:
            Tensor: ``(B, out_channels, H', W')`` logits.
        """
        if self.dropout is not None:
            feat = self.dropout(feat)
        return self.final_layer(feat)

    def forward(self, inputs: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """Decode one backbone map into logits at ``s`` times its size.

        Args:
            inputs (Tensor | Sequence[Tensor]): Backbone outputs, each
                ``(B, C_in, h, w)``; ``in_index`` picks one. A bare tensor
                is used as is.

        Returns:
            Tensor: ``(B, num_classes, h * s, w * s)``.
        """
        x = inputs if isinstance(inputs, Tensor) else \
            self._transform_inputs(inputs)
        return self.cls_seg(self.blocks(self.project(x)))

    @staticmethod
    def official_key_map() -> List[Tuple[str, str]]:
        """``(official_prefix, mmmae_prefix)`` pairs for weight conversion.

        The official checkpoint stores this head under
        ``output_adapters.semseg.`` with the same sub-module names, so a
        converter only swaps the prefix to ``decode_head.`` inside an
        mmseg ``EncoderDecoder``.

        Returns:
            list[tuple[str, str]]: Prefix pairs.
        """
        return [('output_adapters.semseg.proj_dec.', 'proj_dec.'),
                ('output_adapters.semseg.blocks.', 'blocks.'),
                ('output_adapters.semseg.final_layer.', 'final_layer.')]
