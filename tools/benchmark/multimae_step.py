# Copyright (c) mmmae contributors. All rights reserved.
"""Time one MultiMAE pretraining step: mmmae vs a reference implementation.

There is no HuggingFace MultiMAE, so the peer is ``RefMultiMAE``
(:mod:`mmmae.utils.multimae_reference`): the official architecture's math
written out plainly, the way the official code computes it (our own code,
not a copy):

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
``max_memory_allocated`` on CUDA) follow ``pretrain_step.py``: both use
:mod:`mmmae.utils.benchmark`.
"""
import argparse
import os.path as osp
import statistics
import sys
from typing import Dict

import torch

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:  # run as a script from a source checkout
    sys.path.insert(0, _REPO)

from mmmae.utils.benchmark import (add_timing_args, adamw,  # noqa: E402
                                   release_memory, setup, speed_ups,
                                   time_training, write_json)
from mmmae.utils.multimae_reference import (ARCHS,  # noqa: E402
                                            build_models, loss_fns,
                                            make_batch)


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
    add_timing_args(p, impls=('mmmae', 'ref'), iters=5, warmup=1)
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
    what = 'CPU time' if cpu else 'wall time'
    for _, prec, ref_p, sp, r, peer in speed_ups(results, device, 'ref'):
        mem = (f', working memory {r[2] / peer[2]:.2f}x'
               if r[2] > 0 and peer[2] > 0 else '')
        print(f'speed-up mmmae {prec} vs ref {ref_p} ({what}): '
              f'{sp:.2f}x{mem}')
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)
    device = setup(args)

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
        # AdamW of the pretraining recipes, fresh per precision
        res = time_training(fns, {i: adamw(models[i]) for i in args.impl},
                            device, prec, args.warmup, args.iters)
        for impl, r in res.items():
            results[(impl, prec)] = r
            mem = f'{r[2] / 2**20:.0f} MiB' if r[2] >= 0 else 'n/a'
            print(f'  {impl:5s} {prec}: {statistics.mean(r[0]) * 1e3:8.1f} '
                  f'ms/step, CPU {statistics.mean(r[1]):.2f} s/step, work mem '
                  f'{mem} (steps: {", ".join(f"{t:.2f}" for t in r[0])} s)',
                  flush=True)
        release_memory()
    rows = report(results, args, device)
    write_json(args, device, rows=rows, loss_diff_fp32=d_loss)
    return 0


if __name__ == '__main__':
    sys.exit(main())
