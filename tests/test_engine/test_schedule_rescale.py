# Copyright (c) mmmae contributors. All rights reserved.
"""``--cfg-options train_cfg.max_epochs=N`` lengthens the schedule too.

``follow_train_length`` moves the param schedulers that ended with the old
run to the new length, keeps warmups, and refuses (naming the fields) what
it cannot move unambiguously. The last test trains with a real MMEngine
Runner to check the cosine really reaches its minimum at the new end only.
"""
import copy
import logging
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.model import BaseModel

import mmmae  # noqa: F401
from mmmae.engine import follow_train_length

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CFG = osp.join(REPO_ROOT, 'configs', 'videomae',
                    'videomae_vit-tiny-p8_1xb8-30e_moving-digits.py')
FT_CFG = osp.join(
    REPO_ROOT, 'configs', 'videomae', 'finetune',
    'vit-tiny-p8_videomae-moving-digits-pre-30e_1xb8-8x4x1-30e_'
    'moving-digits-rgb.py')


def _override(cfg, **options):
    """What tools/train.py does: merge ``options`` and follow the length."""
    cfg = Config.fromfile(cfg) if isinstance(cfg, str) else cfg
    base = copy.deepcopy(cfg)
    cfg.merge_from_dict(options)
    return follow_train_length(cfg, base, options)


# the configs' own lengths (the tests follow them if the recipes change)
DEMO_E = Config.fromfile(DEMO_CFG).train_cfg.max_epochs
FT_E = Config.fromfile(FT_CFG).train_cfg.max_epochs


def _spans(cfg):
    return [(s.type, s.begin, s.end) for s in cfg.param_scheduler]


@pytest.fixture
def log_lines():
    """Messages logged to MMEngine's current logger during the test."""
    records = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


@pytest.mark.parametrize('epochs', [100, 5])
def test_cosine_follows_max_epochs_warmup_kept(epochs, log_lines):
    cfg = _override(DEMO_CFG, **{'train_cfg.max_epochs': epochs})
    assert cfg.train_cfg.max_epochs == epochs
    assert _spans(cfg) == [('LinearLR', 0, 2),
                           ('CosineAnnealingLR', 2, epochs)]
    assert log_lines == [
        f'param_scheduler[1] (CosineAnnealingLR): end {DEMO_E} -> {epochs} '
        f'epochs, to follow train_cfg.max_epochs={epochs} (was {DEMO_E})'
    ]


def test_finetune_config_without_loop_type(log_lines):
    # its train_cfg merges max_epochs onto the base schedule's loop
    cfg = _override(FT_CFG, **{'train_cfg.max_epochs': 2 * FT_E})
    assert _spans(cfg) == [('LinearLR', 0, 1),
                           ('CosineAnnealingLR', 1, 2 * FT_E)]
    # val_interval now validates once, at the old end: not ours to change
    assert cfg.train_cfg.val_interval == FT_E
    assert len(log_lines) == 1


def test_no_op_when_length_unchanged(log_lines):
    base = Config.fromfile(DEMO_CFG)
    cfg = _override(DEMO_CFG, **{'train_cfg.max_epochs': DEMO_E,
                                 'randomness.seed': 3})
    assert cfg.param_scheduler == base.param_scheduler
    cfg = _override(DEMO_CFG, **{'param_scheduler.1.end': 30})
    assert _spans(cfg)[1] == ('CosineAnnealingLR', 2, 30)
    assert log_lines == []


def test_user_end_is_respected(log_lines):
    cfg = _override(DEMO_CFG, **{'train_cfg.max_epochs': 100,
                                 'param_scheduler.1.end': 50})
    assert _spans(cfg)[1] == ('CosineAnnealingLR', 2, 50)
    # named in --cfg-options at the config's own value: still the user's
    cfg = _override(DEMO_CFG, **{'train_cfg.max_epochs': 100,
                                 'param_scheduler.1.end': DEMO_E})
    assert _spans(cfg)[1] == ('CosineAnnealingLR', 2, DEMO_E)
    assert log_lines == []


def test_too_short_names_the_fields():
    with pytest.raises(ValueError) as exc:
        _override(DEMO_CFG, **{'train_cfg.max_epochs': 1})
    msg = str(exc.value)
    assert f'train_cfg.max_epochs=1 (was {DEMO_E})' in msg
    assert '`param_scheduler[0].end` (LinearLR)' in msg
    assert '--cfg-options param_scheduler.0.end=N' in msg
    assert '`param_scheduler[1].begin` (CosineAnnealingLR)' in msg
    assert '--cfg-options param_scheduler.1.begin=N' in msg
    # ... and once they are set, the run is what the user asked for
    cfg = _override(DEMO_CFG, **{'train_cfg.max_epochs': 1,
                                 'param_scheduler.0.end': 0.5,
                                 'param_scheduler.1.begin': 0.5})
    assert _spans(cfg) == [('LinearLR', 0, 0.5),
                           ('CosineAnnealingLR', 0.5, 1)]


def _iter_cfg(*schedulers):
    return Config(dict(
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=1000),
        param_scheduler=list(schedulers)))


