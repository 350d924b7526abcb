# Copyright (c) mmmae contributors. All rights reserved.
"""Time one VideoMAE fine-tuning step: MMAction2 + mmmae vs HF transformers.

The pair of ``inference_views.py`` (same weights, converted with
:func:`mmmae.checkpoint.hf.convert_hf_videomae`), now trained: one step
is forward + cross-entropy + backward + ``AdamW.step()`` on a batch of
``--batch-size`` clips with hard labels.

* ``mmmae``: ``Recognizer3D.loss(clips, data_samples)`` (MMAction2's training
  path: ``mmmae.VideoMAEViT`` with mean pooling, ``TimeSformerHead``,
  cross-entropy, and the head's top-k accuracy it computes on every step).
* ``hf``: ``VideoMAEForVideoClassification(pixel_values, labels).loss``
  (``attn_implementation='sdpa'``).

For the losses to agree the recognizer uses no label smoothing, no drop path
(HF VideoMAE has none) and no dropout; mixup/cutmix live in the data
preprocessor, which is not timed (the clips are already normalised).
AdamW uses the VideoMAE fine-tuning settings (betas 0.9/0.999, weight decay
0.05) without layer-wise decay, whose parameter groups do not change the
work.

Example (defaults: ViT-B, 16x224x224, batch 2, 400 classes)::

    python tools/benchmark/finetune_step.py --iters 3 --warmup 1
    python tools/benchmark/finetune_step.py --arch tiny --img-size 64 \\
        --frames 8
    python tools/benchmark/finetune_step.py --device cuda --iters 20

Timing, CPU time and working memory (one extra step, above the weights and
AdamW moments) as in ``pretrain_step.py`` (:mod:`mmmae.utils.benchmark`).
"""
import argparse
import os.path as osp
import sys
from typing import Callable, Dict

import torch

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:  # run as a script from a source checkout
    sys.path.insert(0, _REPO)

from mmmae.utils.benchmark import (add_common_args, adamw,  # noqa: E402
                                   build_classifiers, print_report, progress,
                                   setup, time_training, write_json)


def make_batch(args, device):
    """Clips ``(B, 1, C, T, H, W)`` (one view each, as the recognizer's
    training input), the HF layout ``(B, T, C, H, W)`` and labels ``(B,)``.
    """
    gen = torch.Generator().manual_seed(args.seed + 2)
    B = args.batch_size
    x = torch.randn(B, 1, 3, args.frames, args.img_size, args.img_size,
                    generator=gen)
    labels = torch.randint(args.num_classes, (B, ), generator=gen)
    x_hf = x[:, 0].permute(0, 2, 1, 3, 4).contiguous()
    return x.to(device), x_hf.to(device), labels.to(device)


def loss_fns(ours, hf, x, x_hf, labels) -> Dict[str, Callable]:
    """Loss closures (forward + loss) for each implementation."""
    from mmaction.structures import ActionDataSample
    samples = [ActionDataSample().set_gt_label(int(y)) for y in labels]

    def ours_loss():
        return ours(x, samples, mode='loss')['loss_cls']

    def hf_loss():
        return hf(pixel_values=x_hf, labels=labels).loss

    return {'mmmae': ours_loss, 'hf': hf_loss}


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='mmmae (MMAction2 Recognizer3D) vs HF VideoMAE '
        'fine-tuning step time and memory')
    add_common_args(p)
    p.add_argument('--batch-size', type=int, default=2)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    device = setup(args)
    import transformers

    ours, hf = build_classifiers(args, device, args.num_classes)
    ours.train()
    hf.train()
    x, x_hf, labels = make_batch(args, device)
    fns = loss_fns(ours, hf, x, x_hf, labels)
    # bf16 logits reach MMAction2's numpy top-k accuracy: mmmae.utils.compat
    # casts them (patch_mmaction_head_bf16_topk)
    models = {'mmmae': ours, 'hf': hf}
    bs = args.batch_size
    n_tok = (args.frames // args.tubelet_size) * \
        (args.img_size // args.patch_size)**2
    n_params = sum(p.numel() for p in ours.parameters())
    print(f'torch {torch.__version__}, transformers {transformers.__version__}'
          f', device {device}, threads {torch.get_num_threads()}')
    print(f'arch {args.arch}: {n_params / 1e6:.1f}M params, '
          f'{args.num_classes} classes, clip '
          f'{args.frames}x{args.img_size}x{args.img_size} ({n_tok} tokens), '
          f'batch {bs}, warmup {args.warmup}, iters {args.iters}')
    with torch.no_grad():
        loss_ours, loss_hf = (float(fns[i]()) for i in ('mmmae', 'hf'))
    diff = abs(loss_ours - loss_hf)
    print(f'same weights (fp32): loss mmmae {loss_ours:.6f}, hf '
          f'{loss_hf:.6f}, |diff| = {diff:.2e}', flush=True)
    assert diff < 1e-3, f'losses disagree: {diff}'

    results = {}
    for precision in args.precision:
        # fresh AdamW per precision: moments are allocated on the first
        # warmup step, so every timed step sees the same persistent state.
        # The VideoMAE fine-tuning settings, one parameter group.
        opts = {
            i: adamw(models[i], lr=1e-3, betas=(0.9, 0.999))
            for i in args.impl
        }
        res = time_training(fns, opts, device, precision, args.warmup,
                            args.iters)
        for impl, r in res.items():
            results[(impl, precision)] = r
            progress(impl, precision, r, bs, 'clip')
        del opts

    rows = print_report(results, device, bs, 'clip', bs, 'clips',
                        extra=('loss', lambda loss: f'{loss:.4f}'))
    write_json(args, device, rows=rows, abs_loss_diff=diff)
    return 0


if __name__ == '__main__':
    sys.exit(main())
