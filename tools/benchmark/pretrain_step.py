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

Timing: every implementation is warmed up, then their timed steps alternate
(mmmae, hf, mmmae, hf, ...) so background load hits both alike; mean and min
wall time per clip are reported, and on CPU also the process CPU time
(``time.process_time``, all threads), which a busy machine distorts less.

Memory ("working memory"): one extra, untimed step per implementation,
measured above what persists between steps (weights, AdamW moments). On CUDA
``max_memory_allocated`` minus ``memory_allocated`` before the step. On CPU
the peak resident set size (``/proc/self/statm`` sampled every 2 ms by a
thread) minus the RSS before the step; for that step glibc is told
(``mallopt``) to serve blocks >= 64 KiB with ``mmap``, so freed tensors leave
the RSS at once and one implementation's freed pages cannot hide the other's
peak. Timed steps run with a fixed 32 MiB mmap threshold (glibc's dynamic
steady state) so they do not pay for page faults.
"""
import argparse
import contextlib
import ctypes
import gc
import os
import os.path as osp
import statistics
import sys
import threading
import time
from typing import Callable, Dict

import torch

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

ARCHS = {
    # name: (dims, depth, heads, ffn, dec dims, dec depth, dec heads)
    'tiny': (192, 4, 3, 768, 96, 2, 3),
    's': (384, 12, 6, 1536, 192, 4, 3),
    'b': (768, 12, 12, 3072, 384, 4, 6),
    'l': (1024, 24, 16, 4096, 512, 4, 8),
}


# --------------------------------------------------------------------------
# memory measurement
# --------------------------------------------------------------------------
def _libc():
    try:
        return ctypes.CDLL('libc.so.6')
    except OSError:
        return None


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3


def set_mmap_threshold(nbytes: int) -> bool:
    """Blocks >= ``nbytes`` are served by ``mmap`` and unmapped on free.

    A small threshold (64 KiB) makes the RSS follow the live tensors, which
    the memory pass needs; it also turns every large allocation into fresh
    page faults, so timed steps run with 32 MiB (glibc's dynamic maximum,
    i.e. its steady state).

    Returns:
        bool: Whether glibc accepted the setting.
    """
    libc = _libc()
    if libc is None or not hasattr(libc, 'mallopt'):
        return False
    ok = libc.mallopt(M_MMAP_THRESHOLD, int(nbytes)) == 1
    libc.mallopt(M_TRIM_THRESHOLD, max(128 * 1024, int(nbytes)))
    return ok


def release_memory() -> None:
    gc.collect()
    libc = _libc()
    if libc is not None and hasattr(libc, 'malloc_trim'):
        libc.malloc_trim(0)


def rss_bytes() -> int:
    """Current resident set size (Linux), else the peak from getrusage."""
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    except (OSError, ValueError):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakRSS:
    """Context manager sampling the RSS peak in a background thread."""

    def __init__(self, interval: float = 2e-3) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> 'PeakRSS':
        self.peak = rss_bytes()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


# --------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------
def hf_encoder_kwargs(args) -> dict:
    """``VideoMAEConfig`` keywords of the encoder both benchmarks share:
    the ``--arch`` widths, eps 1e-6 (official), no dropout."""
    d, depth, heads, ffn = ARCHS[args.arch][:4]
    return dict(
        image_size=args.img_size,
        patch_size=args.patch_size,
        num_channels=3,
        num_frames=args.frames,
        tubelet_size=args.tubelet_size,
        hidden_size=d,
        num_hidden_layers=depth,
        num_attention_heads=heads,
        intermediate_size=ffn,
        hidden_act='gelu',
        qkv_bias=True,
        layer_norm_eps=1e-6,
        hidden_dropout_prob=0.,
        attention_probs_dropout_prob=0.)


def set_layer_norm_eps_(model: torch.nn.Module, eps: float = 1e-6) -> None:
    """HF hard-codes eps 1e-5 for some norms (``decoder.norm``,
    ``fc_norm``); the official models use 1e-6 everywhere."""
    for m in model.modules():
        if isinstance(m, torch.nn.LayerNorm):
            m.eps = eps


def ours_backbone_cfg(args, **kwargs) -> dict:
    """``mmmae.VideoMAEViT`` config matching :func:`hf_encoder_kwargs`."""
    d, depth, heads, ffn = ARCHS[args.arch][:4]
    return dict(
        type='mmmae.VideoMAEViT',
        arch=dict(
            embed_dims=d,
            num_layers=depth,
            num_heads=heads,
            feedforward_channels=ffn),
        img_size=args.img_size,
        patch_size=args.patch_size,
        num_frames=args.frames,
        tubelet_size=args.tubelet_size,
        **kwargs)


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


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


SDPA_BACKENDS = ('default', 'cudnn', 'flash', 'efficient', 'math')


def sdpa_context(name: str = 'default'):
    """Context that puts one SDPA kernel first in torch's priority order.

    torch's default order depends on the build and the card: the CPU build
    lists cuDNN attention last, while torch 2.11 on an H200 already picked
    it for bf16 (measured 2026-11-27). This makes the choice explicit for
    comparisons. The other kernels stay in the list, so inputs the first
    cannot take (fp32 for cuDNN and flash, CPU tensors) still run.
    ``'default'`` leaves torch's order alone.
    """
    if name == 'default':
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel
    names = dict(cudnn='CUDNN_ATTENTION', flash='FLASH_ATTENTION',
                 efficient='EFFICIENT_ATTENTION', math='MATH')
    first = getattr(SDPBackend, names[name])
    rest = [getattr(SDPBackend, n) for n in names.values()]
    return sdpa_kernel([first] + [b for b in rest if b != first],
                       set_priority=True)


def sdpa_choice(device, sdpa: str, heads: int, tokens: int) -> str:
    """The SDPA kernels torch picks under :func:`sdpa_context` for
    ``(2, heads, tokens, 64)`` inputs, e.g. ``'bf16 CUDNN_ATTENTION, fp32
    EFFICIENT_ATTENTION'``."""
    from torch.nn.attention import SDPBackend
    picks = []
    for name, dtype in (('bf16', torch.bfloat16), ('fp32', torch.float32)):
        q = torch.zeros(2, heads, tokens, 64, device=device, dtype=dtype)
        with sdpa_context(sdpa):
            kernel = SDPBackend(torch._fused_sdp_choice(q, q, q)).name
        picks.append(f'{name} {kernel}')
    return ', '.join(picks)


