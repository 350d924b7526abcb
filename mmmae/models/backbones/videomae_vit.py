# Copyright (c) mmmae contributors. All rights reserved.
"""VideoMAE ViT encoder (official V1/V2 layout, MMEngine module)."""
import logging
import re
from typing import (Dict, List, Mapping, Optional, Sequence, Set, Tuple,
                    Union)

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmengine.logging import print_log
from mmengine.model import BaseModule

from mmmae.registry import MODELS
from ..utils import (VIT_ARCH_ZOO, TransformerBlock, build_norm,
                     gather_tokens, get_sinusoid_table,
                     init_weights_official_finetune,
                     init_weights_official_pretrain, interpolate_pos_table,
                     parse_vit_arch)
from ..utils.config_checks import check_divisible, to_ntuple

__all__ = ['VideoMAEViT', 'TubeletEmbed', 'load_backbone_checkpoint']

# MMAction2 ``VisionTransformer`` (vit_mae) names -> ours, below a prefix.
_MMACTION_NAMES = (
    (re.compile(r'^patch_embed\.projection\.'), 'patch_embed.proj.'),
    (re.compile(r'^(blocks\.\d+\.mlp\.)layers\.0\.0\.'), r'\1fc1.'),
    (re.compile(r'^(blocks\.\d+\.mlp\.)layers\.1\.'), r'\1fc2.'),
)


