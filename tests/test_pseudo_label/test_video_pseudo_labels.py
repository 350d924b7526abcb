# Copyright (c) mmmae contributors. All rights reserved.
"""Pseudo-labels for videos (generate_pseudo_labels on a root whose rgb/
holds mp4 files): the .npz format, the manifest, resume, the frame-count
check, and the dataset reading what was written."""
import json
import os
import os.path as osp
import sys

import numpy as np
import pytest

from conftest import REPO_ROOT, random_video, run_tool, write_mp4
from mmmae.datasets.transforms import NpzFrames, VideoInit, read_frames
from mmmae.pseudo_label import (MMSegSemSegLabeler, generate_pseudo_labels,
                                is_valid_frames)
from mmmae.pseudo_label import generate as gen
from mmmae.registry import DATASETS

sys.path.insert(0, osp.join(REPO_ROOT, 'tests', 'test_pseudo_label'))
from _tiny_mmseg import (depth_model_cfg, seg_model_cfg,  # noqa: E402
                         write_config, write_seg_checkpoint)

SCRIPT = 'tools/generate_pseudo_labels.py'
H, W = 40, 56  # not multiples of 32
CLIPS = {'a.mp4': 5, 'sub/b.mp4': 3}  # relative path -> frames


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp('video_pseudo')
    root = str(base / 'videos')
    for i, (rel, num) in enumerate(CLIPS.items()):
        write_mp4(osp.join(root, 'train', 'rgb', rel),
                  random_video(num, (H, W), seed=i))
    with open(osp.join(root, 'train.txt'), 'w') as f:
        f.write('a 0\nsub/b 1\n')
    seg_cfg = write_config(base / 'seg.py', seg_model_cfg(num_classes=6))
    dep_cfg = write_config(base / 'depth.py', depth_model_cfg(8.0))
    ckpt = write_seg_checkpoint(base / 'seg.pth', 'abcdef')
    return dict(root=root, seg_cfg=seg_cfg, dep_cfg=dep_cfg, ckpt=ckpt)


def decoded(root, rel):
    """All frames of a video, as the training pipeline decodes them."""
    opened = VideoInit(backend='pyav')(
        dict(filename=osp.join(root, 'train', 'rgb', rel)))
    return read_frames(opened['video_reader'],
                       np.arange(opened['total_frames']))[0]


