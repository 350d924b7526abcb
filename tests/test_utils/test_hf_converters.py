# Copyright (c) mmmae contributors. All rights reserved.
"""HuggingFace VideoMAE -> mmmae conversion: numerical parity with the
installed ``transformers`` models (random init, perturbed biases/norms)."""
import re
import warnings

import pytest
import torch
import torch.nn.functional as F

import mmmae  # noqa: F401
from mmmae.registry import MODELS
from mmmae.utils.hf_converters import (HFConversionError, convert_hf_videomae,
                                       hf_bias_layout, inspect_hf_videomae,
                                       is_hf_videomae)

transformers = pytest.importorskip('transformers')
from transformers import (VideoMAEConfig, VideoMAEForPreTraining,  # noqa
                          VideoMAEForVideoClassification)

# The official models and mmmae use LayerNorm eps 1e-6. HF's layer_norm_eps
# is a config value (default 1e-12) and its fc_norm/decoder.norm hard-code
# PyTorch's 1e-5; eps is not a weight, so the tests align it on the HF side.
EPS = 1e-6
TOL = 1e-5
IMG, PATCH, TUBELET = 32, 8, 2


def hf_config(num_frames=16, use_mean_pooling=False, norm_pix_loss=True,
              **kwargs):
    cfg = dict(
        image_size=IMG,
        patch_size=PATCH,
        num_channels=3,
        num_frames=num_frames,
        tubelet_size=TUBELET,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=256,
        decoder_hidden_size=32,
        decoder_num_hidden_layers=2,
        decoder_num_attention_heads=2,
        decoder_intermediate_size=128,
        norm_pix_loss=norm_pix_loss,
        use_mean_pooling=use_mean_pooling,
        qkv_bias=True,
        layer_norm_eps=EPS,
        hidden_act='gelu')
    cfg.update(kwargs)
    return VideoMAEConfig(**cfg)


def perturb_(model: torch.nn.Module, seed: int = 1234) -> None:
    """Add N(0, 0.1^2) to every 1-D parameter and the mask token.

    Fresh biases are 0 and LayerNorms identity, which would let a converter
    drop or swap them (e.g. q/v biases) and still pass.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 or name.endswith('mask_token'):
                p.add_(0.1 * torch.randn(p.shape, generator=gen))


def set_norm_eps_(model: torch.nn.Module, eps: float = EPS) -> None:
    for m in model.modules():
        if isinstance(m, torch.nn.LayerNorm):
            m.eps = eps


def build_hf(cls, config, seed=0):
    torch.manual_seed(seed)
    model = cls(config)
    perturb_(model, seed + 1)
    set_norm_eps_(model)
    return model.eval()


def tube_mask(batch, grid, num_masked_per_frame, seed=0):
    """V1 tube masks, a different spatial mask per sample, same count."""
    t, h, w = grid
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(batch):
        frame = torch.zeros(h * w, dtype=torch.bool)
        frame[torch.randperm(h * w, generator=gen)[:num_masked_per_frame]] = 1
        rows.append(frame.repeat(t))
    return torch.stack(rows)


def ours_pretrain(norm_pix=True, num_frames=16, use_mean_pooling=False):
    model = MODELS.build(
        dict(
            type='mmmae.VideoMAE',
            backbone=dict(
                type='mmmae.VideoMAEViT',
                arch=dict(
                    embed_dims=64,
                    num_layers=2,
                    num_heads=4,
                    feedforward_channels=256),
                img_size=IMG,
                patch_size=PATCH,
                num_frames=num_frames,
                tubelet_size=TUBELET,
                use_mean_pooling=use_mean_pooling),
            neck=dict(
                type='mmmae.VideoMAEPretrainDecoder',
                embed_dims=64,
                decoder_embed_dims=32,
                decoder_depth=2,
                decoder_num_heads=2,
                mlp_ratio=4.,
                patch_size=PATCH,
                tubelet_size=TUBELET),
            head=dict(
                type='mmmae.VideoMAEPretrainHead',
                norm_pix=norm_pix,
                patch_size=PATCH,
                tubelet_size=TUBELET)))
    return model.eval()


def ours_forward(model, x, mask):
    """(predictions, loss) through the algorithm's own ``loss`` path."""
    from mmengine.structures import BaseDataElement
    samples = [BaseDataElement(mask=m) for m in mask]
    with torch.no_grad():
        pred = model.neck(model.backbone(x, mask), mask)
        loss = model.loss(x, samples)['loss']
    return pred, loss


