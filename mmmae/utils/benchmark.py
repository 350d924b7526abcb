# Copyright (c) mmmae contributors. All rights reserved.
"""The harness the speed benchmarks in ``tools/benchmark/`` share.

``pretrain_step.py``, ``finetune_step.py``, ``inference_views.py`` and
``multimae_step.py`` each compare mmmae with a peer (HuggingFace
transformers or a written-out reference) in one process. What they measure
and how is the same for all and lives here::

    from mmmae.utils.benchmark import (adamw, run_interleaved, setup,
                                       time_training)
    device = setup(args)                  # mmap threshold, threads
    res = time_training(loss_fns, {i: adamw(models[i]) for i in impls},
                        device, 'fp32', warmup=2, iters=10)
    times, cpu_times, work_mem, loss = res['mmmae']

Timing: every implementation is warmed up, then their timed calls alternate
(mmmae, hf, mmmae, hf, ...) so that background load and thermal drift hit
them alike (:func:`run_interleaved`). Wall time is recorded per call, and the
process CPU time (``time.process_time``, all threads), which a busy machine
distorts less.

Working memory: one extra, untimed call per implementation, measured above
what persists between calls (weights, AdamW moments; :func:`measure_memory`).
On CUDA ``max_memory_allocated`` minus ``memory_allocated`` before the call.
On CPU the peak resident set size (``/proc/self/statm`` sampled every 2 ms by
a thread, :class:`PeakRSS`) minus the RSS before the call; for that call
glibc is told (``mallopt``) to serve blocks >= 64 KiB with ``mmap``, so freed
tensors leave the RSS at once and one implementation's freed pages cannot
hide the other's peak. Timed calls run with a fixed 32 MiB mmap threshold
(glibc's dynamic steady state) so they do not pay for page faults.

The VideoMAE benchmarks also share the architecture table :data:`ARCHS` and
the builders of same-weight model pairs (:func:`hf_encoder_kwargs`,
:func:`ours_backbone_cfg`, :func:`build_classifiers`), and the report
printers (:func:`print_report`, :func:`print_ratio_lines`,
:func:`progress`).
"""
import argparse
import contextlib
import ctypes
import gc
import json
import os
import statistics
import threading
import time
from typing import (Callable, Dict, Iterable, Iterator, Mapping, Sequence,
                    Tuple)

import torch

__all__ = [
    'ARCHS', 'SDPA_BACKENDS', 'set_mmap_threshold', 'release_memory',
    'rss_bytes', 'PeakRSS', 'sync', 'measure_memory', 'sdpa_context',
    'sdpa_choice', 'make_step', 'adamw', 'run_interleaved', 'time_training',
    'print_ratio_lines', 'print_report', 'speed_ups', 'progress',
    'add_model_args', 'add_timing_args', 'add_common_args', 'setup',
    'write_json', 'hf_encoder_kwargs', 'set_layer_norm_eps_',
    'ours_backbone_cfg', 'hf_cls_config', 'build_classifiers'
]

ARCHS = {
    # name: (dims, depth, heads, ffn, dec dims, dec depth, dec heads)
    'tiny': (192, 4, 3, 768, 96, 2, 3),
    's': (384, 12, 6, 1536, 192, 4, 3),
    'b': (768, 12, 12, 3072, 384, 4, 6),
    'l': (1024, 24, 16, 4096, 512, 4, 8),
}
SDPA_BACKENDS = ('default', 'cudnn', 'flash', 'efficient', 'math')
# (impl, precision) -> (wall times, process CPU times, working memory bytes,
# last output)
Results = Dict[Tuple[str, str], tuple]


# --------------------------------------------------------------------------
# memory
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
    """Collect garbage and hand freed heap pages back to the system."""
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
    """Context manager sampling the RSS peak in a background thread.

    Args:
        interval (float): Seconds between samples.

    Attributes:
        peak (int): The largest RSS in bytes seen between entering and
            leaving, both ends included.
    """

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


