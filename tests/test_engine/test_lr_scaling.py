# Copyright (c) mmmae contributors. All rights reserved.
"""Gradient accumulation is counted in auto_scale_lr's batch size.

Batch 2 x accumulation 2 must get the lr of batch 4 and, trained from the
same seed on the same clips (a real MMEngine Runner, real mp4 files decoded
by decord), reach (nearly) the same weights; without
``account_grad_accumulation`` MMEngine would give it the lr of batch 2.

Why the runs can match: the sampler's permutation depends on the seed only,
so both runs read the clips in the same order; with ``num_workers=0`` the
pipeline's numpy draws (the tube masks) happen in that order too, so every
clip gets the same mask. Tube masking hides the same number of tokens in
every clip, so the mean loss over a batch of 4 equals the average of the
mean losses of its two halves, which is what MMEngine's accumulation
(loss / accumulative_counts per micro-batch) back-propagates. The remaining
difference is float summation order (about 1e-7 relative per step).
"""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.hooks import Hook

import mmmae  # noqa: F401
from mmmae.registry import HOOKS
from mmmae.engine.lr_scaling import (account_grad_accumulation,
                                     grad_accumulation_steps)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CFG = osp.join(REPO_ROOT, 'configs', 'videomae',
                    'videomae_vit-tiny-p8_1xb8-30e_moving-digits.py')
LARGE_DS = osp.join(
    REPO_ROOT, 'configs', 'videomae',
    'videomae_vit-large-p16_64xb8-deepspeed-zero2-1600e_kinetics400.py')
BASE_LR = 1e-3
BASE_BATCH = 8


@HOOKS.register_module(force=True)
class InitSnapshotHook(Hook):
    """Keep the weights as training starts (after ``init_weights``)."""

    def before_train(self, runner):
        runner.init_snapshot = {
            k: v.clone()
            for k, v in runner.model.state_dict().items()
        }


def _cfg(video_dir, work_dir, batch_size, accumulate):
    cfg = Config.fromfile(DEMO_CFG)
    pipeline = [
        dict(type='mmaction.DecordInit', num_threads=1),
        dict(
            type='mmaction.SampleFrames',
            clip_len=8,
            frame_interval=2,
            num_clips=1,
            test_mode=True),
        dict(type='mmaction.DecordDecode'),
        dict(type='mmaction.Resize', scale=(64, 64), keep_ratio=False),
        dict(type='mmaction.FormatShape', input_format='NCTHW'),
        dict(type='TubeMaskGenerator', input_size=(4, 8, 8), mask_ratio=0.75),
        dict(type='mmaction.PackActionInputs', algorithm_keys=('mask', )),
    ]
    cfg.merge_from_dict(
        dict(
            work_dir=str(work_dir),
            train_dataloader=dict(
                batch_size=batch_size,
                num_workers=0,
                persistent_workers=False,
                dataset=dict(
                    ann_file=str(video_dir / 'ann.txt'),
                    data_prefix=dict(video=str(video_dir)),
                    pipeline=pipeline)),
            model=dict(
                backbone=dict(
                    arch=dict(
                        embed_dims=32,
                        num_layers=1,
                        num_heads=2,
                        feedforward_channels=64)),
                neck=dict(
                    embed_dims=32,
                    decoder_embed_dims=16,
                    decoder_depth=1,
                    decoder_num_heads=2)),
            optim_wrapper=dict(
                optimizer=dict(lr=BASE_LR), accumulative_counts=accumulate),
            auto_scale_lr=dict(enable=True, base_batch_size=BASE_BATCH),
            train_cfg=dict(max_epochs=2),
            default_hooks=dict(
                logger=dict(interval=1),
                checkpoint=dict(interval=-1, save_last=False)),
            randomness=dict(seed=0)))
    cfg.param_scheduler = None  # constant lr: compare the scaled value
    cfg.custom_hooks = [dict(type='InitSnapshotHook')]
    return cfg


def _train(cfg):
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    runner.train()
    init = runner.init_snapshot
    lr = runner.optim_wrapper.get_lr()['lr'][0]
    final = {k: v.clone() for k, v in runner.model.state_dict().items()}
    return lr, init, final


