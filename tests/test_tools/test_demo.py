# Copyright (c) mmmae contributors. All rights reserved.
"""``tools/demo.py`` (the main job): the runs it launches, the summary it
writes and its failures, with the launcher faked (the real job takes ~15
min: docs/experiments.md)."""
import json
import os
import os.path as osp

import pytest
from conftest import REPO_ROOT as ROOT
from conftest import run_tool

from mmmae.apis import recipes

SCRIPT = 'tools/demo.py'
# fake test top-1 per (init, seed)
TOP1 = {('pretrained', 0): .9, ('pretrained', 1): .8,
        ('scratch', 0): .6, ('scratch', 1): .85}


def _log(work_dir, records):
    path = osp.join(work_dir, '20260101_000000', 'vis_data', 'scalars.json')
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(''.join(json.dumps(r) + '\n' for r in records))


def fake_run(calls):
    """Stand-in for ``recipes.run_command``: record the command and write
    what tools/train.py / tools/test.py would leave in the work dir."""

    def run(cmd, what, tag='[demo]', report_done=True):
        calls.append(cmd)
        wd = cmd[cmd.index('--work-dir') + 1]
        opts = cmd[cmd.index('--cfg-options') + 1:]
        if cmd[1] == 'tools/test.py':
            name, seed = osp.basename(osp.dirname(wd)).split('_')[1:]
            stamp = osp.join(wd, '20260101_000000')
            os.makedirs(stamp, exist_ok=True)
            with open(osp.join(stamp, '20260101_000000.json'), 'w') as f:
                json.dump({'acc/top1': TOP1[(name, int(seed[-1]))]}, f)
        elif osp.basename(wd) == 'pretrain':
            _log(wd, [dict(loss=1., epoch=1, step=1),
                      {'probe/knn_top1': .3, 'probe/knn_top1_random': .3,
                       'step': 0},
                      {'probe/knn_top1': .7, 'step': 6}])
            epochs = next(o for o in opts if o.startswith(
                'train_cfg.max_epochs=')).split('=')[1]
            open(osp.join(wd, f'epoch_{epochs}.pth'), 'w').close()
        else:
            _log(wd, [dict(loss=2., epoch=1, step=1),
                      dict(loss=1.5, epoch=2, step=2)])
        return 1.0

    return run


def _opts(cmd):
    return cmd[cmd.index('--cfg-options') + 1:]


