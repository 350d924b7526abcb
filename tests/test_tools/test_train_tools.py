# Copyright (c) mmmae contributors. All rights reserved.
"""tools/train.py, tools/test.py and tools/dist_train.sh.

The fast tests check how the tools' options become config changes
(``mmmae.apis.runner``, which the tools wrap) and run the command lines in
process; the slow ones run them as subprocesses on four real mp4 files with
the demo config shrunk to 2 clips per batch (2 iterations per epoch).
"""
import glob
import os
import os.path as osp
import re
import socket
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

import mmmae  # noqa: F401
from conftest import run_tool
from mmmae.apis.runner import (NoTestLoopError, fix_amp_on_cpu,
                               merge_train_options, prepare_test_config,
                               test_model, train_model)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CFG = osp.join(REPO_ROOT, 'configs', 'videomae',
                    'videomae_vit-tiny-p8_1xb8-30e_moving-digits.py')
K400_CFG = osp.join(REPO_ROOT, 'configs', 'videomae',
                    'videomae_vit-base-p16_64xb32-800e_kinetics400.py')
FT_CFG = osp.join(
    REPO_ROOT, 'configs', 'videomae', 'finetune',
    'vit-tiny-p8_scratch_1xb8-8x4x1-120e_moving-digits-rgb.py')


def _merge(cfg, config=DEMO_CFG, **options):
    """What tools/train.py does with its options before the runner."""
    return merge_train_options(cfg, config, **options)


def _args(**kwargs):
    base = dict(
        work_dir=None,
        resume=None,
        amp=False,
        no_validate=False,
        auto_scale_lr=False,
        seed=None,
        diff_rank_seed=False,
        deterministic=False,
        cfg_options=None,
        launcher='none')
    base.update(kwargs)
    return base


# --------------------------------------------------------------------------
# the options' semantics (in process)
# --------------------------------------------------------------------------


def test_merge_args_defaults():
    cfg = _merge(Config.fromfile(DEMO_CFG), **_args())
    stem = osp.splitext(osp.basename(DEMO_CFG))[0]
    assert cfg.work_dir == osp.join('./work_dirs', stem)
    assert cfg.launcher == 'none'
    assert cfg.resume is False and cfg.load_from is None
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    # the demo config has its own randomness: the CLI does not override it
    assert cfg.randomness == dict(seed=0)


def test_merge_args_flags():
    cfg = _merge(
        Config.fromfile(K400_CFG),
        **_args(
            config=K400_CFG,
            work_dir='/tmp/x',
            resume='auto',
            no_validate=True,
            seed=3,
            diff_rank_seed=True,
            cfg_options={'train_cfg.max_epochs': 70}))
    assert cfg.work_dir == '/tmp/x'
    assert cfg.resume is True and cfg.load_from is None
    assert cfg.val_cfg is None and cfg.val_dataloader is None
    assert cfg.randomness == dict(
        seed=3, diff_rank_seed=True, deterministic=False)
    assert cfg.train_cfg.max_epochs == 70  # --cfg-options merged last

    cfg = _merge(
        Config.fromfile(K400_CFG),
        **_args(config=K400_CFG, resume='work_dirs/x/epoch_3.pth'))
    assert cfg.resume is True
    assert cfg.load_from == 'work_dirs/x/epoch_3.pth'


def test_merge_args_amp():
    cfg = _merge(Config.fromfile(DEMO_CFG), **_args(amp=True))
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    cfg = fix_amp_on_cpu(cfg)
    if torch.cuda.is_available():
        assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
        assert cfg.optim_wrapper.loss_scale == 'dynamic'
    else:
        assert cfg.optim_wrapper.type == 'mmmae.CPUAmpOptimWrapper'
        assert cfg.optim_wrapper.dtype == 'bfloat16'
        assert 'loss_scale' not in cfg.optim_wrapper
    # a config that asks for AmpOptimWrapper itself still builds on CPU
    cfg = Config.fromfile(DEMO_CFG)
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.loss_scale = 'dynamic'
    cfg = fix_amp_on_cpu(cfg)
    expected = ('AmpOptimWrapper'
                if torch.cuda.is_available() else 'mmmae.CPUAmpOptimWrapper')
    assert cfg.optim_wrapper.type == expected


def test_merge_args_auto_scale_lr():
    cfg = _merge(Config.fromfile(DEMO_CFG), **_args(auto_scale_lr=True))
    assert cfg.auto_scale_lr == dict(enable=True, base_batch_size=8)
    cfg = Config.fromfile(DEMO_CFG)
    cfg.auto_scale_lr = None
    with pytest.raises(KeyError, match='auto_scale_lr'):
        _merge(cfg, **_args(auto_scale_lr=True))