def sync(device: torch.device) -> None:
    """Wait for the queued CUDA work, so a timer around a call sees it."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def measure_memory(step: Callable, zeroer, device: torch.device) -> int:
    """Working memory of one ``step()`` above what is kept between steps.

    Args:
        step (Callable): One call (a training step or an inference call).
        zeroer: Object whose ``zero_grad(set_to_none=True)`` drops the
            gradients around the step (the optimizer when training; the
            model for inference, where it is a no-op).
        device (torch.device): CUDA: allocator peak; CPU: sampled RSS peak.

    Returns:
        int: Bytes, or -1 on CPU where glibc refused the mmap threshold (the
        RSS would not follow frees, and the number would mean nothing).
    """
    zeroer.zero_grad(set_to_none=True)
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
    zeroer.zero_grad(set_to_none=True)
    release_memory()
    return peak


# --------------------------------------------------------------------------
# attention kernels
# --------------------------------------------------------------------------
def sdpa_context(name: str = 'default'):
    """Context that puts one SDPA kernel first in torch's priority order.

    torch's default order depends on the build and the card: the CPU build
    lists cuDNN attention last, while torch 2.11 on an H200 already picked
    it for bf16 (measured 2026-11-27). This makes the choice explicit for
    comparisons. The other kernels stay in the list, so inputs the first
    cannot take (fp32 for cuDNN and flash, CPU tensors) still run.

    Args:
        name (str): One of :data:`SDPA_BACKENDS`; ``'default'`` leaves
            torch's order alone.
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


def sdpa_choice(device: torch.device, sdpa: str, heads: int,
                tokens: int) -> str:
    """The SDPA kernels torch picks under :func:`sdpa_context` for
    ``(2, heads, tokens, 64)`` inputs.

    Returns:
        str: e.g. ``'bf16 CUDNN_ATTENTION, fp32 EFFICIENT_ATTENTION'``.
    """
    from torch.nn.attention import SDPBackend
    picks = []
    for name, dtype in (('bf16', torch.bfloat16), ('fp32', torch.float32)):
        q = torch.zeros(2, heads, tokens, 64, device=device, dtype=dtype)
        with sdpa_context(sdpa):
            kernel = SDPBackend(torch._fused_sdp_choice(q, q, q)).name
        picks.append(f'{name} {kernel}')
    return ', '.join(picks)


# --------------------------------------------------------------------------
# steps and the timing loop
# --------------------------------------------------------------------------
def make_step(loss_fn: Callable, opt, precision: str, device: torch.device,
              sdpa: str = 'default') -> Callable:
    """One training step: zero grads, forward+loss, backward, optimizer
    step, with the SDPA kernel order of :func:`sdpa_context` around all of
    it and bf16 autocast for ``precision='bf16'``.

    Returns:
        Callable: ``step() -> loss`` (the loss tensor of the step).
    """
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


def adamw(model: torch.nn.Module,
          fused: bool = False,
          lr: float = 1.5e-4,
          betas: Tuple[float, float] = (0.9, 0.95),
          weight_decay: float = 0.05) -> torch.optim.AdamW:
    """AdamW over all parameters, one group; defaults: the pretraining
    recipes.

    Args:
        fused (bool): torch's single-kernel implementation instead of the
            default ``foreach`` one.
    """
    kw = dict(fused=True) if fused else {}
    return torch.optim.AdamW(model.parameters(), lr=lr, betas=betas,
                             weight_decay=weight_decay, **kw)


def run_interleaved(steps: Mapping[str, Callable],
                    zeroers: Mapping[str, object], device: torch.device,
                    warmup: int, iters: int) -> Dict[str, tuple]:
    """Warm up every implementation, then alternate their timed calls so
    that background load hits them alike, then measure working memory.

    Args:
        steps (Mapping[str, Callable]): impl -> one call to time.
        zeroers (Mapping[str, object]): impl -> what :func:`measure_memory`
            calls ``zero_grad(set_to_none=True)`` on around its call.
        device (torch.device): Device, synchronised around every call.
        warmup (int): Untimed calls per implementation.
        iters (int): Timed calls per implementation.

    Returns:
        dict: impl -> (wall times, process CPU times, working memory bytes,
        output of the last timed call).
    """
    for step in steps.values():
        for _ in range(warmup):
            step()
        sync(device)
    times = {i: [] for i in steps}
    cpu_times = {i: [] for i in steps}
    last = {}
    for _ in range(iters):
        for i, step in steps.items():
            sync(device)
            c0, t0 = time.process_time(), time.perf_counter()
            last[i] = step()
            sync(device)
            times[i].append(time.perf_counter() - t0)
            cpu_times[i].append(time.process_time() - c0)
    out = {}
    for i, step in steps.items():
        mem = measure_memory(step, zeroers[i], device)
        out[i] = (times[i], cpu_times[i], mem, last[i])
    release_memory()
    return out


