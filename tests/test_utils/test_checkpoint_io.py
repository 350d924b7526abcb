# Copyright (c) mmmae contributors. All rights reserved.
"""mmmae.utils.checkpoint_io: weights_only loading with an allow-list, on
real MMEngine Runner checkpoints (save, resume, load_from), official and HF
layouts, and crafted pickles whose side effects must not happen; damaged
files (empty, cut in half, random bytes, an HTML page, a Git LFS pointer)
named with their fault on every loading path."""
import argparse
import os
import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import CheckpointLoader, Runner
from torch.utils.data import Dataset

import mmmae  # noqa: F401  (installs the MMEngine loader patch)
from mmmae.utils.checkpoint_io import (TRUST_ENV, CorruptCheckpointError,
                                       UntrustedCheckpointError,
                                       checkpoint_fault,
                                       is_trusted_checkpoint,
                                       load_checkpoint_file)


class _System:
    """Unpickles as ``os.system(cmd)``."""

    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd, ))


class _GetattrToFile:
    """Unpickles as ``getattr(np.ndarray, 'tofile')``: a general getattr in
    the allow-list would hand out methods with side effects."""

    def __reduce__(self):
        return (getattr, (np.ndarray, 'tofile'))


def _evil_checkpoint(tmp_path, name='evil.pth'):
    marker = tmp_path / 'pwned'
    path = tmp_path / name
    torch.save(
        dict(state_dict=dict(w=torch.ones(2)),
             meta=dict(x=_System(f'touch {marker}'))), path)
    return str(path), marker


def test_malicious_pickle_refused_without_side_effect(tmp_path, monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    path, marker = _evil_checkpoint(tmp_path)
    with pytest.raises(UntrustedCheckpointError) as info:
        load_checkpoint_file(path)
    assert not marker.exists()
    msg = str(info.value)
    assert path in msg
    assert 'system' in msg and info.value.rejected  # the refused global
    assert 'trusted=True' in msg and '--trust-pickle' in msg
    assert TRUST_ENV in msg
    assert isinstance(info.value, pickle.UnpicklingError)


def test_getattr_only_for_history_buffer_statistics(tmp_path):
    path = tmp_path / 'getattr.pth'
    torch.save(dict(f=_GetattrToFile()), path)
    with pytest.raises(UntrustedCheckpointError, match='tofile'):
        load_checkpoint_file(str(path))


def test_trusted_opt_in_loads_full_pickle(tmp_path, monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    path, marker = _evil_checkpoint(tmp_path)
    load_checkpoint_file(path, trusted=True)
    assert marker.exists()  # the opt-in really is a full pickle load
    marker.unlink()
    monkeypatch.setenv(TRUST_ENV, os.pathsep.join(['/elsewhere.pth', path]))
    assert is_trusted_checkpoint(path)
    load_checkpoint_file(path)
    assert marker.exists()
    monkeypatch.setenv(TRUST_ENV, '/elsewhere.pth')
    assert not is_trusted_checkpoint(path)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file('/nonexistent/nope.pth')


def test_official_and_hf_layouts_load(tmp_path):
    sd = {'encoder.patch_embed.proj.weight': torch.randn(4, 3, 2, 4, 4)}
    official = dict(
        model=sd,
        optimizer=dict(
            state={}, param_groups=[dict(lr=1e-3, betas=(0.9, 0.95))]),
        epoch=799,
        scaler=dict(scale=65536.0),
        args=argparse.Namespace(model='pretrain_videomae_base', lr=1.5e-4,
                                mask_ratio=np.float64(0.9)))
    torch.save(official, tmp_path / 'official.pth')
    out = load_checkpoint_file(str(tmp_path / 'official.pth'))
    assert out['args'].model == 'pretrain_videomae_base'
    assert torch.equal(out['model']['encoder.patch_embed.proj.weight'],
                       sd['encoder.patch_embed.proj.weight'])

    torch.save(dict(sd), tmp_path / 'pytorch_model.bin')
    out = load_checkpoint_file(str(tmp_path / 'pytorch_model.bin'))
    assert list(out) == list(sd)

    from safetensors.torch import save_file
    save_file(dict(sd), str(tmp_path / 'model.safetensors'))
    out = load_checkpoint_file(str(tmp_path / 'model.safetensors'))
    assert torch.equal(out['encoder.patch_embed.proj.weight'],
                       sd['encoder.patch_embed.proj.weight'])

    # numpy scalars / arrays / dtypes and the numpy RNG state (MMEngine meta)
    meta = dict(a=np.float64(1.5), b=np.int64(3), c=np.arange(4),
                d=np.dtype('float32'), rng=np.random.get_state())
    torch.save(meta, tmp_path / 'np.pth')
    out = load_checkpoint_file(str(tmp_path / 'np.pth'))
    assert out['a'] == 1.5 and out['d'] == np.float32
    assert np.array_equal(out['rng'][1], meta['rng'][1])


# --------------------------------------------------------------------------
# a real Runner: save, resume, load_from through MMEngine's CheckpointLoader
# --------------------------------------------------------------------------
class _Data(Dataset):

    def __len__(self):
        return 4

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return dict(x=torch.randn(3, generator=g),
                    y=torch.randn(1, generator=g))


class _Model(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 1)

    def forward(self, x, y, mode='loss'):
        return dict(loss=((self.fc(x) - y)**2).mean())


def _runner(work_dir, max_epochs, **kwargs):
    return Runner(
        model=_Model(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=_Data(),
            batch_size=2,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-2)),
        param_scheduler=dict(
            type='CosineAnnealingLR', T_max=3, by_epoch=True),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1),
            logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0),
        default_scope='mmmae',
        **kwargs)