def hf_forward(hf, x, mask):
    with torch.no_grad():
        out = hf(pixel_values=x.permute(0, 2, 1, 3, 4).contiguous(),
                 bool_masked_pos=mask)
    return out.logits, out.loss


def test_installed_hf_key_names():
    """Pin the transformers key layout the converter relies on."""
    hf = VideoMAEForPreTraining(hf_config(num_frames=4))
    keys = set(hf.state_dict())
    for k in ('videomae.embeddings.patch_embeddings.projection.weight',
              'videomae.encoder.layer.0.attention.attention.query.weight',
              'videomae.encoder.layer.0.attention.attention.key.weight',
              'videomae.encoder.layer.0.attention.output.dense.weight',
              'videomae.encoder.layer.0.layernorm_before.weight',
              'videomae.encoder.layer.0.layernorm_after.weight',
              'videomae.encoder.layer.0.intermediate.dense.weight',
              'videomae.encoder.layer.0.output.dense.weight',
              'videomae.layernorm.weight', 'encoder_to_decoder.weight',
              'mask_token', 'decoder.decoder_layers.1.output.dense.bias',
              'decoder.norm.weight', 'decoder.head.weight'):
        assert k in keys, k
    # v4 (q_bias/v_bias) or v5 (query.bias/value.bias), never a key bias
    layout = hf_bias_layout(hf.state_dict())
    assert layout in ('v4', 'v5')
    assert not any(k.endswith('key.bias') for k in keys)
    assert is_hf_videomae(hf.state_dict())


@pytest.mark.parametrize('norm_pix', [True, False])
def test_pretrain_parity(norm_pix):
    hf = build_hf(VideoMAEForPreTraining,
                  hf_config(num_frames=16, norm_pix_loss=norm_pix))
    sd = convert_hf_videomae(hf.state_dict())
    assert all(k.startswith(('backbone.', 'neck.')) for k in sd)
    ours = ours_pretrain(norm_pix=norm_pix)
    ours.load_state_dict(sd, strict=True)

    torch.manual_seed(3)
    x = torch.randn(2, 3, 16, IMG, IMG)  # already ImageNet-normalised
    mask = tube_mask(2, (8, 4, 4), 12, seed=0)
    assert not torch.equal(mask[0], mask[1])
    hf_logits, hf_loss = hf_forward(hf, x, mask)
    pred, loss = ours_forward(ours, x, mask)
    assert pred.shape == hf_logits.shape == (2, 96, 384)
    torch.testing.assert_close(pred, hf_logits, atol=TOL, rtol=TOL)
    torch.testing.assert_close(loss, hf_loss, atol=TOL, rtol=TOL)


def test_pretrain_bias_placement_matters():
    """Swapping q/v biases must break parity (the test can catch it)."""
    hf = build_hf(VideoMAEForPreTraining, hf_config(num_frames=4))
    sd = convert_hf_videomae(hf.state_dict())
    bad = dict(sd)
    for k in list(bad):
        if k.endswith('attn.q_bias'):
            v = k[:-len('q_bias')] + 'v_bias'
            bad[k], bad[v] = sd[v], sd[k]
    x = torch.randn(2, 3, 4, IMG, IMG)
    mask = tube_mask(2, (2, 4, 4), 12, seed=1)
    hf_logits, _ = hf_forward(hf, x, mask)
    ours = ours_pretrain(num_frames=4)
    ours.load_state_dict(sd, strict=True)
    torch.testing.assert_close(
        ours_forward(ours, x, mask)[0], hf_logits, atol=TOL, rtol=TOL)
    ours.load_state_dict(bad, strict=True)
    assert (ours_forward(ours, x, mask)[0] - hf_logits).abs().max() > 1e-3


def _to_v4(sd):
    """Emulate a transformers-v4 checkpoint (q_bias/v_bias parameters)."""
    out = {}
    for k, v in sd.items():
        k = re.sub(r'attention\.attention\.query\.bias$',
                   'attention.attention.q_bias', k)
        k = re.sub(r'attention\.attention\.value\.bias$',
                   'attention.attention.v_bias', k)
        out[k] = v
    return out


