# Copyright (c) mmmae contributors. All rights reserved.
"""VideoMAE pretraining decoder (V1 and V2 dual masking)."""
from typing import Dict, Optional, Set, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule

from mmmae.registry import MODELS
from ..utils import (TransformerBlock, build_norm, common_count,
                     gather_tokens, get_sinusoid_table,
                     init_weights_official_pretrain)

__all__ = ['VideoMAEPretrainDecoder']


@MODELS.register_module()
class VideoMAEPretrainDecoder(BaseModule):
    """Lightweight transformer decoder that predicts pixels of tubes.

    V1: the decoder input is ``[e2d(x_vis) + pos[~mask],
    mask_token + pos[mask]]`` and the output is the prediction of every
    masked token. V2 (``decoder_mask`` given, True = not reconstructed): the
    second part becomes ``mask_token + pos[~decoder_mask]``, so a token kept by
    the decoder gets a mask token even when the encoder saw it, and the
    output covers every decoded token. Visible tokens are never un-shuffled;
    the positional table is gathered to match instead (attention is
    permutation-equivariant).

    The 1-D sin-cos table is built for ``N = mask.shape[1]`` tokens and
    cached per ``(N, device)``.

    Args:
        embed_dims (int): Encoder width ``D``. Defaults to 768.
        decoder_embed_dims (int): Decoder width ``Dd``. Defaults to 384.
        decoder_depth (int): Decoder blocks. Defaults to 4.
        decoder_num_heads (int): Decoder heads. Defaults to 6.
        mlp_ratio (float): MLP hidden width / ``Dd``. Defaults to 4.
        patch_size (int): Spatial patch ``p``. Defaults to 16.
        tubelet_size (int): Frames per token ``t``. Defaults to 2.
        in_channels (int): Pixel channels ``C``. Defaults to 3.
        qkv_bias (bool): Learn q/v biases. Defaults to True.
        qk_scale (float, optional): Attention scale override.
        drop_rate (float): Dropout in blocks.
        attn_drop_rate (float): Attention-weight dropout.
        drop_path_rate (float): Max stochastic depth (linear over depth).
        layer_scale_init_value (float): Layer-scale init; 0 disables it.
        with_cp (bool): Activation checkpointing of each block in training.
        norm_eps (float): Epsilon of every LayerNorm (blocks and the final
            ``norm``). Defaults to 1e-6 (official VideoMAE); HuggingFace
            ``VideoMAEConfig.layer_norm_eps`` defaults to 1e-12.
        final_norm_eps (float, optional): Epsilon of the final ``norm``
            (before ``head``) alone; None uses ``norm_eps``. HuggingFace
            builds its ``decoder.norm`` with PyTorch's 1e-5 whatever
            ``layer_norm_eps`` says.
        init_cfg (dict | list, optional): MMEngine init config; None gives
            the official pretraining init.
    """

    def __init__(self,
                 embed_dims: int = 768,
                 decoder_embed_dims: int = 384,
                 decoder_depth: int = 4,
                 decoder_num_heads: int = 6,
                 mlp_ratio: float = 4.,
                 patch_size: int = 16,
                 tubelet_size: int = 2,
                 in_channels: int = 3,
                 qkv_bias: bool = True,
                 qk_scale: Optional[float] = None,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: float = 0.,
                 with_cp: bool = False,
                 norm_eps: float = 1e-6,
                 final_norm_eps: Optional[float] = None,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.embed_dims = embed_dims
        self.decoder_embed_dims = decoder_embed_dims
        self.patch_size = patch_size
        self.tubelet_size = tubelet_size
        self.in_channels = in_channels
        self.with_cp = with_cp
        self.out_channels = in_channels * tubelet_size * patch_size**2

        self.encoder_to_decoder = nn.Linear(
            embed_dims, decoder_embed_dims, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dims))
        self._init_mask_token()

        dpr = torch.linspace(0, drop_path_rate, decoder_depth).tolist()
        self.blocks = nn.ModuleList([
            TransformerBlock(
                decoder_embed_dims,
                decoder_num_heads,
                int(decoder_embed_dims * mlp_ratio),
                qkv_bias=qkv_bias,
                qk_scale=qk_scale,
                drop_rate=drop_rate,
                attn_drop_rate=attn_drop_rate,
                drop_path_rate=dpr[i],
                layer_scale_init_value=layer_scale_init_value)
            for i in range(decoder_depth)
        ])
        for blk in self.blocks:
            # TransformerBlock builds its norms with the 1e-6 default; eps is
            # a plain attribute that LayerNorm.forward reads.
            blk.norm1.eps = blk.norm2.eps = norm_eps
        self.norm_eps = norm_eps
        self.final_norm_eps = norm_eps if final_norm_eps is None \
            else final_norm_eps
        self.norm = build_norm(decoder_embed_dims, eps=self.final_norm_eps)
        self.head = nn.Linear(decoder_embed_dims, self.out_channels)
        # Plain dict, not buffers: the table is a pure function of N and
        # must not enter state dicts or DDP buffer broadcasts.
        self._pos_cache: Dict[Tuple[int, str], torch.Tensor] = {}

    def _init_mask_token(self) -> None:
        # Official wrapper truncates at +-1 std (not timm's +-2 absolute).
        std = .02
        nn.init.trunc_normal_(self.mask_token, std=std, a=-std, b=std)

    def init_weights(self) -> None:
        """Official pretraining init unless an ``init_cfg`` is given."""
        if self.init_cfg is None and not getattr(self, '_is_init', False):
            self.apply(init_weights_official_pretrain)
            self._init_mask_token()
        super().init_weights()

    def get_pos_embed(self, num_tokens: int,
                      device: torch.device) -> torch.Tensor:
        """Decoder sin-cos table for ``num_tokens`` tokens.

        Args:
            num_tokens (int): ``N``.
            device (torch.device): Target device.

        Returns:
            Tensor: ``(1, N, Dd)`` float32.
        """
        key = (num_tokens, str(device))
        table = self._pos_cache.get(key)
        if table is None:
            table = get_sinusoid_table(num_tokens,
                                       self.decoder_embed_dims)[None].to(
                                           device)
            self._pos_cache[key] = table
        return table

    def forward(self,
                x_vis: torch.Tensor,
                mask: torch.Tensor,
                decoder_mask: Optional[torch.Tensor] = None,
                num_decoded: Optional[int] = None) -> torch.Tensor:
        """Predict pixels of the masked (V1) or decoded (V2) tokens.

        The token counts come from shapes (``N_vis = x_vis.shape[1]``, V1
        predicts ``N - N_vis``) or from ``num_decoded``, so the gathers need
        no device sync; a mask that disagrees fails a device-side assertion.

        Args:
            x_vis (Tensor): ``(B, N_vis, D)`` encoder output for the visible
                tokens, ascending token order.
            mask (Tensor): ``(B, N)`` bool, True = hidden from the encoder.
            decoder_mask (Tensor, optional): ``(B, N)`` bool, True = not
                reconstructed (V2). None gives the V1 behaviour.
            num_decoded (int, optional): V2: tokens per sample that
                ``decoder_mask`` keeps, known on the host
                (``VideoMAEDataPreprocessor`` records it). None counts them
                (a device sync) and checks that every sample agrees.

        Returns:
            Tensor: ``(B, N_pred, C*t*p*p)`` channel-last predictions, in
            ascending token order, for ``mask == True`` (V1) or
            ``decoder_mask == False`` (V2).
        """
        B, N = mask.shape
        num_vis = x_vis.shape[1]
        if not 0 < num_vis <= N:
            raise ValueError(f'the encoder gave {num_vis} tokens for masks '
                             f'of {N}')
        pos = self.get_pos_embed(N, x_vis.device)
        x_vis = self.encoder_to_decoder(x_vis)
        pos = pos.to(x_vis.dtype)
        pos_vis = gather_tokens(pos, ~mask, num_vis,
                                f'the encoder gave {num_vis} tokens')
        if decoder_mask is None:
            pred_sel, num_pred = mask, N - num_vis
            source = f'{N} tokens minus {num_vis} visible'
        else:
            pred_sel, source = ~decoder_mask, 'num_decoded'
            num_pred = num_decoded if num_decoded is not None else \
                common_count(pred_sel, 'decode')
        pos_pred = gather_tokens(pos, pred_sel, num_pred, source)
        x = torch.cat(
            [x_vis + pos_vis,
             self.mask_token.to(x_vis.dtype) + pos_pred], dim=1)

        use_cp = self.with_cp and self.training and torch.is_grad_enabled()
        for blk in self.blocks:
            if use_cp:
                x = cp.checkpoint(blk, x, use_reentrant=False)
            else:
                x = blk(x)
        return self.head(self.norm(x[:, x.shape[1] - num_pred:]))

    def no_weight_decay(self) -> Set[str]:
        """Names excluded from weight decay besides 1-D parameters.

        Returns:
            set[str]: ``{'mask_token'}``.
        """
        return {'mask_token'}
