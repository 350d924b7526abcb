# Copyright (c) mmmae contributors. All rights reserved.
import glob
import json
import logging
import os
import os.path as osp
import re
import uuid
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.dataset import ConcatDataset, RepeatDataset
from mmengine.model import BaseModel
from mmengine.registry import init_default_scope

from mmmae.engine.hooks import BadSampleLoggerHook
from mmmae.engine.hooks.bad_sample_hook import find_skip_reporting_datasets
from mmmae.registry import DATASETS, HOOKS

PIPELINE = [
    dict(type='mmaction.DecordInit'),
    dict(type='mmaction.SampleFrames', clip_len=4, frame_interval=2),
    dict(type='mmaction.DecordDecode'),
    dict(type='mmaction.Resize', scale=(16, 16), keep_ratio=False),
    dict(type='mmaction.FormatShape', input_format='NCTHW'),
    dict(type='mmaction.PackActionInputs'),
]


class ToyModel(BaseModel):
    """One parameter; the loss touches the inputs so the data is used."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs).float().mean() / 255
        loss = (self.w - x).pow(2).sum()
        return dict(loss=loss) if mode == 'loss' else [loss]


@pytest.fixture(scope='module')
def dirty_dir(video_dir, tmp_path_factory):
    """4 good clips, 2 corrupt ones and an annotation naming a missing one."""
    root = tmp_path_factory.mktemp('dirty')
    for i in range(4):
        os.symlink(video_dir / f'clip_{i}.mp4', root / f'clip_{i}.mp4')
    rng = np.random.default_rng(1)
    (root / 'bad_a.mp4').write_bytes(rng.bytes(4000))
    (root / 'bad_b.mp4').write_bytes(rng.bytes(4000))
    names = [
        'clip_0.mp4', 'bad_a.mp4', 'clip_1.mp4', 'missing.mp4', 'clip_2.mp4',
        'bad_b.mp4', 'clip_3.mp4'
    ]
    (root / 'ann.txt').write_text(''.join(f'{n} 0\n' for n in names))
    return root


def build_dataset(root):
    init_default_scope('mmmae')
    return DATASETS.build(
        dict(type='VideoMAEDataset',
             ann_file=str(root / 'ann.txt'),
             data_prefix=dict(video=str(root)),
             pipeline=PIPELINE))


def test_format_message():
    entries = [(f'v{i}.mp4', 'corrupt') for i in range(25)]
    msg = BadSampleLoggerHook.format_message(entries, 3)
    assert msg == ('skipped 25 unreadable videos (25 corrupt): v0.mp4 '
                   '(corrupt), v1.mp4 (corrupt), v2.mp4 (corrupt) and 22 '
                   'more')
    assert BadSampleLoggerHook.format_message([('a.mp4', 'missing')]) == \
        'skipped 1 unreadable video (1 missing): a.mp4 (missing)'
    mixed = [('a', 'timeout'), ('b', 'missing'), ('c', 'timeout')]
    assert BadSampleLoggerHook.format_message(mixed).startswith(
        'skipped 3 unreadable videos (2 timeout, 1 missing): a (timeout)')


def test_finds_datasets_through_wrappers(dirty_dir):
    ds = build_dataset(dirty_dir)
    other = build_dataset(dirty_dir)
    loader = torch.utils.data.DataLoader(ConcatDataset([ds, other, ds]))
    found = find_skip_reporting_datasets(loader)
    assert len(found) == 2 and found[0] is ds and found[1] is other
    # Nested wrappers (anything with .dataset / .datasets).
    nested = SimpleNamespace(dataset=SimpleNamespace(
        datasets=[RepeatDataset(other, times=2)]))
    assert find_skip_reporting_datasets(nested) == [other]
    assert find_skip_reporting_datasets(
        torch.utils.data.TensorDataset(torch.zeros(2))) == []


@pytest.mark.parametrize('wrap', [False, True])
def test_hook_in_runner(dirty_dir, tmp_path, wrap):
    from mmengine.runner import Runner
    init_default_scope('mmmae')
    dataset = dict(type='VideoMAEDataset',
                   ann_file=str(dirty_dir / 'ann.txt'),
                   data_prefix=dict(video=str(dirty_dir)),
                   pipeline=PIPELINE)
    if wrap:
        dataset = dict(type='ConcatDataset', datasets=[dataset])
    runner = Runner(model=ToyModel(),
                    work_dir=str(tmp_path),
                    train_dataloader=dict(
                        batch_size=2,
                        num_workers=2,
                        persistent_workers=False,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        collate_fn=dict(type='pseudo_collate'),
                        dataset=dataset),
                    train_cfg=dict(by_epoch=True, max_epochs=2),
                    optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                    default_hooks=dict(logger=dict(type='LoggerHook',
                                                   interval=1),
                                       checkpoint=None),
                    custom_hooks=[dict(type='BadSampleLoggerHook')],
                    default_scope='mmmae',
                    randomness=dict(seed=0),
                    # unique: MMEngine shares one logger (and log file)
                    # between Runners created in the same second
                    experiment_name=f'bad_sample_{uuid.uuid4().hex}',
                    log_level='INFO')
    assert any(isinstance(h, BadSampleLoggerHook) for h in runner.hooks)
    runner.train()

    log_file, = glob.glob(osp.join(str(tmp_path), '*', '*.log'))
    text = open(log_file).read()
    assert 'skipped 3 unreadable videos' in text
    for name, reason in [('bad_a.mp4', 'not a video'),
                         ('bad_b.mp4', 'not a video'),
                         ('missing.mp4', 'missing')]:
        assert f'{name} ({reason})' in text
    # The substitutes are listed too (deterministic, from the main process).
    assert re.search(r'replaced 2 bad videos: \S*bad_\w\.mp4 -> '
                     r'\S*clip_\d\.mp4', text)
    # Reported once (epoch 1), not repeated when nothing changed.
    assert text.count('skipped 3 unreadable videos') == 1

    stamp = osp.splitext(osp.basename(log_file))[0]
    json_file = osp.join(osp.dirname(log_file), 'vis_data', f'{stamp}.json')
    records = [json.loads(line) for line in open(json_file)]
    counts = [r['skipped_videos'] for r in records if 'skipped_videos' in r]
    assert counts and counts[-1] == 3
    assert runner.message_hub.get_scalar('train/skipped_videos').current() \
        == 3


def test_hook_with_runner_like_object(dirty_dir):
    """No log line when nothing was skipped; a warning when new ones
    appear."""
    from mmengine.logging import MessageHub

    class FakeRunner:
        pass

    runner = FakeRunner()
    runner.message_hub = MessageHub.get_instance('bad_sample_hook_test')
    runner.logger = logging.getLogger('bad_sample_hook_test')
    records = []
    runner.logger.log = lambda level, msg: records.append((level, msg))
    ds = build_dataset(dirty_dir)
    runner.train_dataloader = torch.utils.data.DataLoader(ds)

    hook = HOOKS.build(dict(type='BadSampleLoggerHook', max_names=1))
    hook.after_train_iter(runner, 0)
    assert runner.message_hub.get_scalar(
        'train/skipped_videos').current() == 1  # missing.mp4, at start
    hook.after_train_epoch(runner)
    assert records == [(logging.WARNING, f'skipped 1 unreadable video '
                        f'(1 missing): {dirty_dir / "missing.mp4"} (missing)')]
    np.random.seed(0)
    for i in range(len(ds)):
        ds[i]
    hook.after_train_iter(runner, 1)
    assert runner.message_hub.get_scalar('train/skipped_videos').current() == 3
    hook.after_train_epoch(runner)
    hook.after_train(runner)  # identical: not repeated
    assert len(records) == 3
    assert records[1][0] == logging.WARNING
    assert records[1][1].startswith(
        'skipped 3 unreadable videos (2 not a video, 1 missing): ')
    assert records[1][1].endswith(' and 2 more')
    # then the substitutes the two load-time failures were replaced by
    assert records[2][0] == logging.INFO
    assert records[2][1].startswith('replaced 2 bad videos: ')
    assert records[2][1].endswith(' and 1 more')  # max_names=1

    runner.train_dataloader = dict(dataset=dict())  # not built yet
    hook.after_train_iter(runner, 2)
    assert runner.message_hub.get_scalar('train/skipped_videos').current() == 0