def test_semseg_npz_manifest_and_resume(setup):
    root = setup['root']
    kwargs = dict(task='semseg', config=setup['seg_cfg'],
                  checkpoint=setup['ckpt'], batch_size=2,
                  out_modality='pseudo_semseg', progress=False)
    summary = generate_pseudo_labels(root, **kwargs)
    assert (summary['total'], summary['written'], summary['skipped'],
            summary['failed']) == (2, 2, 0, [])
    folder = osp.join(root, 'train', 'pseudo_semseg')
    labeler = MMSegSemSegLabeler(setup['seg_cfg'], setup['ckpt'])
    for rel, num in CLIPS.items():
        labels = NpzFrames(osp.join(folder, rel[:-4] + '.npz'))
        assert labels.shape == (num, H, W) and labels.dtype == np.uint8
        frames = decoded(root, rel)
        # frame i's label is the model's label of decoded frame i (the
        # same batches of 2 frames as the run)
        want = [
            m for b in range(0, num, 2)
            for m in labeler.predict(list(frames[b:b + 2]))
        ]
        np.testing.assert_array_equal(labels.get(range(num)), np.stack(want))
    man = json.load(open(osp.join(folder, 'manifest.json')))
    assert man['task'] == 'semseg' and man['dtype'] == 'uint8'
    assert man['format'] == 'npz' and man['key'] == 'frames'
    assert man['count'] == 2 and man['status'] == 'done'
    assert man['frames_per_clip'] is None
    assert man['frames_per_clip_range'] == [3, 5]
    assert 'MMSegSemSegLabeler' in man['source']
    assert man['classes'] == list('abcdef')

    # resume: nothing to do; then a cut file and a file of another length
    # (a valid .npz, wrong T) are relabelled, the rest is kept
    assert generate_pseudo_labels(root, **kwargs)['skipped'] == 2
    cut = osp.join(folder, 'sub', 'b.npz')
    data = open(cut, 'rb').read()
    with open(cut, 'wb') as f:
        f.write(data[:len(data) // 2])
    short = osp.join(folder, 'a.npz')
    gen.write_npz(short, np.zeros((4, H, W), np.uint8))
    assert not is_valid_frames(cut) and is_valid_frames(short)
    assert not is_valid_frames(short, (5, H, W))
    kept = os.stat(osp.join(folder, 'manifest.json')).st_size
    summary = generate_pseudo_labels(root, **kwargs)
    assert (summary['written'], summary['skipped']) == (2, 0)
    assert kept > 0 and NpzFrames(short).shape == (5, H, W)
    assert is_valid_frames(cut, (3, H, W))


def test_depth_frames_read_back_by_the_dataset(setup):
    root = setup['root']
    summary = generate_pseudo_labels(
        root, task='depth', config=setup['dep_cfg'], batch_size=4,
        out_modality='pseudo_depth', progress=False)
    assert summary['written'] == 2 and summary['scale'] == 1000.0
    folder = osp.join(root, 'train', 'pseudo_depth')
    man = json.load(open(osp.join(folder, 'manifest.json')))
    assert (man['dtype'], man['scale'], man['unit']) == ('uint16', 1000.0,
                                                         'm')
    assert man['depth_type'] and man['clipped_pixels'] == 0
    raw = NpzFrames(osp.join(folder, 'sub', 'b.npz')).get(range(3))
    assert raw.dtype == np.uint16 and 0 < raw.min() and raw.max() <= 8000

    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    ds = DATASETS.build(
        dict(type='mmmae.MultiModalVideoDataset', data_root=root,
             modalities=('rgb', 'pseudo_depth'),
             pipeline=[
                 dict(type='mmmae.VideoInit', backend='pyav'),
                 dict(type='SampleFrames', clip_len=2, frame_interval=1),
                 dict(type='mmmae.VideoDecode'),
                 dict(type='mmmae.LoadMultiModalVideo'),
                 dict(type='mmmae.PackMultiModalVideoInputs'),
             ]))
    np.random.seed(0)
    out = ds[1]
    inds = out['data_samples'].frame_inds
    depth = out['inputs']['pseudo_depth']
    assert depth.shape == (1, 2, H, W)
    np.testing.assert_allclose(depth[0].numpy(), raw[inds] / 1000.0,
                               rtol=1e-6)
    assert out['inputs']['rgb'].shape == (3, 2, H, W)


def test_written_frame_count_is_checked(setup, monkeypatch, capsys):
    """A label file whose frame count is not the decoder's is removed and
    the video reported as failed (exit status 1)."""
    real_write = gen.write_npz

    def drop_a_frame_of_b(path, frames, compress=True):
        if path.endswith('b.npz'):
            frames = frames[:-1]
        real_write(path, frames, compress)

    monkeypatch.setattr(gen, 'write_npz', drop_a_frame_of_b)
    assert run_tool(SCRIPT, setup['root'], '--task', 'semseg', '--config',
                    setup['seg_cfg'], '--out-modality', 'semseg_raw',
                    '--no-compress', '--no-progress') == 1
    folder = osp.join(setup['root'], 'train', 'semseg_raw')
    assert not osp.exists(osp.join(folder, 'sub', 'b.npz'))
    assert sorted(os.listdir(osp.join(folder, 'sub'))) == []
    man = json.load(open(osp.join(folder, 'manifest.json')))
    assert man['failed'] == ['sub/b.mp4'] and man['count'] == 1
    a = NpzFrames(osp.join(folder, 'a.npz'))
    assert a.shape == (5, H, W) and a._offset is not None  # stored: mmap