def test_prepare_test_config():
    """tools/test.py's options: dump appended to the evaluators, the
    visualization hook switched on, the checkpoint wins over cfg_options."""
    ft = Config.fromfile(FT_CFG)
    ft.default_hooks.visualization = dict(type='VisualizationHook')
    cfg = prepare_test_config(
        ft,
        'work_dirs/ft/epoch_3.pth',
        dump='preds.pkl',
        show_dir='vis',
        interval=5,
        cfg_options={'load_from': 'other.pth'})
    stem = osp.splitext(osp.basename(FT_CFG))[0]
    assert cfg.work_dir == osp.join('./work_dirs', stem)
    assert cfg.load_from == 'work_dirs/ft/epoch_3.pth'
    evaluators = [e['type'] for e in cfg.test_evaluator]
    assert evaluators[-1] == 'DumpResults' and len(evaluators) >= 2
    vis = cfg.default_hooks.visualization
    assert vis.enable and vis.out_dir == 'vis' and vis.interval == 5
    with pytest.raises(ValueError, match=r'\.pkl file, not preds\.json'):
        prepare_test_config(FT_CFG, 'x.pth', dump='preds.json')
    with pytest.raises(ValueError, match='VisualizationHook'):
        prepare_test_config(FT_CFG, 'x.pth', show=True)
    with pytest.raises(NoTestLoopError, match='pretraining config'):
        prepare_test_config(DEMO_CFG, 'x.pth')


def test_train_model_then_test_model_refuses(tiny_cfg, tmp_path):
    """train_model is tools/train.py in one call: a real Runner trains and
    checkpoints; test_model refuses the pretraining config by name."""
    work_dir = str(tmp_path / 'api')
    runner = train_model(
        tiny_cfg, work_dir=work_dir, cfg_options={'train_cfg.max_epochs': 1})
    assert runner.iter == 2 and runner.epoch == 1
    saved = torch.load(
        osp.join(work_dir, 'epoch_1.pth'), map_location='cpu',
        weights_only=False)['state_dict']
    trained = runner.model.state_dict()
    assert all(torch.equal(saved[k], trained[k]) for k in saved)
    with pytest.raises(NoTestLoopError, match=osp.basename(tiny_cfg)):
        test_model(tiny_cfg, osp.join(work_dir, 'epoch_1.pth'))


def test_cpu_amp_optim_wrapper_autocasts():
    from mmmae.engine.optimizers import CPUAmpOptimWrapper
    model = torch.nn.Linear(4, 4)
    wrapper = CPUAmpOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    with wrapper.optim_context(model):
        out = model(torch.randn(2, 4))
    assert out.dtype == torch.bfloat16
    assert model.weight.dtype == torch.float32
    wrapper.update_params(out.float().pow(2).mean())
    assert model.weight.grad is None  # zero_grad(set_to_none) after step


def test_cpu_ddp_wrapper_registered():
    from mmengine.registry import MODEL_WRAPPERS
    from torch.nn.parallel import DistributedDataParallel
    cls = MODEL_WRAPPERS.get('mmmae.CPUDistributedDataParallel')
    assert issubclass(cls, DistributedDataParallel)


def test_setup_cpu_distributed_noop_without_launcher():
    from mmmae.engine.model_wrappers import setup_cpu_distributed
    cfg = Config.fromfile(DEMO_CFG)
    cfg.launcher = 'none'
    setup_cpu_distributed(cfg)
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'
    assert cfg.get('model_wrapper_cfg', None) is None


# --------------------------------------------------------------------------
# end to end (subprocesses)
# --------------------------------------------------------------------------


def _env(**extra):
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env.setdefault('OMP_NUM_THREADS', '1')
    env.update(extra)
    return env


def _run(cmd, timeout=240, **env):
    proc = subprocess.run(
        cmd,
        cwd=REPO_ROOT,
        env=_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout)
    return proc


def _train(cfg, *args, timeout=240):
    proc = _run([sys.executable, 'tools/train.py', cfg, *args],
                timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-6000:]
    return proc.stdout


