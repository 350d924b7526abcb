# Copyright (c) mmmae contributors. All rights reserved.
"""The upstream workarounds in mmmae.utils.compat: each works, each is a no-op
when upstream is fixed."""
import importlib.machinery
import sys

import numpy as np
import pytest
import torch

import mmmae  # noqa: F401
from mmmae.utils import compat


def test_patches_applied_once_and_cached():
    first = compat.apply_compat_patches()
    assert set(first) == {
        'patch_mmaction_missing_drn', 'patch_mmaction_multimodal_transformers5',
        'patch_mmcv_ops_for_lite', 'patch_mmengine_torch_load',
        'patch_mmaction_head_bf16_topk',
        'patch_mmengine_optim_step_for_dynamo'
    }
    assert compat.apply_compat_patches() == first


def test_mmaction_and_mmseg_models_import():
    import mmaction.models  # noqa: F401
    import mmseg.models  # noqa: F401
    from mmaction.registry import MODELS as MMA_MODELS
    from mmseg.registry import MODELS as MMSEG_MODELS
    assert MMA_MODELS.get('Recognizer3D') is not None
    assert MMSEG_MODELS.get('EncoderDecoder') is not None


def test_drn_stand_in_refuses_to_build():
    from mmaction.models.localizers.drn.drn import DRN
    if DRN is compat.MissingDRN:
        with pytest.raises(RuntimeError, match='2714'):
            DRN()


def test_drn_patch_noop_when_wheel_is_fixed(tmp_path, monkeypatch):
    (tmp_path / 'mmaction' / 'models' / 'localizers' / 'drn').mkdir(
        parents=True)
    spec = importlib.machinery.ModuleSpec('mmaction', None, is_package=True)
    spec.submodule_search_locations = [str(tmp_path / 'mmaction')]
    monkeypatch.setattr(compat.importlib.util, 'find_spec', lambda name: spec)
    assert compat.patch_mmaction_missing_drn() is False


def test_mmcv_ops_stand_in():
    import mmcv.ops
    if not compat._mmcv_has_ext():
        # pure-PyTorch point_sample works
        feats = torch.arange(16.).reshape(1, 1, 4, 4)
        pts = torch.tensor([[[0.5, 0.5]]])
        out = mmcv.ops.point_sample(feats, pts, align_corners=False)
        assert out.shape == (1, 1, 1)
        # other names fail like a missing compiled extension, which mmseg's
        # own `except ModuleNotFoundError` guards expect
        with pytest.raises(ModuleNotFoundError, match='mmcv._ext'):
            mmcv.ops.DeformConv2d  # noqa: B018
        with pytest.raises(ModuleNotFoundError):
            mmcv.ops.sigmoid_focal_loss(torch.zeros(1), torch.zeros(1))
        with pytest.raises(AttributeError):
            mmcv.ops.__wrapped__  # noqa: B018


def test_mmcv_ops_patch_noop_with_full_mmcv(monkeypatch):
    monkeypatch.setattr(compat, '_mmcv_has_ext', lambda: True)
    assert compat.patch_mmcv_ops_for_lite() is False


def test_transformers5_patch_noop_for_v4(monkeypatch):
    monkeypatch.setattr(compat, '_transformers_major', lambda: 4)
    assert compat.patch_mmaction_multimodal_transformers5() is False


def test_mmengine_checkpoint_with_pickles_loads(tmp_path):
    """What resume/load_from read: MMEngine objects and numpy state."""
    from mmengine.logging import HistoryBuffer
    from mmengine.runner.checkpoint import _load_checkpoint
    path = tmp_path / 'ckpt.pth'
    torch.save(
        dict(
            state_dict=dict(w=torch.ones(2)),
            message_hub=dict(log=HistoryBuffer(np.array([1., 2.]), np.array([1, 1]))),
            meta=dict(rng=np.random.get_state())), path)
    ckpt = _load_checkpoint(str(path), map_location='cpu')
    assert isinstance(ckpt['message_hub']['log'], HistoryBuffer)
    with pytest.raises(FileNotFoundError):
        _load_checkpoint(str(tmp_path / 'missing.pth'), map_location='cpu')


