# Copyright (c) mmmae contributors. All rights reserved.
"""Interrupted training: SIGKILL mid-epoch, ``--resume``, identical weights.

``tools/train.py --deterministic`` runs as a subprocess on real mp4 files
(decoded by decord in 2 persistent DataLoader workers) with the demo
VideoMAE config (and its ``-devaug-`` variant, crop and resize in the data
preprocessor) shrunk to 1 clip per batch, 4 batches per epoch, 2 epochs,
dropout and drop-path on (so the main process's RNG matters too) and an
iteration checkpoint every 3 iterations. One run goes through; another
SIGKILLs itself right after iteration 5 (epoch 2, batch 1: not an epoch
boundary, and 2 iterations after the last checkpoint ``iter_3.pth``, which
is itself mid-epoch), then ``--resume`` continues it. Every tensor of the
final weights must be ``torch.equal`` to the uninterrupted run's.
"""
import glob
import os
import os.path as osp
import re
import signal
import subprocess
import sys

import pytest
import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CFG = osp.join(REPO_ROOT, 'configs', 'videomae',
                    'videomae_vit-tiny-p8_1xb8-30e_moving-digits.py')
# the same recipe with the crop and resize applied by the data
# preprocessor: the draws stay in the workers, so resume stays exact
DEVAUG_CFG = DEMO_CFG.replace('-30e_', '-devaug-30e_')

KILL_HOOK = '''
import os
import signal

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class KillAtIterHook(Hook):
    """SIGKILL this process after iteration ``kill_at`` (1-based), once all
    other after_train_iter hooks (checkpointing included) have run."""

    priority = 'LOWEST'

    def __init__(self):
        self.kill_at = int(os.environ.get('MMMAE_TEST_KILL_AT', '0'))

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
'''


def _run(args, extra_path, timeout=300, kill_at=0):
    env = dict(os.environ)
    env['MMMAE_TEST_KILL_AT'] = str(kill_at)
    env['PYTHONPATH'] = os.pathsep.join(
        [REPO_ROOT, extra_path, env.get('PYTHONPATH', '')])
    env.setdefault('OMP_NUM_THREADS', '1')
    return subprocess.run([sys.executable, 'tools/train.py', *args],
                          cwd=REPO_ROOT,
                          env=env,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True,
                          timeout=timeout)


@pytest.fixture(scope='module', params=['eager', 'devaug'])
def resume_cfg(request, video_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp('resume_cfg')
    (root / 'kill_at_iter_hook.py').write_text(KILL_HOOK)
    path = root / 'tiny_resume.py'
    base = DEMO_CFG if request.param == 'eager' else DEVAUG_CFG
    path.write_text(f"""
_base_ = {base!r}
custom_imports = dict(imports=['kill_at_iter_hook'],
                      allow_failed_imports=False)
train_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    dataset=dict(ann_file={str(video_dir / 'ann.txt')!r},
                 data_prefix=dict(video={str(video_dir)!r})))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=1e-2, by_epoch=True,
         begin=1, end=2, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=2)
model = dict(
    backbone=dict(arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                            feedforward_channels=64),
                  drop_rate=0.1, drop_path_rate=0.1),
    neck=dict(embed_dims=32, decoder_embed_dims=16, decoder_depth=1,
              decoder_num_heads=2))
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(by_epoch=False, interval=3, max_keep_ckpts=1))
custom_hooks = [dict(type='mmmae.BadSampleLoggerHook'),
                dict(type='KillAtIterHook')]
""")
    return str(path), str(root)


def _final_weights(work_dir):
    ckpt = torch.load(
        osp.join(work_dir, 'iter_8.pth'), map_location='cpu',
        weights_only=False)
    assert ckpt['meta']['iter'] == 8
    return ckpt['state_dict']


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_is_bit_exact(resume_cfg, tmp_path):
    cfg, hook_dir = resume_cfg
    full, killed = str(tmp_path / 'full'), str(tmp_path / 'killed')

    proc = _run([cfg, '--work-dir', full, '--deterministic'], hook_dir)
    assert proc.returncode == 0, proc.stdout[-6000:]

    proc = _run([cfg, '--work-dir', killed, '--deterministic'],
                hook_dir,
                kill_at=5)
    assert proc.returncode == -signal.SIGKILL, proc.stdout[-6000:]
    # killed right after iteration 5 = epoch 2, batch 1 of 4
    assert re.search(r'Epoch\(train\)\s+\[2\]\[1/4\]', proc.stdout)
    assert not re.search(r'Epoch\(train\)\s+\[2\]\[2/4\]', proc.stdout)
    assert osp.isfile(osp.join(killed, 'iter_3.pth'))
    assert not glob.glob(osp.join(killed, 'iter_[68].pth'))
    with open(osp.join(killed, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('iter_3.pth')
    at_kill = torch.load(osp.join(killed, 'iter_3.pth'), map_location='cpu',
                         weights_only=False)['state_dict']

    proc = _run([cfg, '--work-dir', killed, '--deterministic', '--resume'],
                hook_dir)
    assert proc.returncode == 0, proc.stdout[-6000:]
    out = proc.stdout
    assert 'resumed epoch: 0, iter: 3' in out
    # the resumed epoch starts at its 4th batch; nothing re-trained
    assert 'resuming inside epoch 1: skipping its first 3 of 4 batches' \
        in out
    assert 'RNGStateHook: restored RNG states of iteration 3' in out
    assert not re.search(r'Epoch\(train\)\s+\[1\]\[\s*[123]/4\]', out)
    assert re.search(r'Epoch\(train\)\s+\[1\]\[4/4\]', out)
    assert re.search(r'Epoch\(train\)\s+\[2\]\[4/4\]', out)

    ref, got = _final_weights(full), _final_weights(killed)
    assert ref.keys() == got.keys()
    differing = [k for k in ref if not torch.equal(ref[k], got[k])]
    assert not differing, f'{len(differing)} tensors differ: {differing[:5]}'
    # the resumed part of the run did train (the comparison is not vacuous)
    assert any(not torch.equal(at_kill[k], got[k]) for k in got)


@pytest.mark.parametrize('how', ['flag', 'config'])
def test_train_tool_deterministic_makes_config_resumable(how):
    from mmengine.config import Config

    from mmmae.apis.runner import merge_train_options
    options = dict(
        deterministic=how == 'flag',
        cfg_options={'resumable': True} if how == 'config' else None)
    cfg = merge_train_options(Config.fromfile(DEMO_CFG), **options)
    assert cfg.train_cfg.type == 'mmmae.ResumableEpochBasedTrainLoop'
    assert cfg.train_dataloader.sampler.type == 'mmmae.ResumableSampler'
    assert cfg.train_dataloader.dataset.pipeline[0] == dict(
        type='mmmae.PerSampleSeed')
    hooks = [h['type'] for h in cfg.custom_hooks]
    assert 'mmmae.RNGStateHook' in hooks
    assert 'mmmae.FiniteLossCheckHook' in hooks
    assert cfg.randomness == dict(seed=0, deterministic=True)
    # the runtime base writes checkpoints atomically
    assert cfg.default_hooks.checkpoint.type == 'mmmae.AtomicCheckpointHook'

    plain = merge_train_options(Config.fromfile(DEMO_CFG))
    assert plain.train_cfg.type == 'EpochBasedTrainLoop'
