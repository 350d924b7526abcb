# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAE multi-modal ViT encoder (official MultiMAE / MultiViT layout).

Module and parameter names equal the official ones (``global_tokens``,
``input_adapters.{modality}.{pos_emb,proj.*,class_emb.weight}``,
``encoder.{i}.*``), so an official checkpoint converts by adding the
``backbone.`` prefix.
"""
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule

from mmmae.registry import MODELS
from ..utils import (VIT_ARCH_ZOO, Attention, CrossAttention,
                     TransformerBlock, build_2d_sincos_posemb, gather_rows,
                     kept_indices, parse_vit_arch, resize_pos_emb_2d)
from ..utils.config_checks import check_divisible, to_ntuple

__all__ = [
    'PatchedInputAdapter', 'SemSegInputAdapter', 'MultiMAEViT',
    'MultiMAETokenInfo', 'init_weights_multimae', 'load_multimae_backbone'
]


class _GridAdapter(nn.Module):
    """Common part of the input adapters: grid bookkeeping and ``pos_emb``.

    Args:
        embed_dims (int): Token width ``D``.
        patch_size (int | tuple): Patch size at full resolution.
        stride_level (int): Input resolution is ``1/stride_level`` of full.
        img_size (int | tuple): Full-resolution size the stored ``pos_emb``
            is built for.
        pos_mode (str): Interpolation used at other grid sizes.
    """

    def __init__(self, embed_dims: int, patch_size: Union[int, Sequence[int]],
                 stride_level: int, img_size: Union[int, Sequence[int]],
                 pos_mode: str) -> None:
        super().__init__()
        self.embed_dims = embed_dims
        self.patch_size_full = to_ntuple(patch_size, 2)
        self.stride_level = stride_level
        ph, pw = self.patch_size_full
        if ph % stride_level or pw % stride_level:
            raise ValueError(f'patch_size {self.patch_size_full} is not '
                             f'divisible by stride_level {stride_level}')
        # Patch size on the (possibly down-scaled) input map.
        self.patch_size = (ph // stride_level, pw // stride_level)
        self.img_size = to_ntuple(img_size, 2)
        check_divisible(type(self).__name__, 'img_size', self.img_size,
                        'patch_size', self.patch_size_full)
        self.grid_size = (self.img_size[0] // ph, self.img_size[1] // pw)
        self.pos_mode = pos_mode
        # Fixed, but a (frozen) Parameter so it is in the state dict like the
        # official checkpoints (strict key parity).
        self.pos_emb = nn.Parameter(
            build_2d_sincos_posemb(*self.grid_size, embed_dims),
            requires_grad=False)

    def get_grid(self, x: torch.Tensor) -> Tuple[int, int]:
        """Token grid of an input map ``(..., h, w)`` at this stride."""
        h, w = x.shape[-2:]
        ph, pw = self.patch_size
        if h % ph or w % pw:
            raise ValueError(
                f'{type(self).__name__}: input size {(h, w)} is not '
                f'divisible by its patch size {self.patch_size}')
        return h // ph, w // pw

    def _add_pos(self, tokens: torch.Tensor,
                 grid: Tuple[int, int]) -> torch.Tensor:
        pos = resize_pos_emb_2d(self.pos_emb, grid, self.pos_mode)
        return tokens + pos.to(tokens.dtype)


@MODELS.register_module()
class PatchedInputAdapter(_GridAdapter):
    """Tokens of a dense float map (rgb, depth, ...): Conv2d ``P x P`` +
    fixed 2-D sin-cos ``pos_emb`` (bicubic-resized for other grids).

    Args:
        in_channels (int): Channels of the map (3 for rgb, 1 for depth).
        embed_dims (int): Token width ``D``. Defaults to 768.
        patch_size (int | tuple): Patch size at full resolution. Defaults to
            16.
        stride_level (int): Resolution divisor of the input. Defaults to 1.
        img_size (int | tuple): Full-resolution size of the stored
            ``pos_emb``. Defaults to 224.
    """

    def __init__(self,
                 in_channels: int,
                 embed_dims: int = 768,
                 patch_size: Union[int, Sequence[int]] = 16,
                 stride_level: int = 1,
                 img_size: Union[int, Sequence[int]] = 224) -> None:
        super().__init__(embed_dims, patch_size, stride_level, img_size,
                         'bicubic')
        self.in_channels = in_channels
        self.proj = nn.Conv2d(
            in_channels,
            embed_dims,
            kernel_size=self.patch_size,
            stride=self.patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a map.

        Args:
            x (Tensor): ``(B, C, h, w)`` (``h = H / stride_level``).

        Returns:
            Tensor: ``(B, N, D)`` in ``(h, w)`` row-major order.
        """
        grid = self.get_grid(x)
        tokens = self.proj(x).flatten(2).transpose(1, 2)
        return self._add_pos(tokens, grid)


