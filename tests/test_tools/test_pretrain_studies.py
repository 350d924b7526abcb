# Copyright (c) mmmae contributors. All rights reserved.
"""``tools/analysis/pretrain_studies.py``: every variant's overrides apply to
the real demo pretraining config and give the intended run (no training:
the studies themselves take ~30 min each; their table and plot:
tests/test_apis/test_recipes.py)."""
import argparse
import json
import os.path as osp

import pytest
from conftest import REPO_ROOT as ROOT
from conftest import run_tool
from mmengine.config import Config, DictAction

SCRIPT = 'tools/analysis/pretrain_studies.py'
PRETRAIN_CFG = osp.join(ROOT, 'configs', 'videomae',
                        'videomae_vit-tiny-p8_1xb8-30e_moving-digits.py')


@pytest.fixture
def dry_run(monkeypatch, capsys):
    """``--dry-run`` of a study: the JSON line of every run."""
    monkeypatch.chdir(ROOT)  # the tool moves there; undone after the test

    def run(study, *extra):
        assert run_tool(SCRIPT, study, '--dry-run', *extra) == 0
        return [json.loads(ln) for ln in capsys.readouterr().out.splitlines()
                if ln.startswith('{')]

    return run


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


def test_mask_study_variants(dry_run):
    from mmmae.registry import TRANSFORMS
    runs = {r['name']: r for r in dry_run('mask')}
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


def test_data_study_variants(dry_run):
    runs = {r['name']: r for r in dry_run('data', '--steps', '1200')}
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


def test_unknown_variant_is_refused(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert run_tool(SCRIPT, 'mask', '--dry-run', '--variants', 'tube') == 1
    err = capsys.readouterr().err
    assert err.startswith("unknown variants ['tube']; choose from")
    assert 'tube-0.9' in err


def test_study_runs_results_and_resume(tmp_path, monkeypatch, capsys):
    """The study's own loop with tools/demo.py faked: results.json, the
    table, the plot, and --resume reusing finished variants."""
    import mmmae.datasets.demo
    from mmmae.apis import recipes
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(mmmae.datasets.demo, 'make_demo_dataset',
                        lambda root: None)  # data/demo is not needed
    calls = []

    def fake_demo(cmd, what, tag='[demo]', report_done=True):
        calls.append((what, tag, report_done))
        wd = cmd[cmd.index('--work-dir') + 1]
        runs = cmd[cmd.index('--runs') + 1]
        curve = dict(steps=[0, 500, 1000], values=[.3, .6, .9], random=.3)
        summary = dict(pretrained=[.9] if runs == 'pretrained' else [],
                       scratch=[.5] if runs == 'scratch' else [],
                       final_train_loss={}, probe=curve)
        recipes.write_json(summary, osp.join(wd, 'summary.json'))
        return 2.0

    monkeypatch.setattr(recipes, 'run_command', fake_demo)
    work = tmp_path / 'study'
    args = ['mask', '--work-dir', work, '--variants', 'tube-0.9',
            '--ft-seeds', '0']
    assert run_tool(SCRIPT, *args) == 0
    assert calls == [('tube-0.9', '[study]', False),
                     ('scratch', '[study]', False)]
    result = json.load(open(work / 'results.json'))
    assert result['variants']['tube-0.9']['top1'] == [.9]
    assert result['variants']['tube-0.9']['steps'] == 1500
    assert result['variants']['scratch']['top1'] == [.5]
    assert result['variants']['scratch']['wall_s'] == 2.0
    assert result['command'].endswith('tools/analysis/pretrain_studies.py '
                                      f'mask --work-dir {work} --variants '
                                      'tube-0.9 --ft-seeds 0')
    assert (work / 'mask.png').stat().st_size > 1000
    out = capsys.readouterr().out
    assert '| tube-0.9 | 1500 | 30.0 -> 60.0 / 90.0 / 90.0 | 90.0 | 90.0 |' \
        in out
    assert '| scratch | - | - | 50.0 | 50.0 |' in out
    # --resume: both runs are reused
    calls.clear()
    assert run_tool(SCRIPT, *args, '--resume') == 0
    assert calls == []
    assert f'[study] scratch: reusing {work}/scratch/summary.json' in \
        capsys.readouterr().out
