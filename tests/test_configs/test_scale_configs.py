# Copyright (c) mmmae contributors. All rights reserved.
"""Scale-out configs: FSDP / DeepSpeed variants (FlexibleRunner) of the
ViT-L, ViT-H and ViT-g pretraining recipes, and the ViT-g/14 recipe.

The generic checks (naming, model build, pipeline on a real video) run on
them in test_configs_build.py, whose CONFIGS glob already holds them. Here:
each variant keeps its DDP parent's data, schedule and auto_scale_lr; its
strategy and optimizer-wrapper settings are what MMEngine 0.10.7's
FSDPStrategy / DeepSpeedStrategy expect (the registered functions resolve
the way MMFullyShardedDataParallel resolves them and wrap / checkpoint every
ViT block); the optimizer wrapper builds. A tiny ViT-g FSDP run goes through
``tools/dist_train.sh`` with 2 gloo CPU processes (FSDP with
``device_id='cpu'``), and its full-state-dict checkpoint loads strictly into
a plain model. DeepSpeed is not installed here: its run is skipped.
"""
import copy
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import FUNCTIONS as ROOT_FUNCTIONS
from mmengine.registry import DefaultScope

import mmmae  # noqa: F401
from mmmae.registry import HOOKS, MODELS

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
VIDEOMAE = osp.join(REPO_ROOT, 'configs', 'videomae')
THIS_DIR = osp.dirname(osp.abspath(__file__))
MODULE = osp.splitext(osp.basename(__file__))[0]

# variant -> its plain-DDP parent config
PARENTS = {
    'videomae_vit-large-p16_64xb8-fsdp-1600e_kinetics400.py':
    'videomae_vit-large-p16_64xb8-1600e_kinetics400.py',
    'videomae_vit-large-p16_64xb8-deepspeed-zero2-1600e_kinetics400.py':
    'videomae_vit-large-p16_64xb8-1600e_kinetics400.py',
    'videomae_vit-huge-p16_64xb16-fsdp-1600e_kinetics400.py':
    'videomae_vit-huge-p16_64xb16-1600e_kinetics400.py',
    'videomae_vit-huge-p16_64xb16-deepspeed-zero2-1600e_kinetics400.py':
    'videomae_vit-huge-p16_64xb16-1600e_kinetics400.py',
    'videomae-v2_vit-giant-p14_64xb32-rep4-fsdp-300e_kinetics400.py':
    'videomae-v2_vit-giant-p14_64xb32-rep4-300e_kinetics400.py',
    'videomae-v2_vit-giant-p14_64xb32-rep4-deepspeed-zero3-300e_'
    'kinetics400.py':
    'videomae-v2_vit-giant-p14_64xb32-rep4-300e_kinetics400.py',
}
GIANT = 'videomae-v2_vit-giant-p14_64xb32-rep4-300e_kinetics400.py'
CONFIGS = sorted(
    osp.join(VIDEOMAE, n) for n in set(PARENTS) | {GIANT})
VARIANTS = sorted(osp.join(VIDEOMAE, n) for n in PARENTS)
FSDP = [p for p in VARIANTS if '-fsdp-' in p]
DEEPSPEED = [p for p in VARIANTS if '-deepspeed-' in p]


def _ids(paths):
    return [osp.basename(p)[:-3] for p in paths]


def _shrunk(model_cfg):
    """Same widths and geometry, 1 encoder and 1 decoder block."""
    from mmmae.models.backbones.videomae_vit import VideoMAEViT
    model = copy.deepcopy(model_cfg)
    arch = dict(VideoMAEViT.arch_zoo[model.backbone.arch])
    arch['num_layers'] = 1
    model.backbone.arch = arch
    model.neck.decoder_depth = 1
    return model


def test_configs_exist():
    for p in CONFIGS + [osp.join(VIDEOMAE, v) for v in PARENTS.values()]:
        assert osp.isfile(p), p
    # the variants are covered by test_configs_build.py as well
    from test_configs.test_configs_build import CONFIGS as BUILD
    assert set(CONFIGS) <= set(BUILD)