def time_training(loss_fns: Mapping[str, Callable],
                  optimizers: Mapping[str, object],
                  device: torch.device,
                  precision: str,
                  warmup: int,
                  iters: int,
                  sdpa: str = 'default') -> Dict[str, tuple]:
    """:func:`run_interleaved` over training steps (:func:`make_step`).

    Args:
        loss_fns (Mapping[str, Callable]): impl -> forward + loss closure.
        optimizers (Mapping[str, object]): impl -> its optimizer; the impls
            timed, in this order. Pass fresh ones: moments are allocated on
            the first warmup step, so every timed step sees the same state.
        precision (str): ``'fp32'`` or ``'bf16'`` (autocast).
        sdpa (str): SDPA kernel tried first (:func:`sdpa_context`).

    Returns:
        dict: impl -> (wall times, process CPU times, working memory bytes,
        last loss as a float).
    """
    steps = {
        i: make_step(loss_fns[i], opt, precision, device, sdpa)
        for i, opt in optimizers.items()
    }
    res = run_interleaved(steps, optimizers, device, warmup, iters)
    return {i: r[:3] + (float(r[3].detach()), ) for i, r in res.items()}


# --------------------------------------------------------------------------
# reports
# --------------------------------------------------------------------------
def print_ratio_lines(results: Results, precisions: Iterable[str]) -> None:
    """Print ``ratio mmmae/hf`` of wall time, CPU time and working memory.

    Args:
        results (Results): ``(impl, precision) -> (wall times, CPU times,
            working memory, ...)``.
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


def print_report(results: Results, device: torch.device, per: int,
                 unit: str, items: int, item_unit: str, extra=None) -> list:
    """Print the markdown table, mmmae/hf ratios and speed-ups.

    Args:
        results (Results): (impl, precision) -> :func:`run_interleaved`
            tuple.
        device (torch.device): Where it ran (CPU time only shown on CPU).
        per (int): Number of ``unit`` per timed call (videos, clips).
        unit (str): Name of the unit times are quoted per.
        items (int): Number of ``item_unit`` per timed call (views, clips)
            for the throughput column.
        item_unit (str): Name of the throughput unit.
        extra (tuple, optional): ``(column name, fn(last output) -> str)``.

    Returns:
        list[dict]: The rows, for ``--json``.
    """
    cols = ['impl', 'precision', f'ms/{unit} mean', f'ms/{unit} min',
            f'{item_unit}/s', f'CPU-s/{unit}', 'work mem MiB']
    if extra:
        cols.append(extra[0])
    rows, lines = [], []
    for (impl, precision), (times, cpu, peak, last) in results.items():
        t = statistics.mean(times)
        row = dict(impl=impl, precision=precision,
                   ms_per_unit=t / per * 1e3,
                   ms_per_unit_min=min(times) / per * 1e3,
                   items_per_s=items / t,
                   cpu_s_per_unit=statistics.mean(cpu) / per,
                   work_mem_mib=peak / 2**20 if peak >= 0 else None)
        vals = [
            impl, precision, f'{row["ms_per_unit"]:.1f}',
            f'{row["ms_per_unit_min"]:.1f}', f'{row["items_per_s"]:.2f}',
            f'{row["cpu_s_per_unit"]:.2f}' if device.type == 'cpu' else '-',
            f'{peak / 2**20:.0f}' if peak >= 0 else 'n/a'
        ]
        if extra:
            vals.append(extra[1](last))
            row[extra[0]] = vals[-1]
        rows.append(row)
        lines.append(vals)
    # widths fit the longest cell, so the markdown lines up in a terminal
    widths = [max([len(c)] + [len(v[k]) for v in lines])
              for k, c in enumerate(cols)]
    print('\n| ' + ' | '.join(c.rjust(w) for c, w in zip(cols, widths)) +
          ' |')
    print('|' + '|'.join('-' * (w + 2) for w in widths) + '|')
    for vals in lines:
        print('| ' + ' | '.join(v.rjust(w) for v, w in zip(vals, widths)) +
              ' |')
    print_ratio_lines(results, dict.fromkeys(p for _, p in results))
    what = 'CPU time' if device.type == 'cpu' else 'wall time'
    for impl, precision, ref_p, sp, r, ref in speed_ups(results, device):
        wall = statistics.mean(ref[0]) / statistics.mean(r[0])
        print(f'speed-up {impl} {precision} vs hf {ref_p} ({what}): '
              f'{sp:.2f}x (wall {wall:.2f}x)')
    return rows


def speed_ups(results: Results, device: torch.device,
              peer: str = 'hf') -> Iterator[tuple]:
    """Speed-ups (> 1 = faster) of every implementation against ``peer``
    in fp32 and in its own precision.

    On CPU they compare process CPU time, which a shared machine distorts
    less than wall time; on a GPU, wall time.

    Args:
        results (Results): (impl, precision) -> :func:`run_interleaved`
            tuple.
        peer (str): The implementation compared against.

    Yields:
        tuple: ``(impl, precision, peer precision, speed-up, impl's tuple,
        peer's tuple)``.
    """
    key = 1 if device.type == 'cpu' else 0
    for (impl, precision), r in results.items():
        if impl == peer:
            continue
        for ref_p in dict.fromkeys(['fp32', precision]):
            ref = results.get((peer, ref_p))
            if ref:
                sp = statistics.mean(ref[key]) / max(
                    statistics.mean(r[key]), 1e-9)
                yield impl, precision, ref_p, sp, r, ref


def progress(impl: str, precision: str, r: tuple, per: int,
             unit: str) -> None:
    """One line per implementation as soon as it is measured, so that a
    long run cut short still leaves its numbers.

    Args:
        r (tuple): The implementation's :func:`run_interleaved` tuple.
        per (int): Number of ``unit`` per timed call.
    """
    mem = f'{r[2] / 2**20:.0f} MiB' if r[2] >= 0 else 'n/a'
    print(f'  {impl:6s} {precision}: '
          f'{statistics.mean(r[0]) / per * 1e3:9.1f} ms/{unit}, '
          f'CPU {statistics.mean(r[1]) / per:.2f} s/{unit}, work mem {mem} '
          f'(calls: {", ".join(f"{t:.2f}" for t in r[0])} s)', flush=True)


# --------------------------------------------------------------------------
# command lines
# --------------------------------------------------------------------------
def add_model_args(p: argparse.ArgumentParser) -> None:
    """``--arch`` (:data:`ARCHS`) and the clip geometry of the VideoMAE
    benchmarks."""
    p.add_argument('--arch', choices=sorted(ARCHS), default='b')
    p.add_argument('--frames', type=int, default=16)
    p.add_argument('--img-size', type=int, default=224)
    p.add_argument('--patch-size', type=int, default=16)
    p.add_argument('--tubelet-size', type=int, default=2)


def add_timing_args(p: argparse.ArgumentParser,
                    impls: Sequence[str] = ('mmmae', 'hf'),
                    default_impls: Sequence[str] = None,
                    iters: int = 10,
                    warmup: int = 2,
                    impl_help: str = None) -> None:
    """``--iters``, ``--warmup``, ``--threads``, ``--device``,
    ``--precision`` and ``--impl`` (choices ``impls``, default
    ``default_impls`` or all of them)."""
    p.add_argument('--iters', type=int, default=iters)
    p.add_argument('--warmup', type=int, default=warmup)
    p.add_argument('--threads', type=int, default=None,
                   help='torch intra-op threads (CPU); default: torch default')
    p.add_argument('--device', default='cpu', help='cpu or cuda[:i]')
    p.add_argument('--precision', nargs='+', default=['fp32', 'bf16'],
                   choices=['fp32', 'bf16'])
    p.add_argument('--impl', nargs='+', default=list(default_impls or impls),
                   choices=list(impls), help=impl_help)


def add_common_args(p: argparse.ArgumentParser) -> None:
    """Model, device and timing arguments of the classifier benchmarks
    (``inference_views.py``, ``finetune_step.py``)."""
    add_model_args(p)
    p.add_argument('--num-classes', type=int, default=400)
    add_timing_args(p)
    p.add_argument('--json', default=None,
                   help='also write the results as JSON to this file')
    p.add_argument('--seed', type=int, default=0)


def setup(args: argparse.Namespace) -> torch.device:
    """Device, glibc mmap threshold and thread count from ``args``
    (``device``, ``threads``); registers mmmae's modules.

    Returns:
        torch.device: ``args.device``.
    """
    device = torch.device(args.device)
    if device.type == 'cpu':
        # steady-state threshold for the timed calls (module docstring)
        set_mmap_threshold(32 * 2**20)
    if args.threads:
        torch.set_num_threads(args.threads)
    import mmmae  # noqa: F401  (registers mmmae.* before any build)
    return device


def write_json(args: argparse.Namespace, device: torch.device,
               **fields) -> None:
    """Write the arguments, device, thread count and ``fields`` (in their
    order) to ``args.json``; nothing without ``--json``."""
    if args.json:
        with open(args.json, 'w') as fh:
            json.dump(dict(args=vars(args), device=str(device),
                           threads=torch.get_num_threads(), **fields),
                      fh, indent=1)


# --------------------------------------------------------------------------
# VideoMAE models with the same weights as HF's
# --------------------------------------------------------------------------
def hf_encoder_kwargs(args: argparse.Namespace) -> dict:
    """``VideoMAEConfig`` keywords of the encoder the benchmarks share:
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
    """Set every LayerNorm's eps: HF hard-codes 1e-5 for some norms
    (``decoder.norm``, ``fc_norm``); the official models use 1e-6."""
    for m in model.modules():
        if isinstance(m, torch.nn.LayerNorm):
            m.eps = eps


def ours_backbone_cfg(args: argparse.Namespace, **kwargs) -> dict:
    """``mmmae.VideoMAEViT`` config matching :func:`hf_encoder_kwargs`;
    ``kwargs`` are further backbone keywords."""
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


def hf_cls_config(args: argparse.Namespace, num_classes: int):
    """HF config of the classifier: mean pooling, eps 1e-6, no dropout."""
    from transformers import VideoMAEConfig
    return VideoMAEConfig(
        use_mean_pooling=True, num_labels=num_classes,
        **hf_encoder_kwargs(args))


def _perturb_1d_(model: torch.nn.Module, seed: int) -> None:
    """Add N(0, 0.1^2) to every 1-D parameter.

    A fresh model has zero biases and identity LayerNorms, so a bias or norm
    dropped or swapped in the conversion would still agree; perturbed ones
    make the agreement check meaningful. ``key.bias`` (a parameter in some
    transformers versions) stays zero: the official attention has none and
    the converter rejects a nonzero one.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and not name.endswith('attention.key.bias'):
                p.add_(0.1 * torch.randn(p.shape, generator=gen))


def build_classifiers(args: argparse.Namespace, device: torch.device,
                      num_classes: int):
    """HF ``VideoMAEForVideoClassification`` (sdpa) and the MMAction2
    recognizer with mmmae's backbone, holding the same weights.

    Args:
        args (argparse.Namespace): ``arch``, the clip geometry
            (:func:`add_model_args`) and ``seed``.
        device (torch.device): Where the models go.
        num_classes (int): Classes of both heads.

    Returns:
        tuple: ``(recognizer, hf_model)`` on ``device`` in eval mode.
    """
    from mmaction.registry import MODELS
    from mmengine.registry import DefaultScope
    from transformers import VideoMAEForVideoClassification

    from mmmae.checkpoint.hf import convert_hf_videomae
    from mmmae.models.data_preprocessors.video_preprocessor import (
        IMAGENET_MEAN_255, IMAGENET_STD_255)
    torch.manual_seed(args.seed)
    hf = VideoMAEForVideoClassification._from_config(
        hf_cls_config(args, num_classes), attn_implementation='sdpa')
    set_layer_norm_eps_(hf)
    _perturb_1d_(hf, args.seed + 1)
    d = ARCHS[args.arch][0]
    with DefaultScope.overwrite_default_scope('mmaction'):
        ours = MODELS.build(
            dict(
                type='Recognizer3D',
                # HF has no stochastic depth: keep the work equal
                backbone=ours_backbone_cfg(
                    args, drop_path_rate=0., use_mean_pooling=True),
                cls_head=dict(
                    type='TimeSformerHead',
                    num_classes=num_classes,
                    in_channels=d,
                    dropout_ratio=0.,
                    # HF's loss has no smoothing; the losses must agree
                    label_smooth_eps=0.,
                    average_clips='prob'),
                data_preprocessor=dict(
                    type='ActionDataPreprocessor',
                    mean=list(IMAGENET_MEAN_255),
                    std=list(IMAGENET_STD_255),
                    format_shape='NCTHW')))
    sd = convert_hf_videomae(hf.state_dict())
    res = ours.load_state_dict(sd, strict=False)
    # only the preprocessor's mean/std buffers are not HF weights
    assert not res.unexpected_keys, res.unexpected_keys
    assert set(res.missing_keys) <= {'data_preprocessor.mean',
                                     'data_preprocessor.std'}, \
        res.missing_keys
    return ours.to(device).eval(), hf.to(device).eval()
