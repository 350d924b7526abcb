# Copyright (c) mmmae contributors. All rights reserved.
"""``mmmae.utils.run_logs`` on work dirs written by hand, laid out as
``tools/train.py`` and ``tools/test.py`` leave them."""
import json
import os

import pytest

from mmmae.utils.run_logs import (epoch_losses, find_scalars, read_final_loss,
                                  read_last_record, read_losses,
                                  read_probe_curve, read_probe_curves,
                                  read_test_metrics)


def _scalars(work_dir, stamp, records):
    path = work_dir / stamp / 'vis_data' / 'scalars.json'
    path.parent.mkdir(parents=True)
    path.write_text(''.join(json.dumps(r) + '\n' for r in records))
    return str(path)


@pytest.fixture
def run(tmp_path):
    """A pretraining work dir used twice: only the newest log counts."""
    _scalars(tmp_path, '20260101_000000', [dict(loss=9.0, epoch=1, step=1)])
    _scalars(tmp_path, '20260102_000000', [
        dict(loss=3.0, epoch=1, step=1), dict(loss=2.0, epoch=1, step=2),
        {'probe/knn_top1': .2, 'probe/knn_top1_random': .2, 'step': 0,
         'probe/linear_miou': .1},
        dict(loss=1.0, epoch=2, step=3),
        {'probe/knn_top1': .6, 'step': 3, 'mIoU': 40.0},
        {'mIoU': 45.0, 'aAcc': 80.0, 'step': 4},
        dict(lr=0.1, epoch=2, step=4),  # no loss: not counted
    ])
    return str(tmp_path)


def test_losses_and_records(run, tmp_path):
    assert find_scalars(run).endswith('20260102_000000/vis_data/'
                                      'scalars.json')
    assert read_losses(run) == {1: 2.5, 2: 1.0}
    assert epoch_losses(find_scalars(run)) == {1: 2.5, 2: 1.0}
    assert read_final_loss(run) == 1.0
    # the final validation: the last record holding the key
    assert read_last_record(run, 'mIoU') == {'mIoU': 45.0, 'aAcc': 80.0,
                                             'step': 4}
    empty = str(tmp_path / 'nothing')
    assert find_scalars(empty) is None
    assert read_losses(empty) == {} and read_final_loss(empty) is None
    assert read_last_record(empty, 'mIoU') == {}
    assert read_last_record(run, 'd1') == {}


def test_probe_curves(run, tmp_path):
    curve = dict(steps=[0, 3], values=[.2, .6], random=.2)
    assert read_probe_curve(find_scalars(run)) == curve
    curves = read_probe_curves(
        run, ('probe/knn_top1', 'probe/knn_miou', 'probe/linear_miou'))
    # keys never logged are left out
    assert curves == {'probe/knn_top1': curve,
                      'probe/linear_miou': dict(steps=[0], values=[.1],
                                                random=None)}
    assert read_probe_curves(str(tmp_path / 'nothing')) == {}
    # still importable from its old place
    from mmmae.visualization import read_probe_curve as old
    assert old is read_probe_curve


def test_test_metrics(tmp_path):
    test_dir = tmp_path / 'test'
    assert read_test_metrics(str(test_dir)) == {}
    for stamp, top1 in (('20260101_000000', .5), ('20260102_000000', .75)):
        (test_dir / stamp).mkdir(parents=True)
        (test_dir / stamp / f'{stamp}.json').write_text(
            json.dumps({'acc/top1': top1, 'acc/mean1': top1}))
    # the vis_data/scalars.json one folder deeper is not a test result
    os.makedirs(test_dir / '20260102_000000' / 'vis_data')
    assert read_test_metrics(str(test_dir)) == {'acc/top1': .75,
                                                'acc/mean1': .75}