class TubeletEmbed(nn.Module):
    """Non-overlapping ``t x p x p`` tube embedding.

    The weights are a ``Conv3d`` (official key layout, ``proj.weight``
    ``(D, C, t, p, p)``), but the stride equals the kernel, so the embedding
    is a patchify (one reshape/permute copy) followed by one matmul with the
    flattened kernel: the same function, 1.5x faster than ``nn.Conv3d`` for
    forward + weight gradient of two ViT-B clips on a 2-core CPU (0.28 vs
    0.43 s). On an H200 (bf16, batch 32) cuDNN's Conv3d kernel showed as
    11% of the profiled step, but the whole step did not measurably change.

    Args:
        in_channels (int): Input channels ``C``.
        embed_dims (int): Token width ``D``.
        tubelet_size (int): Frames per token ``t``.
        patch_size (int | tuple): Spatial patch ``p`` (or ``(ph, pw)``).
    """

    def __init__(self, in_channels: int, embed_dims: int, tubelet_size: int,
                 patch_size: Union[int, Sequence[int]]) -> None:
        super().__init__()
        ph, pw = to_ntuple(patch_size, 2)
        self.kernel = (tubelet_size, ph, pw)
        self.proj = nn.Conv3d(
            in_channels, embed_dims, kernel_size=self.kernel,
            stride=self.kernel)

    def forward(self,
                x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int, int]]:
        """Embed a clip.

        Args:
            x (Tensor): ``(B, C, T, H, W)``.

        Returns:
            tuple: tokens ``(B, N, D)`` in ``(t, h, w)`` row-major order and
            the grid ``(T', H', W')``.
        """
        T, H, W = x.shape[-3:]
        t, ph, pw = self.kernel
        if T % t or H % ph or W % pw:
            raise ValueError(f'input clip (T, H, W)={(T, H, W)} is not '
                             f'divisible by the tubelet {self.kernel}')
        B, C = x.shape[:2]
        grid = (T // t, H // ph, W // pw)
        # (B, C, T', t, H', ph, W', pw) -> (B, T' H' W', C t ph pw): the
        # flattening order of the Conv3d weight, tokens in (t, h, w) order
        patches = x.reshape(B, C, grid[0], t, grid[1], ph, grid[2],
                            pw).permute(0, 2, 4, 6, 1, 3, 5, 7).reshape(
                                B, grid[0] * grid[1] * grid[2], -1)
        weight = self.proj.weight.reshape(self.proj.out_channels, -1)
        return F.linear(patches, weight, self.proj.bias), grid


@MODELS.register_module()
class VideoMAEViT(BaseModule):
    """ViT encoder of VideoMAE (V1) and VideoMAE V2.

    Tubelet Conv3d embedding, a fixed 1-D sin-cos table over the flattened
    token index, pre-LN blocks with q/v biases, final LayerNorm. Given a mask
    it encodes only the visible tokens (MAE pretraining); without one it
    encodes every token (feature extraction / fine-tuning).

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

    arch_zoo: Dict[str, Dict[str, int]] = VIT_ARCH_ZOO

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
        super().__init__(init_cfg=init_cfg)
        arch_cfg = self._parse_arch(arch)
        self.embed_dims = arch_cfg['embed_dims']
        self.num_layers = arch_cfg['num_layers']
        self.num_heads = arch_cfg['num_heads']
        self.feedforward_channels = arch_cfg['feedforward_channels']

        self.img_size = to_ntuple(img_size, 2)
        self.patch_size = patch_size
        self.in_channels = in_channels
        self.num_frames = num_frames
        self.tubelet_size = tubelet_size
        self.use_mean_pooling = use_mean_pooling
        self.with_cp = with_cp
        self.return_feat_map = return_feat_map
        # tables for other token grids: {(grid, device, dtype): table}
        self._pos_cache: Dict[tuple, torch.Tensor] = {}

        ph, pw = to_ntuple(patch_size, 2)
        check_divisible('VideoMAEViT', 'num_frames', num_frames,
                        'tubelet_size', tubelet_size)
        check_divisible('VideoMAEViT', 'img_size', self.img_size,
                        'patch_size', (ph, pw))
        self.grid_size = (num_frames // tubelet_size, self.img_size[0] // ph,
                          self.img_size[1] // pw)
        self.num_patches = (self.grid_size[0] * self.grid_size[1] *
                            self.grid_size[2])

        self.patch_embed = TubeletEmbed(in_channels, self.embed_dims,
                                        tubelet_size, patch_size)
        # Fixed table: not a parameter and not in checkpoints (as official).
        self.register_buffer(
            'pos_embed',
            get_sinusoid_table(self.num_patches, self.embed_dims)[None],
            persistent=False)
        self.drop_after_pos = nn.Dropout(drop_rate)

        dpr = torch.linspace(0, drop_path_rate, self.num_layers).tolist()
        self.blocks = nn.ModuleList([
            TransformerBlock(
                self.embed_dims,
                self.num_heads,
                self.feedforward_channels,
                qkv_bias=qkv_bias,
                qk_scale=qk_scale,
                drop_rate=drop_rate,
                attn_drop_rate=attn_drop_rate,
                drop_path_rate=dpr[i],
                layer_scale_init_value=layer_scale_init_value)
            for i in range(self.num_layers)
        ])
        for blk in self.blocks:
            # TransformerBlock builds its norms with the 1e-6 default; eps is
            # a plain attribute that LayerNorm.forward reads, so setting it
            # here equals passing it to the constructor.
            blk.norm1.eps = blk.norm2.eps = norm_eps
        self.norm_eps = norm_eps
        self.fc_norm_eps = norm_eps if fc_norm_eps is None else fc_norm_eps
        if use_mean_pooling:
            self.norm = nn.Identity()
            self.fc_norm = build_norm(self.embed_dims, eps=self.fc_norm_eps)
        else:
            self.norm = build_norm(self.embed_dims, eps=norm_eps)
            self.fc_norm = None

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
        """
        if getattr(self, '_is_init', False):
            return super().init_weights()
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
        super().init_weights()

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
        """Positional table for a token grid.

        Args:
            grid (Sequence[int]): ``(T', H', W')`` of the input.

        Returns:
            Tensor: ``(1, T'H'W', D)``.
        """
        grid = tuple(int(g) for g in grid)
        if grid == self.grid_size:
            return self.pos_embed
        key = (grid, self.pos_embed.device, self.pos_embed.dtype)
        table = self._pos_cache.get(key)
        if table is None:
            if not self._pos_cache:
                print_log(
                    f'{type(self).__name__}: the input gives a {grid} token '
                    f'grid, the model was built for {self.grid_size} '
                    '(img_size / num_frames): interpolating the position '
                    'table once and caching it',
                    logger='current',
                    level=logging.INFO)
            table = interpolate_pos_table(self.pos_embed, self.grid_size,
                                          grid)
            self._pos_cache[key] = table
        return table

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
        x, grid = self.patch_embed(x)
        B, N, D = x.shape
        x = x + self.get_pos_embed(grid).to(dtype=x.dtype)
        x = self.drop_after_pos(x)

        if mask is not None:
            x = self.gather_visible(x, mask, num_visible)

        use_cp = self.with_cp and self.training and torch.is_grad_enabled()
        for blk in self.blocks:
            if use_cp:
                x = cp.checkpoint(blk, x, use_reentrant=False)
            else:
                x = blk(x)
        x = self.norm(x)

        if self.return_feat_map:
            if mask is not None:
                raise ValueError('VideoMAEViT: return_feat_map needs all '
                                 'tokens; got a mask')
            return x.transpose(1, 2).reshape(B, D, *grid)
        if self.use_mean_pooling and mask is None:
            return self.fc_norm(x.mean(1))
        return x

    def get_intermediate_layers(self, x: torch.Tensor,
                                indices: Sequence[int]) -> List[torch.Tensor]:
        """Token features after chosen blocks (for feature extraction).

        Args:
            x (Tensor): ``(B, C, T, H, W)`` normalised clip.
            indices (Sequence[int]): Block indices; negative ones count from
                the end (``-1`` = last block).

        Returns:
            list[Tensor]: ``(B, N, D)`` per index, in the order asked, taken
            after the block (before the final ``norm``; apply
            ``self.norm`` yourself for the pretraining-style last layer).
        """
        wanted = []
        for i in indices:
            j = i + self.num_layers if i < 0 else i
            if not 0 <= j < self.num_layers:
                raise IndexError(f'block index {i} out of range for '
                                 f'{self.num_layers} blocks')
            wanted.append(j)
        x, grid = self.patch_embed(x)
        x = self.drop_after_pos(x + self.get_pos_embed(grid).to(x.dtype))
        outs = {}
        for j, blk in enumerate(self.blocks[:max(wanted) + 1]):
            x = blk(x)
            if j in wanted:
                outs[j] = x
        return [outs[j] for j in wanted]

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

    def get_layer_depth(self, param_name: str,
                        prefix: str = '') -> Tuple[int, int]:
        """Layer id of a parameter, for layer-wise learning-rate decay.

        ``patch_embed`` is layer 0, block ``k`` is ``k + 1``, everything else
        (``norm``, ``fc_norm``, heads) is ``num_layers + 1``.

        Args:
            param_name (str): Parameter name, e.g.
                ``'backbone.blocks.3.attn.qkv.weight'``.
            prefix (str): Prefix of this backbone's parameters in the
                model, e.g. ``'backbone.'``.

        Returns:
            tuple[int, int]: ``(layer_id, num_layers + 2)``.
        """
        total = self.num_layers + 2
        if not param_name.startswith(prefix):
            return total - 1, total
        name = param_name[len(prefix):]
        if name.startswith(('patch_embed', 'pos_embed', 'cls_token')):
            return 0, total
        if name.startswith('blocks.'):
            return int(name.split('.')[1]) + 1, total
        return total - 1, total

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
