# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAE pre-training decoders (official ``SpatialOutputAdapter`` layout).

One small cross-attention decoder per output task; parameter names equal the
official ones (``output_adapters.{task}.*``). :class:`MultiModalVideoDecoder`
is the same decoder over the ``(t, h, w)`` grid of clips.
"""
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmmae.registry import MODELS
from ..backbones.multimae_vit import MultiMAETokenInfo, init_weights_multimae
from ..utils import (CrossAttention, Mlp, TransformerBlock, build_norm,
                     build_2d_sincos_posemb, gather_rows, get_sinusoid_table,
                     interpolate_pos_table, kept_indices, resize_pos_emb_2d)
from ..utils.config_checks import check_divisible, to_ntuple

__all__ = [
    'MultiMAESpatialDecoder', 'MultiModalVideoDecoder', 'MultiMAEDecoder'
]


@MODELS.register_module()
class MultiMAESpatialDecoder(nn.Module):
    """Decoder of one dense task (official ``SpatialOutputAdapter`` with
    ``use_task_queries=True, use_xattn=True``).

    1. ``proj_context`` maps all encoder tokens (global ones included) to the
       decoder width.
    2. The visible tokens are scattered into the full sequence of the present
       modalities with ``mask_token`` at masked positions; every position
       gets ``task_embeddings[modality] + pos_emb``.
    3. Queries: the full slice of ``task`` (visible outputs + mask tokens);
       if ``task`` is not an input, ``mask_token + pos_emb (+ task emb)``.
    4. Context: the visible tokens (with embeddings) + the projected global
       tokens.
    5. ``x = decoder(query_norm(q), context_norm(ctx))`` (no residual),
       ``x = x + mlp(out_norm(x))``, ``decoder_transformer``, ``out_proj``
       to ``C * ph * pw`` per token, un-patchified channels-slowest
       (``b (nh nw) (c ph pw) -> b c (nh ph) (nw pw)``).

    Args:
        num_channels (int): Output channels (3 rgb, 1 depth, classes for
            semseg).
        task (str): Modality whose slice gives the queries (``'rgb'`` for
            the ``norm_rgb`` decoder).
        context_tasks (Sequence[str]): Modalities with a learned task
            embedding.
        encoder_dims (int): Encoder width. Defaults to 768.
        embed_dims (int): Decoder width. Defaults to 256.
        num_layers (int): Self-attention blocks after the cross-attention.
            Defaults to 2.
        num_heads (int): Defaults to 8.
        mlp_ratio (float): Defaults to 4.
        qkv_bias (bool): Biases of the attention projections.
        patch_size (int | tuple): Patch size at full resolution. Defaults to
            16.
        stride_level (int): The output is ``1/stride_level`` resolution
            (4 for semseg). Defaults to 1.
        img_size (int | tuple): Size of the stored ``pos_emb``.
        drop_rate, attn_drop_rate, drop_path_rate (float): Regularisation of
            the decoder blocks.
        norm_eps (float): Epsilon of every LayerNorm (``context_norm``,
            ``query_norm``, ``out_norm`` and the blocks). Defaults to 1e-6
            (official MultiMAE).
    """

    def __init__(self,
                 num_channels: int,
                 task: str,
                 context_tasks: Sequence[str] = ('rgb', 'depth', 'semseg'),
                 encoder_dims: int = 768,
                 embed_dims: int = 256,
                 num_layers: int = 2,
                 num_heads: int = 8,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 patch_size: Union[int, Sequence[int]] = 16,
                 stride_level: int = 1,
                 img_size: Union[int, Sequence[int]] = 224,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 norm_eps: float = 1e-6) -> None:
        super().__init__()
        self.num_channels = num_channels
        self.task = task
        self.context_tasks = list(context_tasks)
        self.embed_dims = embed_dims
        ph, pw = to_ntuple(patch_size, 2)
        check_divisible(f'MultiMAESpatialDecoder({task!r})', 'patch_size',
                        (ph, pw), 'stride_level', stride_level)
        check_divisible(f'MultiMAESpatialDecoder({task!r})', 'img_size',
                        to_ntuple(img_size, 2), 'patch_size', (ph, pw))
        self.patch_size = (ph // stride_level, pw // stride_level)
        self.stride_level = stride_level
        img_h, img_w = to_ntuple(img_size, 2)
        grid = (img_h // ph, img_w // pw)
        hidden = int(embed_dims * mlp_ratio)

        self._init_positions(grid, embed_dims)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.task_embeddings = nn.ParameterDict({
            t: nn.Parameter(torch.zeros(1, 1, embed_dims))
            for t in self.context_tasks
        })
        self.proj_context = nn.Linear(encoder_dims, embed_dims)
        self.decoder = CrossAttention(
            embed_dims,
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop_rate,
            proj_drop=drop_rate)
        self.norm_eps = norm_eps
        self.context_norm = build_norm(embed_dims, eps=norm_eps)
        self.query_norm = build_norm(embed_dims, eps=norm_eps)
        self.out_norm = build_norm(embed_dims, eps=norm_eps)
        self.mlp = Mlp(embed_dims, hidden, drop=drop_rate)
        dpr = torch.linspace(
            0, drop_path_rate, max(num_layers, 1), device='cpu').tolist()
        self.decoder_transformer = nn.Sequential(*[
            TransformerBlock(
                embed_dims,
                num_heads,
                hidden,
                qkv_bias='qkv' if qkv_bias else False,
                drop_rate=drop_rate,
                attn_drop_rate=attn_drop_rate,
                drop_path_rate=dpr[i]) for i in range(num_layers)
        ])
        for blk in self.decoder_transformer:
            # TransformerBlock builds its norms with the 1e-6 default; eps is
            # a plain attribute that LayerNorm.forward reads.
            blk.norm1.eps = blk.norm2.eps = norm_eps
        self.out_proj = nn.Linear(embed_dims,
                                  num_channels * self.pixels_per_token)

    def _init_positions(self, grid: Tuple[int, int], embed_dims: int) -> None:
        """The fixed 2-D sin-cos ``pos_emb`` of the configured grid (a
        frozen Parameter, in checkpoints as official)."""
        self.pos_emb = nn.Parameter(
            build_2d_sincos_posemb(*grid, embed_dims), requires_grad=False)

    @property
    def pixels_per_token(self) -> int:
        """Output values per token and channel (``ph * pw``)."""
        return self.patch_size[0] * self.patch_size[1]

    def get_pos(self, grid: Sequence[int]) -> torch.Tensor:
        """``(1, N, C_dec)`` positions of a token grid ``(h, w)``."""
        return resize_pos_emb_2d(self.pos_emb, grid, 'bilinear')

    def unpatchify(self, x: torch.Tensor,
                   grid: Sequence[int]) -> torch.Tensor:
        """``(B, h*w, C*ph*pw)`` -> ``(B, C, h*ph, w*pw)``, channels
        slowest (``b (nh nw) (c ph pw) -> b c (nh ph) (nw pw)``)."""
        B = x.shape[0]
        nh, nw = grid
        ph, pw = self.patch_size
        x = x.reshape(B, nh, nw, self.num_channels, ph, pw)
        x = x.permute(0, 3, 1, 4, 2, 5)
        return x.reshape(B, self.num_channels, nh * ph, nw * pw)

    def init_weights(self) -> None:
        """Official init: xavier Linears, LN (1, 0), trunc-normal(.02)
        ``mask_token`` and task embeddings."""
        init_weights_multimae(self)
        nn.init.trunc_normal_(self.mask_token, std=.02)
        for emb in self.task_embeddings.values():
            nn.init.trunc_normal_(emb, std=.02)

    def _task_emb(self, name: str) -> Optional[torch.Tensor]:
        return self.task_embeddings[name] \
            if name in self.task_embeddings else None

    def get_queries_and_context(
            self, x: torch.Tensor,
            info: MultiMAETokenInfo) -> Tuple[torch.Tensor, torch.Tensor]:
        """Build the queries and the context from projected encoder tokens.

        Args:
            x (Tensor): ``(B, N_vis + G, C_dec)`` projected encoder tokens.
            info (MultiMAETokenInfo): Sequence layout from the encoder.

        Returns:
            tuple: queries ``(B, h*w, C_dec)`` and context
            ``(B, N_vis + G, C_dec)``.
        """
        B, _, C = x.shape
        G = info.num_global_tokens
        vis, glob = (x[:, :-G], x[:, -G:]) if G > 0 else (x, x[:, :0])
        pos = self.get_pos(info.grid).to(x.dtype)  # (1, N_d, C)

        # Full sequence: mask tokens everywhere, visible outputs scattered
        # in (visible_ids ascend, so this is the official un-shuffle).
        if info.visible_ids is None:
            full = vis
        else:
            full = self.mask_token.to(x.dtype).expand(
                B, info.num_tokens, C).clone()
            ids = info.visible_ids[..., None].expand(-1, -1, C)
            full = full.scatter(1, ids, vis)
        embs = []
        for name, (start, end) in info.tasks.items():
            if end - start != pos.shape[1]:
                raise ValueError(
                    f'{name!r} has {end - start} tokens, the decoder grid '
                    f'{info.grid} has {pos.shape[1]}')
            emb = self._task_emb(name)
            embs.append(pos if emb is None else pos + emb.to(x.dtype))
        full = full + torch.cat(embs, dim=1)

        if self.task in info.tasks:
            start, end = info.tasks[self.task]
            queries = full[:, start:end]
        else:
            queries = self.mask_token.to(x.dtype) + pos
            emb = self._task_emb(self.task)
            if emb is not None:
                queries = queries + emb.to(x.dtype)
            queries = queries.expand(B, -1, -1)

        if info.visible_ids is None:
            context = full
        else:
            context = gather_rows(full, info.visible_ids)
        return queries, torch.cat([context, glob], dim=1)

    def forward(self,
                tokens: torch.Tensor,
                info: MultiMAETokenInfo,
                decoder_mask: Optional[torch.Tensor] = None,
                num_decoded: Optional[int] = None) -> torch.Tensor:
        """Predict the task's map.

        Args:
            tokens (Tensor): Encoder output ``(B, N_vis + G, D)``.
            info (MultiMAETokenInfo): Layout from the encoder.
            decoder_mask (Tensor, optional): VideoMAE V2 decoder masking,
                ``(B, N_d)`` bool over the task's tokens, True = not
                reconstructed: only the other queries enter the decoder
                (the visible tokens still reach them as context) and the
                skipped tokens are predicted as 0.
            num_decoded (int, optional): False entries per row of
                ``decoder_mask``, known on the host (no device sync).

        Returns:
            Tensor: ``(B, C, h * ph, w * pw)`` (``1/stride_level`` of the full
            resolution).
        """
        x = self.proj_context(tokens)
        queries, context = self.get_queries_and_context(x, info)
        ids = None
        if decoder_mask is not None:
            if decoder_mask.shape != queries.shape[:2]:
                raise ValueError(
                    f'{type(self).__name__}({self.task!r}): decoder_mask '
                    f'has shape {tuple(decoder_mask.shape)}, the queries '
                    f'{tuple(queries.shape[:2])}')
            ids = kept_indices(~decoder_mask, num_decoded,
                               'the decoder masks')
            queries = gather_rows(queries, ids)
        x = self.decoder(self.query_norm(queries), self.context_norm(context))
        x = x + self.mlp(self.out_norm(x))
        x = self.decoder_transformer(x)
        x = self.out_proj(x)
        if ids is not None:
            full = x.new_zeros(x.shape[0], decoder_mask.shape[1], x.shape[2])
            x = full.scatter(1, ids[..., None].expand(-1, -1, x.shape[2]), x)
        return self.unpatchify(x, info.grid)


@MODELS.register_module()
class MultiModalVideoDecoder(MultiMAESpatialDecoder):
    """:class:`MultiMAESpatialDecoder` for clips: the same cross-attention
    decoder over a ``(t, h, w)`` token grid.

    Positions are VideoMAE's fixed 1-D sin-cos table over the flattened
    ``(t, h, w)`` index (a non-persistent buffer, resampled trilinearly for
    other grids), and every token predicts a ``t x ph x pw`` tubelet:
    ``(B, C, T, H, W)`` at ``1/stride_level`` spatial resolution.

    Args:
        tubelet_size (int): Frames per token. Defaults to 2.
        num_frames (int): Configured clip length. Defaults to 16.
        **kwargs: The arguments of :class:`MultiMAESpatialDecoder`.
    """

    def __init__(self, *args, tubelet_size: int = 2, num_frames: int = 16,
                 **kwargs) -> None:
        check_divisible('MultiModalVideoDecoder', 'num_frames', num_frames,
                        'tubelet_size', tubelet_size)
        self.tubelet_size = tubelet_size
        self.num_frames = num_frames
        super().__init__(*args, **kwargs)

    def _init_positions(self, grid: Tuple[int, int], embed_dims: int) -> None:
        self.grid_size = (self.num_frames // self.tubelet_size, *grid)
        num = self.grid_size[0] * self.grid_size[1] * self.grid_size[2]
        self.register_buffer(
            'pos_embed', get_sinusoid_table(num, embed_dims)[None],
            persistent=False)
        self._pos_cache: Dict[tuple, torch.Tensor] = {}

    @property
    def pixels_per_token(self) -> int:
        return self.tubelet_size * self.patch_size[0] * self.patch_size[1]

    def get_pos(self, grid: Sequence[int]) -> torch.Tensor:
        """``(1, N, C_dec)`` positions of a token grid ``(t, h, w)``."""
        grid = tuple(int(g) for g in grid)
        if len(grid) != 3:
            raise ValueError(f'MultiModalVideoDecoder({self.task!r}) needs '
                             f'a (t, h, w) token grid, got {grid}')
        if grid == self.grid_size:
            return self.pos_embed
        key = (grid, self.pos_embed.device, self.pos_embed.dtype)
        if key not in self._pos_cache:
            self._pos_cache[key] = interpolate_pos_table(
                self.pos_embed, self.grid_size, grid)
        return self._pos_cache[key]

    def unpatchify(self, x: torch.Tensor,
                   grid: Sequence[int]) -> torch.Tensor:
        """``(B, t*h*w, C*pt*ph*pw)`` -> ``(B, C, t*pt, h*ph, w*pw)``,
        channels slowest."""
        B = x.shape[0]
        nt, nh, nw = grid
        pt, (ph, pw) = self.tubelet_size, self.patch_size
        x = x.reshape(B, nt, nh, nw, self.num_channels, pt, ph, pw)
        x = x.permute(0, 4, 1, 5, 2, 6, 3, 7)
        return x.reshape(B, self.num_channels, nt * pt, nh * ph, nw * pw)


@MODELS.register_module()
class MultiMAEDecoder(BaseModule):
    """All MultiMAE task decoders (``output_adapters`` ModuleDict).

    Args:
        output_adapters (dict): ``task -> decoder config`` (or module). A
            config without ``type`` is a :class:`MultiMAESpatialDecoder`; its
            ``task`` defaults to the key (set ``task='rgb'`` for the official
            ``norm_rgb`` decoder, whose queries are the rgb slice). Missing
            arguments are taken from ``common``.
        common (dict, optional): Defaults shared by every decoder, e.g.
            ``dict(encoder_dims=768, embed_dims=256, num_layers=2,
            num_heads=8, context_tasks=['rgb', 'depth', 'semseg'],
            img_size=224, patch_size=16)``.
        norm_eps (float, optional): Default LayerNorm epsilon of every
            decoder built from a config; ``common`` or a decoder's own config
            may set another. None keeps :class:`MultiMAESpatialDecoder`'s
            default (1e-6).
        init_cfg (dict | list, optional): MMEngine init config.
    """

    def __init__(self,
                 output_adapters: Mapping[str, Union[dict, nn.Module]],
                 common: Optional[dict] = None,
                 norm_eps: Optional[float] = None,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        common = dict(common or {})
        if norm_eps is not None:
            common.setdefault('norm_eps', norm_eps)
        adapters = OrderedDict()
        for name, cfg in output_adapters.items():
            if isinstance(cfg, dict):
                cfg = {**common, **cfg}
                cfg.setdefault('type', 'mmmae.MultiMAESpatialDecoder')
                cfg.setdefault('task', name)
                cfg = MODELS.build(cfg)
            adapters[name] = cfg
        self.output_adapters = nn.ModuleDict(adapters)

    def init_weights(self) -> None:
        """Official init of every decoder unless ``init_cfg`` is given."""
        if self.init_cfg is None:
            for m in self.output_adapters.values():
                if hasattr(m, 'init_weights'):
                    m.init_weights()
            return
        super().init_weights()

    def forward(self,
                tokens: torch.Tensor,
                info: MultiMAETokenInfo,
                tasks: Optional[Sequence[str]] = None,
                decoder_masks: Optional[Mapping[str, torch.Tensor]] = None,
                num_decoded: Optional[Mapping[str, int]] = None
                ) -> Dict[str, torch.Tensor]:
        """Run the decoders.

        Args:
            tokens (Tensor): Encoder output ``(B, N_vis + G, D)``.
            info (MultiMAETokenInfo): Layout from the encoder.
            tasks (Sequence[str], optional): Decoders to run; all by default.
            decoder_masks (Mapping, optional): ``modality -> (B, N_d)``
                bool, True = not reconstructed (VideoMAE V2); each decoder
                uses the mask of its query modality (``task``), if any.
            num_decoded (Mapping, optional): ``modality -> decoded tokens
                per sample``, known on the host.

        Returns:
            dict: ``task -> (B, C, h, w)`` predictions.
        """
        names = list(self.output_adapters) if tasks is None else list(tasks)
        decoder_masks = decoder_masks or {}
        num_decoded = num_decoded or {}
        out = OrderedDict()
        for name in names:
            dec = self.output_adapters[name]
            query = getattr(dec, 'task', name)
            if query in decoder_masks:
                out[name] = dec(tokens, info, decoder_masks[query],
                                num_decoded.get(query))
            else:
                out[name] = dec(tokens, info)
        return out
