# Copyright (c) mmmae contributors. All rights reserved.
"""``VideoMAEViT(return_feat_map=True)`` feeds MMAction2's ``I3DHead``, and
a table for another token grid is interpolated once, logged once, cached."""
import pytest
import torch
from mmaction.structures import ActionDataSample
from mmengine.registry import DefaultScope

import mmmae  # noqa: F401
# the table of another grid is made by the tubelet adapter
from mmmae.models.backbones import adapters
from mmmae.registry import MODELS

ARCH = dict(embed_dims=32, num_layers=1, num_heads=2, feedforward_channels=64)


def _backbone(**kw):
    return MODELS.build(dict(type='VideoMAEViT', arch=ARCH, img_size=32,
                             patch_size=8, num_frames=4, **kw)).eval()


def test_feature_map_is_the_token_grid():
    torch.manual_seed(0)
    plain = _backbone()
    fmap = _backbone(return_feat_map=True)
    fmap.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        tokens = plain(x)  # (B, N, D), N in (t, h, w) order
        out = fmap(x)
    assert out.shape == (2, 32, 2, 4, 4)
    assert torch.equal(out.flatten(2).transpose(1, 2), tokens)
    with pytest.raises(ValueError, match='return_feat_map'):
        fmap(x, mask=torch.zeros(2, 32, dtype=torch.bool))


def test_mmaction2_recognizer_with_i3d_head_trains_and_predicts():
    with DefaultScope.overwrite_default_scope('mmaction'):
        from mmengine.registry import MODELS as ROOT
        model = ROOT.build(dict(
            type='Recognizer3D',
            backbone=dict(type='mmmae.VideoMAEViT', arch=ARCH, img_size=32,
                          patch_size=8, num_frames=4, return_feat_map=True),
            cls_head=dict(type='I3DHead', num_classes=5, in_channels=32),
            data_preprocessor=dict(type='ActionDataPreprocessor',
                                   format_shape='NCTHW')))
    assert type(model.cls_head).__name__ == 'I3DHead'
    inputs = torch.randn(2, 1, 3, 4, 32, 32)
    samples = [ActionDataSample().set_gt_label(i) for i in (1, 3)]
    losses = model(inputs, samples, mode='loss')
    losses['loss_cls'].backward()
    assert model.backbone.blocks[0].attn.qkv.weight.grad is not None
    model.eval()
    with torch.no_grad():
        preds = model(inputs, samples, mode='predict')
    assert preds[0].pred_score.shape[-1] == 5


def test_other_grid_table_is_interpolated_once_and_cached(monkeypatch):
    model = _backbone()
    calls = []
    real = adapters.interpolate_pos_table

    def counting(*args, **kwargs):
        calls.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(adapters, 'interpolate_pos_table', counting)
    logged = []
    monkeypatch.setattr(adapters, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    x = torch.randn(1, 3, 4, 48, 48)
    with torch.no_grad():
        first = model(x)
        second = model(x)
        model(torch.randn(1, 3, 4, 32, 32))  # the built grid: no table
    assert torch.equal(first, second)
    assert calls == [(2, 6, 6)]
    assert len(logged) == 1 and '(2, 6, 6)' in logged[0]
    assert torch.equal(model.get_pos_embed((2, 6, 6)),
                       real(model.pos_embed, (2, 4, 4), (2, 6, 6)))
    model.double()  # another dtype: a new entry, no new log line
    model.get_pos_embed((2, 6, 6))
    assert len(calls) == 2 and len(logged) == 1
