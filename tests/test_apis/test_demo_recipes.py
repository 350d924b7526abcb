# Copyright (c) mmmae contributors. All rights reserved.
"""``mmmae.apis.recipes``: the pieces the demo and study drivers share,
on hand-made results (the drivers' command lines: tests/test_tools)."""
import argparse
import json
import os.path as osp
import subprocess
import sys

import cv2
import pytest

from mmmae.apis.recipes import (VIDEO_DEMO_CONFIGS, DenseTask, RecipeError,
                                add_run_args, check_outputs, compare_inits,
                                format_times, pretraining_needed,
                                probe_hook_index, report_summary,
                                run_command, study_table,
                                summarize_dense_demo, summarize_video_demo,
                                tool_command, video_list_options, write_json)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_compare_inits():
    cmp = compare_inits({'pretrained': [.9, .5], 'scratch': [.6, .7]},
                        scale=100)
    assert cmp['mean'] == pytest.approx(dict(pretrained=70., scratch=65.))
    assert cmp['gap'] == pytest.approx(5.) and cmp['ahead'] == 1
    # lower is better (e.g. abs_rel): ahead where pretrained is lower
    assert compare_inits({'pretrained': [.2, .3], 'scratch': [.25, .2]},
                         higher_is_better=False)['ahead'] == 1
    # the key order of the means follows the input
    assert list(compare_inits({'scratch': [1.], 'pretrained': [2.]})[
        'mean']) == ['scratch', 'pretrained']
    for incomplete in ({'pretrained': [.9]}, {'pretrained': [.9, None],
                                              'scratch': [.5, .5]},
                       {'pretrained': [], 'scratch': []}):
        assert compare_inits(incomplete) is None


def test_pretraining_and_outputs(tmp_path):
    ckpt = tmp_path / 'epoch_3.pth'
    assert pretraining_needed(['pretrained', 'scratch'], False, str(ckpt))
    assert not pretraining_needed(['scratch'], False, str(ckpt))
    assert not pretraining_needed(['scratch'], True, str(ckpt))
    with pytest.raises(RecipeError, match=f'--skip-pretrain: no {ckpt}'):
        pretraining_needed(['pretrained'], True, str(ckpt))
    ckpt.write_bytes(b'')
    assert not pretraining_needed(['pretrained'], True, str(ckpt))

    check_outputs(True, True, str(ckpt), True)
    check_outputs(True, False, str(tmp_path / 'none.pth'), False)
    for args in ((False, False, str(ckpt), True),
                 (True, True, str(tmp_path / 'none.pth'), True),
                 (True, True, str(ckpt), False)):
        with pytest.raises(RecipeError, match='did not produce'):
            check_outputs(*args)


def test_options_and_commands():
    pre = osp.join(ROOT, VIDEO_DEMO_CONFIGS['pretrain'])
    from mmengine.config import Config
    cfg = Config.fromfile(pre)
    i = probe_hook_index(pre)
    assert cfg.custom_hooks[i].type.endswith('ProbeHook')
    assert probe_hook_index(cfg) == i
    assert all(osp.isfile(osp.join(ROOT, p))
               for p in VIDEO_DEMO_CONFIGS.values())
    assert video_list_options('d', [('train_dataloader', 'train_2pc')],
                              prefix='custom_hooks.3.') == [
        'custom_hooks.3.train_dataloader.dataset.ann_file=d/train_2pc.txt',
        'custom_hooks.3.train_dataloader.dataset.data_prefix.video=d']
    assert tool_command('tools/test.py', 'a.py', 'b.pth', '--work-dir', 3,
                        cfg_options=['x=1']) == [
        sys.executable, 'tools/test.py', 'a.py', 'b.pth', '--work-dir', '3',
        '--cfg-options', 'x=1']

    p = argparse.ArgumentParser()
    add_run_args(p)
    args = p.parse_args([])
    assert (args.eval_split, args.runs, args.skip_pretrain) == (
        'test', ['pretrained', 'scratch'], False)
    assert args.cfg_options == args.ft_cfg_options == []
    assert p.parse_args(['--runs', 'scratch', '--scratch-cfg-options',
                         'a=1']).scratch_cfg_options == ['a=1']


