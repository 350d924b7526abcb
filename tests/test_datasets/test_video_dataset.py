# Copyright (c) mmmae contributors. All rights reserved.
import copy
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

import mmmae.datasets.video_dataset as vd_module
from mmmae.datasets import VideoMAEDataset
from mmmae.registry import DATASETS


def pipeline(num_clips=1, extra=()):
    """The VideoMAE pretraining pipeline at 8x32x32 (token grid 4x4x4)."""
    return [
        dict(type='mmaction.DecordInit'),
        dict(type='mmaction.SampleFrames',
             clip_len=8,
             frame_interval=2,
             num_clips=num_clips),
        dict(type='mmaction.DecordDecode'),
        dict(type='mmaction.MultiScaleCrop',
             input_size=32,
             scales=(1, .875, .75, .66)),
        dict(type='mmaction.Resize', scale=(32, 32), keep_ratio=False),
        dict(type='mmaction.FormatShape', input_format='NCTHW'),
        dict(type='TubeMaskGenerator', input_size=(4, 4, 4), mask_ratio=0.75),
        *extra,
        dict(type='mmaction.PackActionInputs',
             meta_keys=('img_shape', 'filename'),
             algorithm_keys=('mask', )),
    ]


def build(ann_file, data_prefix, **kwargs):
    init_default_scope('mmmae')
    cfg = dict(type='VideoMAEDataset',
               ann_file=str(ann_file),
               data_prefix=dict(video=str(data_prefix)),
               pipeline=kwargs.pop('pipeline', pipeline()))
    cfg.update(kwargs)
    return DATASETS.build(cfg)


@pytest.fixture
def warnings_log(monkeypatch):
    """Record the dataset's print_log calls (MMLogger handlers keep the
    original stdout, so capsys cannot see them)."""
    records = []
    real = vd_module.print_log

    def fake(msg, logger=None, level=None):
        records.append((msg, level))
        real(msg, logger=logger, level=level)

    monkeypatch.setattr(vd_module, 'print_log', fake)
    return records


