# Copyright (c) mmmae contributors. All rights reserved.
"""mmmae.pseudo_label.generate (tools/generate_pseudo_labels.py) on the demo
scenes: sizes, formats, manifest, interruption + resume, refusal to mix
models."""
import json
import os
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
import torch

import mmmae  # noqa: F401
from conftest import REPO_ROOT, run_tool
from mmmae.datasets.demo import make_scene_dataset
from mmmae.pseudo_label import (PseudoLabelSetupError, file_sha256,
                                generate_pseudo_labels, is_valid_label)
from mmmae.pseudo_label import generate as gen

sys.path.insert(0, osp.join(REPO_ROOT, 'tests', 'test_pseudo_label'))
from _tiny_mmseg import (depth_model_cfg, seg_model_cfg,  # noqa: E402
                         write_config, write_seg_checkpoint)

SCRIPT = 'tools/generate_pseudo_labels.py'
N = 6  # images of 50x70 (not multiples of 32)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp('pseudo')
    root = make_scene_dataset(str(base / 'scenes'), num_train=N, num_val=0,
                              size=(50, 70), seed=1)['root']
    # one image in a sub-folder, as ImageNet's class folders
    sub = osp.join(root, 'train', 'rgb', 'n0001')
    os.makedirs(sub)
    os.replace(osp.join(root, 'train', 'rgb', '000005.png'),
               osp.join(sub, 'img5.png'))
    seg_cfg = write_config(base / 'seg.py', seg_model_cfg(num_classes=6))
    dep_cfg = write_config(base / 'depth.py', depth_model_cfg(8.0))
    ckpt = write_seg_checkpoint(base / 'seg.pth', 'abcdef')
    return dict(root=root, seg_cfg=seg_cfg, dep_cfg=dep_cfg, ckpt=ckpt)


def _outputs(root, modality):
    folder = osp.join(root, 'train', modality)
    return sorted(
        osp.relpath(osp.join(d, f), folder) for d, _, fs in os.walk(folder)
        for f in fs)