def make_step(loss_fn, opt, precision, device, sdpa='default'):
    """One training step: zero grads, forward+loss, backward, AdamW, with
    the SDPA kernel order of :func:`sdpa_context` around all of it."""
    use_bf16 = precision == 'bf16'

    def step():
        opt.zero_grad(set_to_none=True)
        with sdpa_context(sdpa):
            with torch.autocast(device.type, dtype=torch.bfloat16,
                                enabled=use_bf16):
                loss = loss_fn()
            loss.backward()
        opt.step()
        return loss

    return step


def measure_memory(step, opt, device) -> int:
    """Working memory (bytes) of one step above the state kept between
    steps (weights, AdamW moments)."""
    opt.zero_grad(set_to_none=True)
    sync(device)
    release_memory()
    if device.type == 'cuda':
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        sync(device)
        peak = torch.cuda.max_memory_allocated(device) - base
    else:
        mmap_ok = set_mmap_threshold(64 * 1024)
        release_memory()
        base = rss_bytes()
        with PeakRSS() as mon:
            step()
        peak = mon.peak - base
        set_mmap_threshold(32 * 2**20)
        if not mmap_ok:
            peak = -1
    opt.zero_grad(set_to_none=True)
    release_memory()
    return peak


def run_interleaved(fns, models, impls, device, precision, warmup, iters,
                    fused=(), sdpa='default'):
    """Warm up every implementation, then alternate their timed steps so
    that background load and thermal drift hit them alike.

    Returns:
        dict: impl -> (wall step times, process CPU times, working memory
        bytes, last loss).
    """
    opts = {i: make_optimizer(models[i], i in fused) for i in impls}
    steps = {
        i: make_step(fns[i], opts[i], precision, device, sdpa)
        for i in impls
    }
    for i in impls:
        for _ in range(warmup):
            steps[i]()
        sync(device)
    times = {i: [] for i in impls}
    cpu_times = {i: [] for i in impls}
    last = {}
    for _ in range(iters):
        for i in impls:
            sync(device)
            c0, t0 = time.process_time(), time.perf_counter()
            last[i] = steps[i]()
            sync(device)
            times[i].append(time.perf_counter() - t0)
            cpu_times[i].append(time.process_time() - c0)
    out = {}
    for i in impls:
        mem = measure_memory(steps[i], opts[i], device)
        out[i] = (times[i], cpu_times[i], mem, float(last[i].detach()))
    del opts, steps
    release_memory()
    return out


