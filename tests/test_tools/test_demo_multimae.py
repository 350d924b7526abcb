# Copyright (c) mmmae contributors. All rights reserved.
"""``tools/demo_multimae.py``: the runs it launches are the intended ones
(real configs and overrides, the training itself faked), its summary is
right, and ``--quick`` runs end to end. The summary itself:
tests/test_apis/test_recipes.py."""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from conftest import REPO_ROOT as ROOT
from conftest import run_tool
from mmengine.config import Config, DictAction

from mmmae.apis import recipes

SCRIPT = osp.join(ROOT, 'tools', 'demo_multimae.py')
PRETRAIN_CFG = 'configs/multimae/multimae_vit-tiny-p8_1xb16-60e_scenes-rgbd.py'
CONFIGS = {
    'seg-rgb': 'configs/multimae/segmentation/multimae_vit-tiny-p8_convnext_'
    '1xb16-20e_scenes-rgb-64x64.py',
    'seg-rgbd': 'configs/multimae/segmentation/multimae_vit-tiny-p8_convnext_'
    '1xb16-20e_scenes-rgbd-64x64.py',
    'depth': 'configs/multimae/depth/multimae_vit-tiny-p8_dpt_1xb16-20e_'
    'scenes-64x64.py',
}


def _config(cmd):
    """The config tools/train.py builds from a launched command."""
    from mmmae.engine.schedule_rescale import follow_train_length
    opts = cmd[cmd.index('--cfg-options') + 1:]
    parsed = argparse.Namespace()
    DictAction(option_strings=[], dest='opts')(None, parsed, opts)
    base = Config.fromfile(osp.join(ROOT, cmd[2]))
    cfg = Config.fromfile(osp.join(ROOT, cmd[2]))
    cfg.merge_from_dict(parsed.opts)
    return follow_train_length(cfg, base, parsed.opts)


# fake results: pretrained ahead on seed 0 only for seg-rgb, on both seeds
# for seg-rgbd; depth: d1 higher and abs_rel lower when pretrained
FAKE = {
    ('seg-rgb', 'pretrained'): [50., 40.], ('seg-rgb', 'scratch'): [45., 42.],
    ('seg-rgbd', 'pretrained'): [55., 56.],
    ('seg-rgbd', 'scratch'): [50., 51.],
    ('depth', 'pretrained'): [.8, .7], ('depth', 'scratch'): [.6, .65],
}


def fake_run(calls):
    """Stand-in for ``recipes.run_command``: record the command, write what
    the real tools/train.py would log (and the checkpoint of the
    pretraining)."""

    def run(cmd, what, tag='[demo]', report_done=True):
        calls.append(cmd)
        wd = cmd[cmd.index('--work-dir') + 1]
        log = osp.join(wd, '20260101_000000', 'vis_data', 'scalars.json')
        os.makedirs(osp.dirname(log), exist_ok=True)
        recs = [dict(loss=3.0, epoch=1, step=1), dict(loss=2.0, epoch=2,
                                                      step=2)]
        name = osp.basename(wd)
        if name == 'pretrain':
            recs += [{'probe/linear_miou': .3, 'probe/linear_miou_random': .3,
                      'probe/knn_top1': .5, 'step': 0},
                     {'probe/linear_miou': .45, 'probe/knn_top1': .6,
                      'step': 20}]
            epochs = _config(cmd).train_cfg.max_epochs
            open(osp.join(wd, f'epoch_{epochs}.pth'), 'w').close()
        else:
            task, init, seed = name.rsplit('_', 2)
            v = FAKE[(task, init)][int(seed[-1])]
            key = 'd1' if task == 'depth' else 'mIoU'
            recs.append({key: v, 'abs_rel': 1 - v, 'step': 2})
        with open(log, 'w') as f:
            f.write('\n'.join(json.dumps(r) for r in recs) + '\n')
        return 1.0

    return run


