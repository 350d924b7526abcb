# Copyright (c) mmmae contributors. All rights reserved.
"""``tools/demo_multimodal_video.py``: the runs it launches (both
pretrainings, four fine-tunings per seed with the same budget), the
checkpoints they start from and the summary, with the launcher faked (the
real job: docs/multimodal_video.md)."""
import json
import os
import os.path as osp

from conftest import REPO_ROOT as ROOT
from conftest import run_tool

from mmmae.apis import recipes

SCRIPT = 'tools/demo_multimodal_video.py'
TOP1 = {'videomae-rgb': .5, 'mm-rgb': .6, 'mm-rgbd': .7, 'scratch-rgb': .4}


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
            return 1.0
        name = osp.basename(wd).rsplit('_seed', 1)[0]
        log = osp.join(wd, '20260101_000000', 'vis_data', 'scalars.json')
        os.makedirs(osp.dirname(log), exist_ok=True)
        with open(log, 'w') as f:
            f.write(json.dumps(dict(loss=1.2, epoch=1, step=1)) + '\n')
            f.write(json.dumps({'acc/top1': TOP1[name], 'step': 1}) + '\n')
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