def test_giant_model_matches_videomae_v2():
    """ViT-g/14 of V2: 1408-d x 40, 16 heads, MLP 6144, patch 14 (2048
    tokens per 16x224x224 clip), decoder 512-d x 4, 8 heads."""
    cfg = Config.fromfile(osp.join(VIDEOMAE, GIANT))
    bb, neck = cfg.model.backbone, cfg.model.neck
    assert (bb.arch, bb.patch_size, bb.with_cp) == ('g', 14, True)
    assert (neck.embed_dims, neck.decoder_embed_dims, neck.decoder_depth,
            neck.decoder_num_heads) == (1408, 512, 4, 8)
    with DefaultScope.overwrite_default_scope('mmmae'):
        model = MODELS.build(_shrunk(cfg.model))
    b = model.backbone
    dims = (b.embed_dims, b.num_heads, b.feedforward_channels)
    assert dims == (1408, 16, 6144)
    assert b.grid_size == (8, 16, 16) and b.num_patches == 2048
    # the masks cover the (8, 16, 16) grid
    sizes = {
        t['type']: tuple(t['input_size'])
        for t in cfg.train_dataloader.dataset.pipeline if 'Mask' in t['type']
    }
    assert sizes == {
        'TubeMaskGenerator': (8, 16, 16),
        'RunningCellMaskGenerator': (8, 16, 16)
    }
    assert cfg.optim_wrapper.clip_grad == dict(max_norm=0.02)
    assert cfg.train_dataloader.dataset.num_repeats == 4
    # lr of the V2 recipe: 6e-4 x 64 x 32 / 256
    ratio = 64 * cfg.train_dataloader.batch_size / \
        cfg.auto_scale_lr.base_batch_size
    assert cfg.optim_wrapper.optimizer.lr * ratio == pytest.approx(4.8e-3)


@pytest.mark.parametrize('path', VARIANTS, ids=_ids(VARIANTS))
def test_variant_keeps_recipe(path):
    """Only the runner, strategy and wrapper details differ from the DDP
    parent: same data, optimizer, schedule and lr scaling."""
    cfg = Config.fromfile(path)
    parent = Config.fromfile(osp.join(VIDEOMAE, PARENTS[osp.basename(path)]))
    assert cfg.runner_type == 'FlexibleRunner'
    assert 'runner_type' not in parent
    assert cfg.auto_scale_lr == parent.auto_scale_lr
    assert cfg.auto_scale_lr.enable
    assert cfg.optim_wrapper.optimizer == parent.optim_wrapper.optimizer
    assert cfg.optim_wrapper.paramwise_cfg == \
        parent.optim_wrapper.paramwise_cfg
    assert cfg.param_scheduler == parent.param_scheduler
    assert cfg.train_cfg == parent.train_cfg
    assert cfg.train_dataloader == parent.train_dataloader
    bb, pbb = dict(cfg.model.backbone), dict(parent.model.backbone)
    bb.pop('with_cp'), pbb.pop('with_cp')
    assert bb == pbb
    assert cfg.model.neck == parent.model.neck


def _resolve(name):
    """Look a function up as MMFullyShardedDataParallel / FSDPStrategy do."""
    with DefaultScope.overwrite_default_scope('mmmae'):
        with ROOT_FUNCTIONS.switch_scope_and_registry(None):
            return ROOT_FUNCTIONS.get(name)


@pytest.mark.parametrize('path', FSDP, ids=_ids(FSDP))
def test_fsdp_strategy(path, tmp_path):
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import STRATEGIES
    from mmmae.models.utils import TransformerBlock
    cfg = Config.fromfile(path)
    s = cfg.strategy
    assert s.type == 'FSDPStrategy'
    # the strategy builds (no process group needed until it wraps)
    strategy = STRATEGIES.build(
        dict(copy.deepcopy(s), work_dir=str(tmp_path), experiment_name='t'))
    from torch.distributed.fsdp import StateDictType
    assert strategy.state_dict_type == StateDictType.FULL_STATE_DICT
    mp = s.model_wrapper.mixed_precision
    assert mp.param_dtype == 'bfloat16'
    assert mp.reduce_dtype == mp.buffer_dtype == 'float32'
    # checkpointing by the strategy, not twice
    assert cfg.model.backbone.with_cp is False
    policy = _resolve(s.model_wrapper.auto_wrap_policy.type)
    check_fn = _resolve(s.activation_checkpointing.check_fn)
    assert callable(policy) and callable(check_fn)
    with DefaultScope.overwrite_default_scope('mmmae'):
        model = MODELS.build(_shrunk(cfg.model))
        optim_wrapper = build_optim_wrapper(model,
                                            copy.deepcopy(cfg.optim_wrapper))
    blocks = [m for m in model.modules() if isinstance(m, TransformerBlock)]
    assert len(blocks) == 2  # 1 encoder + 1 decoder block
    assert [m for m in model.modules()
            if policy(m, recurse=False, nonwrapped_numel=0)] == blocks
    assert [m for m in model.modules() if check_fn(m)] == blocks
    assert policy(model, recurse=True, nonwrapped_numel=0)
    if 'clip_grad' in cfg.optim_wrapper:
        # a sharded model needs the global norm
        assert type(optim_wrapper).__name__ == 'ShardedGradClipOptimWrapper'
        assert optim_wrapper.clip_grad_kwargs == dict(max_norm=0.02)