@MODELS.register_module()
class SemSegInputAdapter(_GridAdapter):
    """Tokens of a class-id map given at ``1/stride_level`` resolution.

    ``class_emb`` (``nn.Embedding``) turns ids into ``dim_class_emb``
    channels, then a Conv2d with kernel = stride = ``patch_size /
    stride_level`` gives the same token grid as the full-resolution
    modalities; ``pos_emb`` is resized bilinearly (as official).

    Args:
        num_classes (int): Number of class ids (embedding rows).
        embed_dims (int): Token width ``D``. Defaults to 768.
        patch_size (int | tuple): Patch size at full resolution. Defaults to
            16.
        stride_level (int): Resolution divisor of the map. Defaults to 4.
        img_size (int | tuple): Full-resolution size of the stored
            ``pos_emb``. Defaults to 224.
        dim_class_emb (int): Class embedding width. Defaults to 64.
        padding_idx (int, optional): ``nn.Embedding`` padding index (the
            official fine-tuning uses ``num_classes - 1`` for an extra
            "unlabelled" row).
    """

    def __init__(self,
                 num_classes: int,
                 embed_dims: int = 768,
                 patch_size: Union[int, Sequence[int]] = 16,
                 stride_level: int = 4,
                 img_size: Union[int, Sequence[int]] = 224,
                 dim_class_emb: int = 64,
                 padding_idx: Optional[int] = None) -> None:
        super().__init__(embed_dims, patch_size, stride_level, img_size,
                         'bilinear')
        self.num_classes = num_classes
        self.class_emb = nn.Embedding(
            num_classes, dim_class_emb, padding_idx=padding_idx)
        self.proj = nn.Conv2d(
            dim_class_emb,
            embed_dims,
            kernel_size=self.patch_size,
            stride=self.patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a class-id map.

        Args:
            x (Tensor): ``(B, h, w)`` int64 ids in ``[0, num_classes)``
                (``h = H / stride_level``); a ``(B, 1, h, w)`` map is
                accepted too.

        Returns:
            Tensor: ``(B, N, D)``.
        """
        if x.dim() == 4:
            x = x.squeeze(1)
        grid = self.get_grid(x)
        x = self.class_emb(x.long()).permute(0, 3, 1, 2)  # (B, E, h, w)
        tokens = self.proj(x).flatten(2).transpose(1, 2)
        return self._add_pos(tokens, grid)


@dataclass
class MultiMAETokenInfo:
    """Layout of the encoder sequence, passed from backbone to decoder.

    The full token sequence is the concatenation of the present modalities
    in adapter (config) order; ``visible_ids`` index into it.

    Attributes:
        tasks (OrderedDict): ``name -> (start, end)`` slice of each present
            modality in the full sequence.
        grid (tuple): Token grid ``(h, w)`` shared by all modalities.
        num_tokens (int): Length ``N_all`` of the full sequence.
        visible_ids (Tensor, optional): ``(B, N_vis)`` int64, ascending
            indices of the encoded tokens; None when every token is encoded.
        masks (dict): ``name -> (B, N_d)`` bool, True = masked (all False
            for modalities encoded whole).
        num_global_tokens (int): Global tokens appended after the patch
            tokens.
    """
    tasks: 'OrderedDict[str, Tuple[int, int]]'
    grid: Tuple[int, int]
    num_tokens: int
    visible_ids: Optional[torch.Tensor] = None
    masks: Dict[str, torch.Tensor] = field(default_factory=dict)
    num_global_tokens: int = 1


def init_weights_multimae(model: nn.Module) -> None:
    """Official MultiMAE init of a module tree.

    xavier-uniform Linears (fused ``qkv``/``kv`` weights as three/two
    separate square-ish matrices, so each gets the fan of one projection),
    zero biases, LayerNorm (1, 0), xavier on the flattened weight of the
    patch-projection convolutions (they act as Linears over a patch) and
    trunc-normal(.02) class embeddings. Parameters that are not module
    weights (global tokens, mask tokens, task embeddings) are initialised by
    their owners.

    Args:
        model (nn.Module): Root module; names are used to find ``qkv``/``kv``.
    """
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            leaf = name.rsplit('.', 1)[-1]
            parts = {'qkv': 3, 'kv': 2}.get(leaf, 1)
            if parts > 1:
                bound = math.sqrt(
                    6. / float(m.weight.shape[0] // parts + m.weight.shape[1]))
                nn.init.uniform_(m.weight, -bound, bound)
            else:
                nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            if m.weight is not None:
                nn.init.ones_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d) and name.endswith('proj'):
            w = m.weight.data
            nn.init.xavier_uniform_(w.view(w.shape[0], -1))
            # The conv bias keeps PyTorch's default init, as official.
        elif isinstance(m, nn.Embedding):
            nn.init.trunc_normal_(m.weight, std=.02)
        elif isinstance(m, Attention) and m.q_bias is not None:
            nn.init.zeros_(m.q_bias)
            nn.init.zeros_(m.v_bias)
        elif isinstance(m, CrossAttention):
            pass  # its Linears are handled above by name (``kv``)


@MODELS.register_module()
class MultiMAEViT(BaseModule):
    """Shared ViT encoder of MultiMAE over any subset of modalities.

    Each present modality is embedded by its input adapter; the patch tokens
    are concatenated in adapter order, the visible ones (``mask == False``)
    gathered in ascending order, the learned ``global_tokens`` appended
    **after** them (no positional embedding), and the sequence run through
    ``encoder`` (pre-LN blocks with a fused ``qkv`` bias). There is no final
    LayerNorm (official).

    Args:
        input_adapters (dict): ``name -> adapter config`` (or module), e.g.
            ``dict(rgb=dict(type='PatchedInputAdapter', in_channels=3))``.
            ``embed_dims``, ``patch_size`` and ``img_size`` default to the
            backbone's. The order is the token order.
        arch (str | dict): ``'b'``/``'base'``, ``'l'``/``'large'``, ``'s'``,
            ``'tiny'``, or a dict with ``embed_dims``, ``num_layers``,
            ``num_heads`` and ``mlp_ratio`` / ``feedforward_channels``.
        img_size (int | tuple): Default adapter ``img_size``. Defaults to 224.
        patch_size (int): Default adapter ``patch_size``. Defaults to 16.
        num_global_tokens (int): Defaults to 1.
        qkv_bias (bool | str): Block attention bias; ``'qkv'`` (fused, the
            official layout) by default; ``True`` gives q/v biases.
        drop_rate (float): Dropout in the blocks.
        attn_drop_rate (float): Attention-weight dropout.
        drop_path_rate (float): Max stochastic depth (linear over depth).
        with_cp (bool): Activation checkpointing of each block in training.
        out_indices (Sequence[int], optional): Downstream (MultiViT) mode:
            return the outputs of these blocks (negative = from the end),
            e.g. ``(2, 5, 8, 11)`` for DPT, ``(11,)`` or ``(-1,)`` for the
            ConvNeXt head. None (default) is the pre-training interface
            returning ``(tokens, info)``.
        out_type (str): Downstream output per index: ``'featmap'`` (the
            ``main_tasks`` tokens concatenated along channels and reshaped to
            ``(B, D * len(main_tasks), h, w)``, as the official dense heads
            consume them) or ``'raw'`` (all tokens ``(B, N + G, D)``, global
            token last, for classification heads). Defaults to
            ``'featmap'``.
        main_tasks (Sequence[str]): Modalities whose tokens form the dense
            feature maps. Defaults to ``('rgb',)``; use ``('depth',)`` for
            depth-only input.
        frozen (bool): Linear probing: no parameter of the backbone
            requires grad (so DDP needs no ``find_unused_parameters``) and
            the backbone stays in eval mode (no drop path) even when the
            model is put in training mode. Defaults to False.
        input_channels (dict, optional): How a single ``(B, C, H, W)``
            tensor (what mmseg/mmpretrain pass) splits into modalities, in
            channel order, e.g. ``dict(rgb=3, depth=1)``. Semseg channels
            hold class ids at full resolution and are subsampled (nearest)
            to the adapter's stride. Defaults to every adapter in order
            (``in_channels`` of patched adapters, 1 for semseg).
        norm_eps (float): Epsilon of every LayerNorm of the encoder blocks.
            Defaults to 1e-6 (official MultiMAE).
        init_cfg (dict | list, optional): MMEngine init config; None = the
            official init (:func:`init_weights_multimae`).
            ``dict(type='Pretrained', checkpoint=PATH)`` loads the encoder of
            any MultiMAE checkpoint through :func:`load_multimae_backbone`
            (official MultiMAE/MultiViT, mmmae pre-training or fine-tuning,
            timm-exported), resizing ``pos_emb`` and the semseg class table.
    """

    arch_zoo: Dict[str, Dict[str, int]] = VIT_ARCH_ZOO

    def __init__(self,
                 input_adapters: Mapping[str, Union[dict, nn.Module]],
                 arch: Union[str, dict] = 'b',
                 img_size: Union[int, Sequence[int]] = 224,
                 patch_size: int = 16,
                 num_global_tokens: int = 1,
                 qkv_bias: Union[bool, str] = 'qkv',
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 with_cp: bool = False,
                 out_indices: Optional[Sequence[int]] = None,
                 out_type: str = 'featmap',
                 main_tasks: Sequence[str] = ('rgb', ),
                 input_channels: Optional[Mapping[str, int]] = None,
                 frozen: bool = False,
                 norm_eps: float = 1e-6,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        arch_cfg = self._parse_arch(arch)
        self.embed_dims = arch_cfg['embed_dims']
        self.num_layers = arch_cfg['num_layers']
        self.num_heads = arch_cfg['num_heads']
        self.feedforward_channels = arch_cfg['feedforward_channels']
        self.num_global_tokens = num_global_tokens
        self.with_cp = with_cp
        if not input_adapters:
            raise ValueError('MultiMAEViT needs at least one input adapter')

        check_divisible('MultiMAEViT', 'img_size', to_ntuple(img_size, 2),
                        'patch_size', to_ntuple(patch_size, 2))
        adapters = OrderedDict()
        for name, cfg in input_adapters.items():
            if isinstance(cfg, dict):
                cfg = dict(cfg)
                cfg.setdefault('embed_dims', self.embed_dims)
                cfg.setdefault('patch_size', patch_size)
                cfg.setdefault('img_size', img_size)
                cfg = MODELS.build(cfg)
            adapters[name] = cfg
        self.input_adapters = nn.ModuleDict(adapters)

        self.global_tokens = nn.Parameter(
            torch.zeros(1, num_global_tokens, self.embed_dims))
        # CPU: works under a `torch.device('meta')` build context too.
        dpr = torch.linspace(
            0, drop_path_rate, self.num_layers, device='cpu').tolist()
        self.encoder = nn.Sequential(*[
            TransformerBlock(
                self.embed_dims,
                self.num_heads,
                self.feedforward_channels,
                qkv_bias=qkv_bias,
                drop_rate=drop_rate,
                attn_drop_rate=attn_drop_rate,
                drop_path_rate=dpr[i]) for i in range(self.num_layers)
        ])
        for blk in self.encoder:
            # TransformerBlock builds its norms with the 1e-6 default; eps is
            # a plain attribute that LayerNorm.forward reads.
            blk.norm1.eps = blk.norm2.eps = norm_eps
        self.norm_eps = norm_eps
        self._init_downstream(out_indices, out_type, main_tasks,
                              input_channels)
        self.frozen = frozen
        if frozen:
            self.requires_grad_(False)
            self.train(False)

    def _init_downstream(self, out_indices, out_type, main_tasks,
                         input_channels) -> None:
        """Validate the downstream (MultiViT) options at build time."""
        if out_type not in ('featmap', 'raw'):
            raise ValueError(
                f"out_type must be 'featmap' or 'raw', got {out_type!r}")
        self.out_type = out_type
        self.out_indices = None
        if out_indices is not None:
            if isinstance(out_indices, int):
                out_indices = [out_indices]
            idx = []
            for i in out_indices:
                j = i + self.num_layers if i < 0 else i
                if not 0 <= j < self.num_layers:
                    raise ValueError(
                        f'out_indices entry {i} is outside the '
                        f'{self.num_layers} encoder blocks (allowed: '
                        f'{-self.num_layers}..{self.num_layers - 1})')
                idx.append(j)
            self.out_indices = tuple(idx)
        self.main_tasks = tuple(main_tasks)
        unknown = [t for t in self.main_tasks if t not in self.input_adapters]
        if unknown or not self.main_tasks:
            raise ValueError(
                f'main_tasks {list(self.main_tasks)} must be a non-empty '
                f'subset of the input adapters {list(self.input_adapters)}')
        if input_channels is None:
            input_channels = OrderedDict(
                (name, getattr(a, 'in_channels', 1))
                for name, a in self.input_adapters.items())
        unknown = [n for n in input_channels if n not in self.input_adapters]
        if unknown:
            raise ValueError(
                f'input_channels names {unknown} have no input adapter '
                f'(adapters: {list(self.input_adapters)})')
        self.input_channels = OrderedDict(input_channels)

    @classmethod
    def _parse_arch(cls, arch: Union[str, dict]) -> Dict[str, int]:
        return parse_vit_arch(arch, cls.arch_zoo, default_mlp_ratio=4.)

    def train(self, mode: bool = True) -> 'MultiMAEViT':
        """A ``frozen`` backbone stays in eval mode."""
        return super().train(mode and not getattr(self, 'frozen', False))

    def init_weights(self) -> None:
        """Official init when ``init_cfg`` is None; with
        ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` the official
        init followed by :func:`load_multimae_backbone` (adapters absent
        from the checkpoint keep the official init); else MMEngine's."""
        if getattr(self, '_is_init', False):
            return
        cfg = self.init_cfg
        if cfg is None or (isinstance(cfg, dict)
                           and cfg.get('type') == 'Pretrained'):
            init_weights_multimae(self)
            nn.init.trunc_normal_(self.global_tokens, std=.02)
            if cfg is not None:
                load_multimae_backbone(
                    self, cfg['checkpoint'],
                    map_location=cfg.get('map_location', 'cpu'))
            self._is_init = True
            return
        super().init_weights()

    # ---------------------------------------------------------------- tokens
    def embed(self, inputs: Mapping[str, torch.Tensor]
              ) -> Tuple[torch.Tensor, 'OrderedDict[str, Tuple[int, int]]',
                         Tuple[int, int]]:
        """Embed every present modality and concatenate in adapter order.

        Args:
            inputs (Mapping): ``name -> map``; keys without an adapter are
                ignored (e.g. a target-only modality).

        Returns:
            tuple: tokens ``(B, N_all, D)``, ``name -> (start, end)`` slices
            and the shared token grid ``(h, w)``.
        """
        tokens, tasks, grid = [], OrderedDict(), None
        start = 0
        for name, adapter in self.input_adapters.items():
            if name not in inputs or inputs[name] is None:
                continue
            g = adapter.get_grid(inputs[name])
            if grid is None:
                grid = g
            elif g != grid:
                # The decoders add one grid of positions to every modality.
                raise ValueError(
                    f'modality {name!r} gives a {g} token grid but earlier '
                    f'ones gave {grid}; all modalities must share the '
                    'full-resolution size')
            t = adapter(inputs[name])
            tasks[name] = (start, start + t.shape[1])
            start += t.shape[1]
            tokens.append(t)
        if not tokens:
            raise ValueError(
                f'none of the inputs {sorted(inputs)} has an input adapter '
                f'(adapters: {list(self.input_adapters)})')
        return torch.cat(tokens, dim=1), tasks, grid

    @staticmethod
    def visible_ids_from_masks(
        masks: Mapping[str, torch.Tensor],
        tasks: Mapping[str, Tuple[int, int]],
        batch_size: int,
        device: torch.device,
        num_visible: Optional[int] = None
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Ascending visible indices in the concatenated sequence.

        Args:
            masks (Mapping): ``name -> (B, N_d)`` bool (or 0/1), True =
                masked. A present modality without a mask is fully visible.
            tasks (Mapping): ``name -> (start, end)`` of present modalities.
            batch_size (int): ``B``.
            device (torch.device): Device of the tokens.
            num_visible (int, optional): Visible tokens per sample over the
                modalities in ``masks``, counted on the host
                (:meth:`MultiMAE.stack_masks` does so before moving the
                masks). With it the ids are gathered with a fixed size: no
                device sync, no ``torch.compile`` graph break. Ignored when
                ``masks`` names a modality that is not present; None counts
                on the device.

        Returns:
            tuple: ``(B, N_vis)`` int64 ids and the per-modality bool masks.

        Raises:
            ValueError: Wrong mask shape, or samples keeping different
                numbers of tokens (they could not share one batch tensor;
                the official code silently leaks masked tokens here).
        """
        full, per_task = [], {}
        if num_visible is not None and not set(masks) <= set(tasks):
            num_visible = None  # it counts tokens that are not there
        for name, (start, end) in tasks.items():
            n = end - start
            m = masks.get(name, None)
            if m is None:
                m = torch.zeros(batch_size, n, dtype=torch.bool,
                                device=device)
                if num_visible is not None:
                    num_visible += n  # a modality without a mask is visible
            else:
                m = m.to(device).reshape(m.shape[0], -1).bool()
                if tuple(m.shape) != (batch_size, n):
                    raise ValueError(
                        f'mask of {name!r} has shape {tuple(m.shape)}, '
                        f'expected {(batch_size, n)}')
            per_task[name] = m
            full.append(m)
        keep = ~torch.cat(full, dim=1)
        if num_visible is None:  # count on the device: a sync
            counts = keep.sum(1)
            if not bool((counts == counts[0]).all()):
                raise ValueError(
                    'every sample must keep the same number of visible '
                    f'tokens (over all modalities), got {counts.tolist()}')
            num_visible = int(counts[0])
        if num_visible == 0:
            raise ValueError('the masks hide every token of every modality')
        ids = kept_indices(keep, num_visible, 'num_visible')
        return ids, per_task

    def split_channels(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Split a channel-stacked ``(B, C, H, W)`` tensor by modality.

        Args:
            x (Tensor): Channels in ``input_channels`` order, e.g. RGB then
                depth ``(B, 4, H, W)``.

        Returns:
            dict: ``name -> map``; semseg maps become ``(B, H/s, W/s)``
            int64 ids (nearest subsampling to the adapter's stride ``s``).
        """
        total = sum(self.input_channels.values())
        if x.dim() != 4 or x.shape[1] != total:
            raise ValueError(
                f'MultiMAEViT got an input of shape {tuple(x.shape)}, but '
                f'input_channels={dict(self.input_channels)} expects '
                f'(B, {total}, H, W); set backbone.input_channels (and the '
                'PackMultiModalSegInputs modalities) to the channel layout')
        out, c = OrderedDict(), 0
        for name, n in self.input_channels.items():
            part = x[:, c:c + n]
            c += n
            adapter = self.input_adapters[name]
            if isinstance(adapter, SemSegInputAdapter):
                s = adapter.stride_level
                part = torch.nn.functional.interpolate(
                    part[:, :1].float(),
                    size=(part.shape[-2] // s, part.shape[-1] // s),
                    mode='nearest')[:, 0].round().long()
            out[name] = part
        return out

    def forward(self,
                inputs: Union[torch.Tensor, Mapping[str, torch.Tensor]],
                masks: Optional[Mapping[str, torch.Tensor]] = None,
                num_visible: Optional[int] = None
                ) -> Union[Tuple[torch.Tensor, MultiMAETokenInfo],
                           Tuple[torch.Tensor, ...]]:
        """Encode the visible tokens of the present modalities.

        Args:
            inputs (Tensor | Mapping): ``name -> map``: ``(B, C, H, W)``
                float for patched adapters, ``(B, H/4, W/4)`` int64 for
                semseg; any subset of the adapters, any size divisible by
                the patch. A channel-stacked ``(B, C, H, W)`` tensor is split
                with :meth:`split_channels`.
            masks (Mapping, optional): ``name -> (B, N_d)`` bool, True =
                masked. None encodes every token (MultiViT).
            num_visible (int, optional): Host-side visible tokens per sample
                over ``masks`` (see :meth:`visible_ids_from_masks`): no
                device sync.

        Returns:
            tuple: Pre-training mode (``out_indices=None``): ``tokens``
            ``(B, N_vis + G, D)`` (visible tokens in ascending sequence
            order, then the global tokens) and a :class:`MultiMAETokenInfo`
            describing the layout. Downstream mode: one output per
            ``out_indices`` entry, ``(B, D * len(main_tasks), h, w)`` maps
            (``out_type='featmap'``) or ``(B, N + G, D)`` tokens
            (``'raw'``).
        """
        if isinstance(inputs, torch.Tensor):
            inputs = self.split_channels(inputs)
        x, tasks, grid = self.embed(inputs)
        B, N, D = x.shape
        visible_ids = None
        if masks is not None:
            visible_ids, per_task = self.visible_ids_from_masks(
                masks, tasks, B, x.device, num_visible)
            x = gather_rows(x, visible_ids)
        else:
            per_task = {
                name: torch.zeros(B, e - s, dtype=torch.bool, device=x.device)
                for name, (s, e) in tasks.items()
            }
        x = torch.cat([x, self.global_tokens.expand(B, -1, -1).to(x.dtype)],
                      dim=1)
        use_cp = self.with_cp and self.training and torch.is_grad_enabled()
        outs = []
        for i, blk in enumerate(self.encoder):
            if use_cp:
                x = cp.checkpoint(blk, x, use_reentrant=False)
            else:
                x = blk(x)
            if self.out_indices is not None and i in self.out_indices:
                outs.append(self._format_output(x, tasks, grid))
        if self.out_indices is not None:
            return tuple(outs)
        info = MultiMAETokenInfo(
            tasks=tasks,
            grid=grid,
            num_tokens=N,
            visible_ids=visible_ids,
            masks=per_task,
            num_global_tokens=self.num_global_tokens)
        return x, info

    def _format_output(self, x: torch.Tensor,
                       tasks: Mapping[str, Tuple[int, int]],
                       grid: Tuple[int, int]) -> torch.Tensor:
        """``(B, N + G, D)`` tokens -> the downstream output."""
        if self.out_type == 'raw':
            return x
        missing = [t for t in self.main_tasks if t not in tasks]
        if missing:
            raise ValueError(
                f'main_tasks {missing} are not in the input (present: '
                f'{list(tasks)}); set backbone.main_tasks to modalities you '
                "feed, e.g. ('depth',) for depth-only input")
        B, _, D = x.shape
        maps = torch.cat([x[:, s:e] for s, e in
                          (tasks[t] for t in self.main_tasks)], dim=-1)
        return maps.transpose(1, 2).reshape(B, -1, *grid)

    def get_layer_depth(self, param_name: str,
                        prefix: str = '') -> Tuple[int, int]:
        """Layer id of a parameter, for layer-wise learning-rate decay.

        Input adapters and global tokens are layer 0, ``encoder.i`` is
        ``i + 1``, everything else ``num_layers + 1``.

        Args:
            param_name (str): e.g. ``'backbone.encoder.3.attn.qkv.weight'``.
            prefix (str): This backbone's prefix, e.g. ``'backbone.'``.

        Returns:
            tuple[int, int]: ``(layer_id, num_layers + 2)``.
        """
        total = self.num_layers + 2
        if not param_name.startswith(prefix):
            return total - 1, total
        name = param_name[len(prefix):]
        if name.startswith(('input_adapters', 'global_tokens')):
            return 0, total
        if name.startswith('encoder.'):
            return int(name.split('.')[1]) + 1, total
        return total - 1, total

    def no_weight_decay(self) -> List[str]:
        """Official names excluded from weight decay (``global_tokens``;
        the fixed ``pos_emb`` are not trainable)."""
        return ['global_tokens']


def load_multimae_backbone(backbone: 'MultiMAEViT',
                           checkpoint: Union[str, Mapping],
                           map_location: str = 'cpu') -> Dict[str, list]:
    """Load the encoder of any MultiMAE checkpoint for fine-tuning.

    Thin alias of :func:`mmmae.checkpoint.loaders.load_multimae_backbone`
    (imported here lazily, so ``mmmae.models`` never imports
    ``mmmae.checkpoint`` at module level); see there for the arguments,
    the loading report and the errors.
    """
    from mmmae.checkpoint.loaders import load_multimae_backbone as load
    return load(backbone, checkpoint, map_location=map_location)
