# Copyright (c) mmmae contributors. All rights reserved.
"""Time multi-view VideoMAE inference: MMAction2 + mmmae vs HF transformers.

One video is tested as MMAction2 tests Kinetics: ``--clips`` temporal clips x
``--crops`` spatial crops (default 5 x 3 = 15 views of 16x224x224), all views
in one batch, the class scores averaged after a softmax per view
(``average_clips='prob'``).

* ``mmmae``: MMAction2's ``Recognizer3D`` with ``mmmae.VideoMAEViT(
  use_mean_pooling=True)`` and ``TimeSformerHead`` (the layout of
  ``configs/_base_/models/vit-base-p16_videomae-recognizer.py``), called as
  ``model(views, data_samples, mode='predict')``.
* ``hf``: ``VideoMAEForVideoClassification`` (``attn_implementation='sdpa'``,
  mean pooling + ``fc_norm``); the same softmax-then-mean over its logits.

Both hold the *same weights*: the HF model is randomly initialised (its 1-D
parameters perturbed so biases and LayerNorms are not trivially 0/1) and
converted with :func:`mmmae.checkpoint.hf.convert_hf_videomae`; the
logits of every view and the averaged scores are compared before timing.
The views are random, already normalised tensors: neither side's input
preprocessing is timed.

Example (defaults: ViT-B, 1 video x 15 views, 400 classes)::

    python tools/benchmark/inference_views.py --iters 3 --warmup 1
    python tools/benchmark/inference_views.py --arch tiny --img-size 64 \\
        --frames 8
    python tools/benchmark/inference_views.py --device cuda --iters 20

Timing, CPU time and working memory follow ``pretrain_step.py`` (whose
helpers are imported): warmup, then the implementations' timed calls
alternate; working memory is one extra, untimed call, measured above the
memory held before it (the weights).
"""
import argparse
import os.path as osp
import statistics
import sys
import time
from typing import Callable, Dict, Mapping, Tuple

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from pretrain_step import (ARCHS, SDPA_BACKENDS,  # noqa: E402
                           hf_encoder_kwargs, measure_memory,
                           ours_backbone_cfg, print_ratio_lines,
                           release_memory, sdpa_choice, sdpa_context,
                           set_layer_norm_eps_, set_mmap_threshold, sync)

MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
# impl -> (wall times, process CPU times, working memory bytes, last output)
Results = Dict[Tuple[str, str], tuple]


# --------------------------------------------------------------------------
# models (shared with finetune_step.py)
# --------------------------------------------------------------------------
def hf_cls_config(args, num_classes: int):
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


def build_classifiers(args, device, num_classes: int):
    """HF ``VideoMAEForVideoClassification`` (sdpa) and the MMAction2
    recognizer with mmmae's backbone, holding the same weights.

    Returns:
        tuple: ``(recognizer, hf_model)`` on ``device`` in eval mode.
    """
    from mmaction.registry import MODELS
    from mmengine.registry import DefaultScope
    from transformers import VideoMAEForVideoClassification

    from mmmae.checkpoint.hf import convert_hf_videomae
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
                    type='ActionDataPreprocessor', mean=MEAN, std=STD,
                    format_shape='NCTHW')))
    sd = convert_hf_videomae(hf.state_dict())
    res = ours.load_state_dict(sd, strict=False)
    # only the preprocessor's mean/std buffers are not HF weights
    assert not res.unexpected_keys, res.unexpected_keys
    assert set(res.missing_keys) <= {'data_preprocessor.mean',
                                     'data_preprocessor.std'}, \
        res.missing_keys
    return ours.to(device).eval(), hf.to(device).eval()


# --------------------------------------------------------------------------
# timing and reporting (shared with finetune_step.py)
# --------------------------------------------------------------------------
def run_interleaved(steps: Mapping[str, Callable],
                    zeroers: Mapping[str, object], device, warmup: int,
                    iters: int) -> Dict[str, tuple]:
    """Warm up every implementation, then alternate their timed calls so
    that background load hits them alike, then measure working memory.

    Args:
        steps (Mapping[str, Callable]): impl -> one call to time.
        zeroers (Mapping[str, object]): impl -> what ``measure_memory``
            calls ``zero_grad(set_to_none=True)`` on around its step (the
            optimizer when training; the model for inference, where it is a
            no-op).
        device (torch.device): Device, synchronised around every call.
        warmup (int): Untimed calls per implementation.
        iters (int): Timed calls per implementation.

    Returns:
        dict: impl -> (wall times, process CPU times, working memory bytes,
        output of the last timed call).
    """
    for i, step in steps.items():
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