def test_v4_layout_converts_identically():
    hf = build_hf(VideoMAEForPreTraining, hf_config(num_frames=4))
    v5 = hf.state_dict()
    v4 = _to_v4(v5)
    assert v4.keys() != v5.keys()
    assert hf_bias_layout(v4) == 'v4'
    assert inspect_hf_videomae(v4)['bias_layout'] == 'v4'
    a, b = convert_hf_videomae(v5), convert_hf_videomae(v4)
    assert list(a) == list(b)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_classification_mean_pooling_parity():
    cfg = hf_config(num_frames=4, use_mean_pooling=True, num_labels=5)
    hf = build_hf(VideoMAEForVideoClassification, cfg)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # no pooling caveat in this case
        sd = convert_hf_videomae(hf.state_dict())
    assert sd['cls_head.fc_cls.weight'].shape == (5, 64)
    assert not any(k.startswith('backbone.norm.') for k in sd)
    assert 'backbone.fc_norm.weight' in sd
    backbone = MODELS.build(
        dict(
            type='mmmae.VideoMAEViT',
            arch=dict(
                embed_dims=64,
                num_layers=2,
                num_heads=4,
                feedforward_channels=256),
            img_size=IMG,
            patch_size=PATCH,
            num_frames=4,
            tubelet_size=TUBELET,
            use_mean_pooling=True)).eval()
    backbone.load_state_dict(
        {k[9:]: v for k, v in sd.items() if k.startswith('backbone.')},
        strict=True)
    assert set(sd) - {'backbone.' + k for k in backbone.state_dict()} == {
        'cls_head.fc_cls.weight', 'cls_head.fc_cls.bias'
    }
    x = torch.randn(2, 3, 4, IMG, IMG)
    with torch.no_grad():
        ref = hf(pixel_values=x.permute(0, 2, 1, 3, 4)).logits
        feat = backbone(x)
        logits = F.linear(feat, sd['cls_head.fc_cls.weight'],
                          sd['cls_head.fc_cls.bias'])
    assert feat.shape == (2, 64)
    torch.testing.assert_close(logits, ref, atol=TOL, rtol=TOL)


def test_classification_first_token_is_reported():
    """use_mean_pooling=False classifiers pool the first patch token."""
    cfg = hf_config(num_frames=4, use_mean_pooling=False, num_labels=3)
    hf = build_hf(VideoMAEForVideoClassification, cfg)
    info = inspect_hf_videomae(hf.state_dict())
    assert info['kind'] == 'classification' and info['num_classes'] == 3
    assert any('FIRST PATCH TOKEN' in n for n in info['notes'])
    with pytest.warns(UserWarning, match='FIRST PATCH TOKEN'):
        sd = convert_hf_videomae(hf.state_dict())
    assert 'backbone.norm.weight' in sd and 'backbone.fc_norm.weight' \
        not in sd


def test_pretrain_without_final_norm():
    """HF default use_mean_pooling=True: no videomae.layernorm. It matches
    VideoMAEViT(use_mean_pooling=True), whose fc_norm stays at its init."""
    hf = build_hf(VideoMAEForPreTraining,
                  hf_config(num_frames=4, use_mean_pooling=True))
    hf_sd = hf.state_dict()
    assert not any(k.startswith('videomae.layernorm') for k in hf_sd)
    info = inspect_hf_videomae(hf_sd)
    assert info['backbone']['use_mean_pooling'] is True
    with pytest.warns(UserWarning, match='use_mean_pooling'):
        sd = convert_hf_videomae(hf_sd)
    ours = ours_pretrain(num_frames=4, use_mean_pooling=True)
    res = ours.load_state_dict(sd, strict=False)
    assert sorted(res.missing_keys) == [
        'backbone.fc_norm.bias', 'backbone.fc_norm.weight'
    ]
    assert not res.unexpected_keys
    x = torch.randn(2, 3, 4, IMG, IMG)
    mask = tube_mask(2, (2, 4, 4), 12, seed=2)
    hf_logits, hf_loss = hf_forward(hf, x, mask)
    pred, loss = ours_forward(ours, x, mask)
    torch.testing.assert_close(pred, hf_logits, atol=TOL, rtol=TOL)
    torch.testing.assert_close(loss, hf_loss, atol=TOL, rtol=TOL)


