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

Timing, CPU time and working memory as in ``pretrain_step.py``
(:mod:`mmmae.utils.benchmark`): warmup, then the implementations' timed
calls alternate; working memory is one extra, untimed call, measured above
the memory held before it (the weights).
"""
import argparse
import os.path as osp
import sys
from typing import Callable, Dict

import torch

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:  # run as a script from a source checkout
    sys.path.insert(0, _REPO)

from mmmae.utils.benchmark import (ARCHS, SDPA_BACKENDS,  # noqa: E402
                                   add_common_args, build_classifiers,
                                   print_report, progress, run_interleaved,
                                   sdpa_choice, sdpa_context, setup,
                                   write_json)


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
    write_json(args, device, rows=rows, max_abs_logit_diff=d_logit,
               max_abs_score_diff=d_prob)
    return 0


if __name__ == '__main__':
    sys.exit(main())
