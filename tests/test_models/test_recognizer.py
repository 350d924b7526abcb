# Copyright (c) mmmae contributors. All rights reserved.
"""VideoMAEViT as the backbone of MMAction2's Recognizer3D: official
fine-tuned parity through the recognizer, MMAction2 VisionTransformer
checkpoints loading as they are, and pretrained-encoder loading from every
checkpoint layout with a report of what was not used."""
import pytest
import torch
from conftest import load_fixture
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint

import mmmae  # noqa: F401
from mmmae.models.backbones.videomae_vit import (VideoMAEViT,
                                                 load_backbone_checkpoint)
from mmmae.utils.checkpoint_converters import convert_official_videomae

ATOL = 1e-5
MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


def _fixture_backbone_cfg(cfg, **kwargs):
    out = dict(
        type='mmmae.VideoMAEViT',
        arch=dict(embed_dims=cfg['embed_dim'], num_layers=cfg['depth'],
                  num_heads=cfg['num_heads'], mlp_ratio=cfg['mlp_ratio']),
        img_size=cfg['img_size'],
        patch_size=cfg['patch_size'],
        num_frames=cfg['all_frames'],
        tubelet_size=cfg['tubelet_size'],
        use_mean_pooling=True)
    out.update(kwargs)
    return out


def _recognizer(backbone, num_classes, in_channels):
    from mmaction.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmaction'):
        return MODELS.build(
            dict(
                type='Recognizer3D',
                backbone=backbone,
                cls_head=dict(
                    type='TimeSformerHead',
                    num_classes=num_classes,
                    in_channels=in_channels,
                    average_clips='prob'),
                data_preprocessor=dict(
                    type='ActionDataPreprocessor', mean=MEAN, std=STD,
                    format_shape='NCTHW')))


def test_official_finetuned_parity_through_recognizer(tmp_path):
    fx = load_fixture('videomae_v1_finetune_tiny.pth')
    cfg = fx['config']
    model = _recognizer(
        _fixture_backbone_cfg(cfg), cfg['num_classes'],
        cfg['embed_dim']).eval()
    # the official file, converted, loads strictly into the recognizer
    sd = convert_official_videomae(fx['checkpoint'])
    model.load_state_dict(sd, strict=False)
    missing = set(model.state_dict()) - set(sd)
    assert missing <= {'data_preprocessor.mean', 'data_preprocessor.std'}
    with torch.no_grad():
        feats = model.extract_feat(fx['inputs'][:, None], stage='backbone')[0]
        logits = model.cls_head(feats)
    torch.testing.assert_close(feats, fx['features'], rtol=0, atol=ATOL)
    torch.testing.assert_close(logits, fx['logits'], rtol=0, atol=ATOL)

    # multi-view test: softmax per view, then the mean ('prob')
    from mmaction.structures import ActionDataSample
    x = fx['inputs']
    views = torch.stack([x, x.flip(-1)], dim=1)  # (N, 2 views, C, T, H, W)
    with torch.no_grad():
        out = model.predict(views, [ActionDataSample(), ActionDataSample()])
        per_view = model.cls_head(model.backbone(torch.cat(
            [x, x.flip(-1)]))).softmax(-1)
    expected = (per_view[:2] + per_view[2:]) / 2
    got = torch.stack([o.pred_score for o in out])
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)


def _perturbed(module, seed=0):
    g = torch.Generator().manual_seed(seed)
    sd = module.state_dict()
    for key, value in sd.items():
        if value.is_floating_point() and 'pos_embed' not in key \
                and 'data_preprocessor' not in key:
            value.add_(torch.randn(value.shape, generator=g) * 0.1)
    return sd


def test_mmaction2_videomae_checkpoint_loads_as_is(tmp_path):
    """MMAction2's own VisionTransformer recognizer -> our backbone."""
    theirs = _recognizer(
        dict(type='VisionTransformer', img_size=32, patch_size=8,
             embed_dims=64, depth=2, num_heads=4, mlp_ratio=4,
             qkv_bias=True, num_frames=4,
             norm_cfg=dict(type='LN', eps=1e-6)), 5, 64).eval()
    sd = _perturbed(theirs)
    assert 'backbone.patch_embed.projection.weight' in sd
    assert 'backbone.blocks.0.mlp.layers.0.0.weight' in sd
    assert 'backbone.pos_embed' in sd  # a saved buffer in MMAction2
    path = str(tmp_path / 'mmaction2_videomae.pth')
    torch.save({'state_dict': sd, 'meta': {}}, path)

    ours = _recognizer(
        dict(type='mmmae.VideoMAEViT',
             arch=dict(embed_dims=64, num_layers=2, num_heads=4,
                       mlp_ratio=4), img_size=32, patch_size=8,
             num_frames=4, use_mean_pooling=True), 5, 64).eval()
    # what `load_from` does: every key used, none missing
    result = ours.load_state_dict(dict(sd), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    load_checkpoint(ours, path, strict=True)
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            ours.cls_head(ours.backbone(x)),
            theirs.cls_head(theirs.backbone(x)), rtol=0, atol=ATOL)

    # the same file as a Pretrained encoder of a fresh backbone
    vit = VideoMAEViT(
        arch=dict(embed_dims=64, num_layers=2, num_heads=4, mlp_ratio=4),
        img_size=32, patch_size=8, num_frames=4, use_mean_pooling=True,
        init_cfg=dict(type='Pretrained', checkpoint=path)).eval()
    vit.init_weights()
    with torch.no_grad():
        torch.testing.assert_close(vit(x), theirs.backbone(x), rtol=0,
                                   atol=ATOL)