def test_videomae_model_without_prefix():
    """A bare ``VideoMAEModel`` (no ``videomae.`` prefix) -> backbone."""
    from transformers import VideoMAEModel
    torch.manual_seed(0)
    hf = VideoMAEModel(hf_config(num_frames=4))
    sd = convert_hf_videomae(hf.state_dict())
    assert all(k.startswith('backbone.') for k in sd)
    assert 'backbone.norm.weight' in sd
    assert sum(k.endswith('attn.qkv.weight') for k in sd) == 2


def test_nonzero_key_bias_raises_zero_is_accepted():
    hf = build_hf(VideoMAEForPreTraining, hf_config(num_frames=4))
    sd = dict(hf.state_dict())
    kb = 'videomae.encoder.layer.1.attention.attention.key.bias'
    sd[kb] = torch.zeros(64)
    ref = convert_hf_videomae(hf.state_dict())
    out = convert_hf_videomae(sd)
    assert list(out) == list(ref)
    sd[kb] = torch.full((64, ), 0.01)
    with pytest.raises(HFConversionError, match='key.bias'):
        convert_hf_videomae(sd)


def test_unknown_and_incomplete_keys_raise():
    hf = build_hf(VideoMAEForPreTraining, hf_config(num_frames=4))
    sd = dict(hf.state_dict())
    sd['videomae.encoder.layer.0.attention.attention.extra'] = torch.ones(3)
    sd['some_adapter.weight'] = torch.ones(3)
    with pytest.raises(HFConversionError) as err:
        convert_hf_videomae(sd)
    assert 'some_adapter.weight' in str(err.value)
    assert 'attention.attention.extra' in str(err.value)

    sd = dict(hf.state_dict())
    del sd['decoder.decoder_layers.1.attention.attention.key.weight']
    with pytest.raises(HFConversionError, match='key.weight'):
        convert_hf_videomae(sd)

    sd = dict(hf.state_dict())
    del sd['videomae.encoder.layer.0.attention.attention.value.bias']
    with pytest.raises(HFConversionError, match='q/v biases'):
        convert_hf_videomae(sd)


def test_not_hf():
    official = {
        'encoder.patch_embed.proj.weight': torch.zeros(4, 3, 2, 8, 8),
        'encoder.blocks.0.attn.qkv.weight': torch.zeros(12, 4),
        'blocks.0.norm1.weight': torch.zeros(4),
    }
    assert not is_hf_videomae(official)
    with pytest.raises(HFConversionError):
        inspect_hf_videomae(official)


# --------------------------------------------------------------------------
# LayerNorm eps: HF's own values, carried into the mmmae config
# --------------------------------------------------------------------------
EXACT = 1e-6  # what the eps-aware config must reach


def build_hf_own_eps(cls, config, seed=0):
    """A HF model with HF's eps left alone (no alignment)."""
    torch.manual_seed(seed)
    model = cls(config)
    perturb_(model, seed + 1)
    return model.eval()


def ours_from_info(info, norm_pix=True):
    """The mmmae model :func:`inspect_hf_videomae` describes."""
    backbone = dict(type='mmmae.VideoMAEViT', **info['backbone'])
    if info['neck'] is None:
        return MODELS.build(backbone).eval()
    return MODELS.build(
        dict(
            type='mmmae.VideoMAE',
            backbone=backbone,
            neck=dict(type='mmmae.VideoMAEPretrainDecoder', **info['neck']),
            head=dict(
                type='mmmae.VideoMAEPretrainHead',
                norm_pix=norm_pix,
                patch_size=PATCH,
                tubelet_size=TUBELET))).eval()


