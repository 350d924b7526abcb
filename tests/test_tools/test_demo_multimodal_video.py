# Copyright (c) mmmae contributors. All rights reserved.
"""``tools/demo_multimodal_video.py``: the runs it launches (both
pretrainings, four fine-tunings per seed with the same budget), the
checkpoints they start from and the summary, with the launcher faked (the
real job: docs/multimodal_video.md)."""
import json
import os
import os.path as osp

import pytest
from conftest import REPO_ROOT as ROOT
from conftest import run_tool

from mmmae.apis import recipes

SCRIPT = 'tools/demo_multimodal_video.py'
TOP1 = {'videomae-rgb': .5, 'mm-rgb': .6, 'mm-rgbd': .7, 'scratch-rgb': .4}
# what the pretrainings' ProbeHooks log: (random init, after training)
PROBE = {'probe': (.2, .5), 'probe_rgbd': (.25, .75)}


def write_scalars(wd, records):
    log = osp.join(wd, '20260101_000000', 'vis_data', 'scalars.json')
    os.makedirs(osp.dirname(log), exist_ok=True)
    with open(log, 'w') as f:
        for rec in records:
            f.write(json.dumps(rec) + '\n')


def fake_run(calls):
    """Record the command; leave what tools/train.py would: a checkpoint
    for a pretraining, a last validation record for a fine-tuning."""

    def run(cmd, what, tag='[demo]', report_done=True):
        calls.append(cmd)
        wd = cmd[cmd.index('--work-dir') + 1]
        opts = cmd[cmd.index('--cfg-options') + 1:]
        os.makedirs(wd, exist_ok=True)
        epochs = next(o for o in opts
                      if o.startswith('train_cfg.max_epochs=')).split('=')[1]
        if osp.basename(wd).startswith('pretrain_'):
            open(osp.join(wd, f'epoch_{epochs}.pth'), 'w').close()
            prefixes = ['probe'] + (['probe_rgbd']
                                    if wd.endswith('_mm') else [])
            records = []
            for i in (0, 1):  # random init at step 0, then the last epoch
                rec = dict(step=3 * i)
                for p in prefixes:
                    rec[f'{p}/knn_top1'] = PROBE[p][i]
                    rec[f'{p}/linear_top1'] = PROBE[p][i] + .1
                    if i == 0:
                        rec[f'{p}/knn_top1_random'] = PROBE[p][0]
                        rec[f'{p}/linear_top1_random'] = PROBE[p][0] + .1
                records.append(rec)
            write_scalars(wd, records)
            return 1.0
        name = osp.basename(wd).rsplit('_seed', 1)[0]
        write_scalars(wd, [dict(loss=1.2, epoch=1, step=1),
                           {'acc/top1': TOP1[name], 'step': 1}])
        return 1.0

    return run


def test_runs_budget_and_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    calls = []
    monkeypatch.setattr(recipes, 'run_command', fake_run(calls))
    work = str(tmp_path / 'work')
    assert run_tool(SCRIPT, '--data-root', tmp_path / 'data', '--work-dir',
                    work, '--num-train', '12', '--num-val', '6',
                    '--num-test', '0', '--labelled', '6',
                    '--pretrain-epochs', '3', '--ft-epochs', '2', '--seeds',
                    '0', '1', '--runs', 'videomae-rgb', 'scratch-rgb',
                    'mm-rgbd', '--no-vis') == 0
    dirs = [osp.basename(c[c.index('--work-dir') + 1]) for c in calls]
    assert dirs == ['pretrain_mm', 'pretrain_videomae'] + [
        f'{n}_seed{s}' for s in (0, 1)
        for n in ('videomae-rgb', 'scratch-rgb', 'mm-rgbd')
    ]
    by_dir = dict(zip(dirs, (c[c.index('--cfg-options') + 1:]
                             for c in calls)))
    for d, opts in by_dir.items():
        if d.startswith('pretrain_'):
            assert 'train_cfg.max_epochs=3' in opts
            assert 'param_scheduler.1.end=3' in opts
            continue
        # one budget for every fine-tuning run, on the labelled clips
        assert 'train_cfg.max_epochs=2' in opts
        assert 'train_dataloader.dataset.indices=6' in opts
        assert 'val_dataloader.dataset.split=val' in opts
    assert any('pretrain_videomae/epoch_3.pth' in o
               for o in by_dir['videomae-rgb_seed0'])
    assert any('pretrain_mm/epoch_3.pth' in o
               for o in by_dir['mm-rgbd_seed1'])
    assert 'model.backbone.init_cfg=None' in by_dir['scratch-rgb_seed0']
    summary = json.load(open(osp.join(work, 'summary.json')))
    runs = summary['runs']
    assert runs['mm-rgbd']['mean_top1'] == 70.0
    assert runs['videomae-rgb']['vs_scratch'] == 10.0
    assert runs['scratch-rgb']['vs_scratch'] is None
    out = capsys.readouterr().out
    assert '| mm-rgbd | 70.0 | 70.0, 70.0 | +30.0 |' in out
    # the frozen-feature probes the pretrainings logged, with their
    # random-init baselines
    probes = summary['probes']
    assert probes['multi-modal, RGB-D']['knn']['values'] == [.25, .75]
    assert probes['videomae, RGB']['linear']['random'] == pytest.approx(.3)
    assert '| multi-modal, RGB-D | 25.0 -> 75.0 | 35.0 -> 85.0 |' in out
    assert osp.getsize(osp.join(work, 'probe_curves.png')) > 0
    # the data really was rendered (exact modalities next to the clips)
    assert osp.isfile(tmp_path / 'data' / 'train' / 'depth' / '000000.npz')


def test_missing_metric_fails(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)

    def no_log(cmd, what, tag='[demo]', report_done=True):
        return 1.0

    monkeypatch.setattr(recipes, 'run_command', no_log)
    assert run_tool(SCRIPT, '--data-root', tmp_path / 'data', '--work-dir',
                    tmp_path / 'work', '--num-train', '6', '--num-val', '6',
                    '--num-test', '0', '--labelled', '6', '--seeds', '0',
                    '--runs', 'scratch-rgb') == 1
    assert 'did not produce its outputs' in capsys.readouterr().err
