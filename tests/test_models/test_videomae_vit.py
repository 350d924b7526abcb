# Copyright (c) mmmae contributors. All rights reserved.
import pytest
import torch
from _videomae_helpers import TINY_ARCH, tube_masks

from mmmae.models import VideoMAEViT
from mmmae.models.utils import get_sinusoid_table
from mmmae.registry import MODELS


def tiny_vit(**kwargs):
    cfg = dict(arch=dict(TINY_ARCH), img_size=32, patch_size=8, num_frames=4)
    cfg.update(kwargs)
    return VideoMAEViT(**cfg)


def test_arch_presets():
    zoo = VideoMAEViT.arch_zoo
    assert zoo['b'] == dict(
        embed_dims=768, num_layers=12, num_heads=12,
        feedforward_channels=3072)
    assert zoo['g']['feedforward_channels'] == 6144
    assert zoo['h']['embed_dims'] == 1280 and zoo['l']['num_layers'] == 24
    vit = VideoMAEViT(arch='s', img_size=32, patch_size=16, num_frames=2)
    assert len(vit.blocks) == 12 and vit.blocks[0].mlp.fc1.out_features == 1536
    assert vit.blocks[0].attn.num_heads == 6
    vit = tiny_vit(arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                             feedforward_channels=48))
    assert vit.blocks[0].mlp.fc1.out_features == 48
    with pytest.raises(KeyError):
        VideoMAEViT(arch='x')
    with pytest.raises(KeyError):
        VideoMAEViT(arch=dict(embed_dims=8, num_layers=1, num_heads=1))


def test_state_dict_layout_and_pos_buffer():
    vit = tiny_vit()
    keys = set(vit.state_dict())
    assert 'pos_embed' not in keys
    assert {'patch_embed.proj.weight', 'norm.weight',
            'blocks.1.attn.q_bias'} <= keys
    assert vit.patch_embed.proj.kernel_size == (2, 8, 8)
    assert torch.equal(vit.pos_embed[0], get_sinusoid_table(32, 64))
    vit_mp = tiny_vit(use_mean_pooling=True)
    keys = set(vit_mp.state_dict())
    assert 'fc_norm.weight' in keys and 'norm.weight' not in keys


def test_forward_shapes_and_mask():
    torch.manual_seed(0)
    vit = tiny_vit().eval()
    x = torch.randn(2, 3, 4, 32, 32)
    full = vit(x)
    assert full.shape == (2, 32, 64)
    mask = tube_masks(2)
    vis = vit(x, mask)
    assert vis.shape == (2, 8, 64)
    # Masking happens after the positional table, so tokens differ from the
    # full-sequence ones only through attention; a mask hiding nothing
    # reproduces the unmasked forward.
    none = torch.zeros(2, 32, dtype=torch.bool)
    torch.testing.assert_close(vit(x, none), full)
    with pytest.raises(ValueError, match='same number'):
        bad = mask.clone()
        bad[0, mask[0].nonzero()[0]] = False
        vit(x, bad)
    with pytest.raises(ValueError, match='shape'):
        vit(x, mask[:, :16])
    with pytest.raises(ValueError, match='bool'):
        vit(x, mask.long())
    with pytest.raises(ValueError, match='divisible'):
        vit(torch.randn(1, 3, 3, 32, 32))


def test_mean_pooling():
    vit = tiny_vit(use_mean_pooling=True).eval()
    x = torch.randn(2, 3, 4, 32, 32)
    out = vit(x)
    assert out.shape == (2, 64)
    assert isinstance(vit.norm, torch.nn.Identity)
    # With a mask the tokens are returned (pretraining-style use).
    assert vit(x, tube_masks(2)).shape == (2, 8, 64)


def test_pos_interpolation_other_clip_length_and_size():
    vit = tiny_vit().eval()
    out = vit(torch.randn(1, 3, 8, 48, 32))
    assert out.shape == (1, 4 * 6 * 4, 64)
    pos = vit.get_pos_embed((4, 6, 4))
    assert pos.shape == (1, 96, 64)
    assert vit.get_pos_embed((2, 4, 4)) is vit.pos_embed
    mask = torch.zeros(1, 96, dtype=torch.bool)
    mask[:, ::2] = True
    assert vit(torch.randn(1, 3, 8, 48, 32), mask).shape == (1, 48, 64)


def test_with_cp_equivalence():
    torch.manual_seed(0)
    ref = tiny_vit(drop_path_rate=0.).train()
    cp_vit = tiny_vit(with_cp=True).train()
    cp_vit.load_state_dict(ref.state_dict())
    x = torch.randn(2, 3, 4, 32, 32)
    mask = tube_masks(2)
    out_ref = ref(x, mask)
    out_cp = cp_vit(x, mask)
    torch.testing.assert_close(out_cp, out_ref)
    out_ref.square().sum().backward()
    out_cp.square().sum().backward()
    for (name, p_ref), p_cp in zip(ref.named_parameters(),
                                   cp_vit.parameters()):
        torch.testing.assert_close(p_cp.grad, p_ref.grad, msg=name)


def test_layer_depth():
    vit = tiny_vit()
    assert vit.get_layer_depth('backbone.patch_embed.proj.weight',
                               'backbone.') == (0, 4)
    assert vit.get_layer_depth('backbone.blocks.0.norm1.weight',
                               'backbone.') == (1, 4)
    assert vit.get_layer_depth('backbone.blocks.1.mlp.fc1.bias',
                               'backbone.') == (2, 4)
    assert vit.get_layer_depth('backbone.norm.weight', 'backbone.') == (3, 4)
    assert vit.get_layer_depth('neck.mask_token', 'backbone.') == (3, 4)
    assert vit.get_layer_depth('blocks.1.attn.qkv.weight') == (2, 4)
    assert vit.no_weight_decay() == {'pos_embed', 'cls_token'}


def test_init_weights():
    vit = tiny_vit()
    with torch.no_grad():
        vit.blocks[0].norm1.weight.fill_(3.)
        vit.blocks[0].attn.q_bias.fill_(1.)
    vit.init_weights()
    assert torch.equal(vit.blocks[0].norm1.weight, torch.ones(64))
    assert torch.equal(vit.blocks[0].attn.q_bias, torch.zeros(64))
    assert torch.equal(vit.blocks[0].mlp.fc1.bias, torch.zeros(256))
    bound = (6 / (64 + 256))**0.5  # xavier uniform
    assert vit.blocks[0].mlp.fc1.weight.abs().max() <= bound
    # An explicit init_cfg replaces the official pretraining init.
    vit = tiny_vit(
        init_cfg=dict(type='TruncNormal', layer='Linear', std=.02, bias=0.))
    vit.init_weights()
    assert vit.blocks[0].mlp.fc1.weight.std() < 0.03


def test_build_from_registry():
    vit = MODELS.build(
        dict(type='mmmae.VideoMAEViT', arch=dict(TINY_ARCH), img_size=32,
             patch_size=8, num_frames=4))
    assert isinstance(vit, VideoMAEViT)
