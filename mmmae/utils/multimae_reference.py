# Copyright (c) mmmae contributors. All rights reserved.
"""A written-out reference of the official MultiMAE pretraining math.

``RefMultiMAE`` is the peer of ``tools/benchmark/multimae_step.py`` (there
is no HuggingFace MultiMAE) and the independent check of mmmae's
``MultiMAE.loss`` in the tests: same weights (it loads mmmae's backbone and
neck state dict with ``strict=True``; the parameter names are the official
ones), same batch and masks, losses equal to rounding. What it computes is
described in the benchmark's docstring.

The functions take a settings object with the benchmark's option names
(:class:`ReferenceSettings`, or the benchmark's argparse namespace).
"""
from collections import OrderedDict
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    'ARCHS', 'MODALITIES', 'TASKS', 'ReferenceSettings', 'ours_cfg',
    'RefMultiMAE', 'build_models', 'make_batch', 'loss_fns'
]


@dataclass
class ReferenceSettings:
    """The model and batch options of ``multimae_step.py`` (its defaults)."""
    arch: str = 'tiny'
    img_size: int = 224
    patch_size: int = 16
    num_classes: int = 133
    dim_class_emb: int = 64
    num_visible: int = 98
    alpha: float = 1.
    batch_size: int = 8
    seed: int = 0


# name: (dims, depth, heads, decoder dims, decoder depth, decoder heads)
ARCHS = {
    'tiny': (192, 4, 3, 128, 1, 4),
    'small': (384, 12, 6, 256, 2, 8),
    'base': (768, 12, 12, 256, 2, 8),  # the paper's MultiMAE-B
}
MODALITIES = ('rgb', 'depth', 'semseg')
# task -> (channels, queries/target modality, stride level)
TASKS = OrderedDict(
    rgb=(3, 'rgb', 1), norm_rgb=(3, 'rgb', 1), depth=(1, 'depth', 1),
    semseg=(None, 'semseg', 4))


# --------------------------------------------------------------------------
# mmmae
# --------------------------------------------------------------------------
def ours_cfg(args) -> dict:
    """``mmmae.MultiMAE`` config: ``configs/_base_/models/
    multimae_vit-base-p16.py`` with the ``--arch`` widths."""
    d, depth, heads, dd, ddepth, dheads = ARCHS[args.arch]
    p, k = args.patch_size, args.num_classes
    return dict(
        type='mmmae.MultiMAE',
        backbone=dict(
            type='mmmae.MultiMAEViT',
            input_adapters=dict(
                rgb=dict(type='mmmae.PatchedInputAdapter', in_channels=3),
                depth=dict(type='mmmae.PatchedInputAdapter', in_channels=1),
                semseg=dict(
                    type='mmmae.SemSegInputAdapter',
                    num_classes=k,
                    dim_class_emb=args.dim_class_emb)),
            arch=dict(
                embed_dims=d, num_layers=depth, num_heads=heads,
                feedforward_channels=4 * d),
            img_size=args.img_size,
            patch_size=p,
            num_global_tokens=1,
            drop_path_rate=0.),
        neck=dict(
            type='mmmae.MultiMAEDecoder',
            output_adapters=dict(
                rgb=dict(num_channels=3),
                norm_rgb=dict(num_channels=3, task='rgb'),
                depth=dict(num_channels=1),
                semseg=dict(num_channels=k, stride_level=4)),
            common=dict(
                encoder_dims=d, embed_dims=dd, num_layers=ddepth,
                num_heads=dheads, mlp_ratio=4., img_size=args.img_size,
                patch_size=p, context_tasks=list(MODALITIES))),
        head=dict(
            type='mmmae.MultiMAEHead',
            tasks=dict(
                rgb=dict(loss=dict(type='mmmae.MaskedMSELoss', patch_size=p)),
                norm_rgb=dict(
                    target='rgb',
                    loss=dict(
                        type='mmmae.MaskedMSELoss', patch_size=p,
                        norm_pix=True)),
                depth=dict(
                    loss=dict(type='mmmae.MaskedL1Loss', patch_size=p)),
                semseg=dict(
                    loss=dict(
                        type='mmmae.MaskedCrossEntropyLoss', patch_size=p,
                        stride=4)))))