def test_learned_pos_embed_is_not_dropped_silently():
    vit = VideoMAEViT(
        arch=dict(embed_dims=32, num_layers=1, num_heads=2, mlp_ratio=2),
        img_size=16, patch_size=8, num_frames=2, use_mean_pooling=True)
    sd = vit.state_dict()
    sd['pos_embed'] = torch.randn(1, 4, 32)
    result = vit.load_state_dict(sd, strict=False)
    assert result.unexpected_keys == ['pos_embed']


def _capture_log():
    logger = MMLogger.get_current_instance()
    records = []
    import logging
    handler = logging.Handler()
    handler.emit = lambda r: records.append(r.getMessage())
    logger.addHandler(handler)
    return records, lambda: logger.removeHandler(handler)


def test_load_from_official_pretraining_reports_unused():
    fx = load_fixture('videomae_v1_pretrain_tiny.pth')
    cfg = fx['config']
    vit = VideoMAEViT(
        arch=dict(embed_dims=cfg['encoder_embed_dim'],
                  num_layers=cfg['encoder_depth'],
                  num_heads=cfg['encoder_num_heads'], mlp_ratio=4.),
        img_size=cfg['img_size'], patch_size=cfg['patch_size'],
        num_frames=16, use_mean_pooling=True)
    records, done = _capture_log()
    try:
        info = load_backbone_checkpoint(vit, fx['checkpoint'])
    finally:
        done()
    assert info['format'] == 'official-pretrain'
    assert info['missing'] == ['fc_norm.weight', 'fc_norm.bias']
    assert not info['unexpected']
    assert any(k.startswith('neck.blocks.') for k in info['dropped'])
    assert {'neck.mask_token', 'neck.encoder_to_decoder.weight', 'norm.weight',
            'norm.bias'} <= set(info['dropped'])
    text = '\n'.join(records)
    assert 'not used' in text and 'decoder' in text
    assert 'final encoder norm' in text
    sd = fx['checkpoint']['model']
    torch.testing.assert_close(vit.blocks[1].attn.v_bias,
                               sd['encoder.blocks.1.attn.v_bias'])
    # a different clip length: the table is recomputed, nothing to load
    vit8 = VideoMAEViT(
        arch=dict(embed_dims=64, num_layers=2, num_heads=4, mlp_ratio=4.),
        img_size=32, patch_size=8, num_frames=8, use_mean_pooling=True)
    load_backbone_checkpoint(vit8, fx['checkpoint'])
    assert vit8(torch.randn(1, 3, 8, 32, 32)).shape == (1, 64)


def test_load_from_mmmae_pretraining_and_finetuned(tmp_path):
    from mmmae.registry import MODELS
    from test_models._videomae_helpers import tiny_model_cfg
    algo = MODELS.build(tiny_model_cfg())
    algo.init_weights()
    path = str(tmp_path / 'pre.pth')
    torch.save({'state_dict': algo.state_dict(), 'meta': {}}, path)
    vit = VideoMAEViT(
        arch=dict(embed_dims=64, num_layers=2, num_heads=4, mlp_ratio=4.),
        img_size=32, patch_size=8, num_frames=4, use_mean_pooling=True,
        init_cfg=dict(type='Pretrained', checkpoint=path))
    vit.init_weights()
    assert torch.equal(vit.blocks[0].mlp.fc1.weight,
                       algo.backbone.blocks[0].mlp.fc1.weight)
    # fc_norm starts fresh, as the official fine-tuning
    assert torch.equal(vit.fc_norm.weight, torch.ones(64))
    assert torch.equal(vit.fc_norm.bias, torch.zeros(64))

    # the pretraining-layout backbone keeps its norm and takes no fc_norm
    fx = load_fixture('videomae_v1_finetune_tiny.pth')
    plain = VideoMAEViT(
        arch=dict(embed_dims=64, num_layers=2, num_heads=4, mlp_ratio=4.),
        img_size=32, patch_size=8, num_frames=4)
    info = load_backbone_checkpoint(plain, fx['checkpoint'])
    assert info['missing'] == ['norm.weight', 'norm.bias']
    assert {'fc_norm.weight', 'cls_head.fc_cls.weight'} <= set(
        info['dropped'])
    with pytest.raises(RuntimeError, match='norm'):
        load_backbone_checkpoint(plain, fx['checkpoint'], strict=True)


def test_wrong_architecture_names_the_file(tmp_path):
    fx = load_fixture('videomae_v1_finetune_tiny.pth')
    path = str(tmp_path / 'official_ft.pth')
    torch.save(fx['checkpoint'], path)
    vit = VideoMAEViT(
        arch=dict(embed_dims=32, num_layers=2, num_heads=4, mlp_ratio=4.),
        img_size=32, patch_size=8, num_frames=4, use_mean_pooling=True)
    with pytest.raises(RuntimeError, match='official_ft.pth'):
        load_backbone_checkpoint(vit, path)
    missing = str(tmp_path / 'nope' / 'epoch_800.pth')
    with pytest.raises(FileNotFoundError, match='init_cfg.checkpoint'):
        load_backbone_checkpoint(vit, missing)


def test_head_init_scale():
    """init_std 0.02 x 0.001 = the official trunc-normal x init_scale."""
    model = _recognizer(
        dict(type='mmmae.VideoMAEViT',
             arch=dict(embed_dims=256, num_layers=1, num_heads=4,
                       mlp_ratio=1), img_size=16, patch_size=8,
             num_frames=2, use_mean_pooling=True), 400, 256)
    model.cls_head.init_std = 0.02 * 0.001
    model.cls_head.init_weights()
    w = model.cls_head.fc_cls.weight
    assert abs(float(w.std()) - 2e-5) < 2e-6
    assert torch.equal(model.cls_head.fc_cls.bias, torch.zeros(400))
