# Copyright (c) mmmae contributors. All rights reserved.
"""Checkpoints of compiled models load into uncompiled ones and back.

Two ways to compile:

* MMEngine's ``compile`` runner option compiles ``model.train_step`` (a
  method), so the Runner's checkpoints keep clean keys; a real Runner
  trains a tiny VideoMAE 2 iterations with it, saves, and the checkpoint
  loads strictly into a plain model; a runner with ``compile`` on loads a
  checkpoint of an uncompiled model, and one with ``_orig_mod.`` keys.
* ``torch.compile(module)`` returns an ``OptimizedModule`` whose keys start
  with ``_orig_mod.`` (``backbone._orig_mod.`` for a compiled submodule);
  mmmae's load-time hook (mmmae.utils.compile_keys) maps them both ways.

The tests compile with ``backend='eager'`` (dynamo captures the graph,
no code generation): inductor needs a C++ toolchain and minutes of CPU on
this 2-core machine, and the key names do not depend on the backend.
"""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint

import mmmae  # noqa: F401
from mmmae.registry import MODELS
from mmmae.utils import compile_model, strip_compile_segments

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CFG = osp.join(REPO_ROOT, 'configs', 'videomae',
                    'videomae_vit-tiny-p8_1xb8-30e_moving-digits.py')
TINY = dict(
    backbone=dict(
        arch=dict(
            embed_dims=32, num_layers=1, num_heads=2,
            feedforward_channels=64)),
    neck=dict(
        embed_dims=32,
        decoder_embed_dims=16,
        decoder_depth=1,
        decoder_num_heads=2))


def _cfg(video_dir=None, work_dir=None, compile=None):
    cfg = Config.fromfile(DEMO_CFG)
    cfg.merge_from_dict(dict(model=TINY))
    if video_dir is None:
        return cfg
    cfg.merge_from_dict(
        dict(
            work_dir=str(work_dir),
            train_dataloader=dict(
                batch_size=2,
                num_workers=0,
                persistent_workers=False,
                dataset=dict(
                    ann_file=str(video_dir / 'ann.txt'),
                    data_prefix=dict(video=str(video_dir)))),
            train_cfg=dict(max_epochs=1),
            default_hooks=dict(
                logger=dict(interval=1), checkpoint=dict(interval=1)),
            randomness=dict(seed=0)))
    cfg.param_scheduler = None
    cfg.custom_hooks = []
    if compile is not None:
        cfg.compile = compile
    return cfg


def _model(seed):
    torch.manual_seed(seed)
    with DefaultScope.overwrite_default_scope('mmmae'):
        model = MODELS.build(copy.deepcopy(_cfg().model))
    model.init_weights()
    return model


def _assert_same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    clean = {strip_compile_segments(k): v for k, v in sb.items()}
    assert {strip_compile_segments(k) for k in sa} == set(clean)
    for k, v in sa.items():
        assert torch.equal(v, clean[strip_compile_segments(k)]), k


def _batch():
    """One real training batch for the tiny model: 2 clips + tube masks."""
    from mmaction.structures import ActionDataSample
    from mmmae.datasets.transforms.masking import TubeMaskGenerator
    gen = TubeMaskGenerator((4, 8, 8), 0.75)
    inputs, samples = [], []
    g = torch.Generator().manual_seed(0)
    for _ in range(2):
        inputs.append(
            torch.randint(0, 256, (1, 3, 8, 64, 64), generator=g,
                          dtype=torch.uint8))
        ds = ActionDataSample()
        ds.set_field(torch.from_numpy(gen.generate()), 'mask')
        samples.append(ds)
    return dict(inputs=inputs, data_samples=samples)


def _loss(model, batch):
    with torch.no_grad():
        data = model.data_preprocessor(copy.deepcopy(batch), True)
        return model(**data, mode='loss')['loss']


def test_torch_compile_module_keys_both_ways(tmp_path):
    src = _model(0)
    compiled = torch.compile(src, backend='eager')
    keys = list(compiled.state_dict())
    assert keys and all(k.startswith('_orig_mod.') for k in keys)

    # compiled -> plain, strict, through torch and through MMEngine
    plain = _model(1)
    plain.load_state_dict(compiled.state_dict(), strict=True)
    _assert_same(src, plain)
    path = str(tmp_path / 'compiled.pth')
    torch.save(dict(state_dict=compiled.state_dict()), path)
    plain2 = _model(2)
    load_checkpoint(plain2, path, strict=True)
    _assert_same(src, plain2)

    # plain -> compiled (compile_model registers the hook on the wrapper);
    # the compiled forward then computes the source model's loss
    dst = compile_model(_model(3), backend='eager')
    dst.load_state_dict(src.state_dict(), strict=True)
    _assert_same(src, dst)
    batch = _batch()
    assert torch.allclose(_loss(dst, batch), _loss(src, batch), rtol=1e-5)

    # a compiled submodule: clean keys in, `backbone._orig_mod.` keys out
    part = _model(4)
    part.backbone = torch.compile(part.backbone, backend='eager')
    assert any(k.startswith('backbone._orig_mod.')
               for k in part.state_dict())
    part.load_state_dict(src.state_dict(), strict=True)
    _assert_same(src, part)
    back = _model(5)
    back.load_state_dict(part.state_dict(), strict=True)
    _assert_same(src, back)


def test_unknown_keys_still_fail_strict_loading():
    sd = torch.compile(_model(0), backend='eager').state_dict()
    sd['_orig_mod.backbone.not_a_weight'] = torch.zeros(1)
    with pytest.raises(RuntimeError, match='backbone.not_a_weight'):
        _model(1).load_state_dict(sd, strict=True)
    # the same tensor twice (compiled and clean) is refused
    dup = dict(_model(0).state_dict())
    dup['_orig_mod.neck.mask_token'] = dup['neck.mask_token']
    with pytest.raises(KeyError, match='neck.mask_token'):
        _model(1).load_state_dict(dup, strict=True)


@pytest.mark.slow
def test_runner_compile_checkpoints(video_dir, tmp_path):
    from mmengine.runner import Runner
    runner = Runner.from_cfg(
        _cfg(video_dir, tmp_path / 'compiled', compile=dict(backend='eager')))
    runner.train()
    # MMEngine compiled the train_step method, not the module
    step = runner.model.train_step
    assert hasattr(step, '_torchdynamo_orig_callable') or 'compile' in repr(
        type(step)).lower(), type(step)
    ckpt_path = osp.join(runner.work_dir, 'epoch_1.pth')
    ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=False)
    assert not [k for k in ckpt['state_dict'] if '_orig_mod' in k]

    # compiled runner -> plain model (strict)
    plain = _model(7)
    load_checkpoint(plain, ckpt_path, strict=True)
    _assert_same(runner.model, plain)

    # plain / torch.compile'd checkpoints -> a runner with compile on
    src = _model(8)
    clean_path = str(tmp_path / 'plain.pth')
    torch.save(dict(state_dict=src.state_dict()), clean_path)
    prefixed_path = str(tmp_path / 'prefixed.pth')
    torch.save(
        dict(state_dict=torch.compile(src, backend='eager').state_dict()),
        prefixed_path)
    for path in (clean_path, prefixed_path):
        other = Runner.from_cfg(
            _cfg(video_dir, tmp_path / osp.basename(path)[:-4],
                 compile=dict(backend='eager')))
        other.load_checkpoint(path, strict=True)
        _assert_same(src, other.model)
