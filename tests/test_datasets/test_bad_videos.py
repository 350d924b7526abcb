# Copyright (c) mmmae contributors. All rights reserved.
"""Every kind of bad video is detected, named, counted and replaced.

A data set of 20 real videos holds one file of each bad kind (missing,
empty, truncated, not a video, too short, lying frame count, hanging
decoder); the rest are good. A real MMEngine Runner trains through it and
names every bad file; with ``on_bad_video='raise'`` it stops at the first.
"""
import faulthandler
import glob
import os
import os.path as osp
import signal
import time
import uuid

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.model import BaseModel
from mmengine.registry import init_default_scope

from bad_video_files import (BAD_FILES, hang_forever_in_c, make_dirty_dataset,
                             write_lying_mp4)
from mmmae.datasets import BadVideoError
from mmmae.datasets.video_guard import (ChildCrashed, GuardedCaller,
                                        LoadTimeout, call_with_timeout,
                                        file_reason)
from mmmae.registry import DATASETS, TRANSFORMS

TIMEOUT = 3.0  # load_timeout in these tests; a good sample takes ~10 ms


@TRANSFORMS.register_module(force=True)
class StallingDecode:
    """A loading-stage transform (name ends in ``Decode``) standing in for
    a decoder that hangs in C code on some files (dmlc/decord#363)."""

    def __init__(self, hang_on='bad_hang', crash_on=None):
        self.hang_on = hang_on
        self.crash_on = crash_on

    def __call__(self, results):
        name = results['filename']
        if self.hang_on and self.hang_on in name:
            hang_forever_in_c()
        if self.crash_on and self.crash_on in name:
            segfault()
        return results


def segfault():
    """Die like a decoder segfault (without pytest's faulthandler dump)."""
    faulthandler.disable()
    os.kill(os.getpid(), signal.SIGSEGV)


def pipeline(stall=None):
    return [
        dict(type='mmaction.DecordInit'),
        dict(type='mmaction.SampleFrames', clip_len=4, frame_interval=2),
        dict(type='mmaction.DecordDecode'),
        dict(type='StallingDecode', **(stall or {})),
        dict(type='mmaction.Resize', scale=(16, 16), keep_ratio=False),
        dict(type='mmaction.FormatShape', input_format='NCTHW'),
        dict(type='mmaction.PackActionInputs', meta_keys=('filename', )),
    ]


def dataset_cfg(root, **kwargs):
    cfg = dict(type='VideoMAEDataset',
               ann_file=str(root / 'ann.txt'),
               data_prefix=dict(video=str(root)),
               pipeline=pipeline(kwargs.pop('stall', None)),
               min_frames=8,
               load_timeout=TIMEOUT)
    cfg.update(kwargs)
    return cfg


def build(root, **kwargs):
    init_default_scope('mmmae')
    return DATASETS.build(dataset_cfg(root, **kwargs))


@pytest.fixture(scope='module')
def dirty(tmp_path_factory):
    root = tmp_path_factory.mktemp('dirty20')
    make_dirty_dataset(root)
    return root


EXPECTED = {(name, reason) for reason, name in BAD_FILES.items()}


def reasons_of(ds):
    return {(osp.basename(p), r) for p, r in ds.skipped_videos}


