# Copyright (c) mmmae contributors. All rights reserved.
"""``tools/analysis/pretrain_studies.py``: every variant's overrides apply to
the real demo pretraining config and give the intended run (no training:
the studies themselves take ~30 min each)."""
import argparse
import json
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config, DictAction

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(ROOT, 'tools', 'analysis', 'pretrain_studies.py')
PRETRAIN_CFG = osp.join(ROOT, 'configs', 'videomae',
                        'videomae_vit-tiny-p8_1xb8-30e_moving-digits.py')


def _dry_run(study, *extra):
    proc = subprocess.run(
        [sys.executable, SCRIPT, study, '--dry-run', *extra], cwd=ROOT,
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(ln) for ln in proc.stdout.splitlines()
            if ln.startswith('{')]


def _config(cmd):
    """The pretraining config as tools/demo.py -> tools/train.py gets it."""
    opts = cmd[cmd.index('--cfg-options') + 1:]
    parsed = argparse.Namespace()
    DictAction(option_strings=[], dest='opts')(None, parsed, opts)
    cfg = Config.fromfile(PRETRAIN_CFG)
    cfg.merge_from_dict(parsed.opts)
    return cfg


def _transform(cfg, name):
    return next(t for t in cfg.train_dataloader.dataset.pipeline
                if t['type'].endswith(name))


def test_mask_study_variants():
    from mmmae.registry import TRANSFORMS
    runs = {r['name']: r for r in _dry_run('mask')}
    assert list(runs) == ['tube-0.5', 'tube-0.75', 'tube-0.9', 'random-0.9']
    for name, r in runs.items():
        assert r['steps'] == 1500
        cfg = _config(r['cmd'])
        kind, ratio = name.split('-')
        gen = _transform(cfg, 'MaskGenerator')
        mask = TRANSFORMS.build(gen)(dict())['mask']
        assert mask.shape == (256, )  # flat over the (4, 8, 8) token grid
        mask = mask.reshape(4, 8, 8)
        assert mask.mean() == pytest.approx(float(ratio), abs=0.02)
        if kind == 'tube':  # the same cells hidden in every time slot
            assert (mask == mask[:1]).all()
        else:
            assert type(TRANSFORMS.build(gen)).__name__ == \
                'RandomMaskGenerator'
            assert not (mask == mask[:1]).all()
        probe = next(h for h in cfg.custom_hooks if 'ProbeHook' in h.type)
        assert (probe.by_epoch, probe.interval) == (False, 250)
        # evaluated on val, pretrained runs only, two fine-tuning seeds
        cmd = r['cmd']
        assert cmd[cmd.index('--eval-split') + 1] == 'val'
        assert cmd[cmd.index('--ft-seeds') + 1:][:2] == ['0', '1']


def test_data_study_variants():
    runs = {r['name']: r for r in _dry_run('data', '--steps', '1200')}
    assert list(runs) == ['demo-600', 'demo-150', 'mnist-600', 'mnist-2400']
    for name, r in runs.items():
        kind, clips = name.split('-')
        clips = int(clips)
        # the same number of steps for every set size (batch 8, drop_last)
        assert abs(r['steps'] - 1200) <= clips // 8 / 2
        cfg = _config(r['cmd'])
        ds = cfg.train_dataloader.dataset
        warmup, cosine = cfg.param_scheduler
        assert warmup.end == cosine.begin
        assert abs(warmup.end * (clips // 8) - 150) <= clips // 8 / 2
        if kind == 'demo':
            assert ds.indices == clips
            assert ds.ann_file == 'data/demo/train.txt'
        else:
            assert ds.ann_file.endswith(f'moving_mnist_{clips // 40}pc_'
                                        '32f64px/train.txt')
        # the probe always scores the demo's own val clips
        probe = next(h for h in cfg.custom_hooks if 'ProbeHook' in h.type)
        assert probe.val_dataloader.dataset.ann_file == 'data/demo/val.txt'


def test_unknown_variant_is_refused():
    proc = subprocess.run(
        [sys.executable, SCRIPT, 'mask', '--dry-run', '--variants', 'tube'],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert 'tube-0.9' in proc.stderr