def make_optimizer(model, fused=False):
    """AdamW as in the recipes; ``fused`` uses torch's single-kernel
    implementation (``fused=True``) instead of the default ``foreach``."""
    kw = dict(fused=True) if fused else {}
    return torch.optim.AdamW(
        model.parameters(), lr=1.5e-4, betas=(0.9, 0.95), weight_decay=0.05,
        **kw)


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
    p.add_argument('--arch', choices=sorted(ARCHS), default='b')
    p.add_argument('--frames', type=int, default=16)
    p.add_argument('--img-size', type=int, default=224)
    p.add_argument('--patch-size', type=int, default=16)
    p.add_argument('--tubelet-size', type=int, default=2)
    p.add_argument('--decoder-depth', type=int, default=None,
                   help='default: 4 (2 for tiny)')
    p.add_argument('--mask-ratio', type=float, default=0.9)
    p.add_argument('--batch-size', type=int, default=2)
    p.add_argument('--iters', type=int, default=10)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--threads', type=int, default=None,
                   help='torch intra-op threads (CPU); default: torch default')
    p.add_argument('--device', default='cpu', help='cpu or cuda[:i]')
    p.add_argument('--precision', nargs='+', default=['fp32', 'bf16'],
                   choices=['fp32', 'bf16'])
    p.add_argument('--impl', nargs='+', default=['mmmae', 'hf'],
                   choices=['mmmae', 'mmmae-sync', 'mmmae-v2', 'hf'],
                   help='mmmae-v2: same model with V2 dual masking; '
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


def print_ratio_lines(results: dict, precisions) -> None:
    """Print ``ratio mmmae/hf`` of wall time, CPU time and working memory.

    Args:
        results (dict): ``(impl, precision) -> (wall times, CPU times,
            working memory)``.
        precisions (Iterable[str]): precisions to compare, in order.
    """
    for precision in precisions:
        a, b = results.get(('mmmae', precision)), results.get(
            ('hf', precision))
        if a and b:
            t_mean = statistics.mean(a[0]) / statistics.mean(b[0])
            t_min = min(a[0]) / min(b[0])
            c_ratio = statistics.mean(a[1]) / max(statistics.mean(b[1]),
                                                  1e-9)
            m_ratio = a[2] / b[2] if b[2] > 0 else float('nan')
            print(f'ratio mmmae/hf {precision}: wall time {t_mean:.3f} '
                  f'(mean), {t_min:.3f} (min); CPU time {c_ratio:.3f}; '
                  f'working memory {m_ratio:.3f}')


def main(argv=None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == 'cpu':
        set_mmap_threshold(32 * 2**20)
    if args.threads:
        torch.set_num_threads(args.threads)
    import mmmae  # noqa: F401
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
        if args.compile_scope == 'loss':
            ours.loss_from_masks = torch.compile(
                ours.loss_from_masks, dynamic=False)
        else:
            ours.backbone = torch.compile(ours.backbone, dynamic=False)
            ours.neck = torch.compile(ours.neck, dynamic=False)

    results = {}
    for precision in args.precision:
        fused = [i for i in args.impl if i != 'hf'] \
            if args.fused_adamw else []
        res = run_interleaved(fns, models, args.impl, device, precision,
                              args.warmup, args.iters, fused,
                              args.sdpa_backend)
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
    if args.json:
        import json
        with open(args.json, 'w') as fh:
            json.dump(dict(args=vars(args), device=str(device),
                           threads=torch.get_num_threads(),
                           matmul_tflops=peaks, rows=rows), fh, indent=1)

    if args.profile:
        for precision in args.precision:
            for impl in args.impl:
                profile_step(impl, fns[impl], models[impl], device,
                             precision, args.profile_top)
    return 0


if __name__ == '__main__':
    sys.exit(main())
