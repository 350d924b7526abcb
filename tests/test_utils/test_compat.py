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
        'patch_mmcv_ops_for_lite', 'patch_mmengine_torch_load'
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