def print_report(results: Results, device, per: int, unit: str,
                 items: int, item_unit: str, extra=None) -> list:
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
    # Speed-ups (> 1 = faster) against HF fp32 and HF at the same
    # precision; on a shared CPU the CPU time is the steadier measure.
    key = 1 if device.type == 'cpu' else 0
    what = 'CPU time' if device.type == 'cpu' else 'wall time'
    for (impl, precision), r in results.items():
        if impl == 'hf':
            continue
        for ref_p in dict.fromkeys(['fp32', precision]):
            ref = results.get(('hf', ref_p))
            if ref:
                sp = statistics.mean(ref[key]) / max(
                    statistics.mean(r[key]), 1e-9)
                wall = statistics.mean(ref[0]) / statistics.mean(r[0])
                print(f'speed-up {impl} {precision} vs hf {ref_p} ({what}): '
                      f'{sp:.2f}x (wall {wall:.2f}x)')
    return rows


def add_common_args(p: argparse.ArgumentParser) -> None:
    """Model, device and timing arguments both benchmarks share."""
    p.add_argument('--arch', choices=sorted(ARCHS), default='b')
    p.add_argument('--frames', type=int, default=16)
    p.add_argument('--img-size', type=int, default=224)
    p.add_argument('--patch-size', type=int, default=16)
    p.add_argument('--tubelet-size', type=int, default=2)
    p.add_argument('--num-classes', type=int, default=400)
    p.add_argument('--iters', type=int, default=10)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--threads', type=int, default=None,
                   help='torch intra-op threads (CPU); default: torch default')
    p.add_argument('--device', default='cpu', help='cpu or cuda[:i]')
    p.add_argument('--precision', nargs='+', default=['fp32', 'bf16'],
                   choices=['fp32', 'bf16'])
    p.add_argument('--impl', nargs='+', default=['mmmae', 'hf'],
                   choices=['mmmae', 'hf'])
    p.add_argument('--json', default=None,
                   help='also write the results as JSON to this file')
    p.add_argument('--seed', type=int, default=0)


def setup(args):
    """Device, glibc mmap threshold and thread count, as pretrain_step."""
    device = torch.device(args.device)
    if device.type == 'cpu':
        # steady-state threshold for timed calls (see pretrain_step)
        set_mmap_threshold(32 * 2**20)
    if args.threads:
        torch.set_num_threads(args.threads)
    import mmmae  # noqa: F401  (registers mmmae.* before any build)
    return device


def write_json(args, device, rows, **extra) -> None:
    """Write the arguments, device and table rows to ``args.json``."""
    if args.json:
        import json
        with open(args.json, 'w') as fh:
            json.dump(dict(args=vars(args), device=str(device),
                           threads=torch.get_num_threads(), rows=rows,
                           **extra), fh, indent=1)


# --------------------------------------------------------------------------
# inference
# --------------------------------------------------------------------------
def make_views(args, device):
    """``(videos, views, C, T, H, W)`` normalised views and the HF layout
    ``(videos * views, T, C, H, W)``."""
    gen = torch.Generator().manual_seed(args.seed + 2)
    v = args.clips * args.crops
    x = torch.randn(args.videos, v, 3, args.frames, args.img_size,
                    args.img_size, generator=gen)
    x_hf = x.flatten(0, 1).permute(0, 2, 1, 3, 4).contiguous()
    return x.to(device), x_hf.to(device)


def infer_fns(ours, hf, x, x_hf) -> Dict[str, Callable]:
    """Closures returning the averaged class scores ``(videos, classes)``.

    Both average the per-view softmax over the views of a video, which is
    what ``average_clips='prob'`` does inside the MMAction2 head.
    """
    from mmaction.structures import ActionDataSample
    n_videos, n_views = x.shape[:2]
    samples = [ActionDataSample() for _ in range(n_videos)]

    def ours_fn():
        out = ours(x, samples, mode='predict')
        return torch.stack([o.pred_score for o in out])

    def hf_fn():
        logits = hf(pixel_values=x_hf).logits
        return logits.float().view(n_videos, n_views, -1).softmax(-1).mean(1)

    return {'mmmae': ours_fn, 'hf': hf_fn}


def make_infer(fn, precision, device, grad_mode, sdpa='default'):
    """One timed inference call: ``fn`` under the grad mode, the SDPA
    kernel order of ``sdpa_context(sdpa)`` and, for ``'bf16'``, bfloat16
    autocast."""
    ctx = torch.inference_mode if grad_mode == 'inference' else torch.no_grad
    use_bf16 = precision == 'bf16'

    def step():
        with ctx(), sdpa_context(sdpa), torch.autocast(
                device.type, dtype=torch.bfloat16, enabled=use_bf16):
            return fn()

    return step


def parity_check(ours, hf, x, x_hf, views: int = 0) -> float:
    """fp32 max |diff| of the per-view logits.

    The averaged scores of all views are compared on the outputs of the
    timed fp32 calls instead, which saves two forwards of all views.

    Args:
        views (int): Compare only the first ``views`` views of the first
            video (a 15-view ViT-B forward costs minutes on a small CPU);
            0 = all views.
    """
    xs = x.flatten(0, 1)
    if views:
        xs, x_hf = xs[:views], x_hf[:views]
    with torch.inference_mode():
        a = ours.cls_head(ours.backbone(xs))
        b = hf(pixel_values=x_hf).logits
    return float((a - b).abs().max())


