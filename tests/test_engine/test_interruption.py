# Copyright (c) mmmae contributors. All rights reserved.
"""Atomic checkpoints, bit-exact mid-epoch resume and the NaN stop, with a
real MMEngine Runner on a toy model (a few seconds each; the end-to-end
SIGKILL test of ``tools/train.py`` on real videos is ``test_resume.py``)."""
import glob
import os
import os.path as osp
import signal
import time

import numpy as np
import pytest
import torch
from mmengine.dataset import DefaultSampler
from mmengine.model import BaseModel
from mmengine.runner import Runner, find_latest_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

import mmmae.engine  # noqa: F401  (registers hooks, loop, loader)
from mmmae.datasets import PerSampleSeed, ResumableSampler
from mmmae.engine import (AtomicLocalBackend, NonFiniteLossError,
                          atomic_write, find_transforms, make_resumable)
from mmmae.engine import checkpoint as ckpt_mod
from mmmae.engine.hooks.finite_loss_hook import describe_batch


class ToyModel(BaseModel):
    """Linear + dropout: the loss depends on the main process's RNG."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)
        self.drop = torch.nn.Dropout(0.5)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.drop(self.linear(inputs))
        if mode == 'loss':
            return dict(loss=out.pow(2).mean() + inputs.sum() * 0)
        return out


class ToyDataset:
    """10 samples; each gets per-sample noise from numpy's global RNG after
    a :class:`PerSampleSeed` (like a random crop or a mask); sample
    ``nan_idx`` is infinite."""

    def __init__(self, n=10, nan_idx=None):
        self.base = torch.arange(n * 4, dtype=torch.float32).view(n, 4) / 40
        self.pipeline = type('Pipe', (), {})()
        self.pipeline.transforms = [PerSampleSeed()]
        self.nan_idx = nan_idx
        self.metainfo = dict()

    def __len__(self):
        return len(self.base)

    def get_data_info(self, idx):
        return dict(filename=f'clip_{idx}.mp4', sample_idx=idx)

    def __getitem__(self, idx):
        results = self.pipeline.transforms[0](self.get_data_info(idx))
        x = self.base[idx] + torch.from_numpy(
            np.random.randn(4).astype(np.float32)) * 0.1
        if idx == self.nan_idx:
            x = x * float('inf')
        assert results['sample_idx'] == idx
        return dict(inputs=x)


_RUNS = [0]


def _runner(work_dir, resume=False, loop='mmmae.ResumableEpochBasedTrainLoop',
            sampler='mmmae.ResumableSampler', interval=3, max_keep=1,
            nan_idx=None, num_workers=1, hooks=('mmmae.RNGStateHook', )):
    _RUNS[0] += 1
    torch.manual_seed(0)  # same initial weights in every run
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        experiment_name=f'toy_{os.getpid()}_{_RUNS[0]}',
        train_dataloader=dict(
            dataset=ToyDataset(nan_idx=nan_idx),
            sampler=dict(type=sampler, shuffle=True),
            batch_size=3,  # 10 samples -> 3 batches + 1 dropped
            drop_last=True,
            num_workers=num_workers,
            persistent_workers=num_workers > 0,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        param_scheduler=dict(
            type='CosineAnnealingLR', by_epoch=False, T_max=9),
        train_cfg=dict(type=loop, max_epochs=3),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(
                type='mmmae.AtomicCheckpointHook',
                by_epoch=False,
                interval=interval,
                max_keep_ckpts=max_keep)),
        custom_hooks=[dict(type=h) for h in hooks],
        randomness=dict(seed=7),
        resume=resume,
        default_scope='mmmae')


class _Stop(Exception):
    pass


def _train_until(runner, stop_at):
    """Train, raising out of the loop right after iteration ``stop_at``
    (its checkpoint, if any, written): an in-process stand-in for a kill."""
    from mmengine.hooks import Hook

    class StopHook(Hook):
        priority = 'LOWEST'

        def after_train_iter(self, r, batch_idx, data_batch=None,
                             outputs=None):
            if r.iter + 1 == stop_at:
                raise _Stop

    runner.register_hook(StopHook())
    with pytest.raises(_Stop):
        runner.train()


def _weights(runner):
    return {k: v.clone() for k, v in runner.model.state_dict().items()}


# --------------------------------------------------------------- resume


@pytest.mark.slow
@pytest.mark.parametrize('stop_at', [4, 7])
def test_mid_epoch_resume_is_bit_exact(tmp_path, stop_at):
    ref = _runner(tmp_path / 'ref')
    ref.train()
    assert ref.iter == 9
    # stop 1 iteration after the mid-epoch checkpoint iter_3 / iter_6
    _train_until(_runner(tmp_path / 'cut'), stop_at)
    resumed = _runner(tmp_path / 'cut', resume=True)
    resumed.train()
    assert resumed.iter == 9
    ref_w, got_w = _weights(ref), _weights(resumed)
    assert all(torch.equal(ref_w[k], got_w[k]) for k in ref_w)
    # the learning rate schedule also continued exactly
    assert resumed.optim_wrapper.get_lr() == ref.optim_wrapper.get_lr()


@pytest.mark.slow
def test_plain_mmengine_resume_is_not_exact(tmp_path):
    """The controls: MMEngine's loop restarts the epoch (more iterations,
    other data); without the RNG states the weights differ. The test above
    can fail."""
    plain = dict(loop='EpochBasedTrainLoop', sampler='DefaultSampler',
                 hooks=())
    ref = _runner(tmp_path / 'ref', **plain)
    ref.train()
    _train_until(_runner(tmp_path / 'cut', **plain), 4)
    resumed = _runner(tmp_path / 'cut', resume=True, **plain)
    resumed.train()
    assert resumed.iter == 12 and ref.iter == 9  # epoch 1 trained twice

    # the resumable loop without RNGStateHook: same data, but the dropout
    # masks after the resume come from a re-seeded RNG
    no_rng = dict(hooks=())
    ref = _runner(tmp_path / 'ref2', **no_rng)
    ref.train()
    _train_until(_runner(tmp_path / 'cut2', **no_rng), 7)
    resumed = _runner(tmp_path / 'cut2', resume=True, **no_rng)
    resumed.train()
    assert resumed.iter == ref.iter == 9
    assert any(
        not torch.equal(a, b)
        for a, b in zip(_weights(ref).values(), _weights(resumed).values()))


def test_resumable_sampler_skips_without_changing_order():
    ds = list(range(11))
    ref = DefaultSampler(ds, shuffle=True, seed=3)
    smp = ResumableSampler(ds, shuffle=True, seed=3)
    for epoch in (0, 1):
        ref.set_epoch(epoch)
        smp.set_epoch(epoch)
        smp.skip_next_epoch(4)
        assert list(smp) == list(ref)[4:]
        assert smp.epoch_indices() == list(ref)
        assert list(smp) == list(ref)  # one shot
    with pytest.raises(ValueError):
        smp.skip_next_epoch(-1)


def test_per_sample_seed_ignores_prior_rng_state():
    t = PerSampleSeed()
    t.set_epoch(2, seed=5)
    draws = []
    for junk in (0, 1):
        np.random.seed(junk)
        torch.manual_seed(junk)
        t(dict(sample_idx=3))
        draws.append((np.random.rand(), torch.rand(1).item()))
    assert draws[0] == draws[1]
    t.set_epoch(3, seed=5)
    t(dict(sample_idx=3))
    assert np.random.rand() != draws[0][0]  # new epoch, new augmentation
    with pytest.raises(KeyError, match='sample_idx'):
        t(dict())
    fixed = PerSampleSeed(seed=1)
    fixed.set_epoch(0, seed=99)  # a config seed wins over the runner's
    assert fixed._state.tolist() == [1, 0]


def test_per_sample_seed_epoch_reaches_persistent_workers():
    """set_epoch after the workers started (and on a deep copy, as the
    Runner makes of dataset objects) is seen by the workers."""
    import copy
    ds = copy.deepcopy(ToyDataset())
    t = ds.pipeline.transforms[0]
    assert t._state.is_shared()
    loader = torch.utils.data.DataLoader(
        ds, batch_size=10, num_workers=1, persistent_workers=True)
    t.set_epoch(0, seed=1)
    first = next(iter(loader))['inputs']
    again = next(iter(loader))['inputs']
    t.set_epoch(1)
    other = next(iter(loader))['inputs']
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_find_transforms_and_make_resumable():
    ds = ToyDataset()
    wrapper = type('Wrap', (), dict(dataset=ds))()
    assert find_transforms(wrapper, 'set_epoch') == ds.pipeline.transforms

    from mmengine.config import Config
    cfg = Config(
        dict(
            train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=1),
            train_dataloader=dict(
                sampler=dict(type='DefaultSampler', shuffle=True),
                dataset=dict(
                    type='ConcatDataset',
                    datasets=[
                        dict(type='X', pipeline=[dict(type='A')]),
                        dict(type='Y', pipeline=[])
                    ])),
            custom_hooks=[dict(type='mmmae.BadSampleLoggerHook')]))
    make_resumable(cfg)
    make_resumable(cfg)  # idempotent
    assert cfg.train_cfg.type == 'mmmae.ResumableEpochBasedTrainLoop'
    assert cfg.train_dataloader.sampler.type == 'mmmae.ResumableSampler'
    for sub in cfg.train_dataloader.dataset.datasets:
        assert [t['type'] for t in sub.pipeline].count(
            'mmmae.PerSampleSeed') == 1
        assert sub.pipeline[0]['type'] == 'mmmae.PerSampleSeed'
    assert [h['type'] for h in cfg.custom_hooks] == [
        'mmmae.BadSampleLoggerHook', 'mmmae.RNGStateHook',
        'mmmae.FiniteLossCheckHook'
    ]
    assert cfg.randomness == dict(seed=0, deterministic=True)

    cfg = Config(
        dict(train_cfg=dict(by_epoch=True, max_epochs=1),
             train_dataloader=dict(sampler=dict(type='DefaultSampler'),
                                   dataset=dict(pipeline=[]))))
    make_resumable(cfg)
    assert cfg.train_cfg == dict(
        type='mmmae.ResumableEpochBasedTrainLoop', max_epochs=1)
    cfg = Config(
        dict(train_cfg=dict(type='IterBasedTrainLoop', max_iters=9),
             train_dataloader=dict(sampler=dict(type='InfiniteSampler'),
                                   dataset=dict(pipeline=[]))))
    make_resumable(cfg)  # no epochs: the data pipeline is left alone
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.train_dataloader.dataset.pipeline == []


# ------------------------------------------------------ atomic checkpoints


def test_kill_during_write_keeps_previous_file(tmp_path):
    """SIGKILL a process after it wrote the new bytes but before the
    rename: the target keeps its old, complete content."""
    target = tmp_path / 'iter_1.pth'
    atomic_write(b'old-good', target)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: write 8 MB, then hang inside fsync
        os.close(r)

        def hang(fd):
            os.write(w, b'x')
            time.sleep(60)

        os.fsync = hang
        try:
            atomic_write(b'n' * (8 << 20), target)
        finally:
            os._exit(3)
    os.close(w)
    assert os.read(r, 1) == b'x'  # the child is mid-write
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    os.close(r)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert target.read_bytes() == b'old-good'
    leftovers = glob.glob(str(tmp_path / '.iter_1.pth.tmp-*'))
    assert len(leftovers) == 1 and osp.getsize(leftovers[0]) == 8 << 20


@pytest.mark.slow
def test_failed_checkpoint_write_keeps_last_good(tmp_path, monkeypatch):
    """A checkpoint write that dies half-way (here: fsync raises after the
    bytes are written) leaves the previous checkpoint, ``last_checkpoint``
    and resumability intact, even with ``max_keep_ckpts=1``."""
    runner = _runner(tmp_path, interval=1, max_keep=1, num_workers=0)
    real_fsync = os.fsync
    calls = []

    def failing_fsync(fd):
        calls.append(fd)
        if runner.iter + 1 == 2:
            raise OSError(28, 'No space left on device (simulated)')
        real_fsync(fd)

    monkeypatch.setattr(ckpt_mod.os, 'fsync', failing_fsync)
    with pytest.raises(OSError, match='No space left'):
        runner.train()
    monkeypatch.undo()
    assert calls
    assert sorted(os.listdir(tmp_path / '')) and osp.isfile(
        tmp_path / 'iter_1.pth')
    assert not osp.exists(tmp_path / 'iter_2.pth')
    assert not glob.glob(str(tmp_path / '.*tmp-*'))  # cleaned up
    assert find_latest_checkpoint(str(tmp_path)).endswith('iter_1.pth')
    resumed = _runner(tmp_path, resume=True, num_workers=0)
    resumed.train()
    assert resumed.iter == 9


@pytest.mark.slow
def test_mmengine_order_would_lose_the_only_checkpoint(tmp_path):
    """With max_keep_ckpts=1 the new checkpoint replaces the old one only
    after it is complete: at every moment one good checkpoint exists."""
    runner = _runner(tmp_path, interval=1, max_keep=1, num_workers=0)
    seen = []
    orig = AtomicLocalBackend.put

    def spy(self, obj, filepath):
        seen.append(sorted(p for p in os.listdir(tmp_path)
                           if p.endswith('.pth')))
        orig(self, obj, filepath)

    AtomicLocalBackend.put = spy
    try:
        runner.train()
    finally:
        AtomicLocalBackend.put = orig
    assert seen[0] == [] and all(len(s) == 1 for s in seen[1:])
    assert sorted(p for p in os.listdir(tmp_path)
                  if p.endswith('.pth')) == ['iter_9.pth']


@pytest.mark.slow
def test_truncated_checkpoint_error_names_file(tmp_path):
    runner = _runner(tmp_path, interval=3, max_keep=1, num_workers=0)
    runner.train()
    good = tmp_path / 'iter_9.pth'
    bad = tmp_path / 'iter_10.pth'
    data = good.read_bytes()
    bad.write_bytes(data[:len(data) // 2])
    with pytest.raises(RuntimeError) as exc:
        CheckpointLoader.load_checkpoint(str(bad), map_location='cpu')
    msg = str(exc.value)
    assert str(bad) in msg and 'truncated or corrupt' in msg
    assert 'earlier checkpoint' in msg
    assert CheckpointLoader.load_checkpoint(
        str(good), map_location='cpu')['meta']['iter'] == 9
    with pytest.raises(FileNotFoundError):
        CheckpointLoader.load_checkpoint(str(tmp_path / 'none.pth'))


# ------------------------------------------------------------ NaN / inf


@pytest.mark.slow
@pytest.mark.parametrize('sampler',
                         ['mmmae.ResumableSampler', 'DefaultSampler'])
def test_nan_loss_stops_naming_iteration_and_samples(tmp_path, sampler):
    runner = _runner(
        tmp_path,
        sampler=sampler,
        nan_idx=5,
        num_workers=0,
        hooks=('mmmae.RNGStateHook', 'mmmae.FiniteLossCheckHook'))
    with pytest.raises(NonFiniteLossError) as exc:
        runner.train()
    msg = str(exc.value)
    it = runner.iter + 1
    batch = (it - 1) % 3
    order = list(runner.train_dataloader.sampler) \
        if sampler == 'DefaultSampler' else \
        runner.train_dataloader.sampler.epoch_indices()
    ids = order[batch * 3:batch * 3 + 3]
    assert 5 in ids
    assert f'non-finite loss at iteration {it} ' in msg
    assert f'epoch {runner.epoch + 1}, batch {batch} ' in msg
    assert f'sample ids {ids}' in msg and "'clip_5.mp4'" in msg
    assert 'loss=nan' in msg or 'loss=inf' in msg
    # stopped before the checkpoint of that iteration was written
    assert not osp.exists(tmp_path / f'iter_{it}.pth')


def test_describe_batch_uses_data_sample_metainfo():
    from mmaction.structures import ActionDataSample
    batch = dict(data_samples=[
        ActionDataSample(metainfo=dict(filename='a.mp4', sample_idx=3)),
        ActionDataSample(metainfo=dict(filename='b.mp4', sample_idx=8)),
    ])
    text = describe_batch(None, batch, 0)
    assert text == "sample ids [3, 8], files ['a.mp4', 'b.mp4']"
    assert 'meta_keys' in describe_batch(None, dict(data_samples=[]), 0)


@pytest.mark.parametrize('inner', ['mmmae', 'mmengine'])
def test_damaged_checkpoint_errors_through_checkpoint_loader(
        tmp_path, monkeypatch, inner):
    """The loader MMEngine's resume/load_from call names the file and the
    fault, with mmmae's safe loader inside and with MMEngine's own (a fixed
    MMEngine, where mmmae.utils.compat registers nothing)."""
    from mmengine.runner.checkpoint import load_from_local

    from mmmae.utils.checkpoint_io import CorruptCheckpointError
    if inner == 'mmengine':
        # register_scheme replaces the dict: restore the attribute itself
        monkeypatch.setattr(CheckpointLoader, '_schemes',
                            dict(CheckpointLoader._schemes))
        CheckpointLoader._schemes[''] = load_from_local
        ckpt_mod._wrap_local_loader()
        assert CheckpointLoader._schemes[''].__mmmae_checked__
    good = tmp_path / 'iter_3.pth'
    torch.save(dict(state_dict=ToyModel().state_dict(), meta=dict(iter=3)),
               good)
    data = good.read_bytes()
    cases = {
        'empty.pth': (b'', '0 bytes'),
        'iter_4.pth': (data[:len(data) // 2], 'truncated: '),
        'page.pth': (b'<!DOCTYPE html><html>Sign in</html>',
                     'not a PyTorch checkpoint'),
    }
    for name, (content, fault) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(CorruptCheckpointError) as exc:
            CheckpointLoader.load_checkpoint(str(tmp_path / name),
                                             map_location='cpu')
        assert str(tmp_path / name) in str(exc.value)
        assert fault in str(exc.value)
    assert CheckpointLoader.load_checkpoint(
        str(good), map_location='cpu')['meta']['iter'] == 3


# --------------------------------------------- leftover temporary files


def _leftover(dirname, target='iter_3.pth'):
    """A temporary file named as atomic_write names them."""
    import tempfile
    fd, path = tempfile.mkstemp(prefix=f'.{target}.tmp-', dir=str(dirname))
    os.write(fd, b'half a checkpoint')
    os.close(fd)
    return path


def test_remove_stale_temp_files_only_touches_its_own_pattern(tmp_path):
    stale = [_leftover(tmp_path), _leftover(tmp_path, 'last_checkpoint')]
    keep = ['iter_3.pth', 'iter_3.pth.tmp-abcd1234', '.iter_3.pth.tmp-ab',
            '.notes.tmp-ABCDEFGH', '.iter_3.pth.tmp-abcd1234.bak']
    for name in keep:
        (tmp_path / name).write_bytes(b'x')
    sub = tmp_path / '.iter_5.pth.tmp-abcd1234'  # a directory, not a file
    sub.mkdir()
    nested = tmp_path / 'sub'
    nested.mkdir()
    deeper = _leftover(nested)  # other directories are not searched
    link = tmp_path / '.iter_6.pth.tmp-zzzz9999'
    link.symlink_to(tmp_path / 'iter_3.pth')

    removed = ckpt_mod.remove_stale_temp_files(tmp_path)
    assert sorted(removed) == sorted(stale)
    assert not any(osp.exists(p) for p in stale)
    assert all((tmp_path / name).exists() for name in keep)
    assert sub.is_dir() and osp.exists(deeper) and link.is_symlink()
    assert ckpt_mod.remove_stale_temp_files(tmp_path / 'missing') == []


def test_temp_file_of_a_live_writer_is_kept(tmp_path, monkeypatch):
    """A save in progress in another thread of this process keeps its
    temporary file while a cleanup runs; a leftover next to it goes."""
    import threading
    stale = _leftover(tmp_path, 'iter_1.pth')
    writing, release = threading.Event(), threading.Event()
    real_fsync = os.fsync

    def slow_fsync(fd):
        if threading.current_thread().name == 'writer':
            writing.set()
            assert release.wait(10)
        real_fsync(fd)

    monkeypatch.setattr(ckpt_mod.os, 'fsync', slow_fsync)
    writer = threading.Thread(
        target=atomic_write, args=(b'new', tmp_path / 'iter_2.pth'),
        name='writer')
    writer.start()
    try:
        assert writing.wait(10)
        live = glob.glob(str(tmp_path / '.iter_2.pth.tmp-*'))
        assert len(live) == 1
        assert ckpt_mod.remove_stale_temp_files(tmp_path) == [stale]
        assert osp.exists(live[0])
    finally:
        release.set()
        writer.join(10)
    assert (tmp_path / 'iter_2.pth').read_bytes() == b'new'
    assert not glob.glob(str(tmp_path / '.*.tmp-*'))


def test_leftover_of_killed_save_removed_by_next_save(tmp_path):
    """A real leftover (writer SIGKILLed mid-write) is removed when the
    hook saves the next checkpoint in that work dir; other files stay."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: write, then hang inside fsync until killed
        os.close(r)

        def hang(fd):
            os.write(w, b'x')
            time.sleep(60)

        os.fsync = hang
        try:
            atomic_write(b'n' * (1 << 20), tmp_path / 'iter_3.pth')
        finally:
            os._exit(3)
    os.close(w)
    assert os.read(r, 1) == b'x'
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(r)
    leftover = glob.glob(str(tmp_path / '.iter_3.pth.tmp-*'))
    assert len(leftover) == 1
    (tmp_path / 'notes.txt').write_text('mine')

    runner = _runner(tmp_path, interval=3, max_keep=1, num_workers=0)
    seen = []
    orig = AtomicLocalBackend.put

    def spy(self, obj, filepath):  # state just before each write
        seen.append(osp.exists(leftover[0]))
        orig(self, obj, filepath)

    AtomicLocalBackend.put = spy
    try:
        _train_until(runner, 3)  # first save at iteration 3
    finally:
        AtomicLocalBackend.put = orig
    assert seen == [False]
    assert not glob.glob(str(tmp_path / '.*.tmp-*'))
    assert (tmp_path / 'notes.txt').read_text() == 'mine'
    assert osp.isfile(tmp_path / 'iter_3.pth')


def test_leftovers_removed_on_resume_before_any_save(tmp_path):
    from mmengine.hooks import Hook
    _train_until(_runner(tmp_path, interval=3, num_workers=0), 4)
    stale = _leftover(tmp_path, 'iter_6.pth')
    seen = []

    class Probe(Hook):
        priority = 'LOWEST'  # after AtomicCheckpointHook.before_train

        def before_train(self, r):
            seen.append(osp.exists(stale))
            raise _Stop  # before any iteration or save

    resumed = _runner(tmp_path, resume=True, num_workers=0)
    resumed.register_hook(Probe())
    with pytest.raises(_Stop):
        resumed.train()
    assert resumed.iter == 3  # resumed, nothing trained or saved since
    assert seen == [False] and not osp.exists(stale)

    # a fresh (not resumed) run leaves them to its first save
    stale = _leftover(tmp_path, 'iter_6.pth')
    seen.clear()
    fresh = _runner(tmp_path, num_workers=0)
    fresh.register_hook(Probe())
    with pytest.raises(_Stop):
        fresh.train()
    assert seen == [True]