class ToyModel(BaseModel):
    """One parameter; the loss reads the inputs so the data is used."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs).float().mean() / 255
        loss = (self.w - x).pow(2).sum()
        return dict(loss=loss) if mode == 'loss' else [loss]


def make_runner(root, work_dir, num_workers=2, epochs=2, **ds_kwargs):
    from mmengine.runner import Runner
    init_default_scope('mmmae')
    return Runner(model=ToyModel(),
                  work_dir=str(work_dir),
                  train_dataloader=dict(
                      batch_size=4,
                      num_workers=num_workers,
                      persistent_workers=False,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      collate_fn=dict(type='pseudo_collate'),
                      dataset=dataset_cfg(root, **ds_kwargs)),
                  train_cfg=dict(by_epoch=True, max_epochs=epochs),
                  optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                  default_hooks=dict(logger=dict(type='LoggerHook',
                                                 interval=1),
                                     checkpoint=None),
                  custom_hooks=[dict(type='BadSampleLoggerHook')],
                  default_scope='mmmae',
                  randomness=dict(seed=0),
                  # unique: MMEngine shares one logger (and log file)
                  # between Runners created in the same second
                  experiment_name=f'bad_videos_{uuid.uuid4().hex}',
                  log_level='INFO')


# ------------------------------------------------------------- the files
def test_file_reasons(dirty):
    """The structural check names the cause without decoding."""
    got = {
        kind: file_reason(str(dirty / name))
        for kind, name in BAD_FILES.items()
    }
    assert got == {
        'missing': 'missing',
        'empty': 'empty',
        'truncated': 'truncated',
        'not a video': 'not a video',
        # structurally sound: only decoding finds these out
        'too short': None,
        'frame count mismatch': None,
        'timeout': None,
    }
    assert file_reason(str(dirty / 'good_00.mp4')) is None


def test_each_bad_kind_named_counted_and_replaced(dirty):
    ds = build(dirty)
    assert len(ds) == 18  # the missing and empty files: dropped at start
    seen = []
    t0 = time.monotonic()
    for i in range(len(ds)):
        out = ds[i]
        name = osp.basename(out['data_samples'].filename)
        assert name.startswith('good_'), name
        assert out['inputs'].shape == (1, 3, 4, 16, 16)
        seen.append(name)
    # the hanging decoder cost one timeout, not a hung test
    assert time.monotonic() - t0 < TIMEOUT + 30
    assert reasons_of(ds) == EXPECTED
    assert ds.num_skipped == 7
    # each replacement is recorded: bad -> good substitute
    subs = {osp.basename(a): osp.basename(b) for a, b in ds.replacements}
    # (missing and empty files are dropped at start, never drawn)
    assert set(subs) == {n for n in BAD_FILES.values()
                         if n not in ('bad_missing.mp4', 'bad_empty.mp4')}
    assert all(b.startswith('good_') for b in subs.values())
    # the lying file names the claimed frame count
    detail = ds._last_error[[
        i for i in range(len(ds))
        if ds.get_data_info(i)['filename'].endswith('bad_lying.mp4')
    ][0]]
    assert 'header claims 40 frames' in detail
    # a second epoch decodes no bad file again and gives the same samples
    t0 = time.monotonic()
    again = [
        osp.basename(ds[i]['data_samples'].filename) for i in range(len(ds))
    ]
    assert again == seen
    assert time.monotonic() - t0 < TIMEOUT


def test_lying_frame_count_in_process(tmp_path):
    """Without a timeout (no helper process) the same reason is found."""
    from conftest import random_video, write_mp4
    write_lying_mp4(str(tmp_path / 'lying.mp4'))
    write_mp4(str(tmp_path / 'ok.mp4'), random_video(20, (48, 64)))
    (tmp_path / 'ann.txt').write_text('lying.mp4\nok.mp4\n')
    ds = build(tmp_path, load_timeout=None)
    assert osp.basename(ds[0]['data_samples'].filename) == 'ok.mp4'
    assert reasons_of(ds) == {('lying.mp4', 'frame count mismatch')}


def test_substitutes_are_deterministic(dirty):
    """Same substitutes whatever the global RNG and the worker count."""
    ds = build(dirty, stall=dict(hang_on=None))
    for idx in range(len(ds)):
        draws = [ds.substitute_index(idx, a) for a in range(20)]
        assert idx not in draws
        assert draws == [ds.substitute_index(idx, a) for a in range(20)]
    assert len({ds.substitute_index(0, a) for a in range(50)}) > 5

    def run(num_workers, global_seed):
        d = build(dirty, stall=dict(hang_on=None))
        np.random.seed(global_seed)
        torch.manual_seed(global_seed)
        ctx = dict(multiprocessing_context='fork') if num_workers else {}
        loader = torch.utils.data.DataLoader(d,
                                             batch_size=3,
                                             num_workers=num_workers,
                                             collate_fn=pseudo_collate,
                                             **ctx)
        names = [
            osp.basename(s.filename) for batch in loader
            for s in batch['data_samples']
        ]
        return names, sorted(d.replacements)

    names0, subs0 = run(0, 1)
    names2, subs2 = run(2, 2)
    assert names0 == names2 and subs0 == subs2
    assert len(subs0) == 4  # every load-time bad entry (no hang here)
    # another dataset seed draws other substitutes
    other = build(dirty, stall=dict(hang_on=None), seed=1)
    assert [other.substitute_index(i, 0) for i in range(len(ds))] != \
        [ds.substitute_index(i, 0) for i in range(len(ds))]


def test_replacement_is_logged(dirty, monkeypatch):
    import mmmae.datasets.video_dataset as vd_module
    logged = []
    monkeypatch.setattr(vd_module, 'print_log',
                        lambda msg, logger=None, level=None: logged.append(
                            (msg, level)))
    ds = build(dirty, stall=dict(hang_on=None))
    idx = next(i for i in range(len(ds))
               if ds.get_data_info(i)['filename'].endswith('not_video.mp4'))
    ds[idx]
    ds[idx]  # the same substitute again: not logged twice
    (bad, sub), = ds.replacements
    assert bad.endswith('bad_not_video.mp4')
    msgs = [m for m, _ in logged if m.startswith('VideoMAEDataset: replaced')]
    assert msgs == [f'VideoMAEDataset: replaced {bad} (not a video) by '
                    f'{sub} (seed=0, attempt=0)']
    assert sum('skipping unreadable video' in m for m, _ in logged) == 1


# -------------------------------------------------------- guard mechanics
def _slow_then_value(seconds, value):
    time.sleep(seconds)
    return value


def test_guarded_caller_timeout_crash_and_reuse():
    guard = GuardedCaller(_slow_then_value)
    assert guard(0, 'a', timeout=10) == 'a'
    helper = guard._pid
    assert guard(0, {'x': 1}, timeout=10) == {'x': 1}
    assert guard._pid == helper  # one helper process serves many calls
    with pytest.raises(LoadTimeout, match='after 0.5 s'):
        guard(5, 'late', timeout=0.5)
    assert guard._pid is None  # killed and reaped
    assert guard(0, 'b', timeout=10) == 'b'  # a fresh helper
    guard.close()

    with pytest.raises(ChildCrashed, match='SIGSEGV'):
        call_with_timeout(segfault, 10)
    with pytest.raises(ZeroDivisionError):
        call_with_timeout(lambda: 1 / 0, 10)
    # unpicklable values (an open reader) are dropped, the rest comes back
    got = call_with_timeout(lambda: dict(a=1, reader=lambda: 0), 10)
    assert got == dict(a=1)
    # a C-level hang holding the GIL is stopped too
    t0 = time.monotonic()
    with pytest.raises(LoadTimeout):
        call_with_timeout(hang_forever_in_c, 1.0)
    assert time.monotonic() - t0 < 10


def test_crashing_decoder_is_flagged(dirty):
    ds = build(dirty, stall=dict(hang_on=None, crash_on='good_03'))
    idx = next(i for i in range(len(ds))
               if ds.get_data_info(i)['filename'].endswith('good_03.mp4'))
    out = ds[idx]
    assert osp.basename(out['data_samples'].filename) != 'good_03.mp4'
    assert (str(dirty / 'good_03.mp4'), 'crashed') in ds.skipped_videos


def test_option_validation(dirty):
    with pytest.raises(ValueError, match='on_bad_video'):
        build(dirty, on_bad_video='skip')
    with pytest.raises(ValueError, match='load_timeout'):
        build(dirty, load_timeout=0)


# ------------------------------------------------------------ with Runner
@pytest.mark.slow
def test_training_run_finishes_names_and_counts(dirty, tmp_path):
    runner = make_runner(dirty, tmp_path)
    runner.train()
    (log_file, ) = glob.glob(osp.join(str(tmp_path), '*', '*.log'))
    text = open(log_file, errors='replace').read()
    for reason, name in BAD_FILES.items():
        assert f'{name} ({reason})' in text, f'{name} not named'
    assert 'skipped 7 unreadable videos' in text
    assert 'replaced 5 bad videos' in text
    assert runner.message_hub.get_scalar(
        'train/skipped_videos').current() == 7
    # 2 epochs of 18 entries in batches of 4
    assert runner.iter == 10


@pytest.mark.slow
def test_fail_fast_stops_at_first_bad_file(dirty, tmp_path):
    # The missing file is found first, when the dataset is built.
    with pytest.raises(BadVideoError) as info:
        make_runner(dirty, tmp_path / 'a', on_bad_video='raise').train()
    msg = str(info.value)
    assert str(dirty / 'bad_missing.mp4') in msg and '(missing)' in msg
    assert 'check_dataset.py' in msg  # the fix

    # Without missing/empty entries it stops at the first bad decode, in
    # a DataLoader worker, and names that file only.
    lines = (dirty / 'ann.txt').read_text().splitlines()
    keep = [
        ln for ln in lines
        if ln.split()[0] not in (BAD_FILES['missing'], BAD_FILES['empty'])
    ]
    sub = tmp_path / 'sub'
    sub.mkdir()
    for ln in keep:
        os.symlink(dirty / ln.split()[0], sub / ln.split()[0])
    (sub / 'ann.txt').write_text('\n'.join(keep) + '\n')
    first = keep[3].split()[0]  # in the first batch
    assert first == BAD_FILES['truncated']
    runner = make_runner(sub, tmp_path / 'b', on_bad_video='raise')
    with pytest.raises(BadVideoError) as info:
        runner.train()
    msg = str(info.value)
    assert str(sub / first) in msg and '(truncated' in msg
    assert not any(n in msg for n in BAD_FILES.values() if n != first)
    assert runner.iter == 0


def test_guard_inherited_by_dataloader_workers(dirty):
    """A helper started in the main process is not shared with forked
    workers: each worker starts its own; the main one keeps working."""
    ds = build(dirty, stall=dict(hang_on=None))
    ds[0]
    main_helper = ds._guard._pid
    assert main_helper is not None
    loader = torch.utils.data.DataLoader(ds,
                                         batch_size=6,
                                         num_workers=2,
                                         collate_fn=pseudo_collate,
                                         multiprocessing_context='fork')
    names = [
        osp.basename(s.filename) for batch in loader
        for s in batch['data_samples']
    ]
    broken = {BAD_FILES[k] for k in ('truncated', 'not a video', 'too short',
                                     'frame count mismatch')}
    assert len(names) == len(ds) and not broken & set(names)
    assert ds.num_skipped == 2 + 4  # found in the workers
    assert ds._guard._pid == main_helper
    assert ds[1]['inputs'].shape == (1, 3, 4, 16, 16)
    ds._guard.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(main_helper, os.WNOHANG)  # reaped: no zombie left