def test_runner_checkpoint_save_resume_load_from(tmp_path, monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    _runner(tmp_path / 'a', 1, experiment_name='safe_a').train()
    ckpt_path = str(tmp_path / 'a' / 'epoch_1.pth')

    ckpt = load_checkpoint_file(ckpt_path)
    assert set(ckpt) >= {'meta', 'state_dict', 'message_hub', 'optimizer'}
    scalars = ckpt['message_hub']['log_scalars']
    assert isinstance(scalars['train/loss'], HistoryBuffer)
    assert np.isfinite(scalars['train/loss'].mean())

    # the path MMEngine's resume/load_from take
    again = CheckpointLoader.load_checkpoint(ckpt_path, map_location='cpu')
    assert again['meta']['epoch'] == 1

    resumed = _runner(tmp_path / 'a', 2, resume=True,
                      experiment_name='safe_b')
    resumed.train()
    assert resumed.epoch == 2
    assert os.path.isfile(tmp_path / 'a' / 'epoch_2.pth')

    loaded = _runner(tmp_path / 'c', 1, load_from=ckpt_path,
                     experiment_name='safe_c')
    loaded.load_or_resume()
    assert torch.equal(loaded.model.fc.weight, ckpt['state_dict']['fc.weight'])


def test_runner_load_from_refuses_untrusted_then_env_opt_in(
        tmp_path, monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    path, marker = _evil_checkpoint(tmp_path)
    torch.save(
        dict(state_dict=_Model().state_dict(),
             meta=dict(x=_System(f'touch {marker}'))), path)
    runner = _runner(tmp_path / 'w', 1, load_from=path,
                     experiment_name='safe_d')
    with pytest.raises(UntrustedCheckpointError, match=TRUST_ENV):
        runner.load_or_resume()
    assert not marker.exists()
    monkeypatch.setenv(TRUST_ENV, path)
    runner.load_or_resume()
    assert marker.exists()


# --------------------------------------------------------------------------
# damaged files: every fault named with the file and the fix
# --------------------------------------------------------------------------
def _good_checkpoint(tmp_path, name='good.pth', **save_kwargs):
    path = tmp_path / name
    torch.save(dict(state_dict=_Model().state_dict(),
                    meta=dict(epoch=3, seed=np.int64(0))), path,
               **save_kwargs)
    return path


def _cut_in_half(src, dst):
    data = src.read_bytes()
    dst.write_bytes(data[:len(data) // 2])
    return str(dst)


def _damaged(tmp_path, kind):
    """A real damaged file of ``kind`` and the words its error must hold."""
    path = tmp_path / f'{kind}.pth'
    if kind == 'empty':
        path.write_bytes(b'')
        return str(path), ['0 bytes', 'truncated or corrupt']
    if kind == 'half':
        return _cut_in_half(_good_checkpoint(tmp_path), path), [
            'truncated: ', 'zip archive', 'central directory',
            'earlier checkpoint'
        ]
    if kind == 'legacy-half':
        good = _good_checkpoint(tmp_path, 'legacy.pth',
                                _use_new_zipfile_serialization=False)
        return _cut_in_half(good, path), ['truncated: ', 'legacy (non-zip)']
    if kind == 'random':
        path.write_bytes(np.random.default_rng(0).bytes(4096))
        return str(path), ["not a PyTorch checkpoint (starts with b'"]
    if kind == 'html':
        path.write_text('<!DOCTYPE html>\n<html><head><title>Sign in'
                        '</title></head><body>login</body></html>\n')
        return str(path), [
            "not a PyTorch checkpoint (starts with b'<!DOCTYPE html>",
            'web page'
        ]
    if kind == 'lfs':
        path.write_text('version https://git-lfs.github.com/spec/v1\n'
                        'oid sha256:' + '0' * 64 + '\nsize 1234\n')
        return str(path), ['not a PyTorch checkpoint', 'git lfs pull']
    raise ValueError(kind)


@pytest.mark.parametrize(
    'kind', ['empty', 'half', 'legacy-half', 'random', 'html', 'lfs'])
def test_damaged_file_error_names_file_fault_and_fix(tmp_path, kind):
    path, words = _damaged(tmp_path, kind)
    with pytest.raises(CorruptCheckpointError) as info:
        load_checkpoint_file(path)
    msg = str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert not isinstance(info.value, UntrustedCheckpointError)
    assert info.value.path == path and path in msg
    for word in words:
        assert word in msg, (word, msg)
    assert 'Fix: ' in msg and '\n' not in msg  # one line, with the fix
    assert checkpoint_fault(path, info.value.__cause__) == info.value.fault
    # the trusted (full pickle) path diagnoses the same faults
    with pytest.raises(CorruptCheckpointError):
        load_checkpoint_file(path, trusted=True)


def test_intact_files_have_no_fault(tmp_path):
    for kwargs in ({}, dict(_use_new_zipfile_serialization=False)):
        good = str(_good_checkpoint(tmp_path, **kwargs))
        assert checkpoint_fault(good) is None
        assert load_checkpoint_file(good)['meta']['epoch'] == 3


def test_damaged_safetensors(tmp_path):
    from safetensors.torch import save_file
    good = tmp_path / 'model.safetensors'
    save_file({'w': torch.randn(64, 64)}, str(good))
    bad = _cut_in_half(good, tmp_path / 'cut.safetensors')
    with pytest.raises(CorruptCheckpointError,
                       match=r'cut\.safetensors: truncated: \d+ bytes, but '
                       r'its header describes \d+ bytes'):
        load_checkpoint_file(bad)
    html = tmp_path / 'page.safetensors'
    html.write_text('<html>Not Found</html>')
    with pytest.raises(CorruptCheckpointError,
                       match='not a safetensors file'):
        load_checkpoint_file(str(html))
    assert load_checkpoint_file(str(good))['w'].shape == (64, 64)


def test_directory_is_not_a_checkpoint(tmp_path):
    with pytest.raises(IsADirectoryError, match='is a directory'):
        load_checkpoint_file(str(tmp_path))


@pytest.mark.parametrize('how', ['load_from', 'resume'])
@pytest.mark.parametrize('kind', ['empty', 'half', 'html'])
def test_runner_load_from_and_resume_name_the_damaged_file(
        tmp_path, monkeypatch, how, kind):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    path, words = _damaged(tmp_path, kind)
    runner = _runner(tmp_path / 'w', 1, load_from=path,
                     resume=how == 'resume',
                     experiment_name=f'damaged_{how}_{kind}')
    with pytest.raises(CorruptCheckpointError) as info:
        runner.load_or_resume()
    assert path in str(info.value)
    assert all(word in str(info.value) for word in words)
