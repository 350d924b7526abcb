# Copyright (c) mmmae contributors. All rights reserved.
"""Time one VideoMAE pretraining step: mmmae vs HuggingFace transformers.

Both models are built in the same process with the *same weights* (the HF
model is randomly initialised and converted with
:func:`mmmae.checkpoint.hf.convert_hf_videomae`), see the same clip and
the same tube mask, and are trained with the same AdamW settings. One step is
forward + loss + backward + ``optimizer.step()``; HF uses
``attn_implementation='sdpa'``, mmmae always uses
``F.scaled_dot_product_attention``.

Example (defaults: ViT-B, 16x224x224, tubelet 2, patch 16 -> 1568 tokens,
90% tube mask -> 160 visible, decoder depth 4 / dim 384, batch 2)::

    python tools/benchmark/pretrain_step.py --iters 3 --warmup 1
    python tools/benchmark/pretrain_step.py --arch tiny --img-size 112
    python tools/benchmark/pretrain_step.py --device cuda --iters 20

Timing (implementations alternate; wall and process CPU time) and working
memory (one extra, untimed step above weights and AdamW moments: peak RSS on
CPU, ``max_memory_allocated`` on CUDA) are measured by
:mod:`mmmae.utils.benchmark`, whose docstring explains how.
"""
import argparse
import os.path as osp
import statistics
import sys
import time
from typing import Callable, Dict

import torch

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:  # run as a script from a source checkout
    sys.path.insert(0, _REPO)

from mmmae.utils.benchmark import (ARCHS, SDPA_BACKENDS,  # noqa: E402
                                   add_model_args, add_timing_args, adamw,
                                   hf_encoder_kwargs, ours_backbone_cfg,
                                   print_ratio_lines, sdpa_choice,
                                   set_layer_norm_eps_, setup, sync,
                                   time_training, write_json)


def hf_config(args):
    from transformers import VideoMAEConfig
    _, _, _, _, dd, ddepth, dheads = ARCHS[args.arch]
    return VideoMAEConfig(
        decoder_hidden_size=dd,
        decoder_num_hidden_layers=args.decoder_depth or ddepth,
        decoder_num_attention_heads=dheads,
        decoder_intermediate_size=4 * dd,
        use_mean_pooling=False,
        norm_pix_loss=True,
        **hf_encoder_kwargs(args))


def build_models(args, device):
    """HF model (sdpa) and the mmmae algorithm with the same weights."""
    from transformers import VideoMAEForPreTraining

    from mmmae.registry import MODELS
    from mmmae.checkpoint.hf import convert_hf_videomae
    cfg = hf_config(args)
    torch.manual_seed(args.seed)
    hf = VideoMAEForPreTraining._from_config(cfg, attn_implementation='sdpa')
    set_layer_norm_eps_(hf)
    d, depth, heads, ffn, dd, ddepth, dheads = ARCHS[args.arch]
    ours = MODELS.build(
        dict(
            type='mmmae.VideoMAE',
            backbone=ours_backbone_cfg(args),
            neck=dict(
                type='mmmae.VideoMAEPretrainDecoder',
                embed_dims=d,
                decoder_embed_dims=dd,
                decoder_depth=args.decoder_depth or ddepth,
                decoder_num_heads=dheads,
                patch_size=args.patch_size,
                tubelet_size=args.tubelet_size),
            head=dict(
                type='mmmae.VideoMAEPretrainHead',
                norm_pix=True,
                patch_size=args.patch_size,
                tubelet_size=args.tubelet_size)))
    ours.load_state_dict(convert_hf_videomae(hf.state_dict()), strict=True)
    return ours.to(device).train(), hf.to(device).train()


