# Copyright (c) mmmae contributors. All rights reserved.
"""``norm_eps`` of the ViTs and decoders: the default (1e-6) is unchanged,
the option reaches every LayerNorm the module builds and is used."""
import pytest
import torch
import torch.nn as nn

import mmmae  # noqa: F401
from mmmae.registry import MODELS

ARCH = dict(embed_dims=64, num_layers=2, num_heads=4, feedforward_channels=256)


def videomae_vit(**kw):
    return MODELS.build(
        dict(type='mmmae.VideoMAEViT', arch=ARCH, img_size=32, patch_size=8,
             num_frames=4, **kw)).eval()


def videomae_decoder(**kw):
    return MODELS.build(
        dict(type='mmmae.VideoMAEPretrainDecoder', embed_dims=64,
             decoder_embed_dims=32, decoder_depth=2, decoder_num_heads=2,
             patch_size=8, **kw)).eval()


def multimae_vit(**kw):
    return MODELS.build(
        dict(type='mmmae.MultiMAEViT',
             input_adapters=dict(
                 rgb=dict(type='mmmae.PatchedInputAdapter', in_channels=3)),
             arch=ARCH, img_size=32, patch_size=8, **kw)).eval()


def multimae_decoder(common=None, rgb=None, **kw):
    return MODELS.build(
        dict(type='mmmae.MultiMAEDecoder',
             output_adapters=dict(rgb=dict(num_channels=3, **(rgb or {})),
                                  depth=dict(num_channels=1)),
             common=dict(encoder_dims=64, embed_dims=32, num_layers=1,
                         num_heads=2, img_size=32, patch_size=8,
                         context_tasks=['rgb'], **(common or {})),
             **kw)).eval()


def eps_by_norm(model):
    return {n: m.eps for n, m in model.named_modules()
            if isinstance(m, nn.LayerNorm)}


BUILDERS = [
    videomae_vit,
    lambda **kw: videomae_vit(use_mean_pooling=True, **kw),
    videomae_decoder,
    multimae_vit,
    multimae_decoder,
]


@pytest.mark.parametrize('builder', BUILDERS)
def test_default_is_official_1e6(builder):
    eps = eps_by_norm(builder())
    assert eps and set(eps.values()) == {1e-6}


@pytest.mark.parametrize('builder', BUILDERS)
def test_norm_eps_reaches_every_layer_norm(builder):
    model = builder(norm_eps=1e-12)
    eps = eps_by_norm(model)
    assert set(eps.values()) == {1e-12}, eps
    # configuration only: the state dict is the default model's
    assert model.state_dict().keys() == builder().state_dict().keys()


def test_final_norm_options():
    vit = videomae_vit(use_mean_pooling=True, norm_eps=1e-12,
                       fc_norm_eps=1e-5)
    eps = eps_by_norm(vit)
    assert eps.pop('fc_norm') == 1e-5 and set(eps.values()) == {1e-12}
    # fc_norm_eps only concerns fc_norm: the final norm follows norm_eps
    vit = videomae_vit(norm_eps=1e-7, fc_norm_eps=1e-5)
    assert set(eps_by_norm(vit).values()) == {1e-7}
    dec = videomae_decoder(norm_eps=1e-12, final_norm_eps=1e-5)
    eps = eps_by_norm(dec)
    assert eps.pop('norm') == 1e-5 and set(eps.values()) == {1e-12}


def test_multimae_decoder_precedence():
    """The decoder argument is the default; ``common`` and a decoder's own
    config win over it."""
    dec = multimae_decoder(norm_eps=1e-7)
    assert set(eps_by_norm(dec).values()) == {1e-7}
    dec = multimae_decoder(norm_eps=1e-7, common=dict(norm_eps=1e-8),
                           rgb=dict(norm_eps=1e-9))
    eps = eps_by_norm(dec)
    assert {v for k, v in eps.items() if '.rgb.' in k} == {1e-9}
    assert {v for k, v in eps.items() if '.depth.' in k} == {1e-8}


def test_eps_is_used_in_forward():
    """A huge eps must change the outputs (the value is read in forward,
    not only stored)."""
    torch.manual_seed(0)
    ref = videomae_vit(use_mean_pooling=True)
    big = videomae_vit(use_mean_pooling=True, norm_eps=10.)
    big.load_state_dict(ref.state_dict())
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        assert (ref(x) - big(x)).abs().max() > 1e-2
        same = videomae_vit(use_mean_pooling=True, norm_eps=1e-6)
        same.load_state_dict(ref.state_dict())
        assert torch.equal(ref(x), same(x))
