# Copyright (c) mmmae contributors. All rights reserved.
"""The multi-modal ViT encoder both methods are configurations of.

One encoder over the concatenated tokens of any set of modalities, each
embedded by its input adapter (:mod:`.adapters`): images (``p x p``
patches, 2-D sin-cos positions) or videos (``t x p x p`` tubelets, sin-cos
positions over the ``(t, h, w)`` grid, resampled in space and time), an
optional global token, pre-LN blocks, an optional final LayerNorm.

* :class:`~mmmae.models.VideoMAEViT` is one rgb video adapter, no global
  token, q/v biases and a final norm, with the official VideoMAE names
  (``patch_embed``, ``blocks``);
* :class:`~mmmae.models.MultiMAEViT` is image adapters, one global token,
  a fused ``qkv`` bias and no final norm, with the official MultiMAE names
  (``input_adapters``, ``encoder``, ``global_tokens``);
* ``MultiModalViT`` with video adapters for rgb, depth and semseg clips is
  the multi-modal video MAE encoder (docs/multimodal_video.md).
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
                     TransformerBlock, build_norm, gather_rows, kept_indices,
                     parse_vit_arch)
from ..utils.config_checks import check_divisible, to_ntuple
from .adapters import SemSegInputAdapter, SemSegTubeletAdapter

__all__ = [
    'MultiModalViT', 'MultiModalTokenInfo', 'init_weights_multimae',
    'load_multimae_backbone'
]


@dataclass
class MultiModalTokenInfo:
    """Layout of the encoder sequence, passed from backbone to decoder.

    The full token sequence is the concatenation of the present modalities
    in adapter (config) order; ``visible_ids`` index into it.

    Attributes:
        tasks (OrderedDict): ``name -> (start, end)`` slice of each present
            modality in the full sequence.
        grid (tuple): Token grid shared by all modalities: ``(h, w)`` for
            images, ``(t, h, w)`` for videos.
        num_tokens (int): Length ``N_all`` of the full sequence.
        visible_ids (Tensor, optional): ``(B, N_vis)`` int64, ascending
            indices of the encoded tokens; None when every token is encoded.
        masks (dict): ``name -> (B, N_d)`` bool, True = masked (all False
            for modalities encoded whole).
        num_global_tokens (int): Global tokens appended after the patch
            tokens.
    """
    tasks: 'OrderedDict[str, Tuple[int, int]]'
    grid: Tuple[int, ...]
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
    trunc-normal(.02) class embeddings; the tubelet projections (``Conv3d``)
    of video adapters like the patch ones. Parameters that are not module
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
        elif isinstance(m, (nn.Conv2d, nn.Conv3d)) and name.endswith('proj'):
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
class MultiModalViT(BaseModule):
    """Shared ViT encoder over any subset of image or video modalities.

    Each present modality is embedded by its input adapter (positions
    added); the tokens are concatenated in adapter order, ``drop_after_pos``
    applied, the visible ones (``mask == False``) gathered in ascending
    order, the learned ``global_tokens`` appended **after** them (no
    position), and the sequence run through the pre-LN blocks (``layers``)
    and the optional final ``norm``.

    Args:
        input_adapters (dict): ``name -> adapter config`` (or module), e.g.
            ``dict(rgb=dict(type='mmmae.TubeletInputAdapter',
            in_channels=3))``. ``embed_dims``, ``patch_size`` and
            ``img_size`` (and for video adapters ``num_frames`` and
            ``tubelet_size``) default to the backbone's. The order is the
            token order. Adapters must give one token grid.
        arch (str | dict): ``'s'``, ``'b'``, ``'l'``, ``'h'``, ``'g'``,
            ``'tiny'`` (or the long names), or a dict with ``embed_dims``,
            ``num_layers``, ``num_heads`` and ``mlp_ratio`` /
            ``feedforward_channels``.
        img_size (int | tuple): Default adapter ``img_size``. Defaults to 224.
        patch_size (int): Default adapter ``patch_size``. Defaults to 16.
        num_frames (int): Default ``num_frames`` of video adapters.
            Defaults to 16.
        tubelet_size (int): Default ``tubelet_size`` of video adapters.
            Defaults to 2.
        num_global_tokens (int): Learned tokens appended to the sequence; 0
            for none. Defaults to 1.
        qkv_bias (bool | str): Block attention bias: ``'qkv'`` (fused, the
            MultiMAE layout, default), ``True`` (q/v biases, VideoMAE) or
            ``False``.
        qk_scale (float, optional): Attention scale override.
        drop_rate (float): Dropout in the blocks.
        pos_drop_rate (float): Dropout on the embedded tokens. Defaults to 0.
        attn_drop_rate (float): Attention-weight dropout.
        drop_path_rate (float): Max stochastic depth (linear over depth).
        layer_scale_init_value (float): Layer-scale init; 0 disables it.
        final_norm (bool): A LayerNorm after the last block (``norm``).
            Defaults to False (MultiMAE).
        with_cp (bool): Activation checkpointing of each block in training.
        out_indices (Sequence[int], optional): Downstream mode: return the
            outputs of these blocks (negative = from the end), e.g.
            ``(2, 5, 8, 11)`` for DPT. None (default) is the pre-training
            interface returning ``(tokens, info)``.
        out_type (str): Downstream output per index: ``'featmap'`` (the
            ``main_tasks`` tokens concatenated along channels and reshaped to
            ``(B, D * len(main_tasks), *grid)``) or ``'raw'`` (all tokens
            ``(B, N + G, D)``, global tokens last). Defaults to
            ``'featmap'``.
        main_tasks (Sequence[str]): Modalities whose tokens form the dense
            feature maps. Defaults to ``('rgb',)``.
        as_tuple (bool): Downstream outputs as a tuple (mmseg, mmpretrain).
            False returns the one output of a one-entry ``out_indices``
            itself: MMAction2's ``Recognizer3D`` hands the backbone output
            unchanged to heads such as ``I3DHead``, which take one
            ``(B, C, T', H', W')`` map. Defaults to True.
        input_channels (dict, optional): How a single channel-stacked tensor
            (what mmseg/mmpretrain/MMAction2 pass) splits into modalities,
            in channel order, e.g. ``dict(rgb=3, depth=1)``. Class-id
            channels are subsampled (nearest) to their adapter's stride.
            Defaults to every adapter in order.
        frozen (bool): Linear probing: no parameter requires grad and the
            backbone stays in eval mode. Defaults to False.
        norm_eps (float): Epsilon of every LayerNorm of the encoder.
            Defaults to 1e-6 (official).
        init_cfg (dict | list, optional): MMEngine init config; None = the
            official MultiMAE init (:func:`init_weights_multimae`).
            ``dict(type='Pretrained', checkpoint=PATH)`` loads the encoder
            of a checkpoint through :func:`load_multimae_backbone`.
    """

    arch_zoo: Dict[str, Dict[str, int]] = VIT_ARCH_ZOO
    #: module name of the encoder blocks (the checkpoint key prefix)
    blocks_name = 'encoder'
    #: parameter-name prefixes of layer 0 for layer-wise lr decay
    layer0_prefixes: Tuple[str, ...] = ('input_adapters', 'global_tokens')

    def __init__(self,
                 input_adapters: Mapping[str, Union[dict, nn.Module]],
                 arch: Union[str, dict] = 'b',
                 img_size: Union[int, Sequence[int]] = 224,
                 patch_size: int = 16,
                 num_frames: int = 16,
                 tubelet_size: int = 2,
                 num_global_tokens: int = 1,
                 qkv_bias: Union[bool, str] = 'qkv',
                 qk_scale: Optional[float] = None,
                 drop_rate: float = 0.,
                 pos_drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: float = 0.,
                 final_norm: bool = False,
                 with_cp: bool = False,
                 out_indices: Optional[Sequence[int]] = None,
                 out_type: str = 'featmap',
                 main_tasks: Sequence[str] = ('rgb', ),
                 as_tuple: bool = True,
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
        name = type(self).__name__
        if not input_adapters:
            raise ValueError(f'{name} needs at least one input adapter')
        check_divisible(name, 'img_size', to_ntuple(img_size, 2),
                        'patch_size', to_ntuple(patch_size, 2))
        video = dict(num_frames=num_frames, tubelet_size=tubelet_size)
        adapters = OrderedDict()
        for key, cfg in input_adapters.items():
            if isinstance(cfg, dict):
                cfg = dict(cfg)
                cfg.setdefault('embed_dims', self.embed_dims)
                cfg.setdefault('patch_size', patch_size)
                cfg.setdefault('img_size', img_size)
                kind = cfg['type']
                cls = kind if isinstance(kind, type) else MODELS.get(kind)
                if getattr(cls, 'is_video', False):
                    for k, v in video.items():
                        cfg.setdefault(k, v)
                    # name the backbone, not the adapter, in the error
                    check_divisible(name, 'num_frames', cfg['num_frames'],
                                    'tubelet_size', cfg['tubelet_size'])
                cfg = MODELS.build(cfg)
            adapters[key] = cfg
        self._register_adapters(adapters)

        if num_global_tokens > 0:
            self.global_tokens = nn.Parameter(
                torch.zeros(1, num_global_tokens, self.embed_dims))
        self.drop_after_pos = nn.Dropout(pos_drop_rate)
        # CPU: works under a `torch.device('meta')` build context too.
        dpr = torch.linspace(
            0, drop_path_rate, self.num_layers, device='cpu').tolist()
        blocks = nn.Sequential(*[
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
        for blk in blocks:
            # TransformerBlock builds its norms with the 1e-6 default; eps is
            # a plain attribute that LayerNorm.forward reads.
            blk.norm1.eps = blk.norm2.eps = norm_eps
        self.add_module(self.blocks_name, blocks)
        self.norm_eps = norm_eps
        self.norm = build_norm(self.embed_dims, eps=norm_eps) \
            if final_norm else nn.Identity()
        self._init_downstream(out_indices, out_type, main_tasks,
                              input_channels)
        if not as_tuple and (self.out_indices is None
                             or len(self.out_indices) != 1):
            raise ValueError(
                f'{name}: as_tuple=False returns one output and needs one '
                f'out_indices entry, got out_indices={out_indices}')
        self.as_tuple = as_tuple
        self.frozen = frozen
        if frozen:
            self.requires_grad_(False)
            self.train(False)

    def _register_adapters(self, adapters: 'OrderedDict[str, nn.Module]'
                           ) -> None:
        """Keep the adapters as ``input_adapters`` (official MultiMAE
        names); a subclass may store them under other names."""
        self.input_adapters = nn.ModuleDict(adapters)

    @property
    def adapters(self) -> Mapping[str, nn.Module]:
        """``name -> input adapter``, in token order."""
        return self.input_adapters

    @property
    def layers(self) -> nn.Module:
        """The encoder blocks (``self.<blocks_name>``)."""
        return getattr(self, self.blocks_name)

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
        unknown = [t for t in self.main_tasks if t not in self.adapters]
        if unknown or not self.main_tasks:
            raise ValueError(
                f'main_tasks {list(self.main_tasks)} must be a non-empty '
                f'subset of the input adapters {list(self.adapters)}')
        if input_channels is None:
            input_channels = OrderedDict(
                (name, getattr(a, 'in_channels', 1))
                for name, a in self.adapters.items())
        unknown = [n for n in input_channels if n not in self.adapters]
        if unknown:
            raise ValueError(
                f'input_channels names {unknown} have no input adapter '
                f'(adapters: {list(self.adapters)})')
        self.input_channels = OrderedDict(input_channels)

    @classmethod
    def _parse_arch(cls, arch: Union[str, dict]) -> Dict[str, int]:
        return parse_vit_arch(arch, cls.arch_zoo, default_mlp_ratio=4.)

    def train(self, mode: bool = True) -> 'MultiModalViT':
        """A ``frozen`` backbone stays in eval mode."""
        return super().train(mode and not getattr(self, 'frozen', False))

    def init_weights(self) -> None:
        """Official MultiMAE init when ``init_cfg`` is None; with
        ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` that init
        followed by :func:`load_multimae_backbone` (adapters absent from the
        checkpoint keep the init); else MMEngine's."""
        if getattr(self, '_is_init', False):
            return
        cfg = self.init_cfg
        if cfg is None or (isinstance(cfg, dict)
                           and cfg.get('type') == 'Pretrained'):
            init_weights_multimae(self)
            if self.num_global_tokens > 0:
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
            tuple: tokens ``(B, N_all, D)`` (positions added), ``name ->
            (start, end)`` slices and the shared token grid (``(h, w)`` or
            ``(t, h, w)``).
        """
        tokens, tasks, grid = [], OrderedDict(), None
        start = 0
        for name, adapter in self.adapters.items():
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
                f'(adapters: {list(self.adapters)})')
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
        """Split a channel-stacked image or clip by modality.

        Args:
            x (Tensor): ``(B, C, H, W)`` or ``(B, C, T, H, W)``, channels in
                ``input_channels`` order, e.g. RGB then depth (``C = 4``).

        Returns:
            dict: ``name -> map``; class-id maps become ``(B, H/s, W/s)``
            (images) or ``(B, T, H/s, W/s)`` (clips) int64 ids, nearest
            subsampled to the adapter's stride ``s``.
        """
        total = sum(self.input_channels.values())
        if x.dim() not in (4, 5) or x.shape[1] != total:
            raise ValueError(
                f'{type(self).__name__} got an input of shape '
                f'{tuple(x.shape)}, but '
                f'input_channels={dict(self.input_channels)} expects '
                f'(B, {total}, [T,] H, W); set backbone.input_channels (and '
                'the packing transform\'s modalities) to the channel layout')
        out, c = OrderedDict(), 0
        for name, n in self.input_channels.items():
            part = x[:, c:c + n]
            c += n
            adapter = self.adapters[name]
            if isinstance(adapter,
                          (SemSegInputAdapter, SemSegTubeletAdapter)):
                s = adapter.stride_level
                size = (*part.shape[2:-2], part.shape[-2] // s,
                        part.shape[-1] // s)
                part = torch.nn.functional.interpolate(
                    part[:, :1].float(), size=size,
                    mode='nearest')[:, 0].round().long()
            out[name] = part
        return out

    def forward(self,
                inputs: Union[torch.Tensor, Mapping[str, torch.Tensor]],
                masks: Optional[Mapping[str, torch.Tensor]] = None,
                num_visible: Optional[int] = None
                ) -> Union[Tuple[torch.Tensor, MultiModalTokenInfo],
                           Tuple[torch.Tensor, ...]]:
        """Encode the visible tokens of the present modalities.

        Args:
            inputs (Tensor | Mapping): ``name -> map``: ``(B, C, H, W)``
                float for patched adapters, ``(B, H/4, W/4)`` int64 for
                semseg, ``(B, C, T, H, W)`` / ``(B, T, H/4, W/4)`` for the
                video adapters; any subset of the adapters, any size
                divisible by the patch (and tubelet). A channel-stacked
                ``(B, C, H, W)`` or ``(B, C, T, H, W)`` tensor is split with
                :meth:`split_channels`.
            masks (Mapping, optional): ``name -> (B, N_d)`` bool, True =
                masked. None encodes every token (MultiViT).
            num_visible (int, optional): Host-side visible tokens per sample
                over ``masks`` (see :meth:`visible_ids_from_masks`): no
                device sync.

        Returns:
            tuple: Pre-training mode (``out_indices=None``): ``tokens``
            ``(B, N_vis + G, D)`` (visible tokens in ascending sequence
            order, then the global tokens; after ``norm`` when
            ``final_norm``) and a :class:`MultiModalTokenInfo`
            describing the layout. Downstream mode: one output per
            ``out_indices`` entry, ``(B, D * len(main_tasks), h, w)`` maps
            (``out_type='featmap'``) or ``(B, N + G, D)`` tokens
            (``'raw'``).
        """
        if isinstance(inputs, torch.Tensor):
            inputs = self.split_channels(inputs)
        x, tasks, grid = self.embed(inputs)
        x = self.drop_after_pos(x)
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
        if self.num_global_tokens > 0:
            x = torch.cat(
                [x, self.global_tokens.expand(B, -1, -1).to(x.dtype)], dim=1)
        use_cp = self.with_cp and self.training and torch.is_grad_enabled()
        outs = []
        for i, blk in enumerate(self.layers):
            if use_cp:
                x = cp.checkpoint(blk, x, use_reentrant=False)
            else:
                x = blk(x)
            if self.out_indices is not None and i in self.out_indices:
                outs.append(self._format_output(x, tasks, grid))
        if self.out_indices is not None:
            return tuple(outs) if self.as_tuple else outs[0]
        x = self.norm(x)
        info = MultiModalTokenInfo(
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

    def get_intermediate_layers(self,
                                inputs: Union[torch.Tensor,
                                              Mapping[str, torch.Tensor]],
                                indices: Sequence[int]) -> List[torch.Tensor]:
        """Token features after chosen blocks, all tokens encoded.

        Args:
            inputs (Tensor | Mapping): As :meth:`forward`.
            indices (Sequence[int]): Block indices; negative ones count from
                the end (``-1`` = last block).

        Returns:
            list[Tensor]: ``(B, N + G, D)`` per index, in the order asked,
            taken after the block (before ``norm``).
        """
        wanted = []
        for i in indices:
            j = i + self.num_layers if i < 0 else i
            if not 0 <= j < self.num_layers:
                raise IndexError(f'block index {i} out of range for '
                                 f'{self.num_layers} blocks')
            wanted.append(j)
        if isinstance(inputs, torch.Tensor):
            inputs = self.split_channels(inputs)
        x = self.drop_after_pos(self.embed(inputs)[0])
        if self.num_global_tokens > 0:
            x = torch.cat([
                x,
                self.global_tokens.expand(x.shape[0], -1, -1).to(x.dtype)
            ], dim=1)
        outs = {}
        for j, blk in enumerate(self.layers[:max(wanted) + 1]):
            x = blk(x)
            if j in wanted:
                outs[j] = x
        return [outs[j] for j in wanted]

    def get_layer_depth(self, param_name: str,
                        prefix: str = '') -> Tuple[int, int]:
        """Layer id of a parameter, for layer-wise learning-rate decay.

        The adapters and global tokens (:attr:`layer0_prefixes`) are layer
        0, block ``i`` is ``i + 1``, everything else ``num_layers + 1``.

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
        if name.startswith(self.layer0_prefixes):
            return 0, total
        if name.startswith(self.blocks_name + '.'):
            return int(name.split('.')[1]) + 1, total
        return total - 1, total

    def no_weight_decay(self) -> List[str]:
        """Official names excluded from weight decay (``global_tokens``;
        the fixed position tables are not trainable)."""
        return ['global_tokens']


def load_multimae_backbone(backbone: 'MultiModalViT',
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