def make_batch(args, device):
    """Normalised clip ``(B, C, T, H, W)``, HF layout copy, tube mask."""
    gen = torch.Generator().manual_seed(args.seed + 1)
    B = args.batch_size
    x = torch.randn(B, 3, args.frames, args.img_size, args.img_size,
                    generator=gen)
    t = args.frames // args.tubelet_size
    hw = (args.img_size // args.patch_size)**2
    num_masked = int(args.mask_ratio * hw)  # official int() floor
    rows = []
    for _ in range(B):
        frame = torch.zeros(hw, dtype=torch.bool)
        frame[torch.randperm(hw, generator=gen)[:num_masked]] = True
        rows.append(frame.repeat(t))
    mask = torch.stack(rows)
    x_hf = x.permute(0, 2, 1, 3, 4).contiguous()
    return x.to(device), x_hf.to(device), mask.to(device)


def decoder_masks(args, batch_size: int) -> torch.Tensor:
    """V2 running-cell decoder masks ``(B, N)`` (True = not decoded)."""
    import numpy as np

    from mmmae.datasets.transforms import RunningCellMaskGenerator
    np.random.seed(args.seed + 2)
    gen = RunningCellMaskGenerator(
        input_size=(args.frames // args.tubelet_size,
                    args.img_size // args.patch_size,
                    args.img_size // args.patch_size),
        mask_ratio=args.decoder_mask_ratio)
    return torch.from_numpy(np.stack([gen.generate()
                                      for _ in range(batch_size)]))


def step_fns(ours, hf, x, x_hf, mask, dec_mask=None) -> Dict[str, Callable]:
    """Loss closures (forward only) for each implementation.

    The mmmae samples carry the per-sample token counts that
    ``VideoMAEDataPreprocessor`` records while the masks are on the host
    (``num_visible``, ``num_decoded``), so the gathers need no device sync.
    ``mmmae-sync`` is the same model on samples without them: every gather
    counts its mask on the device first (a sync, and a graph break under
    ``torch.compile``). ``mmmae-v2`` is the same model with VideoMAE V2
    dual masking: the decoder only reconstructs the tokens ``dec_mask``
    keeps.
    """
    from mmengine.structures import BaseDataElement
    num_visible = int((~mask[0]).sum())  # once, outside the timed steps
    samples = [
        BaseDataElement(mask=m, metainfo=dict(num_visible=num_visible))
        for m in mask
    ]
    sync_samples = [BaseDataElement(mask=m) for m in mask]

    def hf_loss():
        return hf(pixel_values=x_hf, bool_masked_pos=mask).loss

    fns = {
        'mmmae': lambda: ours.loss(x, samples)['loss'],
        'mmmae-sync': lambda: ours.loss(x, sync_samples)['loss'],
        'hf': hf_loss
    }
    if dec_mask is not None:
        meta = dict(
            num_visible=num_visible, num_decoded=int((~dec_mask[0]).sum()))
        v2_samples = [
            BaseDataElement(mask=m, decoder_mask=d, metainfo=meta)
            for m, d in zip(mask, dec_mask.to(mask.device))
        ]
        fns['mmmae-v2'] = lambda: ours.loss(x, v2_samples)['loss']
    return fns


def parity_check(fns) -> float:
    """``|loss(mmmae) - loss(hf)|`` in fp32 on the benchmark batch."""
    with torch.no_grad():
        a = fns['mmmae']().float()
        b = fns['hf']().float()
    return abs(float(a - b))


def count_step_flops(fn, model, device, precision) -> int:
    """FLOPs of one forward + backward (matmuls, convolutions, attention),
    counted by ``torch.utils.flop_counter`` on the real step."""
    from torch.utils.flop_counter import FlopCounterMode
    model.zero_grad(set_to_none=True)
    counter = FlopCounterMode(display=False)
    with counter:
        with torch.autocast(device.type, dtype=torch.bfloat16,
                            enabled=precision == 'bf16'):
            loss = fn()
        loss.backward()
    sync(device)
    model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def measure_matmul_tflops(device, dtype=torch.bfloat16, n=8192,
                          reps=10) -> float:
    """Measured dense matmul rate (TFLOP/s) of ``n x n x n`` products on
    random data: the ceiling that model-FLOPs utilisation is quoted
    against."""
    if device.type == 'cpu':
        n = min(n, 2048)
        reps = min(reps, 3)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    dt = (time.perf_counter() - t0) / reps
    del a, b
    return 2 * n**3 / dt / 1e12


def profile_step(name, fn, model, device, precision, top):
    """Print the torch.profiler op table of one training step."""
    from torch.profiler import ProfilerActivity, profile
    acts = [ProfilerActivity.CPU]
    if device.type == 'cuda':
        acts.append(ProfilerActivity.CUDA)
    model.zero_grad(set_to_none=True)
    with profile(activities=acts) as prof:
        with torch.autocast(device.type, dtype=torch.bfloat16,
                            enabled=precision == 'bf16'):
            loss = fn()
        loss.backward()
        sync(device)
    model.zero_grad(set_to_none=True)
    key = 'self_device_time_total' if device.type == 'cuda' else \
        'self_cpu_time_total'
    print(f'\n--- profile: {name} {precision} (forward+backward, sorted by '
          f'{key}) ---')
    print(prof.key_averages().table(sort_by=key, row_limit=top))


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='mmmae vs HF VideoMAE pretraining step time and memory')
    add_model_args(p)
    p.add_argument('--decoder-depth', type=int, default=None,
                   help='default: 4 (2 for tiny)')
    p.add_argument('--mask-ratio', type=float, default=0.9)
    p.add_argument('--batch-size', type=int, default=2)
    add_timing_args(
        p, impls=('mmmae', 'mmmae-sync', 'mmmae-v2', 'hf'),
        default_impls=('mmmae', 'hf'),
        impl_help='mmmae-v2: same model with V2 dual masking; '
        'mmmae-sync: same model counting the masks on the device '
        '(no host-side counts: a sync per gather)')
    p.add_argument('--decoder-mask-ratio', type=float, default=0.5,
                   help='V2 running-cell decoder drop ratio (mmmae-v2)')
    p.add_argument('--fused-adamw', action='store_true',
                   help='AdamW(fused=True) for the mmmae implementations')
    p.add_argument('--sdpa-backend', choices=SDPA_BACKENDS,
                   default='default',
                   help='SDPA kernel tried first, for every implementation '
                   '(default: torch\'s own order, which the run prints)')
    p.add_argument('--compile', action='store_true',
                   help='torch.compile mmmae (static shapes), see '
                   '--compile-scope')
    p.add_argument('--compile-mode', default=None,
                   choices=['default', 'reduce-overhead', 'max-autotune',
                            'max-autotune-no-cudagraphs'],
                   help="torch.compile's mode (default: torch's default)")
    p.add_argument('--compile-scope', choices=['loss', 'modules'],
                   default='loss',
                   help='loss: VideoMAE.loss_from_masks (encoder, decoder, '
                   'targets and loss in one graph); modules: the encoder '
                   'and decoder modules only')
    p.add_argument('--with-cp', action='store_true',
                   help='activation checkpointing in the mmmae encoder')
    p.add_argument('--flops', action='store_true',
                   help='count FLOPs per step and report TFLOP/s; with '
                   '--measure-matmul also model-FLOPs utilisation (MFU)')
    p.add_argument('--measure-matmul', action='store_true',
                   help='measure the bf16/fp32 matmul rate of the device')
    p.add_argument('--json', default=None,
                   help='also write the results as JSON to this file')
    p.add_argument('--profile', action='store_true',
                   help='also print a torch.profiler table of one step each')
    p.add_argument('--profile-top', type=int, default=25)
    p.add_argument('--seed', type=int, default=0)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    device = setup(args)
    import transformers

    ours, hf = build_models(args, device)
    if args.with_cp:
        ours.backbone.with_cp = True
    x, x_hf, mask = make_batch(args, device)
    dec_mask = decoder_masks(args, args.batch_size) \
        if 'mmmae-v2' in args.impl else None
    fns = step_fns(ours, hf, x, x_hf, mask, dec_mask)
    models = {'mmmae': ours, 'mmmae-sync': ours, 'mmmae-v2': ours, 'hf': hf}
    flops = {}
    if args.flops:
        # counted before compiling: the FLOP counter sees eager ops only,
        # and compiling does not change the model FLOPs of a step
        for impl in args.impl:
            for precision in args.precision:
                flops[(impl, precision)] = count_step_flops(
                    fns[impl], models[impl], device, precision)
    n_tok = mask.shape[1]
    n_vis = int((~mask[0]).sum())
    n_params = sum(p.numel() for p in ours.parameters())
    print(f'torch {torch.__version__}, transformers {transformers.__version__}'
          f', device {device}, threads {torch.get_num_threads()}')
    print(f'arch {args.arch}: {n_params / 1e6:.1f}M params, clip '
          f'{args.frames}x{args.img_size}x{args.img_size}, {n_tok} tokens, '
          f'{n_vis} visible, batch {args.batch_size}, warmup {args.warmup}, '
          f'iters {args.iters}')
    kernels = sdpa_choice(device, args.sdpa_backend, ARCHS[args.arch][6],
                          n_tok)
    print(f'SDPA kernel ({args.sdpa_backend}) for the decoder: {kernels}')
    diff = parity_check(fns)
    print(f'same weights: |loss(mmmae) - loss(hf)| = {diff:.2e} (fp32)')
    if args.compile:
        # after the eager parity check, which would otherwise compile
        # no-grad graphs nobody times. Static shapes: V1 (all tokens
        # decoded) and V2 (a subset) get a graph each; a dynamic-length
        # recompile mis-indexed on torch 2.11. The first timed (warm-up)
        # step traces under the chosen SDPA kernel order.
        kw = dict(dynamic=False, mode=args.compile_mode)
        if args.compile_scope == 'loss':
            ours.loss_from_masks = torch.compile(ours.loss_from_masks, **kw)
        else:
            ours.backbone = torch.compile(ours.backbone, **kw)
            ours.neck = torch.compile(ours.neck, **kw)

    results = {}
    for precision in args.precision:
        fused = [i for i in args.impl if i != 'hf'] \
            if args.fused_adamw else []
        res = time_training(
            fns, {i: adamw(models[i], i in fused) for i in args.impl},
            device, precision, args.warmup, args.iters, args.sdpa_backend)
        for impl, r in res.items():
            results[(impl, precision)] = r
            per_clip = statistics.mean(r[0]) / args.batch_size
            print(f'  {impl:6s} {precision}: {per_clip * 1e3:9.1f} ms/clip '
                  f'(steps: {", ".join(f"{t:.2f}" for t in r[0])} s)',
                  flush=True)

    bs = args.batch_size
    peaks = {}
    if args.measure_matmul:
        for precision in args.precision:
            dt = torch.bfloat16 if precision == 'bf16' else torch.float32
            peaks[precision] = measure_matmul_tflops(device, dt)
            print(f'measured {precision} matmul rate: '
                  f'{peaks[precision]:.1f} TFLOP/s', flush=True)

    cols = ['impl', 'precision', 'ms/clip mean', 'ms/clip min', 'clips/s',
            'CPU-s/clip', 'work mem MiB', 'GFLOP/clip', 'TFLOP/s', 'MFU',
            'loss']
    print('\n| ' + ' | '.join(cols) + ' |')
    print('|' + '|'.join('-' * (len(c) + 2) for c in cols) + '|')
    rows = []
    for (impl, precision), (times, cpu, peak, loss) in results.items():
        t = statistics.mean(times)
        f = flops.get((impl, precision))
        rate = f / t / 1e12 if f else None
        mfu = (rate / peaks[precision]
               if rate and precision in peaks else None)
        rows.append(dict(impl=impl, precision=precision,
                         ms_per_clip=t / bs * 1e3,
                         ms_per_clip_min=min(times) / bs * 1e3,
                         clips_per_s=bs / t,
                         cpu_s_per_clip=statistics.mean(cpu) / bs,
                         work_mem_mib=peak / 2**20 if peak >= 0 else None,
                         gflop_per_clip=f / bs / 1e9 if f else None,
                         tflops=rate, mfu=mfu, loss=loss))
        vals = [
            impl, precision, f'{t / bs * 1e3:.1f}',
            f'{min(times) / bs * 1e3:.1f}', f'{bs / t:.1f}',
            f'{statistics.mean(cpu) / bs:.2f}' if device.type == 'cpu'
            else '-',
            f'{peak / 2**20:.0f}' if peak >= 0 else 'n/a',
            f'{f / bs / 1e9:.0f}' if f else '-',
            f'{rate:.1f}' if rate else '-',
            f'{mfu * 100:.1f}%' if mfu else '-', f'{loss:.4f}'
        ]
        cells = [v.rjust(len(c)) for v, c in zip(vals, cols)]
        print('| ' + ' | '.join(cells) + ' |')
    print_ratio_lines(results, args.precision)
    # Speed-ups (> 1 = faster) against the two peers the targets name.
    ref = results.get(('hf', 'fp32'))
    key = 1 if device.type == 'cpu' else 0  # CPU time on a shared CPU
    what = 'CPU time' if device.type == 'cpu' else 'wall time'
    for (impl, precision), r in results.items():
        if ref and impl != 'hf':
            sp = statistics.mean(ref[key]) / statistics.mean(r[key])
            wall = statistics.mean(ref[0]) / statistics.mean(r[0])
            print(f'speed-up {impl} {precision} vs hf fp32 ({what}): '
                  f'{sp:.2f}x (wall {wall:.2f}x)')
    for precision in args.precision:
        for fast, slow in (('mmmae-v2', 'mmmae'), ('mmmae', 'mmmae-sync')):
            a = results.get((fast, precision))
            b = results.get((slow, precision))
            if a and b:
                sp = statistics.mean(b[key]) / statistics.mean(a[key])
                print(f'speed-up {fast} vs {slow} {precision} ({what}): '
                      f'{sp:.2f}x')
    write_json(args, device, matmul_tflops=peaks, rows=rows)

    if args.profile:
        for precision in args.precision:
            for impl in args.impl:
                profile_step(impl, fns[impl], models[impl], device,
                             precision, args.profile_top)
    return 0


if __name__ == '__main__':
    sys.exit(main())
