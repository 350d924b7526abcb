# Copyright (c) mmmae contributors. All rights reserved.
"""Time one MultiMAE pretraining step: mmmae vs a reference implementation.

There is no HuggingFace MultiMAE, so the peer is ``RefMultiMAE`` below: the
official architecture's math written out plainly, the way the official code
computes it (our own code, not a copy):

* input adapters: ``Conv2d`` patch projection, the 2-D sin-cos table always
  passed through ``F.interpolate`` (bicubic for rgb/depth, bilinear for
  semseg), class embedding + ``Conv2d`` for the 1/4-resolution semseg ids;
* masking: per-modality masks (the same Dirichlet masks mmmae gets) are
  concatenated and turned into ``ids_shuffle = argsort(mask + noise)``,
  ``ids_restore`` and ``ids_keep`` *inside the step*, so the encoder sees the
  visible tokens in shuffled order (attention does not care about the order;
  the losses agree up to rounding);
* encoder: timm-style pre-LN blocks with a fused ``qkv`` bias and
  *explicit* attention (``softmax(q @ k^T * scale) @ v``), one global token;
* decoders (one per task, ``rgb``, ``norm_rgb``, ``depth``, ``semseg``):
  ``proj_context``, mask tokens appended then un-shuffled with
  ``ids_restore``, positional + task embeddings, queries = the task's slice,
  context = the visible tokens gathered back with ``ids_keep`` + the global
  token, explicit cross-attention, MLP, two self-attention blocks,
  ``out_proj`` and un-patchify;
* losses: masked MSE (rgb), masked MSE on the per-patch normalised image
  (norm_rgb), masked L1 (depth), masked cross-entropy (semseg at 1/4),
  summed.

Both hold the same weights (the reference loads mmmae's state dict with
``strict=True``; the parameter names are the official ones) and see the
same batch and masks; the fp32 losses are compared before timing. mmmae runs
its training path, ``MultiMAE.loss(inputs, data_samples)``, with the masks in
``data_samples`` as the pipeline's ``MultiModalMaskGenerator`` puts them
there (98 visible tokens of 3 x 196, Dirichlet(1) split, paper setting).

Example (defaults: a small ViT over the paper's 224 x 224 inputs, batch 8)::

    python tools/benchmark/multimae_step.py
    python tools/benchmark/multimae_step.py --arch base --batch-size 4 \\
        --threads 1 --iters 3 --warmup 1
    python tools/benchmark/multimae_step.py --device cuda --arch base \\
        --batch-size 64 --iters 20

Timing (alternating implementations, CPU time on CPU) and working memory
(one extra step above weights and AdamW moments: peak RSS on CPU,
``max_memory_allocated`` on CUDA) follow ``pretrain_step.py``, whose helpers
are imported.
"""
import argparse
import os.path as osp
import statistics
import sys
from collections import OrderedDict
from typing import Dict, Mapping, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from pretrain_step import (release_memory, run_interleaved,  # noqa: E402
                           set_mmap_threshold)

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


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='mmmae MultiMAE vs a reference of the official '
        'architecture: pretraining step time and memory')
    p.add_argument('--arch', choices=sorted(ARCHS), default='tiny')
    p.add_argument('--img-size', type=int, default=224)
    p.add_argument('--patch-size', type=int, default=16)
    p.add_argument('--num-classes', type=int, default=133,
                   help='semseg classes (COCO panoptic pseudo labels)')
    p.add_argument('--dim-class-emb', type=int, default=64)
    p.add_argument('--num-visible', type=int, default=98)
    p.add_argument('--alpha', type=float, default=1.)
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--iters', type=int, default=5)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--device', default='cpu')
    p.add_argument('--precision', nargs='+', default=['fp32', 'bf16'],
                   choices=['fp32', 'bf16'])
    p.add_argument('--impl', nargs='+', default=['mmmae', 'ref'],
                   choices=['mmmae', 'ref'])
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', default=None)
    return p.parse_args(argv)


