# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAEViT as an mmseg / mmpretrain backbone (downstream mode)."""
import pytest
import torch
from _multimae_helpers import tiny_backbone_cfg
from conftest import load_fixture
from mmengine.registry import DefaultScope

from mmmae.models.backbones.multimae_vit import load_multimae_backbone
from mmmae.utils import convert_official_multimae, multimae_to_timm

TOL = dict(rtol=1e-5, atol=1e-5)


def _build_in_mmseg_scope(cfg):
    """Build through mmseg's registry exactly as an mmseg config does."""
    from mmseg.registry import MODELS as SEG_MODELS
    with DefaultScope.overwrite_default_scope('mmseg'):
        return SEG_MODELS.build(cfg)


@pytest.fixture(scope='module')
def multivit():
    return load_fixture('multimae_multivit_tiny.pth')


@pytest.mark.parametrize('key,channels', [('rgb', dict(rgb=3)),
                                          ('rgb-depth', dict(rgb=3,
                                                             depth=1))])
def test_fixture_tokens_through_mmseg_scope(multivit, key, channels, tmp_path):
    """The official MultiViT checkpoint file, loaded by init_cfg=Pretrained
    into the mmseg-built backbone, reproduces the official encoder tokens
    from a channel-stacked tensor (what mmseg's EncoderDecoder passes)."""
    ckpt = tmp_path / 'multivit.pth'
    torch.save(multivit['checkpoint'], ckpt)
    bb = _build_in_mmseg_scope(
        tiny_backbone_cfg(
            out_indices=(-1, ),
            out_type='raw',
            input_channels=channels,
            init_cfg=dict(type='Pretrained', checkpoint=str(ckpt))))
    bb.init_weights()
    bb.eval()
    x = torch.cat([multivit['inputs'][m] for m in channels], dim=1)
    with torch.no_grad():
        (tokens, ) = bb(x)
    torch.testing.assert_close(tokens, multivit['encoder_tokens'][key], **TOL)


def test_featmaps_are_main_task_tokens(multivit):
    bb = _build_in_mmseg_scope(
        tiny_backbone_cfg(
            out_indices=(0, 1),
            main_tasks=('rgb', 'depth'),
            input_channels=dict(rgb=3, depth=1)))
    sd = convert_official_multimae(multivit['checkpoint'])
    bb.load_state_dict(
        {k[9:]: v
         for k, v in sd.items() if k.startswith('backbone.')})
    bb.eval()
    x = torch.cat([multivit['inputs']['rgb'], multivit['inputs']['depth']],
                  1)
    with torch.no_grad():
        maps = bb(x)
    assert [tuple(m.shape) for m in maps] == [(2, 128, 4, 4)] * 2
    # the last map is the rgb tokens then the depth tokens, channel-stacked
    ref = multivit['encoder_tokens']['rgb-depth']  # (2, 16 + 16 + 1, 64)
    rgb = ref[:, :16].transpose(1, 2).reshape(2, 64, 4, 4)
    depth = ref[:, 16:32].transpose(1, 2).reshape(2, 64, 4, 4)
    torch.testing.assert_close(maps[-1], torch.cat([rgb, depth], 1), **TOL)


def test_semseg_channel_is_subsampled_to_its_stride():
    bb = _build_in_mmseg_scope(
        tiny_backbone_cfg(out_indices=(-1, ), main_tasks=('semseg', ),
                          input_channels=dict(semseg=1)))
    ids = torch.randint(0, 5, (1, 1, 32, 32))
    (m, ) = bb(ids.float())
    # same tokens as the official (B, H/4, W/4) id map in pre-training mode
    bb.out_indices = None
    tokens, _ = bb({'semseg': ids[:, 0, ::4, ::4]})
    assert m.shape == (1, 64, 4, 4)
    torch.testing.assert_close(
        m, tokens[:, :16].transpose(1, 2).reshape(1, 64, 4, 4))


def test_bad_configs_name_the_field():
    from mmmae.registry import MODELS
    with pytest.raises(ValueError, match='out_indices'):
        MODELS.build(tiny_backbone_cfg(out_indices=(5, )))
    with pytest.raises(ValueError, match='main_tasks'):
        MODELS.build(tiny_backbone_cfg(out_indices=(1, ), main_tasks=('x', )))
    with pytest.raises(ValueError, match='out_type'):
        MODELS.build(tiny_backbone_cfg(out_indices=(1, ), out_type='cls'))
    bb = MODELS.build(
        tiny_backbone_cfg(out_indices=(1, ), input_channels=dict(rgb=3)))
    with pytest.raises(ValueError, match='input_channels'):
        bb(torch.zeros(1, 4, 32, 32))
    bb = MODELS.build(
        tiny_backbone_cfg(out_indices=(1, ), main_tasks=('rgb', ),
                          input_channels=dict(depth=1)))
    with pytest.raises(ValueError, match="main_tasks"):
        bb(torch.zeros(1, 1, 32, 32))


def test_loader_resizes_pos_emb_and_class_table(multivit, tmp_path):
    """Fine-tuning at another size and label set, from an mmmae-layout
    checkpoint: pos_emb is interpolated, class_emb rows are kept, unused
    groups are reported, a missing file names the fix."""
    from mmmae.registry import MODELS
    sd = convert_official_multimae(multivit['checkpoint'])
    sd['neck.something.weight'] = torch.zeros(2)
    path = tmp_path / 'mmmae.pth'
    torch.save({'state_dict': sd, 'meta': {}}, path)
    cfg = tiny_backbone_cfg(img_size=48, out_indices=(-1, ))
    cfg['input_adapters']['semseg']['num_classes'] = 7
    bb = MODELS.build(cfg)
    report = load_multimae_backbone(bb, str(path))
    assert bb.input_adapters['rgb'].pos_emb.shape[-2:] == (6, 6)
    assert any('pos_emb' in r for r in report['resized'])
    assert any('class_emb' in r for r in report['resized'])
    table = sd['backbone.input_adapters.semseg.class_emb.weight']
    torch.testing.assert_close(
        bb.input_adapters['semseg'].class_emb.weight[:5], table)
    assert report['missing'] == [] and report['unexpected'] == []
    assert 'neck: 1' in report['dropped'] and 'head: 4' in report['dropped']
    # RGB-only timm weights into an RGB-D backbone: depth stays fresh
    timm_sd = multimae_to_timm(sd)
    bb = MODELS.build(tiny_backbone_cfg(out_indices=(-1, )))
    report = load_multimae_backbone(bb, {'state_dict': timm_sd})
    assert any(k.startswith('input_adapters.depth') for k in report['missing'])
    with pytest.raises(FileNotFoundError, match='init_cfg.checkpoint'):
        load_multimae_backbone(bb, str(tmp_path / 'nope.pth'))
    bad = dict(timm_sd)
    bad['blocks.0.mlp.fc1.weight'] = torch.zeros(3, 3)
    with pytest.raises(RuntimeError, match='encoder.0.mlp.fc1.weight'):
        load_multimae_backbone(bb, bad)


def test_frozen_backbone_for_linear_probing():
    from mmmae.registry import MODELS
    bb = MODELS.build(
        tiny_backbone_cfg(out_indices=(-1, ), frozen=True,
                          drop_path_rate=0.5))
    assert not any(p.requires_grad for p in bb.parameters())
    bb.train()
    assert not bb.training and not bb.encoder[1].training
    x = {'rgb': torch.randn(1, 3, 32, 32)}
    (a, ), (b, ) = bb(x), bb(x)  # eval mode: drop path off, deterministic
    torch.testing.assert_close(a, b, rtol=0, atol=0)