def _logs(work_dir):
    return sorted(glob.glob(osp.join(work_dir, '*', '*.log')))


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def tiny_cfg(video_dir, tmp_path_factory):
    """The demo config on 4 real clips: 2 clips per batch, 2 iterations per
    epoch, 2 epochs (cosine laid out for 3 so that resuming to 3 works), and
    a narrower model (same structure) to keep the runs short."""
    path = tmp_path_factory.mktemp('cfg') / 'tiny_videomae.py'
    path.write_text(f"""
_base_ = {DEMO_CFG!r}
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(ann_file={str(video_dir / 'ann.txt')!r},
                 data_prefix=dict(video={str(video_dir)!r})))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=1e-2, by_epoch=True,
         begin=1, end=3, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=2)
model = dict(
    backbone=dict(arch=dict(embed_dims=64, num_layers=2, num_heads=2,
                            feedforward_channels=128)),
    neck=dict(embed_dims=64, decoder_embed_dims=32, decoder_depth=1,
              decoder_num_heads=2))
default_hooks = dict(logger=dict(interval=1))
custom_hooks = [dict(type='mmmae.BadSampleLoggerHook')]
""")
    return str(path)


@pytest.mark.slow
def test_train_then_resume(tiny_cfg, tmp_path):
    work_dir = str(tmp_path / 'work')
    _train(tiny_cfg, '--work-dir', work_dir)
    for epoch in (1, 2):
        assert osp.isfile(osp.join(work_dir, f'epoch_{epoch}.pth'))
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('epoch_2.pth')
    ckpt = torch.load(
        osp.join(work_dir, 'epoch_2.pth'),
        map_location='cpu',
        weights_only=False)
    assert ckpt['meta']['epoch'] == 2 and ckpt['meta']['iter'] == 4
    assert any(
        k.startswith('backbone.blocks.0.attn.qkv') for k in ckpt['state_dict'])
    assert 'optimizer' in ckpt and 'param_schedulers' in ckpt
    (log1, ) = _logs(work_dir)
    text = open(log1).read()
    assert re.search(r'Epoch\(train\)\s+\[2\]\[2/2\].*loss: [0-9.]+', text)

    # --resume (auto): continue from epoch 2 to 3
    _train(tiny_cfg, '--work-dir', work_dir, '--resume', '--cfg-options',
           'train_cfg.max_epochs=3')
    assert osp.isfile(osp.join(work_dir, 'epoch_3.pth'))
    log2 = [p for p in _logs(work_dir) if p != log1]
    assert len(log2) == 1
    text = open(log2[0]).read()
    assert 'resumed epoch: 2, iter: 4' in text
    assert re.search(r'Epoch\(train\)\s+\[3\]\[2/2\]', text)
    assert not re.search(r'Epoch\(train\)\s+\[1\]\[', text)
    ckpt = torch.load(
        osp.join(work_dir, 'epoch_3.pth'),
        map_location='cpu',
        weights_only=False)
    assert ckpt['meta']['epoch'] == 3 and ckpt['meta']['iter'] == 6


@pytest.mark.slow
def test_train_amp_and_auto_scale_lr(tiny_cfg, tmp_path):
    work_dir = str(tmp_path / 'amp')
    out = _train(tiny_cfg, '--work-dir', work_dir, '--amp', '--auto-scale-lr',
                 '--cfg-options', 'train_cfg.max_epochs=1')
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    (log, ) = _logs(work_dir)
    text = open(log).read()
    if not torch.cuda.is_available():
        assert "type='mmmae.CPUAmpOptimWrapper'" in text
    # auto_scale_lr of the demo config: base batch 8, here 1 x 2 clips
    assert 'Scaling the original LR by 0.25' in out + text
    assert re.search(r'Epoch\(train\)\s+\[1\]\[2/2\].*loss: [0-9.]+', text)


def test_test_tool_refuses_pretraining_config(tmp_path, capsys):
    assert run_tool('tools/test.py', DEMO_CFG, tmp_path / 'none.pth') == 2
    err = capsys.readouterr().err
    assert 'no test loop' in err and 'pretraining config' in err


@pytest.mark.slow
def test_dist_train_two_cpu_processes(tiny_cfg, tmp_path):
    work_dir = str(tmp_path / 'dist')
    proc = _run([
        'bash', 'tools/dist_train.sh', tiny_cfg, '2', '--work-dir', work_dir,
        '--cfg-options', 'train_cfg.max_epochs=1'
    ],
                timeout=300,
                PYTHON=sys.executable,
                OMP_NUM_THREADS='1',
                PORT=str(_free_port()))
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    (log, ) = _logs(work_dir)  # written by rank 0 only
    text = open(log).read()
    assert 'Distributed training: True' in text
    if not torch.cuda.is_available():
        assert "backend='gloo'" in text
    # 4 clips / (2 ranks x 2 per batch) = 1 iteration per epoch
    assert re.search(r'Epoch\(train\)\s+\[1\]\[1/1\].*loss: [0-9.]+', text)