def report(results, args, device) -> list:
    """Print the table and the mmmae/ref ratios; return the rows."""
    B = args.batch_size
    cpu = device.type == 'cpu'
    print('\n| impl | precision | ms/img | img/s | CPU-s/img | work mem MiB '
          '| loss |')
    print('|---|---|---|---|---|---|---|')
    rows = []
    for (impl, prec), (times, cpu_t, mem, loss) in results.items():
        t = statistics.mean(times)
        row = dict(impl=impl, precision=prec, ms_per_img=t / B * 1e3,
                   img_per_s=B / t,
                   cpu_s_per_img=statistics.mean(cpu_t) / B,
                   work_mem_mib=mem / 2**20 if mem >= 0 else None,
                   loss=loss)
        rows.append(row)
        cpu_cell = f'{row["cpu_s_per_img"]:.3f}' if cpu else '-'
        mem_cell = f'{mem / 2**20:.0f}' if mem >= 0 else 'n/a'
        print(f'| {impl} | {prec} | {row["ms_per_img"]:.1f} | '
              f'{row["img_per_s"]:.2f} | {cpu_cell} | {mem_cell} | '
              f'{loss:.5f} |')
    key = 1 if cpu else 0
    what = 'CPU time' if cpu else 'wall time'
    for (impl, prec), r in results.items():
        if impl == 'ref':
            continue
        for ref_p in dict.fromkeys(['fp32', prec]):
            peer = results.get(('ref', ref_p))
            if peer:
                sp = statistics.mean(peer[key]) / statistics.mean(r[key])
                mem = (f', working memory {r[2] / peer[2]:.2f}x'
                       if r[2] > 0 and peer[2] > 0 else '')
                print(f'speed-up mmmae {prec} vs ref {ref_p} ({what}): '
                      f'{sp:.2f}x{mem}')
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == 'cpu':
        set_mmap_threshold(32 * 2**20)
    if args.threads:
        torch.set_num_threads(args.threads)
    import mmmae  # noqa: F401  (registers mmmae.*)

    ours, ref = build_models(args, device)
    inputs, samples, masks = make_batch(args, device)
    fns = loss_fns(ours, ref, inputs, samples, masks)
    models = {'mmmae': ours, 'ref': ref}
    n_enc = sum(p.numel() for p in ours.backbone.parameters())
    n_all = sum(p.numel() for p in ours.parameters())
    print(f'torch {torch.__version__}, device {device}, threads '
          f'{torch.get_num_threads()}')
    print(f'arch {args.arch}: {n_all / 1e6:.1f}M params ({n_enc / 1e6:.1f}M '
          f'encoder); batch {args.batch_size} x (rgb, depth, semseg) '
          f'{args.img_size}px, {args.num_visible} visible tokens of '
          f'{3 * (args.img_size // args.patch_size)**2}, 4 decoders; warmup '
          f'{args.warmup}, iters {args.iters}')
    with torch.no_grad():
        la, lb = float(fns['mmmae']()), float(fns['ref']())
    d_loss = abs(la - lb)
    print(f'same weights, batch and masks (fp32): loss mmmae {la:.6f}, ref '
          f'{lb:.6f}, |diff| {d_loss:.2e}', flush=True)
    assert d_loss <= 1e-5 * max(1., abs(lb)), f'losses disagree: {d_loss}'

    results: Dict[tuple, tuple] = {}
    for prec in args.precision:
        res = run_interleaved(fns, models, args.impl, device, prec,
                              args.warmup, args.iters)
        for impl, r in res.items():
            results[(impl, prec)] = r
            mem = f'{r[2] / 2**20:.0f} MiB' if r[2] >= 0 else 'n/a'
            print(f'  {impl:5s} {prec}: {statistics.mean(r[0]) * 1e3:8.1f} '
                  f'ms/step, CPU {statistics.mean(r[1]):.2f} s/step, work mem '
                  f'{mem} (steps: {", ".join(f"{t:.2f}" for t in r[0])} s)',
                  flush=True)
        release_memory()
    rows = report(results, args, device)
    if args.json:
        import json
        with open(args.json, 'w') as fh:
            json.dump(dict(args=vars(args), device=str(device),
                           threads=torch.get_num_threads(), rows=rows,
                           loss_diff_fp32=d_loss), fh, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
