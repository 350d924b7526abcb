# Copyright (c) mmmae contributors. All rights reserved.
"""Evaluation never loses a sample silently.

A test list holds 5 real mp4 clips, a missing file and a corrupt one (random
bytes). With the shipped fine-tuning config the run fails naming the bad
file; with ``on_bad_video='score_wrong'`` a real MMEngine Runner tests all 7
entries, the metrics say 5 of 7 were evaluated and the bad ones count as
wrong predictions (checked against the 5 predictions of the good clips).
"""
import glob
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DATASETS, DefaultScope
from mmengine.runner import Runner

import mmmae  # noqa: F401
from mmmae.apis.runner import build_runner
from mmmae.datasets.video_guard import BadVideoError
from mmmae.evaluation import ScoreBadVideosAsWrong, wrong_scores

from conftest import random_video, write_mp4

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FT_CFG = osp.join(
    REPO_ROOT, 'configs', 'videomae', 'finetune',
    'vit-tiny-p8_videomae-moving-digits-pre-30e_1xb8-8x4x1-30e_'
    'moving-digits-rgb.py')
NAMES = ['clip_0.mp4', 'missing.mp4', 'clip_1.mp4', 'clip_2.mp4',
         'corrupt.mp4', 'clip_3.mp4', 'clip_4.mp4']


@pytest.fixture(scope='module')
def eval_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('eval_bad')
    for i in range(5):
        write_mp4(str(root / f'clip_{i}.mp4'),
                  random_video(40, (48, 64), seed=i))
    (root / 'corrupt.mp4').write_bytes(np.random.default_rng(0).bytes(4000))
    (root / 'test.txt').write_text(''.join(
        f'{n} {i % 3}\n' for i, n in enumerate(NAMES)))
    (root / 'good.txt').write_text(''.join(
        f'{n} {i % 3}\n' for i, n in enumerate(NAMES)
        if n.startswith('clip')))
    return root


def _cfg(root, work_dir, ann='test.txt', **dataset):
    cfg = Config.fromfile(FT_CFG)
    cfg.model.backbone.init_cfg = None
    cfg.model.backbone.arch = dict(embed_dims=32, num_layers=1, num_heads=2,
                                   feedforward_channels=64)
    cfg.model.cls_head.in_channels = 32
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.persistent_workers = False
    cfg.test_dataloader.dataset.update(
        ann_file=str(root / ann), data_prefix=dict(video=str(root)),
        **dataset)
    cfg.work_dir = str(work_dir)
    return cfg


def _build(root, ann='test.txt', **kw):
    cfg = _cfg(root, '/unused', ann, **kw)
    with DefaultScope.overwrite_default_scope('mmaction'):
        return DATASETS.build(cfg.test_dataloader.dataset)


def test_missing_video_fails_the_build_naming_it(eval_dir):
    with pytest.raises(BadVideoError, match=r'missing\.mp4 \(missing\)'):
        _build(eval_dir)


def test_replace_is_refused_in_test_mode(eval_dir):
    with pytest.raises(ValueError, match='bias the metric'):
        _build(eval_dir, on_bad_video='replace')


def test_corrupt_video_fails_at_load_naming_it(eval_dir, tmp_path):
    (tmp_path / 'ann.txt').write_text('clip_0.mp4 0\ncorrupt.mp4 1\n')
    cfg = _cfg(eval_dir, tmp_path)
    cfg.test_dataloader.dataset.ann_file = str(tmp_path / 'ann.txt')
    with DefaultScope.overwrite_default_scope('mmaction'):
        ds = DATASETS.build(cfg.test_dataloader.dataset)
    assert len(ds) == 2  # nothing dropped
    ds[0]
    with pytest.raises(BadVideoError, match=r'corrupt\.mp4 \(not a video'):
        ds[1]


def test_score_wrong_needs_the_hook(eval_dir):
    ds = _build(eval_dir, on_bad_video='score_wrong')
    assert len(ds) == len(NAMES)
    with pytest.raises(BadVideoError, match='BadSampleLoggerHook'):
        ds[1]


def test_wrong_scores_rank_the_label_last():
    s = wrong_scores(torch.tensor([2]), 4)
    assert s.argmax() != 2 and s.argsort()[0] == 2
    multi = wrong_scores(torch.tensor([0, 1, 1, 0]), 4)
    assert multi.tolist() == [0, -1, -1, 0]


@pytest.mark.slow
def test_runner_scores_bad_videos_wrong_and_says_so(eval_dir, tmp_path):
    # predictions of the 5 good clips alone, same weights (seeded init)
    good = build_runner(_cfg(eval_dir, tmp_path / 'good', 'good.txt'))
    ref = good.test()

    # build_runner: a second Runner of one config in the same second gets
    # its own logger (mmmae.utils.compat.distinct_experiment_name), so its
    # log lands in its own work dir
    runner = build_runner(
        _cfg(eval_dir, tmp_path / 'all', on_bad_video='score_wrong'))
    # the same initial weights as the reference run
    runner.model.load_state_dict(good.model.state_dict())
    metrics = runner.test()
    assert any(isinstance(m, ScoreBadVideosAsWrong)
               for m in runner.test_loop.evaluator.metrics)
    assert metrics['videos_listed'] == 7
    assert metrics['videos_evaluated'] == 5
    # top-1 over 7 with the 2 bad ones wrong = good hits / 7
    hits = ref['acc/top1'] * 5
    assert abs(metrics['acc/top1'] - hits / 7) < 1e-6
    (log, ) = glob.glob(str(tmp_path / 'all' / '*' / '*.log'))
    text = open(log).read()
    assert 'evaluated 5 of 7 videos' in text
    assert 'missing.mp4 (missing)' in text
    assert 'corrupt.mp4 (not a video)' in text
    assert re.search(r'Epoch\(test\).*videos_listed: 7.*videos_evaluated: 5',
                     text)


@pytest.mark.slow
def test_runner_fails_on_a_bad_test_video_by_default(eval_dir, tmp_path):
    (tmp_path / 'ann.txt').write_text('clip_0.mp4 0\ncorrupt.mp4 1\n')
    cfg = _cfg(eval_dir, tmp_path / 'work')
    cfg.test_dataloader.dataset.ann_file = str(tmp_path / 'ann.txt')
    with pytest.raises(BadVideoError, match=r'corrupt\.mp4'):
        Runner.from_cfg(cfg).test()