def test_runs_and_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)  # the demo moves there; undone after the test
    calls = []
    monkeypatch.setattr(recipes, 'run_command', fake_run(calls))
    data, work = str(tmp_path / 'data'), str(tmp_path / 'work')
    assert run_tool(
        SCRIPT, '--data-root', data, '--work-dir', work, '--num-train', '6',
        '--labelled', '3', '--num-val', '2', '--num-test', '2',
        '--pretrain-epochs', '12', '--ft-epochs', '4', '--scratch-epochs',
        '8', '--eval-split', 'val', '--cfg-options', 'optim_wrapper.'
        'optimizer.lr=0.002', '--scratch-cfg-options',
        'optim_wrapper.optimizer.lr=0.001') == 0
    assert sorted(os.listdir(osp.join(data, 'train', 'rgb'))) == [
        f'{i:06d}.png' for i in range(6)]
    assert len(os.listdir(osp.join(data, 'test', 'rgb'))) == 2

    # 1 pretraining, then per task and seed (0, 1): pretrained, scratch
    assert len(calls) == 1 + 3 * 2 * 2
    pre = _config(calls[0])
    assert calls[0][2] == PRETRAIN_CFG
    assert list(pre.model.backbone.input_adapters) == ['rgb', 'depth']
    assert pre.train_dataloader.dataset.data_root == data
    assert pre.train_dataloader.dataset.get('indices') is None  # all 6
    assert pre.train_cfg.max_epochs == 12 and pre.randomness.seed == 0
    assert pre.param_scheduler[-1].end == 12  # the schedule follows
    assert pre.optim_wrapper.optimizer.lr == 0.002
    probe = next(h for h in pre.custom_hooks if 'ProbeHook' in h['type'])
    assert probe.train_dataloader.dataset.data_root == data
    assert probe.train_dataloader.dataset.indices == 3  # the labelled set
    assert probe.val_dataloader.dataset.data_root == data
    assert probe.val_dataloader.dataset.split == 'val'
    ckpt = osp.join(work, 'pretrain', 'epoch_12.pth')
    seen = set()
    for cmd in calls[1:]:
        cfg = _config(cmd)
        name = osp.basename(cmd[cmd.index('--work-dir') + 1])
        task, init, seed = name.rsplit('_', 2)
        seen.add((task, init, seed))
        assert cmd[2] == CONFIGS[task]
        assert cfg.train_dataloader.dataset.data_root == f'{data}/train'
        assert cfg.train_dataloader.dataset.indices == 3
        for loader in (cfg.val_dataloader, cfg.test_dataloader):
            assert loader.dataset.data_root == f'{data}/val'
        assert cfg.randomness.seed == int(seed[-1])
        epochs = 4 if init == 'pretrained' else 8
        assert cfg.train_cfg.max_epochs == epochs
        assert cfg.train_cfg.val_interval == epochs
        assert cfg.param_scheduler[-1].end == epochs
        assert cfg.param_scheduler[0].end == 2  # the warmup is kept
        if init == 'pretrained':
            assert cfg.model.backbone.init_cfg.checkpoint == ckpt
            assert cfg.optim_wrapper.optimizer.lr == 5e-4
        else:
            assert cfg.model.backbone.init_cfg is None
            assert cfg.optim_wrapper.optimizer.lr == 0.001
    assert len(seen) == 12

    summary = json.load(open(osp.join(work, 'summary.json')))
    for task in CONFIGS:
        entry = summary[task]
        for init in ('pretrained', 'scratch'):
            assert entry[init] == FAKE[(task, init)]
            assert entry['final_train_loss'][init] == [2.0, 2.0]
        assert entry['seeds'] == [0, 1]
    assert summary['seg-rgb']['metric'] == 'mIoU'
    assert summary['seg-rgb']['mean_gap'] == pytest.approx(1.5)
    assert summary['seg-rgb']['pretrained_ahead'] == 1
    assert summary['seg-rgbd']['mean_gap'] == pytest.approx(5.0)
    assert summary['seg-rgbd']['pretrained_ahead'] == 2
    assert summary['depth']['metric'] == 'd1'
    assert summary['depth']['pretrained_ahead'] == 2
    assert summary['depth']['extra']['abs_rel']['pretrained'] == \
        pytest.approx([.2, .3])
    assert summary['depth']['extra_mean']['abs_rel'] == pytest.approx(
        dict(pretrained=.25, scratch=.375))
    assert summary['probe'] == dict(steps=[0, 20], values=[.3, .45],
                                    random=.3, key='probe/linear_miou')
    assert summary['probe_curves']['probe/knn_top1']['values'] == [.5, .6]
    assert summary['final_train_loss']['pretrain'] == 2.0
    assert summary['settings']['eval_split'] == 'val'
    assert summary['settings']['labelled'] == 3
    assert set(summary['times_s']) >= {'data', 'pretrain', 'total'}
    assert osp.isfile(osp.join(work, 'pretrain', 'probe_curve.png'))
    out = capsys.readouterr().out
    assert 'pretrained ahead in 2 of 2 seeds' in out
    assert 'gap +5.00' in out


