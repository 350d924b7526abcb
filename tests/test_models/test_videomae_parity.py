# Copyright (c) mmmae contributors. All rights reserved.
"""Numerical parity with the official VideoMAE / VideoMAE V2 code.

The fixtures (``tests/data/fixtures``, see its README) hold tiny official
models with perturbed weights, fixed inputs/masks and the official outputs.
"""
import pytest
import torch
from _videomae_helpers import tiny_model_cfg
from mmengine.structures import BaseDataElement

try:
    from conftest import load_fixture
except ImportError:  # pragma: no cover - run outside the tests rootdir
    import os.path as osp
    import sys
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    from conftest import load_fixture

from mmmae.models import VideoMAEViT
from mmmae.registry import MODELS
from mmmae.utils.checkpoint_converters import (convert_official_videomae,
                                               official_to_backbone)

ATOL = 1e-5
MEAN01 = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1, 1)
STD01 = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1, 1)


def check_config(cfg):
    assert cfg['img_size'] == 32 and cfg['patch_size'] == 8
    assert cfg['encoder_embed_dim'] == 64 and cfg['encoder_depth'] == 2
    assert cfg['encoder_num_heads'] == 4
    assert cfg['decoder_embed_dim'] == 32 and cfg['decoder_depth'] == 2
    assert cfg['decoder_num_heads'] == 2 and cfg['tubelet_size'] == 2
    assert cfg['mlp_ratio'] == 4.0 and cfg['init_values'] == 0.0


def build_from_fixture(fx, norm_pix):
    cfg = fx['config']
    check_config(cfg)
    model = MODELS.build(
        tiny_model_cfg(num_frames=cfg.get('all_frames', 16),
                       norm_pix=norm_pix))
    model.load_state_dict(convert_official_videomae(fx['checkpoint']),
                          strict=True)
    return model.eval()


@pytest.mark.parametrize('name', ['videomae_v1_pretrain_tiny.pth',
                                  'videomae_v2_pretrain_tiny.pth'])
def test_pretrain_parity(name):
    fx = load_fixture(name)
    x, mask = fx['inputs'], fx['mask']
    dm = fx.get('decode_mask')
    B = x.shape[0]
    video01 = x * STD01 + MEAN01
    for norm_pix, tkey, lkey in [(True, 'target', 'loss'),
                                 (False, 'target_unnormalized',
                                  'loss_unnormalized')]:
        model = build_from_fixture(fx, norm_pix)
        # The preprocessor's un-normalisation is the official one.
        assert torch.equal(model.data_preprocessor.denormalize(x), video01)
        with torch.no_grad():
            enc = model.backbone(x, mask)
            out = model.neck(enc, mask, dm)
            target = model.head.construct_target(video01)
            L = target.shape[-1]
            sel = mask if dm is None else ~dm
            target = target[sel].reshape(B, -1, L)
            samples = []
            for i in range(B):
                s = dict(mask=mask[i])
                if dm is not None:
                    s['decoder_mask'] = dm[i]
                samples.append(BaseDataElement(**s))
            loss = model(x, samples, mode='loss')['loss']
        torch.testing.assert_close(enc, fx['encoder_output'], rtol=0,
                                   atol=ATOL)
        torch.testing.assert_close(out, fx['outputs'], rtol=0, atol=ATOL)
        torch.testing.assert_close(target, fx[tkey], rtol=0, atol=ATOL)
        assert loss.item() == pytest.approx(fx[lkey], rel=1e-5)
        if dm is not None:
            assert torch.equal(mask[~dm].reshape(B, -1), fx['loss_mask'])


def test_finetune_parity():
    fx = load_fixture('videomae_v1_finetune_tiny.pth')
    assert 'module' in fx['checkpoint']
    cfg = fx['config']
    vit = VideoMAEViT(
        arch=dict(embed_dims=cfg['embed_dim'], num_layers=cfg['depth'],
                  num_heads=cfg['num_heads'], mlp_ratio=cfg['mlp_ratio']),
        img_size=cfg['img_size'],
        patch_size=cfg['patch_size'],
        num_frames=cfg['all_frames'],
        tubelet_size=cfg['tubelet_size'],
        use_mean_pooling=cfg['use_mean_pooling']).eval()
    vit.load_state_dict(official_to_backbone(fx['checkpoint']), strict=True)
    full = convert_official_videomae(fx['checkpoint'])
    weight = full['cls_head.fc_cls.weight']
    bias = full['cls_head.fc_cls.bias']
    assert weight.shape == (cfg['num_classes'], cfg['embed_dim'])
    with torch.no_grad():
        feats = vit(fx['inputs'])
    torch.testing.assert_close(feats, fx['features'], rtol=0, atol=ATOL)
    torch.testing.assert_close(feats @ weight.T + bias, fx['logits'], rtol=0,
                               atol=ATOL)