def test_run_command(capsys):
    took = run_command([sys.executable, '-c', 'pass'], 'nothing')
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f'[demo] nothing: {sys.executable} -c pass'
    assert out[1].startswith('[demo] nothing: done in') and took > 0
    run_command([sys.executable, '-c', 'pass'], 'quiet', tag='[study]',
                report_done=False)
    assert capsys.readouterr().out.splitlines() == [
        f'[study] quiet: {sys.executable} -c pass']
    with pytest.raises(subprocess.CalledProcessError):
        run_command([sys.executable, '-c', 'raise SystemExit(3)'], 'fail')


def test_video_summary():
    runs = [(0, 'pretrained', dict(top1=.9, final_train_loss=.5, epochs=4)),
            (0, 'scratch', dict(top1=.6, final_train_loss=.25, epochs=8)),
            (1, 'pretrained', dict(top1=.8, final_train_loss=.5, epochs=4)),
            (1, 'scratch', dict(top1=.7, final_train_loss=None, epochs=8))]
    curve = dict(steps=[0, 10], values=[.25, .5], random=.25)
    times = dict(data=1., total=60.)
    kw = dict(seeds=[0, 1], eval_split='val', num_classes=6,
              labelled_clips=12, labelled_split='train_2pc',
              labels_per_class=2)
    summary, ok, lines = summarize_video_demo(runs, curve, times, **kw)
    assert ok
    assert summary['pretrained'] == [.9, .8]
    assert summary['scratch'] == [.6, .7]
    assert summary['final_train_loss'] == dict(pretrained=[.5, .5],
                                               scratch=[.25, None])
    assert summary['epochs'] == dict(pretrained=4, scratch=8)
    assert summary['mean_gap_points'] == pytest.approx(20.)
    assert summary['probe'] is curve and summary['times_s'] is times
    assert (summary['labelled_clips'], summary['labelled_split'],
            summary['labels_per_class']) == (12, 'train_2pc', 2)
    assert lines[0] == ('probe during pretraining (10-NN top-1 on val, '
                        'step: value): 0: 25%, 10: 50%; random init 25%')
    assert lines[1].startswith('fine-tuning on 12 labelled clips '
                               '(train_2pc.txt); scored on the val split, '
                               '6 classes (chance 16.7%)')
    assert lines[3] == '  pretrained     0       4   90.0%             0.500'
    assert lines[6] == '  scratch        1       8   70.0%'
    assert lines[-1] == ('pretraining helped: pretrained 85.0% vs scratch '
                         '65.0% mean top-1 (+20.0 points), ahead in 2 of 2 '
                         'seeds')
    # a run without a top-1: not ok, no verdict
    runs[1] = (0, 'scratch', dict(top1=None, final_train_loss=.25,
                                  epochs=8))
    summary, ok, lines = summarize_video_demo(runs, None, times, **kw)
    assert not ok and 'mean_gap_points' not in summary
    assert lines[3] == '  scratch        0       8    n/a             0.250'
    assert 'probe' not in lines[0]