def test_scratch_only_skips_pretraining_and_missing_metrics_fail(
        tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    calls = []
    monkeypatch.setattr(recipes, 'run_command', fake_run(calls))
    args = ['--data-root', str(tmp_path / 'data'), '--work-dir',
            str(tmp_path / 'work'), '--num-train', '4', '--labelled', '2',
            '--num-val', '1', '--num-test', '1', '--tasks', 'seg-rgbd']
    assert run_tool(SCRIPT, *args, '--runs', 'scratch') == 0
    assert [osp.basename(c[c.index('--work-dir') + 1]) for c in calls] == [
        'seg-rgbd_scratch_seed0', 'seg-rgbd_scratch_seed1']
    # scored on the test split by default
    cfg = _config(calls[0])
    assert cfg.val_dataloader.dataset.data_root.endswith('data/test')
    summary = json.load(open(tmp_path / 'work' / 'summary.json'))
    assert summary['settings']['eval_split'] == 'test'
    assert summary['settings']['pretrain_modalities'] == 'rgb-depth'
    capsys.readouterr()
    assert run_tool(SCRIPT, *args, '--skip-pretrain') == 1
    err = capsys.readouterr().err
    assert err.startswith('[demo] --skip-pretrain: no ')
    assert err.endswith('epoch_60.pth\n')
    # a run that logs no metric makes the demo fail, not report a number
    monkeypatch.setattr(recipes, 'run_command', lambda cmd, what: 1.0)
    assert run_tool(SCRIPT, *args, '--runs', 'scratch', '--work-dir',
                    str(tmp_path / 'empty')) == 1
    assert capsys.readouterr().err == \
        '[demo] the run did not produce its outputs; see the log\n'


def test_options(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert run_tool(SCRIPT, '--help') == 0
    text = ' '.join(capsys.readouterr().out.split())
    for default in ('(default 1000)', 'probe bank (default 100)',
                    '--num-val NUM_VAL default 100',
                    '--num-test NUM_TEST default 100', '(default [0, 1])',
                    'default data/scenes (data/scenes_quick with --quick)',
                    'default work_dirs/demo_multimae '
                    '(work_dirs/demo_multimae_quick with --quick)'):
        assert default in text
    # --quick: tiny splits, a few epochs; --seeds still applies
    calls = []
    monkeypatch.setattr(recipes, 'run_command', fake_run(calls))
    data, work = tmp_path / 'data', tmp_path / 'work'
    assert run_tool(SCRIPT, '--quick', '--seeds', '1', '--data-root', data,
                    '--work-dir', work, '--tasks', 'depth') == 0
    assert len(os.listdir(data / 'train' / 'rgb')) == 32
    assert _config(calls[0]).train_cfg.max_epochs == 6
    for cmd in calls[1:]:
        assert cmd[cmd.index('--work-dir') + 1].endswith('_seed1')
        assert _config(cmd).train_cfg.max_epochs == 3  # scratch too
    settings = json.load(open(work / 'summary.json'))['settings']
    assert (settings['labelled'], settings['num_val'], settings['seeds'],
            settings['quick']) == (16, 8, [1], True)
    capsys.readouterr()
    assert run_tool(SCRIPT, '--labelled', '2000') == 2
    assert '--labelled must be in 1..--num-train (1000), got 2000' in \
        capsys.readouterr().err


@pytest.mark.slow
def test_quick_end_to_end(tmp_path):
    """Real pretraining and 6 fine-tunes on tiny splits (~80 s on 2 busy
    cores)."""
    work = tmp_path / 'work'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, SCRIPT, '--quick', '--data-root',
         str(tmp_path / 'data'), '--work-dir', str(work)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-6000:]
    summary = json.load(open(work / 'summary.json'))
    for task, metric in (('seg-rgb', 'mIoU'), ('seg-rgbd', 'mIoU'),
                         ('depth', 'd1')):
        assert summary[task]['metric'] == metric
        for init in ('pretrained', 'scratch'):
            (value, ) = summary[task][init]
            assert value >= 0 and value <= (100 if metric == 'mIoU' else 1)
    curve = summary['probe']
    assert curve['key'] == 'probe/linear_miou'
    assert curve['steps'][0] == 0 and curve['random'] == curve['values'][0]
    assert len(curve['steps']) >= 2
    assert (work / 'pretrain' / 'probe_curve.png').is_file()
    # fine-tuned on the 16 labelled images only: 1 step of 16 per epoch
    log = next((work / 'seg-rgbd_pretrained_seed0').glob('*/*.log'))
    text = log.read_text()
    assert 'Epoch(train) [1][1/1]' in text
    assert 'MultiMAEViT: loaded' in text  # from the pretrained checkpoint
    assert 'MultiMAEViT: loaded' not in next(
        (work / 'seg-rgbd_scratch_seed0').glob('*/*.log')).read_text()
