# Copyright (c) mmmae contributors. All rights reserved.
import filecmp
import os
import os.path as osp
import time
from collections import Counter

import cv2
import decord
import numpy as np
import pytest

from mmmae.datasets import DEMO_CLASSES, make_demo_dataset
from mmmae.datasets.demo.moving_digits import main

SMALL = dict(num_train=12, num_val=6, num_test=6, num_frames=16, size=64,
             seed=0)


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('demo'))
    return root, make_demo_dataset(root, **SMALL)


def read_ann(path):
    with open(path) as f:
        return [(p, int(label)) for p, label in (ln.split() for ln in f)]


def decode(path):
    reader = decord.VideoReader(path, num_threads=1)
    return reader.get_batch(list(range(len(reader)))).asnumpy()


def test_layout_and_decoding(demo_root):
    root, paths = demo_root
    assert paths == dict(root=root,
                         train_ann=osp.join(root, 'train.txt'),
                         val_ann=osp.join(root, 'val.txt'),
                         test_ann=osp.join(root, 'test.txt'),
                         classes_file=osp.join(root, 'classes.txt'))
    with open(paths['classes_file']) as f:
        assert tuple(f.read().split()) == DEMO_CLASSES
    train, val = read_ann(paths['train_ann']), read_ann(paths['val_ann'])
    test = read_ann(paths['test_ann'])
    assert len(train) == 12 and len(val) == 6 and len(test) == 6
    # Balanced labels: 2 per class in train, 1 in val and in test.
    assert Counter(label for _, label in train) == {k: 2 for k in range(6)}
    assert Counter(label for _, label in val) == {k: 1 for k in range(6)}
    assert Counter(label for _, label in test) == {k: 1 for k in range(6)}
    assert all(p.startswith('test/') for p, _ in test)
    assert all(p.startswith('train/') for p, _ in train)
    frames = decode(osp.join(root, train[0][0]))
    assert frames.shape == (16, 64, 64, 3) and frames.dtype == np.uint8
    # Dark background, bright digits.
    assert np.median(frames) < 40 and frames.max() > 150
    assert not any(
        n.endswith('.part.mp4') for n in os.listdir(osp.join(root, 'train')))


def test_classes_are_defined_by_motion(demo_root):
    """Translation classes move the way their name says (phase correlation
    between consecutive frames); rotation and zoom do not translate."""
    root, paths = demo_root
    expected = {0: (-1, 0), 1: (1, 0), 2: (0, -1), 3: (0, 1)}
    for rel, label in read_ann(paths['train_ann']):
        gray = decode(osp.join(root, rel)).astype(np.float32).mean(-1)
        # median: a frame pair with a near-zero correlation peak (a rotating
        # digit's symmetric pose) gives an arbitrary shift
        shift = np.median([
            cv2.phaseCorrelate(gray[t], gray[t + 1])[0]
            for t in range(len(gray) - 1)
        ], 0)
        if label in expected:
            direction = np.array(expected[label])
            assert shift @ direction > 1.0, (rel, label, shift)
            assert abs(shift @ direction[::-1]) < 0.8, (rel, label, shift)
        else:
            assert np.abs(shift).max() < 1.0, (rel, label, shift)


def test_idempotent_and_deterministic(demo_root, tmp_path):
    root, paths = demo_root
    clip = osp.join(root, 'train', '000000.mp4')
    mtime = os.stat(clip).st_mtime_ns
    tic = time.time()
    assert make_demo_dataset(root, **SMALL) == paths
    assert time.time() - tic < 1.0
    assert os.stat(clip).st_mtime_ns == mtime  # nothing rewritten

    # Same seed elsewhere: identical files; through the CLI.
    other = str(tmp_path / 'again')
    main([
        '--root', other, '--num-train', '12', '--num-val', '6', '--num-test',
        '6', '--num-frames', '16'
    ])
    assert filecmp.cmp(clip,
                       osp.join(other, 'train', '000000.mp4'),
                       shallow=False)
    assert filecmp.cmp(paths['train_ann'],
                       osp.join(other, 'train.txt'),
                       shallow=False)

    # Other parameters or force=True regenerate.
    time.sleep(0.01)
    make_demo_dataset(other, **SMALL, force=True)
    assert os.stat(osp.join(other, 'train', '000000.mp4')).st_mtime_ns > \
        os.stat(clip).st_mtime_ns
    changed = make_demo_dataset(other, **dict(SMALL, seed=1))
    assert read_ann(changed['train_ann']) != read_ann(paths['train_ann']) or \
        not filecmp.cmp(clip, osp.join(other, 'train', '000000.mp4'),
                        shallow=False)


def test_feeds_the_dataset(demo_root):
    from mmengine.registry import init_default_scope

    from mmmae.registry import DATASETS
    root, paths = demo_root
    init_default_scope('mmmae')
    ds = DATASETS.build(
        dict(type='VideoMAEDataset',
             ann_file=paths['train_ann'],
             data_prefix=dict(video=root),
             pipeline=[
                 dict(type='mmaction.DecordInit'),
                 dict(type='mmaction.SampleFrames',
                      clip_len=8,
                      frame_interval=2),
                 dict(type='mmaction.DecordDecode'),
                 dict(type='mmaction.Resize', scale=(32, 32),
                      keep_ratio=False),
                 dict(type='mmaction.FormatShape', input_format='NCTHW'),
                 dict(type='TubeMaskGenerator',
                      input_size=(4, 4, 4),
                      mask_ratio=0.9),
                 dict(type='mmaction.PackActionInputs',
                      algorithm_keys=('mask', )),
             ]))
    assert len(ds) == 12 and ds.num_skipped == 0
    out = ds[0]
    assert out['inputs'].shape == (1, 3, 8, 32, 32)
    assert out['data_samples'].gt_label.item() == read_ann(
        paths['train_ann'])[0][1]


def test_splits_draw_from_disjoint_handwriting():
    from mmmae.datasets.demo.moving_digits import _load_digit_pools
    pools = _load_digit_pools(0)
    seen = {k: {img.tobytes() for img in v} for k, v in pools.items()}
    assert sum(len(v) for v in pools.values()) == 1797
    assert not seen['train'] & seen['val']
    assert not seen['train'] & seen['test']
    assert not seen['val'] & seen['test']


def test_write_labelled_subset(demo_root, tmp_path):
    from mmmae.datasets.demo import write_labelled_subset
    root, paths = demo_root
    full = read_ann(paths['train_ann'])
    # a copy: the module-scoped demo folder stays untouched
    (tmp_path / 'train.txt').write_text(
        ''.join(f'{p} {label}\n' for p, label in full))
    sub = write_labelled_subset(str(tmp_path), 1)
    assert sub['split'] == 'train_1pc' and sub['num_clips'] == 6
    kept = read_ann(sub['ann_file'])
    # the first clip of every class, in the list's order
    first = {}
    for p, label in full:
        first.setdefault(label, p)
    assert kept == sorted(((p, lab) for lab, p in first.items()),
                          key=full.index)
    assert sorted(lab for _, lab in kept) == list(range(6))
    two = write_labelled_subset(str(tmp_path), 2)
    assert two['num_clips'] == 12 and len(read_ann(two['ann_file'])) == 12
    everything = write_labelled_subset(str(tmp_path), 0)
    assert everything['split'] == 'train' and everything['num_clips'] == 12
