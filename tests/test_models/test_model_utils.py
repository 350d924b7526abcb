# Copyright (c) mmmae contributors. All rights reserved.
import math

import numpy as np
import pytest
import torch
from einops import rearrange

from mmmae.models.utils import (Attention, DropPath, TransformerBlock,
                                get_sinusoid_table, interpolate_pos_table,
                                patchify, unpatchify)


def test_sinusoid_table_formula():
    n, d = 12, 10
    table = get_sinusoid_table(n, d)
    assert table.shape == (n, d) and table.dtype == torch.float32
    ref = np.zeros((n, d))
    for pos in range(n):
        for j in range(d):
            angle = pos / np.power(10000, 2 * (j // 2) / d)
            ref[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    assert torch.equal(table, torch.from_numpy(ref).float())


def test_patchify_layout_and_roundtrip():
    video = torch.randn(2, 3, 4, 8, 12)
    x = patchify(video, 2, 4)
    ref = rearrange(
        video,
        'b c (t p0) (h p1) (w p2) -> b (t h w) (p0 p1 p2 c)',
        p0=2, p1=4, p2=4)
    assert torch.equal(x, ref)
    assert torch.equal(unpatchify(x, (2, 2, 3), 2, 4, 3), video)
    with pytest.raises(ValueError):
        patchify(torch.randn(1, 3, 3, 8, 8), 2, 4)


def test_interpolate_pos_table():
    table = get_sinusoid_table(2 * 3 * 3, 8)
    assert torch.equal(interpolate_pos_table(table, (2, 3, 3), (2, 3, 3)),
                       table)
    out = interpolate_pos_table(table[None], (2, 3, 3), (4, 5, 6))
    assert out.shape == (1, 4 * 5 * 6, 8)
    # A grid constant along time stays constant under temporal resampling.
    flat = table.reshape(2, 9, 8)[:1].expand(2, 9, 8).reshape(18, 8)
    up = interpolate_pos_table(flat, (2, 3, 3), (4, 3, 3)).reshape(4, 9, 8)
    torch.testing.assert_close(up, flat.reshape(2, 9, 8)[:1].expand(4, 9, 8))
    with pytest.raises(ValueError):
        interpolate_pos_table(table, (2, 3, 2), (2, 3, 3))


def _explicit_attention(attn: Attention, x: torch.Tensor) -> torch.Tensor:
    B, N, C = x.shape
    w = attn.qkv.weight
    q = x @ w[:C].T + attn.q_bias
    k = x @ w[C:2 * C].T
    v = x @ w[2 * C:].T + attn.v_bias
    h = attn.num_heads

    def split(t):
        return t.reshape(B, N, h, -1).transpose(1, 2)

    q, k, v = split(q), split(k), split(v)
    a = (q * attn.scale) @ k.transpose(-2, -1)
    out = (a.softmax(-1) @ v).transpose(1, 2).reshape(B, N, C)
    return attn.proj(out)


def test_attention_matches_explicit_softmax():
    torch.manual_seed(0)
    attn = Attention(32, num_heads=4).eval()
    with torch.no_grad():
        attn.q_bias.normal_()
        attn.v_bias.normal_()
    x = torch.randn(2, 7, 32)
    assert attn.qkv.bias is None
    torch.testing.assert_close(attn(x), _explicit_attention(attn, x),
                               rtol=1e-5, atol=1e-5)


def test_attention_without_bias_and_dropout_only_in_training():
    attn = Attention(16, num_heads=2, qkv_bias=False, attn_drop=0.9)
    assert attn.q_bias is None and attn.v_bias is None
    x = torch.randn(1, 5, 16)
    attn.eval()
    torch.testing.assert_close(attn(x), attn(x))
    attn.train()
    torch.manual_seed(0)
    assert not torch.allclose(attn(x), attn.eval()(x))


def test_block_keys_and_layer_scale():
    blk = TransformerBlock(16, 2, 32)
    keys = set(blk.state_dict())
    assert {'norm1.weight', 'attn.qkv.weight', 'attn.q_bias', 'attn.v_bias',
            'attn.proj.bias', 'norm2.bias', 'mlp.fc1.weight',
            'mlp.fc2.bias'} <= keys
    assert 'attn.qkv.bias' not in keys and 'gamma_1' not in keys
    assert blk.norm1.eps == 1e-6
    blk_ls = TransformerBlock(16, 2, 32, layer_scale_init_value=0.1)
    assert torch.equal(blk_ls.gamma_1, torch.full((16, ), 0.1))
    assert blk_ls(torch.randn(2, 3, 16)).shape == (2, 3, 16)


def test_drop_path():
    dp = DropPath(0.5)
    x = torch.ones(64, 3)
    assert torch.equal(dp.eval()(x), x)
    dp.train()
    y = dp(x)
    assert set(y.unique().tolist()) <= {0., 2.}