def test_max_iters_on_an_iteration_loop(log_lines):
    cfg = _override(
        _iter_cfg(
            dict(type='LinearLR', by_epoch=False, begin=0, end=100),
            dict(type='CosineAnnealingLR', by_epoch=False, begin=100,
                 end=1000, T_max=900)),
        **{'train_cfg.max_iters': 4000})
    assert _spans(cfg) == [('LinearLR', 0, 100),
                           ('CosineAnnealingLR', 100, 4000)]
    assert cfg.param_scheduler[1].T_max == 3900
    assert log_lines == [
        'param_scheduler[1] (CosineAnnealingLR): end 1000 -> 4000, '
        'T_max 900 -> 3900 iterations, to follow train_cfg.max_iters=4000 '
        '(was 1000)'
    ]


@pytest.mark.parametrize('sched,field', [
    (dict(type='MultiStepLR', by_epoch=False, end=1000,
          milestones=[600, 900]), 'milestones'),
    (dict(type='CosineAnnealingLR', by_epoch=False, end=1000, T_max=500),
     'T_max'),
    (dict(type='PolyLR', by_epoch=True, end=10), 'end'),  # other unit
    (dict(type='PolyLR', by_epoch=False, end=1500), 'end'),  # past the run
])
def test_ambiguous_refused_unless_set(sched, field):
    with pytest.raises(ValueError, match=rf'`param_scheduler\[0\]\.{field}`'
                       rf'.*--cfg-options param_scheduler\.0\.{field}=N'):
        _override(_iter_cfg(sched), **{'train_cfg.max_iters': 2000})
    cfg = _override(_iter_cfg(sched), **{
        'train_cfg.max_iters': 2000,
        f'param_scheduler.0.{field}': sched[field]
    })
    assert cfg.param_scheduler[0][field] == sched[field]


def test_schedule_laid_out_past_the_run():
    # a cosine for 3 epochs cut at 2 (tests/test_tools): resuming to 3 keeps
    # it, going past its end is ambiguous
    def cfg():
        return Config(dict(train_cfg=dict(max_epochs=2), param_scheduler=dict(
            type='CosineAnnealingLR', begin=1, end=3)))

    resumed = _override(cfg(), **{'train_cfg.max_epochs': 3})
    assert resumed.param_scheduler.end == 3
    with pytest.raises(ValueError, match=r'`param_scheduler\.end`'):
        _override(cfg(), **{'train_cfg.max_epochs': 4})


def test_train_tool_merge_args():
    from mmmae.apis.runner import merge_train_options
    cfg = merge_train_options(
        Config.fromfile(DEMO_CFG), cfg_options={'train_cfg.max_epochs': 40})
    assert _spans(cfg)[1] == ('CosineAnnealingLR', 2, 40)


class _Toy(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(1, 1)

    def forward(self, inputs, data_samples=None, mode='loss'):
        return dict(loss=self.fc(inputs).pow(2).mean())


class _LrLog(Hook):
    priority = 'LOWEST'  # after ParamSchedulerHook has stepped

    def __init__(self):
        self.lrs = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.lrs.append(runner.optim_wrapper.get_lr()['lr'][0])

    def after_train(self, runner):
        self.lrs.append(runner.optim_wrapper.get_lr()['lr'][0])


def _train_lrs(cfg, work_dir):
    """Train the toy model one iteration per epoch; the lr of every epoch
    and the lr left after the last scheduler step."""
    from mmengine.runner import Runner
    log = _LrLog()
    Runner(
        model=_Toy(),
        work_dir=str(work_dir),
        # two Runners within a second: MMEngine would share their loggers
        experiment_name=f'schedule_rescale_{work_dir.name}',
        train_dataloader=dict(
            dataset=[dict(inputs=torch.ones(1))],
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=1),
        optim_wrapper=cfg.optim_wrapper.to_dict(),
        param_scheduler=[s.to_dict() for s in cfg.param_scheduler],
        train_cfg=cfg.train_cfg.to_dict(),
        default_hooks=dict(checkpoint=None, logger=None),
        custom_hooks=[log]).train()
    return log.lrs


def test_mmengine_runner_follows_the_new_end(tmp_path):
    n, e = 2 * DEMO_E, DEMO_E
    options = {'train_cfg.max_epochs': n}
    lrs = _train_lrs(_override(DEMO_CFG, **options), tmp_path / 'new')
    cfg = Config.fromfile(DEMO_CFG)
    cfg.merge_from_dict(options)
    old = _train_lrs(cfg, tmp_path / 'old')  # the bug: the cosine of e
    base_lr, min_lr = cfg.base_lr, cfg.min_lr
    assert len(lrs) == len(old) == n + 1
    # the 2-epoch warmup is kept (MMEngine's LinearLR peaks one step early)
    assert lrs[:2] == pytest.approx([1e-3 * base_lr, base_lr])
    # one cosine from epoch 3 to epoch n; MMEngine steps it up to end - 1,
    # so the last epoch trains at its lowest lr, just above min_lr
    for t in range(2, n):
        cos = math.cos(math.pi * (t - 2) / (n - 2))
        assert lrs[t] == pytest.approx(min_lr + (base_lr - min_lr) *
                                       (1 + cos) / 2)
    assert lrs[n] == lrs[n - 1]
    assert min_lr < lrs[n - 1] < 1.5 * min_lr
    # epochs e+1..n still decay, where the e-epoch cosine sat at its minimum
    assert all(a > b for a, b in zip(lrs[e - 1:n], lrs[e:n]))
    assert len(set(old[e - 1:])) == 1 and old[e - 1] < 2 * min_lr
    assert lrs[e - 1] > 20 * min_lr