def test_torch_load_patch_noop_when_not_needed(monkeypatch):
    monkeypatch.setattr(compat, '_torch_load_defaults_to_weights_only',
                        lambda: False)
    assert compat.patch_mmengine_torch_load() is False


def test_import_mmmae_is_enough_for_mmaction_in_fresh_process():
    import subprocess
    code = ('import mmmae, mmaction.models, mmseg.models; '
            'print("fine")')
    out = subprocess.run([sys.executable, '-W', 'ignore', '-c', code],
                         capture_output=True,
                         text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'fine' in out.stdout


def test_mmaction_head_topk_accepts_bf16_scores():
    """bf16 AMP fine-tuning with hard labels: the head's top-k accuracy
    used to fail with 'Got unsupported ScalarType BFloat16'."""
    from mmaction.models.heads import TimeSformerHead
    from mmaction.structures import ActionDataSample
    from mmengine.registry import DefaultScope

    # the head builds its loss by name: other tests may leave a default
    # scope behind
    with DefaultScope.overwrite_default_scope('mmaction'):
        head = TimeSformerHead(num_classes=5, in_channels=8)
    samples = [
        ActionDataSample().set_gt_label(torch.tensor(i)) for i in (1, 3)
    ]
    scores = torch.zeros(2, 5)
    scores[0, 1] = scores[1, 0] = 4.  # first right, second wrong
    losses = head.loss_by_feat(scores.bfloat16(), samples)
    assert float(losses['top1_acc']) == 0.5
    ref = head.loss_by_feat(scores, samples)
    torch.testing.assert_close(losses['loss_cls'], ref['loss_cls'])


def test_head_patch_waits_for_import_and_is_noop_when_fixed():
    import subprocess
    # A fresh interpreter: `import mmmae` must not import mmaction.models
    # (seconds), yet the head is patched once it is imported.
    code = ('import sys, mmmae\n'
            'assert "mmaction.models" not in sys.modules\n'
            'from mmaction.models.heads.base import BaseHead\n'
            'print(getattr(BaseHead.loss_by_feat, "__mmmae_patched__", 0))')
    out = subprocess.run([sys.executable, '-W', 'ignore', '-c', code],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith('True')

    import types

    fixed = types.ModuleType('fixed_base')

    class BaseHead:

        def loss_by_feat(self, cls_scores, data_samples):
            return top_k_accuracy(cls_scores.float().numpy())  # noqa: F821

    fixed.BaseHead = BaseHead
    assert compat._patch_head_module(fixed) is False
    assert not hasattr(BaseHead.loss_by_feat, '__mmmae_patched__')


def test_repeated_run_of_a_config_gets_its_own_logger(tmp_path):
    """Two Runners of one config in one process and second: without a
    distinct name MMEngine hands the second the first one's logger, and its
    log lands in the first run's work dir."""
    from mmengine.config import Config
    from mmengine.logging import MMLogger

    from mmmae.utils.compat import distinct_experiment_name
    path = tmp_path / 'tiny_exp.py'
    path.write_text('x = 1\n')
    cfg = Config.fromfile(str(path))
    assert not distinct_experiment_name(cfg)  # first run: unchanged
    assert cfg.get('experiment_name') is None
    first = MMLogger.get_instance('tiny_exp_20260101_000000',
                                  log_file=str(tmp_path / 'a.log'))
    try:
        assert distinct_experiment_name(cfg)
        assert cfg.experiment_name == 'tiny_exp-run2'
        again = Config.fromfile(str(path))
        MMLogger.get_instance('tiny_exp-run2_20260101_000000')
        assert distinct_experiment_name(again)
        assert again.experiment_name == 'tiny_exp-run3'
        named = Config.fromfile(str(path))
        named.experiment_name = 'mine'
        assert not distinct_experiment_name(named)  # a user's name stays
    finally:
        for name in ('tiny_exp_20260101_000000',
                     'tiny_exp-run2_20260101_000000'):
            MMLogger._instance_dict.pop(name, None)
        first.handlers.clear()
