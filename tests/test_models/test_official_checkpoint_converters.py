# Copyright (c) mmmae contributors. All rights reserved.
import pytest
import torch

from mmmae.models.utils import get_sinusoid_table
from mmmae.utils.checkpoint_converters import (convert_official_videomae,
                                               official_to_backbone,
                                               unwrap_checkpoint)


def official_pretrain_sd():
    t = torch.zeros(1)
    sd = {'mask_token': t, 'encoder_to_decoder.weight': t}
    for pre in ('encoder.', 'decoder.'):
        sd.update({
            f'{pre}blocks.0.norm1.weight': t,
            f'{pre}blocks.0.attn.qkv.weight': t,
            f'{pre}blocks.0.attn.q_bias': t,
            f'{pre}blocks.0.attn.v_bias': t,
            f'{pre}blocks.0.mlp.fc2.bias': t,
            f'{pre}norm.weight': t,
        })
    sd['encoder.patch_embed.proj.weight'] = t
    sd['decoder.head.weight'] = t
    return sd


def test_unwrap_variants():
    sd = {'a.weight': torch.ones(1)}
    assert list(unwrap_checkpoint(sd)) == ['a.weight']
    for key in ('model', 'module', 'state_dict', 'model_state'):
        assert list(unwrap_checkpoint({key: sd, 'epoch': 3})) == ['a.weight']
    nested = {'state_dict': {'module.a.weight': torch.ones(1)}, 'meta': {}}
    assert list(unwrap_checkpoint(nested)) == ['a.weight']
    compiled = {'model': {'_orig_mod.encoder.x': torch.ones(1),
                          'module._orig_mod.b': torch.ones(1),
                          'enc._orig_mod.c': torch.ones(1)}}
    assert list(unwrap_checkpoint(compiled)) == ['encoder.x', 'b', 'enc.c']
    with pytest.raises(KeyError, match='no state dict'):
        unwrap_checkpoint({'epoch': 1})
    with pytest.raises(TypeError):
        unwrap_checkpoint([1])
    with pytest.raises(KeyError, match='collide'):
        unwrap_checkpoint({'module.a': torch.ones(1), 'a': torch.ones(1)})


def test_pretrain_mapping():
    out = convert_official_videomae({'model': official_pretrain_sd()})
    assert set(out) == {
        'neck.mask_token', 'neck.encoder_to_decoder.weight',
        'backbone.blocks.0.norm1.weight', 'backbone.blocks.0.attn.qkv.weight',
        'backbone.blocks.0.attn.q_bias', 'backbone.blocks.0.attn.v_bias',
        'backbone.blocks.0.mlp.fc2.bias', 'backbone.norm.weight',
        'backbone.patch_embed.proj.weight', 'neck.blocks.0.norm1.weight',
        'neck.blocks.0.attn.qkv.weight', 'neck.blocks.0.attn.q_bias',
        'neck.blocks.0.attn.v_bias', 'neck.blocks.0.mlp.fc2.bias',
        'neck.norm.weight', 'neck.head.weight'
    }
    bb = official_to_backbone(official_pretrain_sd())
    assert 'blocks.0.attn.q_bias' in bb and 'norm.weight' in bb
    assert not any(k.startswith(('neck', 'decoder')) for k in bb)


def test_finetune_mapping():
    t = torch.zeros(1)
    sd = {'module': {'patch_embed.proj.bias': t, 'blocks.3.gamma_1': t,
                     'fc_norm.weight': t, 'head.weight': t, 'head.bias': t}}
    out = convert_official_videomae(sd)
    assert set(out) == {'backbone.patch_embed.proj.bias',
                        'backbone.blocks.3.gamma_1',
                        'backbone.fc_norm.weight', 'cls_head.fc_cls.weight',
                        'cls_head.fc_cls.bias'}


def test_unknown_keys_are_reported():
    sd = official_pretrain_sd()
    sd['encoder.blocks.0.attn.qkv.bias'] = torch.zeros(3)
    sd['encoder.head.weight'] = torch.zeros(3)
    sd['cls_token'] = torch.zeros(3)
    with pytest.raises(KeyError, match='no mmmae counterpart'):
        convert_official_videomae(sd)
    with pytest.warns(UserWarning, match='no mmmae counterpart'):
        out, unknown = convert_official_videomae(
            sd, strict=False, return_unknown=True)
    assert set(unknown) == {'encoder.blocks.0.attn.qkv.bias',
                            'encoder.head.weight', 'cls_token'}
    assert 'neck.mask_token' in out
    with pytest.raises(KeyError):
        official_to_backbone(sd)


def test_fixed_pos_embed_is_dropped_learned_one_reported():
    sd = official_pretrain_sd()
    sd['encoder.pos_embed'] = get_sinusoid_table(8, 4)[None]
    out = convert_official_videomae(sd)
    assert not any('pos_embed' in k for k in out)
    sd['encoder.pos_embed'] = torch.randn(1, 8, 4)
    with pytest.raises(KeyError, match='pos_embed'):
        convert_official_videomae(sd)