@pytest.fixture
def demo_args(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the demo moves there; undone after the test
    return ['--data-root', str(tmp_path / 'data'), '--work-dir',
            str(tmp_path / 'work'), '--num-train', '12', '--num-val', '6',
            '--num-test', '6']


def test_runs_and_summary(demo_args, tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(recipes, 'run_command', fake_run(calls))
    data, work = str(tmp_path / 'data'), str(tmp_path / 'work')
    assert run_tool(SCRIPT, *demo_args, '--epochs', '3', '--ft-epochs', '2',
                    '--cfg-options', 'optim_wrapper.optimizer.lr=0.1') == 0
    # pretraining, then per seed: fine-tune + test, pretrained and scratch
    assert [(c[1], osp.basename(c[c.index('--work-dir') + 1]))
            for c in calls] == [
        ('tools/train.py', 'pretrain'),
        ('tools/train.py', 'finetune_pretrained_seed0'),
        ('tools/test.py', 'test'),
        ('tools/train.py', 'finetune_scratch_seed0'),
        ('tools/test.py', 'test'),
        ('tools/train.py', 'finetune_pretrained_seed1'),
        ('tools/test.py', 'test'),
        ('tools/train.py', 'finetune_scratch_seed1'),
        ('tools/test.py', 'test')]
    pre = _opts(calls[0])
    assert calls[0][2] == recipes.VIDEO_DEMO_CONFIGS['pretrain']
    assert f'train_dataloader.dataset.ann_file={data}/train.txt' in pre
    probe = [o for o in pre if o.startswith('custom_hooks.')]
    assert any(o.endswith(f'val_dataloader.dataset.ann_file={data}/val.txt')
               for o in probe) and len(probe) == 4
    assert pre[-3:] == ['train_cfg.max_epochs=3', 'randomness.seed=0',
                        'optim_wrapper.optimizer.lr=0.1']
    ft, test = calls[1], calls[2]
    assert '--no-validate' in ft
    ckpt = osp.join(work, 'pretrain', 'epoch_3.pth')
    assert f'model.backbone.init_cfg.checkpoint={ckpt}' in _opts(ft)
    assert f'train_dataloader.dataset.ann_file={data}/train_2pc.txt' in \
        _opts(ft)
    assert f'test_dataloader.dataset.ann_file={data}/test.txt' in _opts(ft)
    assert 'train_cfg.max_epochs=2' in _opts(ft)
    assert test[2:4] == [ft[2], osp.join(work, 'finetune_pretrained_seed0',
                                         'epoch_2.pth')]
    assert _opts(test) == _opts(ft)
    # the scratch runs: their own config and its length (120 epochs)
    assert calls[3][2] == recipes.VIDEO_DEMO_CONFIGS['scratch']
    assert not any('max_epochs' in o for o in _opts(calls[3]))
    assert calls[4][3].endswith('finetune_scratch_seed0/epoch_120.pth')

    summary = json.load(open(osp.join(work, 'summary.json')))
    assert summary['pretrained'] == [.9, .8]
    assert summary['scratch'] == [.6, .85]
    assert summary['final_train_loss'] == dict(pretrained=[1.5, 1.5],
                                               scratch=[1.5, 1.5])
    assert summary['epochs'] == dict(pretrained=2, scratch=120)
    assert summary['mean_gap_points'] == pytest.approx(12.5)
    assert summary['labelled_clips'] == 12 and summary['seeds'] == [0, 1]
    assert summary['probe'] == dict(steps=[0, 6], values=[.3, .7],
                                    random=.3)
    assert set(summary['times_s']) >= {'data', 'pretrain', 'total'}
    assert osp.isfile(osp.join(work, 'pretrain', 'reconstructions',
                               'probe_curve.png'))
    out = capsys.readouterr().out
    assert '[demo] ===== summary =====' in out
    assert ('[demo] pretraining did NOT clearly help: pretrained 85.0% vs '
            'scratch 72.5% mean top-1 (+12.5 points), ahead in 1 of 2 '
            'seeds') in out
    assert f'[demo] summary: {work}/summary.json' in out


def test_scratch_only_and_failures(demo_args, tmp_path, monkeypatch,
                                   capsys):
    calls = []
    monkeypatch.setattr(recipes, 'run_command', fake_run(calls))
    assert run_tool(SCRIPT, *demo_args, '--runs', 'scratch', '--ft-seeds',
                    '1', '--labels-per-class', '1') == 0
    assert [osp.basename(c[c.index('--work-dir') + 1]) for c in calls] == [
        'finetune_scratch_seed1', 'test']
    summary = json.load(open(tmp_path / 'work' / 'summary.json'))
    assert summary['scratch'] == [.85] and summary['pretrained'] == []
    assert summary['labelled_clips'] == 6 and summary['probe'] is None
    capsys.readouterr()

    assert run_tool(SCRIPT, *demo_args, '--skip-pretrain') == 1
    ckpt = tmp_path / 'work' / 'pretrain' / 'epoch_30.pth'
    assert capsys.readouterr().err == f'[demo] --skip-pretrain: no {ckpt}\n'
    # runs that leave no result make the demo fail, not report a number
    monkeypatch.setattr(recipes, 'run_command', lambda cmd, what: 1.0)
    assert run_tool(SCRIPT, *demo_args, '--runs', 'scratch') == 1
    assert capsys.readouterr().err == \
        '[demo] the run did not produce its outputs; see the log\n'
