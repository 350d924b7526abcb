# Copyright (c) mmmae contributors. All rights reserved.
import pytest
import torch
from _videomae_helpers import running_cell_decoder_masks, tube_masks

from mmmae.models import VideoMAEPretrainDecoder
from mmmae.models.utils import get_sinusoid_table


def tiny_decoder(**kwargs):
    cfg = dict(embed_dims=64, decoder_embed_dims=32, decoder_depth=2,
               decoder_num_heads=2, patch_size=8)
    cfg.update(kwargs)
    return VideoMAEPretrainDecoder(**cfg)


def test_keys_and_mask_token_init():
    torch.manual_seed(0)
    dec = tiny_decoder()
    keys = set(dec.state_dict())
    assert {'encoder_to_decoder.weight', 'mask_token', 'norm.weight',
            'head.weight', 'blocks.1.attn.v_bias'} <= keys
    assert 'encoder_to_decoder.bias' not in keys
    assert dec.head.out_features == 3 * 2 * 8 * 8
    assert dec.mask_token.shape == (1, 1, 32)
    assert dec.mask_token.abs().max() <= 0.02
    dec.init_weights()
    assert dec.mask_token.abs().max() <= 0.02
    assert dec.mask_token.abs().max() > 0
    assert dec.no_weight_decay() == {'mask_token'}


def test_v1_shapes_and_pos_cache():
    dec = tiny_decoder().eval()
    mask = tube_masks(2)
    out = dec(torch.randn(2, 8, 64), mask)
    assert out.shape == (2, 24, 384)
    table = dec.get_pos_embed(32, torch.device('cpu'))
    assert torch.equal(table[0], get_sinusoid_table(32, 32))
    assert dec.get_pos_embed(32, torch.device('cpu')) is table
    assert 'pos_embed' not in dec.state_dict()
    with pytest.raises(ValueError, match='encoder gave'):
        dec(torch.randn(2, 9, 64), mask)


def test_v2_matches_v1_when_decoding_the_masked_tokens():
    torch.manual_seed(0)
    dec = tiny_decoder().eval()
    mask = tube_masks(2)
    x = torch.randn(2, 8, 64)
    torch.testing.assert_close(dec(x, mask, ~mask), dec(x, mask))
    dm = running_cell_decoder_masks(2)
    out = dec(x, mask, dm)
    assert out.shape == (2, 16, 384)
    bad = dm.clone()
    bad[0, (~dm[0]).nonzero()[0]] = True
    with pytest.raises(ValueError, match='same number'):
        dec(x, mask, bad)


def test_v1_gathers_tokens_not_unshuffles():
    """The output for a masked token depends on its position only through
    the gathered positional table (permutation-equivariant attention)."""
    torch.manual_seed(0)
    dec = tiny_decoder().eval()
    mask = tube_masks(1)
    x = torch.randn(1, 8, 64)
    pos = dec.get_pos_embed(32, x.device)
    e2d = dec.encoder_to_decoder(x)
    full = torch.cat([e2d + pos[:, ~mask[0]],
                      dec.mask_token + pos[:, mask[0]]], dim=1)
    for blk in dec.blocks:
        full = blk(full)
    ref = dec.head(dec.norm(full[:, 8:]))
    torch.testing.assert_close(dec(x, mask), ref)


def test_with_cp_equivalence():
    torch.manual_seed(0)
    ref = tiny_decoder().train()
    cp_dec = tiny_decoder(with_cp=True).train()
    cp_dec.load_state_dict(ref.state_dict())
    x = torch.randn(2, 8, 64, requires_grad=True)
    mask = tube_masks(2)
    a, b = ref(x, mask), cp_dec(x, mask)
    torch.testing.assert_close(a, b)
    a.sum().backward()
    b.sum().backward()
    torch.testing.assert_close(cp_dec.mask_token.grad, ref.mask_token.grad)
