# Copyright (c) mmmae contributors. All rights reserved.
"""Pretraining through tools/train.py survives bad videos and names them.

Four good mp4 files share the annotation list with a corrupt file (random
bytes), a zero-byte file and a file that does not exist. Training must
finish, and the log must name all three, with DataLoader worker processes
doing the decoding (so the skip count crosses process boundaries).
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

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CFG = osp.join(REPO_ROOT, 'configs', 'videomae',
                    'videomae_vit-tiny-p8_1xb8-30e_moving-digits.py')


@pytest.fixture
def dirty_dir(video_dir, tmp_path):
    root = tmp_path / 'dirty'
    root.mkdir()
    good = [f'clip_{i}.mp4' for i in range(4)]
    for name in good:
        shutil.copy(video_dir / name, root / name)
    rng = np.random.default_rng(0)
    (root / 'corrupt.mp4').write_bytes(rng.bytes(4096))
    (root / 'empty.mp4').write_bytes(b'')
    names = good[:2] + ['corrupt.mp4', 'empty.mp4', 'missing.mp4'] + good[2:]
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
    for name in ('corrupt.mp4', 'empty.mp4', 'missing.mp4'):
        assert name in text, f'{name} is not named in the log'
    m = re.findall(r'skipped (\d+) unreadable videos?', text)
    assert m and int(m[-1]) == 3, m
    assert re.search(r'Epoch\(train\)\s+\[2\]\[\d+/\d+\].*loss: [0-9.]+',
                     text)