@pytest.mark.parametrize('layer_norm_eps', [1e-12, 1e-7])
def test_pretrain_parity_with_hf_eps(layer_norm_eps):
    """HF's eps (layer_norm_eps in the blocks and videomae.layernorm, 1e-5
    in decoder.norm) reach the mmmae config: equal within 1e-6, where the
    mmmae defaults (1e-6 everywhere) are ~1e-5 off."""
    cfg = hf_config(num_frames=16, layer_norm_eps=layer_norm_eps)
    hf = build_hf_own_eps(VideoMAEForPreTraining, cfg)
    info = inspect_hf_videomae(hf.state_dict(), hf_config=hf.config)
    assert info['backbone']['norm_eps'] == layer_norm_eps
    assert info['neck']['norm_eps'] == layer_norm_eps
    assert info['neck']['final_norm_eps'] == 1e-5
    assert (info['backbone']['img_size'], info['backbone']['num_frames'],
            info['backbone']['arch']['num_heads'],
            info['neck']['decoder_num_heads']) == (IMG, 16, 4, 2)
    assert info['norm_pix'] is True
    ours = ours_from_info(info)
    sd = convert_hf_videomae(hf.state_dict())
    ours.load_state_dict(sd, strict=True)

    torch.manual_seed(3)
    x = torch.randn(2, 3, 16, IMG, IMG)
    mask = tube_mask(2, (8, 4, 4), 12, seed=0)
    hf_logits, hf_loss = hf_forward(hf, x, mask)
    pred, loss = ours_forward(ours, x, mask)
    diff = (pred - hf_logits).abs().max().item()
    print(f'HF import, pretraining, layer_norm_eps={layer_norm_eps:g}: max '
          f'diff {diff:.3g}')
    assert diff <= EXACT
    torch.testing.assert_close(loss, hf_loss, atol=EXACT, rtol=EXACT)

    # the test can tell: the old eps-blind config is further off
    blind = ours_pretrain()
    blind.load_state_dict(sd, strict=True)
    assert (ours_forward(blind, x, mask)[0] - hf_logits).abs().max() > EXACT


def test_classification_parity_with_hf_eps():
    """Mean pooling: fc_norm is HF's hard-coded 1e-5, the blocks
    layer_norm_eps (default 1e-12, here without a config: the default is
    assumed and a note says so)."""
    cfg = hf_config(num_frames=4, use_mean_pooling=True, num_labels=5,
                    layer_norm_eps=1e-12)
    hf = build_hf_own_eps(VideoMAEForVideoClassification, cfg)
    info = inspect_hf_videomae(hf.state_dict())
    assert any('no HF config given' in n for n in info['notes'])
    assert info['backbone']['norm_eps'] == 1e-12
    assert info['backbone']['fc_norm_eps'] == 1e-5
    # without a config the heads are guessed (1 for width 64): set them
    assert info['backbone']['arch']['num_heads'] == 1
    arch = dict(info['backbone']['arch'], num_heads=4)
    backbone = ours_from_info(
        dict(info, backbone=dict(info['backbone'], arch=arch, img_size=IMG,
                                 num_frames=4)))
    sd = convert_hf_videomae(hf.state_dict(), warn=False)
    backbone.load_state_dict(
        {k[9:]: v for k, v in sd.items() if k.startswith('backbone.')},
        strict=True)
    assert backbone.fc_norm.eps == 1e-5
    assert {m.eps for n, m in backbone.named_modules()
            if isinstance(m, torch.nn.LayerNorm) and n != 'fc_norm'} == {
                1e-12}
    x = torch.randn(2, 3, 4, IMG, IMG)
    with torch.no_grad():
        ref = hf(pixel_values=x.permute(0, 2, 1, 3, 4)).logits
        logits = F.linear(backbone(x), sd['cls_head.fc_cls.weight'],
                          sd['cls_head.fc_cls.bias'])
    diff = (logits - ref).abs().max().item()
    print(f'HF import, classification: max diff {diff:.3g}')
    assert diff <= EXACT


def test_load_hf_config(tmp_path):
    import json

    from mmmae.utils.hf_converters import load_hf_config
    cfg = hf_config(num_frames=4, layer_norm_eps=1e-9)
    cfg.save_pretrained(str(tmp_path))
    for src in (str(tmp_path), str(tmp_path / 'config.json'), cfg,
                cfg.to_dict()):
        assert load_hf_config(src)['layer_norm_eps'] == 1e-9
    assert load_hf_config(None) is None
    with pytest.raises(HFConversionError, match='no HF config'):
        load_hf_config(str(tmp_path / 'missing'))
    (tmp_path / 'other.json').write_text(json.dumps({'model_type': 'vit'}))
    with pytest.raises(HFConversionError, match="model_type 'vit'"):
        load_hf_config(str(tmp_path / 'other.json'))
