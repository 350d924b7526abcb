# Copyright (c) mmmae contributors. All rights reserved.
"""Pretraining through tools/train.py survives bad videos and names them.

Four good mp4 files share the annotation list with one file of every bad
kind: truncated AVI (one that segfaults decord when opened from memory),
MP4, MKV and WebM, random bytes, a zero-byte file, a missing file, an
audio-only file, a header that lies about the frame count, a 3-frame video
and an AVI with B-frames. With the shipped demo config and its dataset
defaults (2 DataLoader workers, so the skip count crosses process
boundaries) training must finish and the log must name every bad file once
with its reason; the 3-frame video is looped (as the official sampler does)
and the B-frame AVI decodes (wrong frames are ``check_dataset.py
--cross-check``'s job), so neither is counted.
"""
import glob
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from bad_video_files import (cut_file, write_bframe_avi, write_lying_mp4,
                             write_mkv, write_truncated_avi_segv)
from conftest import random_video, write_mp4

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CFG = osp.join(REPO_ROOT, 'configs', 'videomae',
                    'videomae_vit-tiny-p8_1xb8-30e_moving-digits.py')


# file -> the reason the log must give (None: usable, not counted)
KINDS = {
    'cut_xvid.avi': 'truncated',
    'cut.mp4': 'truncated',
    'cut.mkv': 'truncated',
    'cut.webm': 'truncated',
    'corrupt.mp4': 'not a video',
    'empty.mp4': 'empty',
    'missing.mp4': 'missing',
    'audio_only.m4a': 'corrupt',
    'lying.mp4': 'frame count mismatch',
    'short.mp4': None,
    'bframes.avi': None,
}


def write_audio_only(path: str) -> str:
    """An AAC-in-MP4 file with no video stream."""
    import av
    with av.open(path, 'w', format='mp4') as out:
        stream = out.add_stream('aac', rate=16000)
        samples = np.zeros((1, 1024), np.float32)
        for _ in range(8):
            frame = av.AudioFrame.from_ndarray(samples, format='fltp',
                                               layout='mono')
            frame.sample_rate = 16000
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture
def dirty_dir(video_dir, tmp_path):
    root = tmp_path / 'dirty'
    root.mkdir()
    good = [f'clip_{i}.mp4' for i in range(4)]
    for name in good:
        shutil.copy(video_dir / name, root / name)
    r = str(root)
    write_truncated_avi_segv(osp.join(r, 'cut_xvid.avi'))
    write_mp4(osp.join(r, 'full.mp4'), random_video(40, (48, 64), seed=9))
    cut_file(osp.join(r, 'full.mp4'), osp.join(r, 'cut.mp4'), 0.6)
    for ext in ('mkv', 'webm'):
        codec = 'mpeg4' if ext == 'mkv' else 'libvpx'
        write_mkv(osp.join(r, f'full.{ext}'), codec=codec)
        cut_file(osp.join(r, f'full.{ext}'), osp.join(r, f'cut.{ext}'), 0.6)
    rng = np.random.default_rng(0)
    (root / 'corrupt.mp4').write_bytes(rng.bytes(4096))
    (root / 'empty.mp4').write_bytes(b'')
    write_audio_only(osp.join(r, 'audio_only.m4a'))
    write_lying_mp4(osp.join(r, 'lying.mp4'))
    write_mp4(osp.join(r, 'short.mp4'), random_video(3, (48, 64), seed=5))
    write_bframe_avi(osp.join(r, 'bframes.avi'))
    names = list(KINDS)
    for k, name in enumerate(good):
        names.insert(3 * k, name)
    (root / 'ann.txt').write_text('\n'.join(names) + '\n')
    return root


def _tiny_cfg(tmp_path, data_dir):
    path = tmp_path / 'tiny_bad.py'
    path.write_text(f"""
_base_ = {DEMO_CFG!r}
train_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=False,
    dataset=dict(ann_file={str(data_dir / 'ann.txt')!r},
                 data_prefix=dict(video={str(data_dir)!r})))
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True)]
train_cfg = dict(max_epochs=2)
model = dict(
    backbone=dict(arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                            feedforward_channels=64)),
    neck=dict(embed_dims=32, decoder_embed_dims=32, decoder_depth=1,
              decoder_num_heads=2))
default_hooks = dict(logger=dict(interval=1))
custom_hooks = [dict(type='mmmae.BadSampleLoggerHook')]
""")
    return str(path)


@pytest.mark.slow
def test_training_completes_and_names_bad_videos(dirty_dir, tmp_path):
    work_dir = str(tmp_path / 'work')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
    proc = subprocess.run(
        [sys.executable, 'tools/train.py',
         _tiny_cfg(tmp_path, dirty_dir), '--work-dir', work_dir],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors='replace',  # ffmpeg echoes the corrupt file's bytes
        timeout=300)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert osp.isfile(osp.join(work_dir, 'epoch_2.pth'))
    (log, ) = glob.glob(osp.join(work_dir, '*', '*.log'))
    text = open(log, errors='replace').read()
    bad = {name: why for name, why in KINDS.items() if why}
    for name, why in bad.items():
        assert f'{name} ({why}' in text, f'{name} is not named as {why}'
        # warned once when found (by whichever worker met it first)
        found = re.findall(rf'(?:skipping unreadable video|dropped).*{name}',
                           text)
        assert len(found) == 1, (name, found)
    for name in ('short.mp4', 'bframes.avi'):
        # named only as a substitute ("... -> short.mp4 (seed=0, ...)")
        assert not re.search(rf'{name} \((?!seed)', text), name
    m = re.findall(r'skipped (\d+) unreadable videos?', text)
    assert m and int(m[-1]) == len(bad), m
    assert 'Segmentation fault' not in proc.stdout
    assert 'killed by signal' not in proc.stdout
    assert re.search(r'Epoch\(train\)\s+\[2\]\[\d+/\d+\].*loss: [0-9.]+',
                     text)