def _max_diff(a, b):
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


@pytest.mark.slow
def test_accumulation_matches_large_batch(video_dir, tmp_path):
    # video_dir: 4 clips, so 2 epochs = 2 optimizer steps in every run
    lr4, init4, w4 = _train(_cfg(video_dir, tmp_path / 'b4', 4, 1))
    cfg = account_grad_accumulation(_cfg(video_dir, tmp_path / 'b2x2', 2, 2))
    lr22, init22, w22 = _train(cfg)
    # without the accounting MMEngine scales by the micro-batch only
    lr_raw, _, w_raw = _train(_cfg(video_dir, tmp_path / 'raw', 2, 2))

    assert lr4 == pytest.approx(BASE_LR * 4 / BASE_BATCH)
    assert lr22 == pytest.approx(lr4, rel=1e-12)
    assert lr_raw == pytest.approx(lr4 / 2)

    assert _max_diff(init4, init22) == 0
    moved = _max_diff(init4, w4)
    diff = _max_diff(w4, w22)
    print(f'max |w| change {moved:.3g}; batch 4 vs 2x2: {diff:.3g}; '
          f'vs 2x2 unaccounted: {_max_diff(w4, w_raw):.3g}')
    # AdamW moves every weight by about lr per step: 2 steps of 5e-4
    assert moved > 5e-4
    assert diff < 1e-3 * moved
    # the unaccounted run takes half-size steps: clearly different weights
    assert _max_diff(w4, w_raw) > 0.2 * moved


def test_account_grad_accumulation_config(tmp_path):
    cfg = Config(
        dict(
            train_dataloader=dict(batch_size=2),
            optim_wrapper=dict(type='OptimWrapper', accumulative_counts=4),
            auto_scale_lr=dict(enable=True, base_batch_size=256)))
    assert grad_accumulation_steps(cfg) == 4
    account_grad_accumulation(cfg)
    assert cfg.auto_scale_lr.base_batch_size == 64
    assert cfg.auto_scale_lr.base_batch_size_per_step == 256
    account_grad_accumulation(cfg)  # idempotent
    assert cfg.auto_scale_lr.base_batch_size == 64

    # disabled: the lr is meant verbatim, nothing changes
    off = Config(
        dict(
            train_dataloader=dict(batch_size=2),
            optim_wrapper=dict(accumulative_counts=4),
            auto_scale_lr=dict(enable=False, base_batch_size=256)))
    account_grad_accumulation(off)
    assert off.auto_scale_lr == dict(enable=False, base_batch_size=256)

    # no accumulation: untouched
    one = Config(
        dict(
            train_dataloader=dict(batch_size=2),
            optim_wrapper=dict(type='OptimWrapper'),
            auto_scale_lr=dict(enable=True, base_batch_size=256)))
    account_grad_accumulation(one)
    assert one.auto_scale_lr == dict(enable=True, base_batch_size=256)


def test_deepspeed_accumulation_is_counted():
    cfg = Config.fromfile(LARGE_DS)
    assert grad_accumulation_steps(cfg) == 1
    cfg.strategy.gradient_accumulation_steps = 4
    account_grad_accumulation(cfg)
    assert cfg.auto_scale_lr.base_batch_size == 256 / 4
    # DeepSpeedOptimWrapper cannot accumulate: a clear error
    bad = Config.fromfile(LARGE_DS)
    bad.optim_wrapper.accumulative_counts = 2
    with pytest.raises(ValueError, match='gradient_accumulation_steps'):
        grad_accumulation_steps(bad)


@pytest.mark.parametrize('counts', [0, 1.5, '2'])
def test_bad_accumulation_count(counts):
    cfg = Config(
        dict(
            train_dataloader=dict(batch_size=2),
            optim_wrapper=dict(accumulative_counts=counts),
            auto_scale_lr=dict(enable=True, base_batch_size=256)))
    with pytest.raises(ValueError, match='positive integer'):
        account_grad_accumulation(cfg)