@pytest.mark.parametrize('path', DEEPSPEED, ids=_ids(DEEPSPEED))
def test_deepspeed_strategy(path):
    from mmengine._strategy.deepspeed import DeepSpeedOptimWrapper
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(path)
    s = cfg.strategy
    assert s.type == 'DeepSpeedStrategy'
    assert s.bf16 == dict(enabled=True) and 'fp16' not in s
    stage = 3 if 'zero3' in path else 2
    assert s.zero_optimization.stage == stage
    if stage == 3:
        # checkpoints hold consolidated weights (MMEngine refuses otherwise)
        assert s.zero_optimization.stage3_gather_16bit_weights_on_model_save
    assert s.gradient_accumulation_steps == 1
    # every value is a plain number: DeepSpeed itself does not resolve the
    # 'auto' of the HF integration
    assert 'auto' not in json.dumps(s.to_dict())
    parent = Config.fromfile(osp.join(VIDEOMAE, PARENTS[osp.basename(path)]))
    clip = parent.optim_wrapper.get('clip_grad', None)
    assert s.get('gradient_clipping', None) == (clip or {}).get('max_norm')
    # DeepSpeedOptimWrapper(optimizer) takes no other argument
    with DefaultScope.overwrite_default_scope('mmmae'):
        model = MODELS.build(_shrunk(cfg.model))
        optim_wrapper = build_optim_wrapper(model,
                                            copy.deepcopy(cfg.optim_wrapper))
    assert isinstance(optim_wrapper, DeepSpeedOptimWrapper)
    # the no-decay groups survive
    decays = {g['weight_decay'] for g in optim_wrapper.param_groups}
    assert decays == {0.0, 0.05}


# --------------------------------------------------------------------------
# a real FSDP run: tiny ViT-g-shaped model, 2 gloo CPU processes
# --------------------------------------------------------------------------
WORLD_SIZE = 2
RECORD = 'fsdp_rank{}.json'


@HOOKS.register_module(force=True)
class RecordFSDPHook(Hook):
    """Record, per rank, how the model was wrapped and the grad norms."""

    priority = 'VERY_LOW'

    def before_train(self, runner):
        from torch.distributed.algorithms._checkpoint.checkpoint_wrapper \
            import CheckpointWrapper
        from torch.distributed.fsdp import FullyShardedDataParallel
        mods = list(runner.model.modules())
        self.info = dict(
            fsdp_units=sum(isinstance(m, FullyShardedDataParallel)
                           for m in mods),
            checkpoint_wrappers=sum(
                isinstance(m, CheckpointWrapper) for m in mods),
            optim_wrapper=type(runner.optim_wrapper).__name__,
            grad_norms=[],
            losses=[])

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        hub = runner.message_hub
        if 'train/grad_norm' in hub.log_scalars:  # not under DeepSpeed
            self.info['grad_norms'].append(
                float(hub.get_scalar('train/grad_norm').current()))
        self.info['losses'].append(float(outputs['loss']))

    def after_train(self, runner):
        from mmengine.dist import get_rank
        with open(osp.join(runner.work_dir, RECORD.format(get_rank())),
                  'w') as f:
            json.dump(self.info, f)


def _write_tiny_cfg(path, clips_dir, base):
    """``base`` (a ViT-g variant) shrunk to a 64-d model on 4x56x56 clips,
    deterministic clip offsets, constant lr, 1 epoch, per-rank records."""
    path.write_text(f"""
_base_ = {base!r}
custom_imports = dict(imports=[{MODULE!r}], allow_failed_imports=False)
# 4 frames of 56x56, patch 14, tubelet 2: token grid (2, 4, 4)
train_pipeline = [
    dict(type='mmaction.DecordInit', num_threads=1),
    dict(type='mmaction.SampleFrames', clip_len=4, frame_interval=2,
         num_clips=1, test_mode=True),
    dict(type='mmaction.DecordDecode'),
    dict(type='mmaction.Resize', scale=(56, 56), keep_ratio=False),
    dict(type='mmaction.FormatShape', input_format='NCTHW'),
    dict(type='TubeMaskGenerator', input_size=(2, 4, 4), mask_ratio=0.75),
    dict(type='RunningCellMaskGenerator', input_size=(2, 4, 4),
         mask_ratio=0.5),
    dict(type='mmaction.PackActionInputs',
         algorithm_keys=('mask', 'decoder_mask')),
]
train_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    dataset=dict(ann_file={str(clips_dir / 'ann.txt')!r},
                 data_prefix=dict(video={str(clips_dir)!r}),
                 pipeline=train_pipeline))
model = dict(
    backbone=dict(arch=dict(_delete_=True, embed_dims=64, num_layers=2,
                            num_heads=2, feedforward_channels=128),
                  img_size=56, num_frames=4),
    neck=dict(embed_dims=64, decoder_embed_dims=32, decoder_depth=1,
              decoder_num_heads=2))
param_scheduler = None
train_cfg = dict(max_epochs=1)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, max_keep_ckpts=1))
log_processor = dict(window_size=1)
custom_hooks = [dict(type='RecordFSDPHook')]
randomness = dict(seed=0)
""")
    return str(path)