def progress(impl, precision, r, per, unit) -> None:
    """One line per implementation as soon as it is measured, so that a
    long run cut short still leaves its numbers."""
    mem = f'{r[2] / 2**20:.0f} MiB' if r[2] >= 0 else 'n/a'
    print(f'  {impl:6s} {precision}: '
          f'{statistics.mean(r[0]) / per * 1e3:9.1f} ms/{unit}, '
          f'CPU {statistics.mean(r[1]) / per:.2f} s/{unit}, work mem {mem} '
          f'(calls: {", ".join(f"{t:.2f}" for t in r[0])} s)', flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='mmmae (MMAction2 Recognizer3D) vs HF VideoMAE '
        'multi-view inference time and memory')
    add_common_args(p)
    p.add_argument('--clips', type=int, default=5,
                   help='temporal clips per video')
    p.add_argument('--crops', type=int, default=3,
                   help='spatial crops per clip')
    p.add_argument('--videos', type=int, default=1,
                   help='videos per timed call (all views in one batch)')
    p.add_argument('--grad-mode', choices=['inference', 'no_grad'],
                   default='inference',
                   help='torch.inference_mode() or torch.no_grad()')
    p.add_argument('--sdpa-backend', choices=SDPA_BACKENDS,
                   default='default',
                   help='SDPA kernel tried first, for both implementations '
                   '(default: torch\'s own order, which the run prints)')
    p.add_argument('--parity-views', type=int, default=0,
                   help='compare the logits of only this many views before '
                   'timing (0 = all); the averaged scores of all views are '
                   'compared on the timed fp32 calls either way')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    device = setup(args)
    import transformers

    ours, hf = build_classifiers(args, device, args.num_classes)
    x, x_hf = make_views(args, device)
    fns = infer_fns(ours, hf, x, x_hf)
    models = {'mmmae': ours, 'hf': hf}
    n_views = args.clips * args.crops
    n_tok = (args.frames // args.tubelet_size) * \
        (args.img_size // args.patch_size)**2
    n_params = sum(p.numel() for p in ours.parameters())
    print(f'torch {torch.__version__}, transformers {transformers.__version__}'
          f', device {device}, threads {torch.get_num_threads()}')
    print(f'arch {args.arch}: {n_params / 1e6:.1f}M params, '
          f'{args.num_classes} classes; {args.videos} video(s) x '
          f'{args.clips} clips x {args.crops} crops = {n_views} views of '
          f'{args.frames}x{args.img_size}x{args.img_size} ({n_tok} tokens) '
          f'per video, one batch; {args.grad_mode} mode, warmup '
          f'{args.warmup}, iters {args.iters}')
    kernels = sdpa_choice(device, args.sdpa_backend, ARCHS[args.arch][2],
                          n_tok)
    print(f'SDPA kernel ({args.sdpa_backend}) for the encoder: {kernels}')
    d_logit = parity_check(ours, hf, x, x_hf, args.parity_views)
    n_checked = min(args.parity_views or x.shape[0] * n_views,
                    x.shape[0] * n_views)
    print(f'same weights (fp32): max |logits(mmmae) - logits(hf)| = '
          f'{d_logit:.2e} over {n_checked} views', flush=True)
    assert d_logit < 1e-3, f'logits disagree: {d_logit}'

    results = {}
    for precision in args.precision:
        steps = {
            i: make_infer(fns[i], precision, device, args.grad_mode,
                          args.sdpa_backend)
            for i in args.impl
        }
        res = run_interleaved(steps, models, device, args.warmup, args.iters)
        for impl, r in res.items():
            results[(impl, precision)] = r
            progress(impl, precision, r, args.videos, 'video')
    ref = results.get(('mmmae', 'fp32'))
    d_prob = None
    if ref and ('hf', 'fp32') in results:
        d_prob = float((ref[3] - results[('hf', 'fp32')][3]).abs().max())
        print(f'same weights (fp32): max |diff| of the averaged scores = '
              f'{d_prob:.2e}')

    def vs_fp32(scores):  # how far bf16 scores move from mmmae fp32
        if ref is None:
            return '-'
        return f'{float((scores.float() - ref[3].float()).abs().max()):.1e}'

    rows = print_report(results, device, args.videos, 'video',
                        args.videos * n_views, 'views',
                        extra=('max|p-p32|', vs_fp32))
    write_json(args, device, rows, max_abs_logit_diff=d_logit,
               max_abs_score_diff=d_prob)
    return 0


if __name__ == '__main__':
    sys.exit(main())