# --------------------------------------------------------------------------
# reference: the official architecture's math, written out
# --------------------------------------------------------------------------
def _ln(dims: int) -> nn.LayerNorm:
    return nn.LayerNorm(dims, eps=1e-6)


class RefMlp(nn.Module):

    def __init__(self, dims: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dims, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dims)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class RefSelfAttention(nn.Module):
    """timm ``Attention``: fused ``qkv`` (with bias), explicit softmax."""

    def __init__(self, dims: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dims // heads)**-0.5
        self.qkv = nn.Linear(dims, 3 * dims)
        self.proj = nn.Linear(dims, dims)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads,
                                  C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))


class RefCrossAttention(nn.Module):
    """Official decoder cross-attention: ``q`` and fused ``kv`` Linears."""

    def __init__(self, dims: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dims // heads)**-0.5
        self.q = nn.Linear(dims, dims)
        self.kv = nn.Linear(dims, 2 * dims)
        self.proj = nn.Linear(dims, dims)

    def forward(self, x, context):
        B, N, C = x.shape
        M, h = context.shape[1], self.heads
        q = self.q(x).reshape(B, N, h, C // h).permute(0, 2, 1, 3)
        kv = self.kv(context).reshape(B, M, 2, h,
                                      C // h).permute(2, 0, 3, 1, 4)
        k, v = kv[0], kv[1]
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))


class RefBlock(nn.Module):

    def __init__(self, dims: int, heads: int) -> None:
        super().__init__()
        self.norm1 = _ln(dims)
        self.attn = RefSelfAttention(dims, heads)
        self.norm2 = _ln(dims)
        self.mlp = RefMlp(dims, 4 * dims)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class RefPatchAdapter(nn.Module):
    """Dense map -> tokens (``PatchedInputAdapter``)."""

    def __init__(self, in_ch: int, dims: int, patch: int,
                 grid: Sequence[int]) -> None:
        super().__init__()
        self.patch = patch
        self.proj = nn.Conv2d(in_ch, dims, patch, stride=patch)
        self.pos_emb = nn.Parameter(
            torch.zeros(1, dims, *grid), requires_grad=False)

    def embed(self, x):
        return self.proj(x)

    def forward(self, x, mode='bicubic'):
        x = self.embed(x)  # (B, D, h, w)
        pos = F.interpolate(
            self.pos_emb, size=x.shape[-2:], mode=mode, align_corners=False)
        return (x + pos).flatten(2).transpose(1, 2)


class RefSemSegAdapter(RefPatchAdapter):
    """Class ids at 1/4 -> tokens (``SemSegInputAdapter``)."""

    def __init__(self, num_classes: int, dim_class_emb: int, dims: int,
                 patch: int, grid: Sequence[int]) -> None:
        super().__init__(dim_class_emb, dims, patch // 4, grid)
        self.class_emb = nn.Embedding(num_classes, dim_class_emb)

    def embed(self, x):
        return self.proj(self.class_emb(x).permute(0, 3, 1, 2))

    def forward(self, x, mode='bilinear'):
        return super().forward(x, mode)


class RefDecoder(nn.Module):
    """One task decoder (``SpatialOutputAdapter``, task queries + xattn)."""

    def __init__(self, channels: int, task: str, enc_dims: int, dims: int,
                 depth: int, heads: int, patch: int, stride: int,
                 grid: Sequence[int]) -> None:
        super().__init__()
        self.task, self.channels = task, channels
        self.patch = patch // stride
        self.pos_emb = nn.Parameter(
            torch.zeros(1, dims, *grid), requires_grad=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dims))
        self.task_embeddings = nn.ParameterDict(
            {t: nn.Parameter(torch.zeros(1, 1, dims))
             for t in MODALITIES})
        self.proj_context = nn.Linear(enc_dims, dims)
        self.decoder = RefCrossAttention(dims, heads)
        self.context_norm = _ln(dims)
        self.query_norm = _ln(dims)
        self.out_norm = _ln(dims)
        self.mlp = RefMlp(dims, 4 * dims)
        self.decoder_transformer = nn.Sequential(
            *[RefBlock(dims, heads) for _ in range(depth)])
        self.out_proj = nn.Linear(dims, channels * self.patch**2)

    def forward(self, tokens, spans, grid, ids_keep, ids_restore):
        x = self.proj_context(tokens)
        B, _, C = x.shape
        n_all, n_vis = ids_restore.shape[1], ids_keep.shape[1]
        vis, glob = x[:, :-1], x[:, -1:]
        # mask tokens after the (shuffled) visible ones, then un-shuffle
        full = torch.cat(
            [vis, self.mask_token.expand(B, n_all - n_vis, -1)], dim=1)
        full = torch.gather(full, 1,
                            ids_restore[..., None].expand(-1, -1, C))
        pos = F.interpolate(
            self.pos_emb, size=grid, mode='bilinear',
            align_corners=False).flatten(2).transpose(1, 2)
        full = torch.cat([
            full[:, s:e] + pos + self.task_embeddings[t]
            for t, (s, e) in spans.items()
        ], dim=1)
        s, e = spans[self.task]
        queries = full[:, s:e]
        context = torch.gather(full, 1, ids_keep[..., None].expand(-1, -1, C))
        context = torch.cat([context, glob], dim=1)
        x = self.decoder(self.query_norm(queries), self.context_norm(context))
        x = x + self.mlp(self.out_norm(x))
        x = self.out_proj(self.decoder_transformer(x))
        nh, nw = grid
        p = self.patch
        x = x.reshape(B, nh, nw, self.channels, p, p).permute(0, 3, 1, 4, 2, 5)
        return x.reshape(B, self.channels, nh * p, nw * p)


def _ref_reduce(loss, mask, scale):
    """Per-pixel ``(B, H, W)`` loss -> masked per-sample mean -> nanmean."""
    B, H, W = loss.shape
    m = mask.reshape(B, 1, H // scale, W // scale).float()
    m = F.interpolate(m, size=(H, W), mode='nearest')[:, 0]
    return ((loss * m).flatten(1).sum(1) / m.flatten(1).sum(1)).nanmean()


def _ref_norm_pix(x, p, eps=1e-6):
    B, C, H, W = x.shape
    nh, nw = H // p, W // p
    t = x.reshape(B, C, nh, p, nw, p).permute(0, 2, 4, 3, 5, 1).reshape(
        B, nh * nw, p * p * C)
    t = (t - t.mean(-1, keepdim=True)) / torch.sqrt(
        t.var(-1, keepdim=True) + eps)
    t = t.reshape(B, nh, nw, p, p, C).permute(0, 5, 1, 3, 2, 4)
    return t.reshape(B, C, H, W)


class RefMultiMAE(nn.Module):
    """The official MultiMAE pretraining model + criterion, written out.

    Parameter names equal the official ones (and mmmae's below
    ``backbone.`` / ``neck.``), so ``load_state_dict`` is strict.
    """

    def __init__(self, args) -> None:
        super().__init__()
        d, depth, heads, dd, ddepth, dheads = ARCHS[args.arch]
        p, k = args.patch_size, args.num_classes
        grid = (args.img_size // p, ) * 2
        self.patch = p
        self.input_adapters = nn.ModuleDict(
            OrderedDict(
                rgb=RefPatchAdapter(3, d, p, grid),
                depth=RefPatchAdapter(1, d, p, grid),
                semseg=RefSemSegAdapter(k, args.dim_class_emb, d, p, grid)))
        self.global_tokens = nn.Parameter(torch.zeros(1, 1, d))
        self.encoder = nn.Sequential(
            *[RefBlock(d, heads) for _ in range(depth)])
        self.output_adapters = nn.ModuleDict(
            OrderedDict((t, RefDecoder(c or k, q, d, dd, ddepth, dheads, p,
                                       s, grid))
                        for t, (c, q, s) in TASKS.items()))

    def forward(self, inputs: Mapping[str, torch.Tensor],
                masks: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Summed masked loss of a batch.

        Args:
            inputs (Mapping): rgb ``(B, 3, H, W)``, depth ``(B, 1, H, W)``,
                semseg ``(B, H/4, W/4)`` int64.
            masks (Mapping): ``modality -> (B, N)`` bool, True = masked.
        """
        tokens, spans, start = [], OrderedDict(), 0
        for name, adapter in self.input_adapters.items():
            t = adapter(inputs[name])
            spans[name] = (start, start + t.shape[1])
            start += t.shape[1]
            tokens.append(t)
        x = torch.cat(tokens, dim=1)
        B, _, D = x.shape
        grid = (inputs['rgb'].shape[-2] // self.patch,
                inputs['rgb'].shape[-1] // self.patch)
        mask_all = torch.cat([masks[n] for n in spans], dim=1)
        ids_shuffle = torch.argsort(
            mask_all.float() + torch.rand(mask_all.shape, device=x.device),
            dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        n_vis = int((~mask_all[0]).sum())
        ids_keep = ids_shuffle[:, :n_vis]
        x = torch.gather(x, 1, ids_keep[..., None].expand(-1, -1, D))
        x = torch.cat([x, self.global_tokens.expand(B, -1, -1)], dim=1)
        x = self.encoder(x)
        p = self.patch
        loss = 0.
        for task, dec in self.output_adapters.items():
            pred = dec(x, spans, grid, ids_keep, ids_restore).float()
            _, target_name, stride = TASKS[task]
            target, mask = inputs[target_name], masks[target_name]
            if task == 'semseg':
                per_px = F.cross_entropy(pred, target, reduction='none')
            elif task == 'depth':
                per_px = F.l1_loss(pred, target, reduction='none').mean(1)
            else:
                if task == 'norm_rgb':
                    target = _ref_norm_pix(target, p)
                per_px = F.mse_loss(pred, target, reduction='none').mean(1)
            loss = loss + _ref_reduce(per_px, mask, p // stride)
        return loss


# --------------------------------------------------------------------------
# benchmark
# --------------------------------------------------------------------------
def build_models(args, device):
    """mmmae ``MultiMAE`` (official init) and the reference with its
    weights (1-D parameters and tokens perturbed first, so a swapped bias
    or embedding would show in the loss)."""
    from mmmae.apis import quiet_init_weights
    from mmmae.registry import MODELS
    torch.manual_seed(args.seed)
    ours = MODELS.build(ours_cfg(args))
    # MMEngine logs every parameter's init at INFO: keep the output a table
    quiet_init_weights(ours)
    gen = torch.Generator().manual_seed(args.seed + 1)
    with torch.no_grad():
        for name, prm in ours.named_parameters():
            if prm.requires_grad and (prm.dim() == 1 or 'token' in name
                                      or 'task_emb' in name):
                prm.add_(0.1 * torch.randn(prm.shape, generator=gen))
    ref = RefMultiMAE(args)
    sd = OrderedDict()
    for k, v in ours.state_dict().items():
        for pre in ('backbone.', 'neck.'):
            if k.startswith(pre):
                sd[k[len(pre):]] = v
    ref.load_state_dict(sd, strict=True)
    return ours.to(device).train(), ref.to(device).train()


def make_batch(args, device):
    """Inputs, per-sample masks (``MultiModalMaskGenerator``, numpy seeded)
    as data samples for mmmae and as ``(B, N)`` tensors for the reference.
    """
    from mmengine.structures import BaseDataElement

    from mmmae.datasets.transforms import MultiModalMaskGenerator
    g = torch.Generator().manual_seed(args.seed + 2)
    B, S = args.batch_size, args.img_size
    inputs = dict(
        rgb=torch.randn(B, 3, S, S, generator=g),
        depth=torch.randn(B, 1, S, S, generator=g),
        semseg=torch.randint(args.num_classes, (B, S // 4, S // 4),
                             generator=g))
    np.random.seed(args.seed)
    grid = (S // args.patch_size, ) * 2
    mask_gen = MultiModalMaskGenerator(
        modalities=MODALITIES, grid=grid, num_visible=args.num_visible,
        alpha=args.alpha)
    per_sample = [mask_gen.transform({})['masks'] for _ in range(B)]
    samples = [
        BaseDataElement(masks={k: torch.from_numpy(v)
                               for k, v in m.items()}) for m in per_sample
    ]
    masks = {
        k: torch.stack([torch.from_numpy(m[k]) for m in per_sample]).to(
            device) for k in MODALITIES
    }
    inputs = {k: v.to(device) for k, v in inputs.items()}
    return inputs, samples, masks


def loss_fns(ours, ref, inputs, samples, masks):
    def ours_loss():
        return sum(ours.loss(inputs, samples).values())

    def ref_loss():
        return ref(inputs, masks)

    return {'mmmae': ours_loss, 'ref': ref_loss}