def test_semseg_interrupt_and_resume(setup, monkeypatch):
    root = setup['root']
    kwargs = dict(task='semseg', config=setup['seg_cfg'],
                  checkpoint=setup['ckpt'], batch_size=2,
                  out_modality='pseudo_semseg', progress=False)
    real_write = gen.write_png
    calls = []

    def crash_after_3(path, array):
        if len(calls) == 3:
            raise KeyboardInterrupt  # e.g. the job was killed
        calls.append(path)
        real_write(path, array)

    monkeypatch.setattr(gen, 'write_png', crash_after_3)
    with pytest.raises(KeyboardInterrupt):
        generate_pseudo_labels(root, **kwargs)
    done = _outputs(root, 'pseudo_semseg')
    assert len([f for f in done if f.endswith('.png')]) == 3
    assert not [f for f in done if '.tmp' in f]  # no half-written files
    mtimes = {p: os.stat(p).st_mtime_ns for p in calls}

    # resume: only the 3 missing images are labelled
    resumed = []
    monkeypatch.setattr(gen, 'write_png',
                        lambda p, a: (resumed.append(p), real_write(p, a)))
    summary = generate_pseudo_labels(root, **kwargs)
    assert summary['failed'] == []
    assert (summary['total'], summary['written'], summary['skipped']) == \
        (N, 3, 3)
    assert len(resumed) == 3 and not set(resumed) & set(calls)
    assert {p: os.stat(p).st_mtime_ns for p in calls} == mtimes
    files = _outputs(root, 'pseudo_semseg')
    assert files == ['000000.png', '000001.png', '000002.png', '000003.png',
                     '000004.png', 'manifest.json', 'n0001/img5.png']
    for f in files[:-2] + files[-1:]:
        lab = cv2.imread(osp.join(root, 'train', 'pseudo_semseg', f),
                         cv2.IMREAD_UNCHANGED)
        assert lab.shape == (50, 70) and lab.dtype == np.uint8
        assert lab.max() < 6
    man = json.load(
        open(osp.join(root, 'train', 'pseudo_semseg', 'manifest.json')))
    assert man['labeler'] == 'MMSegSemSegLabeler' and man['task'] == 'semseg'
    assert man['model'] == 'EncoderDecoder'
    assert man['classes'] == ['a', 'b', 'c', 'd', 'e', 'f']
    assert man['checkpoint'] == osp.abspath(setup['ckpt'])
    assert man['checkpoint_sha256'] == file_sha256(setup['ckpt'])
    assert len(man['checkpoint_sha256']) == 16
    assert man['config'] == osp.abspath(setup['seg_cfg'])
    assert man['count'] == N and man['total'] == N and man['failed'] == []
    assert man['status'] == 'done' and man['mmmae_version']
    assert [r['written'] for r in man['runs']] == [3, 3]
    assert man['runs'][0]['skipped'] == 0 and man['runs'][1]['skipped'] == 3

    # a truncated label is relabelled; a third run has nothing to do
    bad = osp.join(root, 'train', 'pseudo_semseg', '000001.png')
    data = open(bad, 'rb').read()
    with open(bad, 'wb') as f:
        f.write(data[:len(data) // 2])
    assert not is_valid_label(bad)
    resumed.clear()
    assert generate_pseudo_labels(root, **kwargs)['failed'] == []
    assert resumed == [bad] and is_valid_label(bad, (50, 70))

    # labels of another model are not mixed in
    other = dict(kwargs, checkpoint=setup['seg_cfg'])  # another sha256
    with pytest.raises(PseudoLabelSetupError,
                       match='checkpoint_sha256=.*refusing to mix'):
        generate_pseudo_labels(root, **other)


def test_depth_auto_scale_and_resume(setup):
    root = setup['root']
    kwargs = dict(task='depth', config=setup['dep_cfg'], batch_size=4,
                  progress=False)
    # the default output modality is the task: 'depth' holds the scenes'
    # exact depth (with its own manifest), which is never overwritten
    before = open(osp.join(root, 'train', 'depth', '000000.png'),
                  'rb').read()
    with pytest.raises(PseudoLabelSetupError, match='not made by this tool'):
        generate_pseudo_labels(root, **kwargs)
    assert open(osp.join(root, 'train', 'depth', '000000.png'),
                'rb').read() == before
    kwargs['out_modality'] = 'pseudo_depth'
    summary = generate_pseudo_labels(root, **kwargs)
    assert summary['failed'] == [] and summary['written'] == N
    folder = osp.join(root, 'train', 'pseudo_depth')
    man = json.load(open(osp.join(folder, 'manifest.json')))
    scale = man['scale']
    assert man['labeler'] == 'MMSegDepthLabeler' and man['dtype'] == 'uint16'
    assert man['checkpoint'] is None and man['checkpoint_sha256'] is None
    assert man['clipped_pixels'] == 0 and man['count'] == N
    assert summary['scale'] == scale
    # the first batch's max * 1.25 fits in 16 bits
    depth = cv2.imread(osp.join(folder, '000000.png'), cv2.IMREAD_UNCHANGED)
    assert depth.dtype == np.uint16 and depth.shape == (50, 70)
    assert 0 < depth.min() and depth.max() * 1.25 <= 65535 * 1.01
    # the head outputs sigmoid * max_depth (exact values: next test)
    assert depth.max() / scale <= 8.0 + 1e-3
    # resuming keeps the recorded scale; a conflicting scale is refused
    os.remove(osp.join(folder, '000003.png'))
    assert generate_pseudo_labels(root, **kwargs)['written'] == 1
    assert json.load(open(osp.join(folder, 'manifest.json')))['scale'] == \
        scale
    with pytest.raises(PseudoLabelSetupError, match='differs from the scale'):
        generate_pseudo_labels(root, **kwargs, depth_scale=scale * 2)
    assert generate_pseudo_labels(root, **kwargs,
                                  depth_scale=scale)['failed'] == []


def test_fixed_scale_matches_the_labeler(setup, tmp_path):
    """With a checkpoint, the PNG is exactly encode_depth(labeler(img));
    the command line, exit status 0."""
    from mmmae.pseudo_label import (MMSegDepthLabeler, build_mmseg_model,
                                    encode_depth)
    torch.manual_seed(0)
    model = build_mmseg_model(depth_model_cfg(8.0))
    ckpt = str(tmp_path / 'depth.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    assert run_tool(SCRIPT, setup['root'], '--task', 'depth', '--config',
                    setup['dep_cfg'], '--checkpoint', ckpt,
                    '--out-modality', 'pd', '--depth-scale', '1000',
                    '--no-progress') == 0
    lab = MMSegDepthLabeler(setup['dep_cfg'], ckpt)
    img = cv2.imread(osp.join(setup['root'], 'train', 'rgb', '000002.png'))
    ref = encode_depth(lab.predict([img], channel_order='bgr')[0], 1000.0)
    got = cv2.imread(osp.join(setup['root'], 'train', 'pd', '000002.png'),
                     cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(got, ref)


def test_setup_errors(setup, tmp_path, capsys):
    assert run_tool(SCRIPT, tmp_path, '--task', 'semseg', '--config',
                    setup['seg_cfg']) == 2
    assert capsys.readouterr().err == (
        f'error: input folder {tmp_path}/train/rgb does not exist\n')
    assert run_tool(SCRIPT, setup['root'], '--task', 'semseg', '--config',
                    tmp_path / 'missing.py') == 2
    assert 'error: config' in capsys.readouterr().err
    assert run_tool(SCRIPT, setup['root'], '--task', 'semseg', '--config',
                    setup['seg_cfg'], '--batch-size', '0') == 2
    assert '--batch-size must be >= 1' in capsys.readouterr().err
    with pytest.raises(PseudoLabelSetupError, match="task 'normals'"):
        generate_pseudo_labels(setup['root'], task='normals',
                               config=setup['seg_cfg'])