def test_dense_summary():
    tasks = {
        'seg': DenseTask('seg.py', 'mIoU', 'segmentation', ('aAcc', )),
        'depth': DenseTask('depth.py', 'd1', 'depth', ('abs_rel', ),
                           lower_columns=('abs_rel', )),
    }

    def run(v, loss=1.):
        return dict(metrics={'mIoU': v, 'd1': v, 'aAcc': v, 'abs_rel': 1 - v},
                    final_train_loss=loss)

    results = {
        'seg': {('pretrained', 0): run(50.), ('pretrained', 1): run(40.),
                ('scratch', 0): run(45.), ('scratch', 1): run(42.)},
        'depth': {('pretrained', 0): run(.8), ('pretrained', 1): run(.7),
                  ('scratch', 0): run(.6), ('scratch', 1): run(.65, 2.)},
    }
    settings = dict(num_train=6, labelled=3, num_val=2, num_test=4,
                    eval_split='test', pretrain_modalities='rgb-depth',
                    seeds=[0, 1], runs=['pretrained', 'scratch'])
    curves = {'probe/linear_miou': dict(steps=[0, 20], values=[.3, .45],
                                        random=.3)}
    summary, ok, lines = summarize_dense_demo(
        results, tasks, settings, curves, {1: 3., 2: 2.}, dict(total=1.))
    assert ok
    seg, depth = summary['seg'], summary['depth']
    assert seg['pretrained'] == [50., 40.] and seg['config'] == 'seg.py'
    assert seg['mean_gap'] == pytest.approx(1.5)
    assert seg['pretrained_ahead'] == 1
    assert seg['extra']['aAcc']['scratch'] == [45., 42.]
    assert depth['pretrained_ahead'] == 2
    assert depth['extra_mean']['abs_rel'] == pytest.approx(
        dict(pretrained=.25, scratch=.375))
    assert depth['final_train_loss']['scratch'] == [1., 2.]
    assert summary['probe'] == dict(curves['probe/linear_miou'],
                                    key='probe/linear_miou')
    assert summary['final_train_loss']['pretrain'] == 2.
    assert summary['final_train_loss']['depth'] == depth['final_train_loss']
    assert summary['settings'] is settings
    assert lines[0] == ('pretraining: 6 images (rgb-depth), fine-tuning: the '
                        'first 3; scored on test (4 images), last weights')
    assert lines[1] == 'pretraining loss: epoch 1 3.000 -> epoch 2 2.000'
    assert lines[2].endswith('step: value): 0: 30.0, 20: 45.0; random init '
                             '30.0')
    assert 'segmentation (seg): mIoU' in lines
    assert ('  mean mIoU: pretrained 45.00 vs scratch 43.50 (gap +1.50); '
            'pretrained ahead in 1 of 2 seeds') in lines
    assert ('depth (depth): d1 (higher is better) and abs_rel (lower is '
            'better)') in lines
    row = lines.index('depth (depth): d1 (higher is better) and abs_rel '
                      '(lower is better)') + 2
    assert lines[row].split() == ['0', '0.800', '0.600', '0.200', '0.400']
    assert '  mean abs_rel: pretrained 0.250 vs scratch 0.375' in lines

    # scratch only, and a run that logged nothing
    settings = dict(settings, runs=['scratch'])
    del results['seg'][('scratch', 1)]
    summary, ok, lines = summarize_dense_demo(
        {'seg': results['seg']}, {'seg': tasks['seg']}, settings, {}, {},
        dict(total=1.))
    assert not ok
    assert summary['seg']['scratch'] == [45., None]
    assert 'pretrained' not in summary['seg'] and summary['probe'] is None
    assert lines[-1].split() == ['1', 'n/a']


def test_study_table():
    results = {
        'tube-0.9': dict(steps=1500, top1=[.9, .95],
                         probe=dict(steps=[0, 500, 1500],
                                    values=[.3, .6, .9], random=.3)),
        'scratch': dict(top1=[.5]),
    }
    assert study_table(results) == [
        '| variant | steps | probe: random -> 500 / 1000 / last | '
        'fine-tune top-1 per seed | mean |', '|---|---|---|---|---|',
        '| tube-0.9 | 1500 | 30.0 -> 60.0 / - / 90.0 | 90.0 / 95.0 | 92.5 |',
        '| scratch | - | - | 50.0 | 50.0 |']


def test_times_and_json(tmp_path, capsys):
    assert format_times(dict(data=15.2, pretrain=505., total=864.)) == \
        'data 15s, pretrain 505s, total 864s (14.4 min)'
    path = write_json({1: [.5]}, str(tmp_path / 'new' / 'x.json'))
    assert json.load(open(path)) == {'1': [.5]}
    path = report_summary({'a': 1}, ['one', '  two'], str(tmp_path / 'w'))
    assert path == str(tmp_path / 'w' / 'summary.json')
    assert json.load(open(path)) == {'a': 1}
    assert capsys.readouterr().out == ('\n[demo] ===== summary =====\n'
                                       '[demo] one\n[demo]   two\n')


def test_study_plots(tmp_path):
    from mmmae.visualization.probe_curve import (plot_run_probe_curves,
                                                 plot_study)
    curve = dict(steps=[0, 250, 500], values=[.3, .5, .8], random=.3)
    png = plot_study({'a': dict(probe=curve, top1=[.8, .9]),
                      'scratch': dict(top1=[.5])},
                     str(tmp_path / 'x' / 'study.png'), 'a study',
                     chance=1 / 6)
    assert cv2.imread(png).shape[:2] == (400, 1100)
    # a run without a log: nothing read, nothing written
    out = str(tmp_path / 'curve.png')
    assert plot_run_probe_curves(str(tmp_path), out) == {}
    assert not osp.exists(out)