@pytest.fixture(scope='module')
def bad_dir(video_dir, tmp_path_factory):
    """Good clips (linked from ``video_dir``) next to broken ones."""
    from conftest import random_video, write_mp4
    root = tmp_path_factory.mktemp('bad_videos')
    for i in range(4):
        os.symlink(video_dir / f'clip_{i}.mp4', root / f'clip_{i}.mp4')
    rng = np.random.default_rng(0)
    (root / 'corrupt.mp4').write_bytes(rng.bytes(5000))  # not a video
    (root / 'corrupt2.mp4').write_bytes(rng.bytes(3000))
    (root / 'empty.mp4').write_bytes(b'')
    # A real mp4 cut in half: no moov atom, decord cannot open it.
    data = (video_dir / 'clip_0.mp4').read_bytes()
    (root / 'truncated.mp4').write_bytes(data[:len(data) // 2])
    write_mp4(str(root / 'short.mp4'), random_video(3, (48, 64), seed=9))
    return root


def write_ann(path, names):
    path.write_text(''.join(f'{n}\n' for n in names))
    return path


def test_real_pipeline(video_dir):
    ds = build(video_dir / 'ann.txt', video_dir)
    assert isinstance(ds, VideoMAEDataset) and len(ds) == 4
    assert ds.num_skipped == 0 and ds.skipped == []
    np.random.seed(0)
    out = ds[1]
    assert out['inputs'].shape == (1, 3, 8, 32, 32)
    assert out['inputs'].dtype == torch.uint8
    sample = out['data_samples']
    assert sample.gt_label.item() == 1
    assert sample.mask.shape == (64, ) and sample.mask.sum() == 48
    # The clip is real video content, not a blank substitute.
    assert out['inputs'].float().std() > 10


def test_labels_optional_and_multi_view(video_dir, tmp_path):
    ann = write_ann(tmp_path / 'ann.txt',
                    ['# comment', 'clip_0.mp4', '', 'clip_1.mp4   3'])
    ds = build(ann, video_dir, pipeline=pipeline(num_clips=2))
    assert len(ds) == 2
    assert ds.get_data_info(0)['label'] == -1
    assert ds.get_data_info(1)['label'] == 3
    out = ds[0]
    assert out['inputs'].shape == (2, 3, 8, 32, 32)
    mask = out['data_samples'].mask
    assert mask.shape == (2, 64) and (mask.sum(1) == 48).all()
    bad = write_ann(tmp_path / 'bad.txt', ['clip_0.mp4 1 2 3'])
    with pytest.raises(ValueError, match='bad.txt:1'):
        build(bad, video_dir)


def test_paths_with_spaces(video_dir, tmp_path):
    """The list format of ``video_guard.parse_ann_line`` (shared with
    check_dataset.py): a tab, quotes, or a trailing integer label delimit
    a path with spaces; a real clip in a folder with a space decodes."""
    folder = tmp_path / 'my videos'
    folder.mkdir()
    os.symlink(video_dir / 'clip_2.mp4', folder / 'clip two.mp4')
    ann = write_ann(tmp_path / 'ann.txt', [
        'my videos/clip two.mp4\t1', '"my videos/clip two.mp4" 0',
        'my videos/clip two.mp4   1', 'my videos/clip two.mp4'
    ])
    ds = build(ann, tmp_path)
    assert len(ds) == 4 and ds.num_skipped == 0
    path = str(folder / 'clip two.mp4')
    assert [(ds.get_data_info(i)['filename'], ds.get_data_info(i)['label'])
            for i in range(4)] == [(path, 1), (path, 0), (path, 1),
                                   (path, -1)]
    out = ds[0]
    assert out['data_samples'].filename == path
    assert out['inputs'].shape == (1, 3, 8, 32, 32)
    assert out['inputs'].float().std() > 10  # real frames
    # multi-label and another delimiter, as MMAction2's options
    ds = build(write_ann(tmp_path / 'multi.txt',
                         ['my videos/clip two.mp4,1,3']),
               tmp_path,
               delimiter=',',
               multi_class=True,
               num_classes=4)
    info = ds.get_data_info(0)
    assert info['filename'] == path
    assert info['label'].tolist() == [0, 1, 0, 1]  # one-hot of [1, 3]
    # a path ending in a space and digits must be quoted: refused, not
    # guessed, and the line is named
    bad = write_ann(tmp_path / 'amb.txt', ['clip_0.mp4', 'take 2 3'])
    with pytest.raises(ValueError, match=r'amb.txt:2.*"take 2" 3'):
        build(bad, tmp_path)


def test_missing_and_empty_dropped_at_start(bad_dir, tmp_path, warnings_log):
    names = [f'clip_{i}.mp4' for i in range(2)
             ] + ['empty.mp4', 'nope.mp4', 'sub/also_missing.mp4']
    ds = build(write_ann(tmp_path / 'ann.txt', names), bad_dir)
    assert len(ds) == 2
    assert ds.skipped == [(str(bad_dir / 'empty.mp4'), 'empty'),
                          (str(bad_dir / 'nope.mp4'), 'missing'),
                          (str(bad_dir / 'sub/also_missing.mp4'), 'missing')]
    assert ds.num_skipped == 3
    warnings = [m for m, level in warnings_log if level == 30]
    assert len(warnings) == 1  # one warning for all of them
    assert 'empty.mp4 (empty)' in warnings[0]
    assert 'nope.mp4 (missing)' in warnings[0]
    assert 'also_missing.mp4' in warnings[0]


def test_warning_lists_at_most_max_names(bad_dir, tmp_path, warnings_log):
    names = ['clip_0.mp4'] + [f'gone_{i}.mp4' for i in range(30)]
    ds = build(write_ann(tmp_path / 'ann.txt', names), bad_dir)
    assert ds.num_skipped == 30
    (msg, _), = [r for r in warnings_log if r[1] == 30]
    assert 'gone_19.mp4' in msg and 'gone_20.mp4' not in msg
    assert 'and 10 more' in msg


def test_start_errors_are_clear(bad_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match='no_such_ann.txt'):
        build(tmp_path / 'no_such_ann.txt', bad_dir)
    with pytest.raises(RuntimeError, match='lists no video'):
        build(write_ann(tmp_path / 'blank.txt', ['', '  ']), bad_dir)
    ann = write_ann(tmp_path / 'ann.txt', ['clip_0.mp4 0', 'clip_1.mp4 1'])
    with pytest.raises(RuntimeError) as info:
        build(ann, tmp_path / 'wrong_prefix')
    msg = str(info.value)
    assert 'ann.txt' in msg and 'wrong_prefix' in msg
    assert 'data_prefix' in msg and 'Fix' in msg


def test_corrupt_videos_skipped_at_load(bad_dir, tmp_path, warnings_log):
    names = ['clip_0.mp4', 'corrupt.mp4', 'clip_1.mp4', 'truncated.mp4']
    ds = build(write_ann(tmp_path / 'ann.txt', names), bad_dir)
    assert len(ds) == 4 and ds.num_skipped == 0
    np.random.seed(0)
    for _ in range(3):  # three epochs: warned and decoded only once
        for i in range(len(ds)):
            out = ds[i]
            assert out['inputs'].shape == (1, 3, 8, 32, 32)
            assert 'clip_' in out['data_samples'].filename
    assert ds.num_skipped == 2
    # The reason names the cause: random bytes, a cut mp4 without moov.
    assert sorted(ds.skipped_videos) == [
        (str(bad_dir / 'corrupt.mp4'), 'not a video'),
        (str(bad_dir / 'truncated.mp4'), 'truncated')
    ]
    warnings = [m for m, level in warnings_log if level == 30]
    assert len(warnings) == 2
    assert any('corrupt.mp4' in m and 'not a video' in m for m in warnings)
    assert any('truncated.mp4' in m and "'mdat' box needs" in m
               for m in warnings)


def test_too_short_video_is_looped_or_skipped(bad_dir, tmp_path):
    ann = write_ann(tmp_path / 'ann.txt', ['short.mp4 0', 'clip_2.mp4 1'])
    # Default: a 3-frame video is looped by SampleFrames, not skipped.
    ds = build(ann, bad_dir)
    out = ds[0]
    assert out['data_samples'].filename.endswith('short.mp4')
    assert out['inputs'].shape == (1, 3, 8, 32, 32)
    assert ds.num_skipped == 0
    # With min_frames it is skipped as too short.
    ds = build(ann, bad_dir, min_frames=16)
    np.random.seed(0)
    out = ds[0]
    assert out['data_samples'].filename.endswith('clip_2.mp4')
    assert ds.skipped_videos == [(str(bad_dir / 'short.mp4'), 'too short')]


def test_all_bad_raises_instead_of_looping(bad_dir, tmp_path):
    ds = build(
        write_ann(tmp_path / 'ann.txt', ['corrupt.mp4', 'corrupt2.mp4']),
        bad_dir)
    with pytest.raises(RuntimeError, match='failed to load'):
        ds[0]
    assert ds.num_skipped == 2


def test_test_mode_raises_naming_the_file(bad_dir, tmp_path):
    ds = build(write_ann(tmp_path / 'ann.txt', ['clip_0.mp4', 'corrupt.mp4']),
               bad_dir,
               test_mode=True)
    assert ds[0]['inputs'].shape == (1, 3, 8, 32, 32)
    with pytest.raises(RuntimeError, match='corrupt.mp4'):
        ds[1]


class Boom:
    """A buggy transform after decoding."""

    def __call__(self, results):
        raise ValueError('bug in a transform')


def test_pipeline_bug_is_not_swallowed(video_dir):
    ds = build(video_dir / 'ann.txt',
               video_dir,
               pipeline=pipeline(extra=(Boom(), )))
    with pytest.raises(ValueError, match='bug in a transform') as info:
        ds[0]
    assert 'clip_0.mp4' in ''.join(getattr(info.value, '__notes__', []))
    assert ds.num_skipped == 0


@pytest.mark.parametrize('deep_copied', [False, True])
def test_counts_shared_with_dataloader_workers(bad_dir, tmp_path, deep_copied):
    names = [f'clip_{i}.mp4' for i in range(4)] + [
        'corrupt.mp4', 'corrupt2.mp4', 'truncated.mp4', 'empty.mp4',
        'missing.mp4'
    ]
    ds = build(write_ann(tmp_path / 'ann.txt', names), bad_dir)
    if deep_copied:  # as MMEngine does with a dataset instance in a cfg
        ds = copy.deepcopy(ds)
    assert len(ds) == 7 and ds.num_skipped == 2
    loader = torch.utils.data.DataLoader(ds,
                                         batch_size=2,
                                         num_workers=2,
                                         collate_fn=pseudo_collate,
                                         multiprocessing_context='fork')
    seen = 0
    for _ in range(2):
        for batch in loader:
            for inputs in batch['inputs']:
                assert inputs.shape == (1, 3, 8, 32, 32)
            seen += len(batch['inputs'])
    assert seen == 14  # every index yields a real sample
    # Found in the workers, counted exactly in the main process.
    assert ds.num_skipped == 5
    assert sorted(ds.load_failures) == sorted(
        [(str(bad_dir / n), 'not a video')
         for n in ('corrupt.mp4', 'corrupt2.mp4')] +
        [(str(bad_dir / 'truncated.mp4'), 'truncated')])
    assert {r for _, r in ds.skipped_videos} == {
        'not a video', 'truncated', 'empty', 'missing'}


def test_subset_has_fresh_flags(bad_dir, tmp_path):
    ds = build(write_ann(tmp_path / 'ann.txt', ['corrupt.mp4', 'clip_0.mp4']),
               bad_dir)
    ds[0]
    assert ds.num_skipped == 1
    sub = ds.get_subset([1])
    assert len(sub) == 1 and sub.num_skipped == 0
    assert sub[0]['inputs'].shape == (1, 3, 8, 32, 32)
    assert osp.basename(sub.get_data_info(0)['filename']) == 'clip_0.mp4'


def test_repeated_augmentation_views(bad_dir, tmp_path):
    """num_repeats: one decode, independent augmentations of the same frames,
    bad videos still skipped; flattened by repeat_pseudo_collate."""
    from mmaction.datasets import repeat_pseudo_collate
    erase = dict(type='mmaction.RandomErasing', erase_prob=1.0, mode='rand')
    pipe = pipeline(extra=())
    # erase before FormatShape (it works on HxWx3 frames, in place)
    pipe.insert(5, erase)
    names = ['clip_0.mp4', 'corrupt.mp4', 'clip_1.mp4']
    ds = build(write_ann(tmp_path / 'ann.txt', names), bad_dir,
               pipeline=pipe, num_repeats=3)
    np.random.seed(0)
    batch = [ds[i] for i in range(len(ds))]
    assert all(isinstance(views, list) and len(views) == 3
               for views in batch)
    assert ds.num_skipped == 1
    for views in batch:
        names = {v['data_samples'].filename for v in views}
        assert len(names) == 1  # the views come from one video
        a, b = (v['inputs'] for v in views[:2])
        assert not torch.equal(a, b)  # independently augmented
    flat = repeat_pseudo_collate(batch)
    assert len(flat['inputs']) == 9
    one = write_ann(tmp_path / 'one.txt', ['clip_0.mp4'])
    with pytest.raises(ValueError, match='num_repeats'):
        build(one, bad_dir, num_repeats=2, test_mode=True)
