# Copyright (c) mmmae contributors. All rights reserved.
"""VideoMAE ViT encoder (official V1/V2 layout, MMEngine module)."""
import re
from typing import Dict, Mapping, Optional, Sequence, Set, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmmae.registry import MODELS
from ..utils import (build_norm, gather_tokens,
                     init_weights_official_finetune,
                     init_weights_official_pretrain, parse_vit_arch)
from ..utils.config_checks import to_ntuple
from .adapters import tubelet_tokens
from .multimodal_vit import MultiModalViT

__all__ = ['VideoMAEViT', 'TubeletEmbed', 'load_backbone_checkpoint']

# MMAction2 ``VisionTransformer`` (vit_mae) names -> ours, below a prefix.
_MMACTION_NAMES = (
    (re.compile(r'^patch_embed\.projection\.'), 'patch_embed.proj.'),
    (re.compile(r'^(blocks\.\d+\.mlp\.)layers\.0\.0\.'), r'\1fc1.'),
    (re.compile(r'^(blocks\.\d+\.mlp\.)layers\.1\.'), r'\1fc2.'),
)


class TubeletEmbed(nn.Module):
    """Non-overlapping ``t x p x p`` tube embedding without positions.

    The weights are a ``Conv3d`` (official key layout, ``proj.weight``
    ``(D, C, t, p, p)``), applied as a patchify and one matmul
    (:func:`~mmmae.models.backbones.adapters.tubelet_tokens`). The input
    adapter of :class:`VideoMAEViT` is its position-adding sibling,
    :class:`~mmmae.models.backbones.adapters.TubeletInputAdapter`.

    Args:
        in_channels (int): Input channels ``C``.
        embed_dims (int): Token width ``D``.
        tubelet_size (int): Frames per token ``t``.
        patch_size (int | tuple): Spatial patch ``p`` (or ``(ph, pw)``).
    """

    def __init__(self, in_channels: int, embed_dims: int, tubelet_size: int,
                 patch_size: Union[int, Sequence[int]]) -> None:
        super().__init__()
        self.kernel = (tubelet_size, *to_ntuple(patch_size, 2))
        self.proj = nn.Conv3d(
            in_channels, embed_dims, kernel_size=self.kernel,
            stride=self.kernel)

    def forward(self,
                x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int, int]]:
        """Embed a clip ``(B, C, T, H, W)``: tokens ``(B, N, D)`` in
        ``(t, h, w)`` order and the grid ``(T', H', W')``."""
        return tubelet_tokens(x, self.proj)


