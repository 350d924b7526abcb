# Copyright (c) mmmae contributors. All rights reserved.
"""Numerical parity with the official MultiMAE / MultiViT (fixtures 4, 5)."""
import pytest
import torch
from _multimae_helpers import tiny_backbone_cfg, tiny_model
from conftest import load_fixture

from mmmae.registry import MODELS
from mmmae.utils import convert_official_multimae

TOL = dict(rtol=1e-5, atol=1e-5)


@pytest.fixture(scope='module')
def pretrain():
    return load_fixture('multimae_pretrain_tiny.pth')


@pytest.fixture(scope='module')
def multivit():
    return load_fixture('multimae_multivit_tiny.pth')


@pytest.fixture(scope='module')
def model(pretrain):
    torch.manual_seed(0)
    m = tiny_model()
    m.load_state_dict(convert_official_multimae(pretrain['checkpoint']),
                      strict=True)
    return m.eval()


def _masks(fx):
    return {k: v.bool() for k, v in fx['task_masks'].items()}


def test_state_dict_keys_match_official(pretrain):
    m = tiny_model()
    converted = convert_official_multimae(pretrain['checkpoint'])
    ours = m.state_dict()
    assert set(ours) == set(converted)
    for k, v in converted.items():
        assert ours[k].shape == v.shape, k


def test_encoder_and_outputs(model, pretrain):
    masks = _masks(pretrain)
    with torch.no_grad():
        tokens, info = model.backbone(pretrain['inputs'], masks)
        assert torch.equal(info.visible_ids, pretrain['visible_ids'])
        torch.testing.assert_close(tokens, pretrain['encoder_tokens'], **TOL)
        preds = model.neck(tokens, info)
    assert list(preds) == ['rgb', 'depth', 'semseg']
    for task, ref in pretrain['outputs'].items():
        assert preds[task].shape == ref.shape
        torch.testing.assert_close(preds[task], ref, **TOL)


def _rel_close(a, b, rel=1e-5):
    assert abs(float(a) - float(b)) <= rel * abs(float(b)), (float(a), b)


def test_losses_via_algorithm(model, pretrain):
    from mmengine.structures import BaseDataElement
    masks = _masks(pretrain)
    samples = [
        BaseDataElement(masks={k: v[i] for k, v in masks.items()})
        for i in range(2)
    ]
    with torch.no_grad():
        losses = model(pretrain['inputs'], samples, mode='loss')
    for task in ('rgb', 'depth', 'semseg'):
        _rel_close(losses[f'loss_{task}'], pretrain['losses'][task])


def test_losses_masked_unmasked_and_norm_pix(pretrain):
    head = MODELS.build(
        dict(
            type='mmmae.MultiMAEHead',
            tasks=dict(
                rgb=dict(loss=dict(type='mmmae.MaskedMSELoss', patch_size=8)),
                depth=dict(
                    loss=dict(type='mmmae.MaskedL1Loss', patch_size=8)),
                semseg=dict(
                    loss=dict(
                        type='mmmae.MaskedCrossEntropyLoss',
                        patch_size=8,
                        stride=4)),
                norm_rgb=dict(
                    target='rgb',
                    loss=dict(
                        type='mmmae.MaskedMSELoss',
                        patch_size=8,
                        norm_pix=True)))))
    preds = dict(pretrain['outputs'])
    preds['norm_rgb'] = preds['rgb']
    masks = _masks(pretrain)
    losses = head.loss(preds, pretrain['inputs'], masks)
    for task in ('rgb', 'depth', 'semseg'):
        _rel_close(losses[f'loss_{task}'], pretrain['losses'][task])
    _rel_close(losses['loss_norm_rgb'],
               pretrain['losses_extra']['rgb_norm_pix'])
    head.loss_on_unmasked = True
    losses = head.loss(preds, pretrain['inputs'], masks)
    for task in ('rgb', 'depth', 'semseg'):
        _rel_close(losses[f'loss_{task}'], pretrain['losses_unmasked'][task])
    _rel_close(losses['loss_norm_rgb'],
               pretrain['losses_extra']['rgb_norm_pix_unmasked'])


@pytest.mark.parametrize('key,mods', [('rgb', ['rgb']),
                                      ('rgb-depth', ['rgb', 'depth'])])
def test_multivit_tokens_and_logits(multivit, key, mods):
    converted = convert_official_multimae(multivit['checkpoint'])
    bb = MODELS.build(tiny_backbone_cfg()).eval()
    head = MODELS.build(
        dict(type='mmmae.MultiMAELinearHead', in_channels=64,
             num_classes=5)).eval()
    bb.load_state_dict({
        k[len('backbone.'):]: v
        for k, v in converted.items() if k.startswith('backbone.')
    }, strict=True)
    head.load_state_dict({
        k[len('head.'):]: v
        for k, v in converted.items() if k.startswith('head.')
    }, strict=True)
    inputs = {m: multivit['inputs'][m] for m in mods}
    with torch.no_grad():
        tokens, info = bb(inputs)
        assert info.visible_ids is None
        torch.testing.assert_close(tokens, multivit['encoder_tokens'][key],
                                   **TOL)
        torch.testing.assert_close(
            head(tokens), multivit['logits'][key], **TOL)


def test_converter_unknown_keys(pretrain):
    sd = dict(pretrain['checkpoint']['model'])
    sd['output_adapters.semseg.proj_dec.weight'] = torch.zeros(1)
    with pytest.raises(KeyError, match='proj_dec'):
        convert_official_multimae(sd)
    with pytest.warns(UserWarning):
        out, unknown = convert_official_multimae(
            sd, strict=False, return_unknown=True)
    assert list(unknown) == ['output_adapters.semseg.proj_dec.weight']
    assert len(out) == len(sd) - 1