@pytest.fixture(scope='module')
def clips_dir(tmp_path_factory):
    from conftest import random_video, write_mp4
    root = tmp_path_factory.mktemp('fsdp_clips')
    names = []
    for i in range(2 * WORLD_SIZE):
        names.append(f'clip_{i}.mp4')
        write_mp4(str(root / names[-1]), random_video(12, (48, 64), seed=i))
    (root / 'ann.txt').write_text('\n'.join(names) + '\n')
    return root


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _dist_train(cfg, work_dir, nproc):
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [REPO_ROOT, THIS_DIR, env.get('PYTHONPATH', '')])
    env.update(OMP_NUM_THREADS='1', PYTHON=sys.executable,
               PORT=str(_free_port()))
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', cfg, str(nproc), '--work-dir',
         work_dir],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-6000:]
    return proc.stdout


@pytest.mark.slow
@pytest.mark.skipif(
    not torch.distributed.is_available(),
    reason='torch.distributed is not available in this torch build')
def test_fsdp_run_on_cpu(clips_dir, tmp_path):
    """2 processes x 1 video x 4 views, 2 iterations through FlexibleRunner
    with the ViT-g FSDP config's strategy (per-block units and
    checkpointing, bf16, full state dict, sharded grad clipping)."""
    base = [p for p in FSDP if 'giant' in p][0]
    cfg_path = _write_tiny_cfg(tmp_path / 'tiny_fsdp.py', clips_dir, base)
    work_dir = str(tmp_path / 'work')
    _dist_train(cfg_path, work_dir, WORLD_SIZE)
    infos = []
    for r in range(WORLD_SIZE):
        with open(osp.join(work_dir, RECORD.format(r))) as f:
            infos.append(json.load(f))
    for info in infos:
        # root + 2 encoder blocks + 1 decoder block
        assert info['fsdp_units'] == 4, info
        assert info['checkpoint_wrappers'] == 3, info
        assert info['optim_wrapper'] == 'ShardedGradClipOptimWrapper'
        assert len(info['losses']) == 2
        assert all(map(torch.isfinite, torch.tensor(info['losses'])))
    # The clipping norm is the global one: every rank saw the same value,
    # although each holds a different shard of the gradients.
    assert infos[0]['grad_norms'] == pytest.approx(infos[1]['grad_norms'],
                                                   rel=1e-6)
    assert min(infos[0]['grad_norms']) > 0
    # rank 0 saved one full, clean, fp32 state dict: loads into a plain model
    ckpt = torch.load(
        osp.join(work_dir, 'epoch_1.pth'), map_location='cpu',
        weights_only=False)
    state = ckpt['state_dict']
    assert not [k for k in state if '_fsdp' in k or 'checkpoint' in k]
    assert {v.dtype for v in state.values()} == {torch.float32}
    cfg = Config.fromfile(cfg_path)
    with DefaultScope.overwrite_default_scope('mmmae'):
        model = MODELS.build(cfg.model)
    model.load_state_dict(state, strict=True)


@pytest.mark.skipif(
    importlib.util.find_spec('deepspeed') is None,
    reason='deepspeed is not installed (DeepSpeedStrategy needs it; the '
    'registry has only an sdist that must be built against CUDA)')
@pytest.mark.skipif(
    not torch.cuda.is_available(), reason='DeepSpeed training needs CUDA')
@pytest.mark.slow
def test_deepspeed_run(clips_dir, tmp_path):
    """The ViT-g ZeRO-3 config's strategy trains a tiny model 2 iters."""
    base = [p for p in DEEPSPEED if 'zero3' in p][0]
    cfg_path = _write_tiny_cfg(tmp_path / 'tiny_ds.py', clips_dir, base)
    work_dir = str(tmp_path / 'work')
    _dist_train(cfg_path, work_dir, 1)
    with open(osp.join(work_dir, RECORD.format(0))) as f:
        info = json.load(f)
    assert info['optim_wrapper'] == 'DeepSpeedOptimWrapper'
    assert len(info['losses']) == 4
    assert all(map(torch.isfinite, torch.tensor(info['losses'])))