@MODELS.register_module()
class VideoMAEViT(MultiModalViT):
    """ViT encoder of VideoMAE (V1) and VideoMAE V2.

    :class:`~mmmae.models.backbones.multimodal_vit.MultiModalViT` with one
    rgb :class:`~mmmae.models.backbones.adapters.TubeletInputAdapter`
    (tubelet Conv3d embedding, a fixed 1-D sin-cos table over the flattened
    token index), no global token, pre-LN blocks with q/v biases and a final
    LayerNorm, under the official names (``patch_embed``, ``blocks``,
    ``norm``, ``fc_norm``). Given a mask it encodes only the visible tokens
    (MAE pretraining); without one it encodes every token (feature
    extraction / fine-tuning).

    The positional table is a non-persistent buffer built for
    ``(num_frames, img_size)``; other clip lengths or sizes are handled by
    trilinear interpolation of the table over ``(T', H', W')``.

    Args:
        arch (str | dict): ``'s'``, ``'b'``, ``'l'``, ``'h'``, ``'g'`` (or
            ``'small'`` ... ``'giant'``), or a dict with ``embed_dims``,
            ``num_layers``, ``num_heads`` and ``feedforward_channels`` (or
            ``mlp_ratio``). The presets set widths only; ViT-g of V2 uses
            ``patch_size=14``.
        img_size (int | tuple): Configured spatial size. Defaults to 224.
        patch_size (int): Spatial patch size ``p``. Defaults to 16.
        in_channels (int): Input channels. Defaults to 3.
        num_frames (int): Configured clip length ``T``. Defaults to 16.
        tubelet_size (int): Frames per token ``t``. Defaults to 2.
        qkv_bias (bool): Learn q/v biases. Defaults to True.
        qk_scale (float, optional): Attention scale override.
        drop_rate (float): Dropout after the positional table and in blocks.
        attn_drop_rate (float): Attention-weight dropout.
        drop_path_rate (float): Max stochastic depth (linear over depth).
        layer_scale_init_value (float): Layer-scale init; 0 disables it.
        use_mean_pooling (bool): Fine-tuning layout: ``norm`` is Identity and
            ``fc_norm`` normalises the token mean. Defaults to False.
        with_cp (bool): Activation checkpointing of each block in training.
        return_feat_map (bool): Return the normed tokens as a feature map
            ``(B, D, T', H', W')`` (as MMAction2's ``VisionTransformer
            (return_feat_map=True)``) for heads that pool a 3-D map
            themselves (``I3DHead``, ``SlowFastHead``-style). Only without a
            mask. Defaults to False.
        norm_eps (float): Epsilon of every LayerNorm (blocks, ``norm``,
            ``fc_norm``). Defaults to 1e-6 (official VideoMAE); HuggingFace
            ``VideoMAEConfig.layer_norm_eps`` defaults to 1e-12.
        fc_norm_eps (float, optional): Epsilon of ``fc_norm`` alone; None
            uses ``norm_eps``. HuggingFace builds its ``fc_norm`` with
            PyTorch's 1e-5 whatever ``layer_norm_eps`` says, so a converted
            HF classifier needs both values.
        init_cfg (dict | list, optional): MMEngine init config. When None,
            :meth:`init_weights` applies the official pretraining init
            (xavier-uniform Linears, zero biases, LayerNorm (1, 0)); pass e.g.
            ``dict(type='TruncNormal', layer='Linear', std=.02)`` for the
            fine-tuning init.
    """

    blocks_name = 'blocks'
    layer0_prefixes = ('patch_embed', 'pos_embed', 'cls_token')

    def __init__(self,
                 arch: Union[str, dict] = 'b',
                 img_size: Union[int, Sequence[int]] = 224,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 num_frames: int = 16,
                 tubelet_size: int = 2,
                 qkv_bias: bool = True,
                 qk_scale: Optional[float] = None,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: float = 0.,
                 use_mean_pooling: bool = False,
                 with_cp: bool = False,
                 return_feat_map: bool = False,
                 norm_eps: float = 1e-6,
                 fc_norm_eps: Optional[float] = None,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(
            input_adapters=dict(
                rgb=dict(
                    type='mmmae.TubeletInputAdapter',
                    in_channels=in_channels)),
            arch=arch,
            img_size=img_size,
            patch_size=patch_size,
            num_frames=num_frames,
            tubelet_size=tubelet_size,
            num_global_tokens=0,
            qkv_bias=qkv_bias,
            qk_scale=qk_scale,
            drop_rate=drop_rate,
            pos_drop_rate=drop_rate,
            attn_drop_rate=attn_drop_rate,
            drop_path_rate=drop_path_rate,
            layer_scale_init_value=layer_scale_init_value,
            final_norm=not use_mean_pooling,
            with_cp=with_cp,
            norm_eps=norm_eps,
            init_cfg=init_cfg)
        self.img_size = to_ntuple(img_size, 2)
        self.patch_size = patch_size
        self.in_channels = in_channels
        self.num_frames = num_frames
        self.tubelet_size = tubelet_size
        self.use_mean_pooling = use_mean_pooling
        self.return_feat_map = return_feat_map
        self.grid_size = self.patch_embed.grid_size
        self.num_patches = (self.grid_size[0] * self.grid_size[1] *
                            self.grid_size[2])
        self.fc_norm_eps = norm_eps if fc_norm_eps is None else fc_norm_eps
        self.fc_norm = build_norm(self.embed_dims, eps=self.fc_norm_eps) \
            if use_mean_pooling else None

    def _register_adapters(self, adapters) -> None:
        """The one rgb adapter is ``patch_embed`` (official names)."""
        self.patch_embed = adapters['rgb']

    @property
    def adapters(self) -> Mapping[str, nn.Module]:
        return {'rgb': self.patch_embed}

    @property
    def pos_embed(self) -> torch.Tensor:
        """The fixed ``(1, N, D)`` table of the configured grid (a
        non-persistent buffer of ``patch_embed``)."""
        return self.patch_embed.pos_embed

    @classmethod
    def _parse_arch(cls, arch: Union[str, dict]) -> Dict[str, int]:
        return parse_vit_arch(arch, cls.arch_zoo)

    def init_weights(self) -> None:
        """Initialise, or load pretrained weights.

        * ``init_cfg=None``: the official pretraining init.
        * ``init_cfg=dict(type='Pretrained', checkpoint=PATH)``: the official
          fine-tuning init (trunc-normal Linears), then the encoder weights
          of ``PATH`` through :func:`load_backbone_checkpoint`, which accepts
          mmmae, official V1/V2 (pretrain or fine-tuned), MMAction2 and
          HuggingFace layouts and reports every key it does not use
          (decoder, mask token, ...). A ``prefix`` in the dict is ignored:
          the layout is detected from the keys.
        * any other ``init_cfg``: MMEngine's initialisers.

        (Not the MultiMAE init of :class:`MultiModalViT`.)
        """
        if getattr(self, '_is_init', False):
            return BaseModule.init_weights(self)
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            self.apply(init_weights_official_finetune)
            load_backbone_checkpoint(
                self, cfg['checkpoint'],
                map_location=cfg.get('map_location', 'cpu'))
            self._is_init = True
            return
        if cfg is None:
            self.apply(init_weights_official_pretrain)
        BaseModule.init_weights(self)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Accept MMAction2 ``VisionTransformer`` names and its saved table.

        MMAction2's VideoMAE backbone names the patch embedding
        ``projection`` and the MLP ``layers.0.0`` / ``layers.1`` and saves
        its fixed sin-cos table. Renaming here makes ``load_from`` /
        ``load_checkpoint`` of an MMAction2 recognizer just work; a stored
        table equal to ours is dropped, any other one stays and is reported
        as an unexpected key.
        """
        for key in [k for k in state_dict if k.startswith(prefix)]:
            rest = key[len(prefix):]
            if rest == 'pos_embed':
                from mmmae.checkpoint.videomae import \
                    _is_fixed_sincos
                if _is_fixed_sincos(state_dict[key]):
                    state_dict.pop(key)
                continue
            new = rest
            for pat, rep in _MMACTION_NAMES:
                new = pat.sub(rep, new)
            if new != rest:
                state_dict[prefix + new] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def get_pos_embed(self, grid: Sequence[int]) -> torch.Tensor:
        """Positional table for a token grid ``(T', H', W')``: ``(1,
        T'H'W', D)``, resampled once per grid and cached
        (:meth:`TubeletInputAdapter.get_pos_embed`)."""
        return self.patch_embed.get_pos_embed(grid)

    def forward(self,
                x: torch.Tensor,
                mask: Optional[torch.Tensor] = None,
                num_visible: Optional[int] = None) -> torch.Tensor:
        """Encode a clip, optionally only its visible tokens.

        Args:
            x (Tensor): ``(B, C, T, H, W)`` normalised clip.
            mask (Tensor, optional): ``(B, N)`` bool, True = masked (hidden).
                Every sample must keep the same number of visible tokens.
            num_visible (int, optional): That number, known on the host
                (``VideoMAEDataPreprocessor`` records it): the visible
                tokens are then gathered without a device sync or a
                ``torch.compile`` graph break. None counts them.

        Returns:
            Tensor: ``(B, N_vis, D)`` visible tokens in ascending index
            order after ``norm`` (all ``N`` tokens when ``mask`` is None).
            With ``use_mean_pooling`` and no mask: ``(B, D)`` =
            ``fc_norm(tokens.mean(1))``. With ``return_feat_map``:
            ``(B, D, T', H', W')``.
        """
        masks = None
        if mask is not None:
            if mask.dtype != torch.bool:
                raise ValueError(
                    f'mask must be torch.bool, got {mask.dtype}')
            if self.return_feat_map:
                raise ValueError('VideoMAEViT: return_feat_map needs all '
                                 'tokens; got a mask')
            masks = {'rgb': mask}
        x, info = super().forward({'rgb': x}, masks, num_visible)
        if self.return_feat_map:
            B, _, D = x.shape
            return x.transpose(1, 2).reshape(B, D, *info.grid)
        if self.use_mean_pooling and mask is None:
            return self.fc_norm(x.mean(1))
        return x

    @staticmethod
    def gather_visible(x: torch.Tensor,
                       mask: torch.Tensor,
                       num_visible: Optional[int] = None) -> torch.Tensor:
        """Keep the tokens with ``mask == False``, in ascending order.

        Args:
            x (Tensor): ``(B, N, D)``.
            mask (Tensor): ``(B, N)`` bool, True = drop.
            num_visible (int, optional): Visible tokens per sample, known on
                the host (no device sync). None counts them.

        Returns:
            Tensor: ``(B, N_keep, D)``.

        Raises:
            ValueError: wrong shape, or samples keeping different counts.
        """
        B, N, D = x.shape
        if mask.dtype != torch.bool:
            raise ValueError(f'mask must be torch.bool, got {mask.dtype}')
        if tuple(mask.shape) != (B, N):
            raise ValueError(f'mask shape {tuple(mask.shape)} does not match '
                             f'the {N} tokens of a batch of {B}')
        return gather_tokens(x, ~mask, num_visible, 'num_visible')

    def no_weight_decay(self) -> Set[str]:
        """Official (timm-style) names excluded from weight decay.

        Neither is a parameter here (the table is a fixed buffer, there is no
        class token); they are returned so official-style optimizer code keeps
        working. 1-D parameters (biases, norms, q/v biases, layer scale) are
        excluded by the usual ``ndim <= 1`` rule, not listed here.

        Returns:
            set[str]: ``{'pos_embed', 'cls_token'}``.
        """
        return {'pos_embed', 'cls_token'}


def load_backbone_checkpoint(backbone: VideoMAEViT,
                             checkpoint: Union[str, Mapping],
                             map_location: str = 'cpu',
                             strict: bool = False) -> Dict[str, list]:
    """Load the encoder weights of any VideoMAE checkpoint into a backbone.

    Thin alias of :func:`mmmae.checkpoint.loaders.load_backbone_checkpoint`
    (imported here lazily, so ``mmmae.models`` never imports
    ``mmmae.checkpoint`` at module level); see there for the arguments,
    the loading report and the errors.
    """
    from mmmae.checkpoint.loaders import load_backbone_checkpoint as load
    return load(backbone, checkpoint, map_location=map_location,
                strict=strict)
