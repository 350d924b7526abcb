# Copyright (c) mmmae contributors. All rights reserved.
"""Behaviour of the MultiMAE model core (no official outputs needed)."""
import numpy as np
import pytest
import torch
from _multimae_helpers import (tiny_backbone_cfg, tiny_eval_model,
                               tiny_head_cfg, tiny_neck_cfg)
from mmengine.structures import BaseDataElement

from mmmae.models import (MaskedCrossEntropyLoss, MaskedL1Loss, MaskedMSELoss,
                          MultiMAEDataPreprocessor, TransformerBlock,
                          build_2d_sincos_posemb, norm_pix_target,
                          truncated_standardize)
from mmmae.registry import MODELS

MODS = ('rgb', 'depth', 'semseg')


def _inputs(B, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(
        rgb=torch.randn(B, 3, size, size, generator=g),
        depth=torch.randn(B, 1, size, size, generator=g),
        semseg=torch.randint(0, 5, (B, size // 4, size // 4), generator=g))


def _random_masks(B, n=16, keep=8, seed=0):
    """Per sample ``keep`` visible tokens spread over the 3 modalities."""
    g = torch.Generator().manual_seed(seed)
    masks = {m: torch.ones(B, n, dtype=torch.bool) for m in MODS}
    for b in range(B):
        ids = torch.randperm(3 * n, generator=g)[:keep]
        for i in ids.tolist():
            masks[MODS[i // n]][b, i % n] = False
    return masks


@pytest.fixture(scope='module')
def model():
    return tiny_eval_model()


def test_sincos_layout():
    e = build_2d_sincos_posemb(3, 5, 8)
    assert e.shape == (1, 8, 3, 5)
    omega = 1. / 10000**(torch.arange(2) / 2.)
    a, b = 2, 4
    ref = torch.cat([(a * omega).sin(), (a * omega).cos(), (b * omega).sin(),
                     (b * omega).cos()])
    torch.testing.assert_close(e[0, :, a, b], ref)


def test_attention_bias_layouts():
    blk = TransformerBlock(16, 2, 32, qkv_bias='qkv')
    keys = set(blk.state_dict())
    assert 'attn.qkv.bias' in keys and 'attn.q_bias' not in keys
    blk = TransformerBlock(16, 2, 32)  # VideoMAE default unchanged
    keys = set(blk.state_dict())
    assert 'attn.q_bias' in keys and 'attn.qkv.bias' not in keys
    with pytest.raises(ValueError):
        TransformerBlock(16, 2, 32, qkv_bias='kv')


def test_batch4_user_masks_equal_per_sample_runs(model):
    inputs, masks = _inputs(4), _random_masks(4)
    with torch.no_grad():
        tokens, info = model.backbone(inputs, masks)
        preds = model.neck(tokens, info)
        assert tokens.shape == (4, 9, 64)
        for b in range(4):
            one_in = {k: v[b:b + 1] for k, v in inputs.items()}
            one_m = {k: v[b:b + 1] for k, v in masks.items()}
            t1, i1 = model.backbone(one_in, one_m)
            torch.testing.assert_close(tokens[b:b + 1], t1, rtol=1e-5,
                                       atol=1e-5)
            p1 = model.neck(t1, i1)
            for k in preds:
                torch.testing.assert_close(preds[k][b:b + 1], p1[k],
                                           rtol=1e-5, atol=1e-5)


def test_unequal_visible_counts_raise(model):
    masks = _random_masks(2)
    masks['rgb'][0] = False  # sample 0 now keeps more tokens
    with pytest.raises(ValueError, match='same number of visible tokens'):
        model.backbone(_inputs(2), masks)
    masks = _random_masks(2)
    masks['rgb'] = masks['rgb'][:, :8]
    with pytest.raises(ValueError, match='shape'):
        model.backbone(_inputs(2), masks)


def test_any_image_size_and_subsets(model):
    inputs = _inputs(2, size=48)  # 6x6 grid: pos_emb interpolated
    with torch.no_grad():
        tokens, info = model.backbone(inputs)
        assert tokens.shape == (2, 3 * 36 + 1, 64)
        preds = model.neck(tokens, info)
    assert preds['rgb'].shape == (2, 3, 48, 48)
    assert preds['depth'].shape == (2, 1, 48, 48)
    assert preds['semseg'].shape == (2, 5, 12, 12)
    # Non-square, rgb only with a mask; absent tasks fall back to
    # mask-token queries.
    inputs = dict(rgb=torch.randn(2, 3, 32, 48))
    m = torch.ones(2, 24, dtype=torch.bool)
    m[:, :5] = False
    with torch.no_grad():
        tokens, info = model.backbone(inputs, dict(rgb=m))
        assert tokens.shape == (2, 6, 64)
        assert list(info.tasks) == ['rgb']
        preds = model.neck(tokens, info)
    assert preds['semseg'].shape == (2, 5, 8, 12)
    with pytest.raises(ValueError, match='share'):
        model.backbone(dict(rgb=torch.randn(1, 3, 32, 32),
                            depth=torch.randn(1, 1, 48, 48)))


def test_input_order_follows_adapter_config(model):
    inputs = _inputs(1)
    rev = {k: inputs[k] for k in reversed(MODS)}
    with torch.no_grad():
        a, ia = model.backbone(inputs)
        b, ib = model.backbone(rev)
    assert list(ib.tasks) == list(MODS)
    torch.testing.assert_close(a, b)


def test_losses_invariant_to_visible_predictions():
    g = torch.Generator().manual_seed(0)
    B = 3
    mask = torch.rand(B, 16, generator=g) > 0.5
    mask[2] = False  # nothing masked: NaN for that sample, skipped
    pix_mask = mask.reshape(B, 1, 4, 4).repeat_interleave(8, 2)
    pix_mask = pix_mask.repeat_interleave(8, 3)
    target = torch.randn(B, 3, 32, 32, generator=g)
    pred = torch.randn(B, 3, 32, 32, generator=g)
    pred2 = torch.where(pix_mask, pred, pred + 10.)
    for loss in (MaskedMSELoss(8), MaskedL1Loss(8), MaskedMSELoss(
            8, norm_pix=True)):
        a, b = loss(pred, target, mask), loss(pred2, target, mask)
        assert torch.isfinite(a)
        torch.testing.assert_close(a, b)
    seg = torch.randint(0, 5, (B, 8, 8), generator=g)
    logits = torch.randn(B, 5, 8, 8, generator=g)
    seg_mask = pix_mask[:, :, ::4, ::4].expand(-1, 5, -1, -1)
    logits2 = torch.where(seg_mask, logits, logits * 3.)
    ce = MaskedCrossEntropyLoss(8, 4)
    torch.testing.assert_close(ce(logits, seg, mask), ce(logits2, seg, mask))
    # Nothing masked at all -> exactly 0 (with a graph).
    pred.requires_grad_(True)
    zero = MaskedMSELoss(8)(pred, target, torch.zeros(B, 16, dtype=bool))
    assert zero.item() == 0. and zero.requires_grad


def test_norm_pix_target_reference():
    x = torch.randn(2, 3, 16, 16)
    t = norm_pix_target(x, 8)
    patch = x[1, :, 8:16, 0:8]
    ref = (patch - patch.mean()) / torch.sqrt(patch.var() + 1e-6)
    torch.testing.assert_close(t[1, :, 8:16, 0:8], ref)


def test_depth_standardisation_matches_numpy():
    g = torch.Generator().manual_seed(0)
    d = torch.rand(3, 1, 20, 10, generator=g)
    out = truncated_standardize(d)
    for b in range(3):
        v = np.sort(d[b].numpy().astype(np.float64).ravel())
        n = v.size
        kept = v[int(0.1 * n):int(0.9 * n)]
        ref = (d[b].numpy() - kept.mean()) / np.sqrt(kept.var(ddof=1) + 1e-6)
        np.testing.assert_allclose(out[b].numpy(), ref, rtol=1e-5, atol=1e-5)


def test_preprocessor_and_algorithm_loss_predict(model):
    pre = MultiMAEDataPreprocessor()
    g = torch.Generator().manual_seed(1)
    masks = _random_masks(2)
    samples = []
    packed = []
    for b in range(2):
        packed.append(
            dict(
                rgb=torch.randint(0, 256, (3, 32, 32), generator=g,
                                  dtype=torch.uint8),
                depth=torch.rand(1, 32, 32, generator=g),
                semseg=torch.randint(0, 5, (8, 8), generator=g)))
        samples.append(
            BaseDataElement(masks={k: v[b].numpy()
                                   for k, v in masks.items()}))
    data = pre(dict(inputs=packed, data_samples=samples))
    x = data['inputs']
    assert x['rgb'].dtype == torch.float32
    assert x['rgb'].shape == (2, 3, 32, 32)
    assert x['semseg'].dtype == torch.int64
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    torch.testing.assert_close(
        x['rgb'], (torch.stack([p['rgb'] for p in packed]).float() - mean) /
        std)
    # dict-of-lists (pseudo_collate) gives the same batch
    data2 = pre(dict(inputs={k: [p[k] for p in packed] for k in MODS}))
    for k in MODS:
        torch.testing.assert_close(data2['inputs'][k], x[k])

    with torch.no_grad():
        losses = model(x, data['data_samples'], mode='loss')
        assert set(losses) == {'loss_rgb', 'loss_depth', 'loss_semseg'}
        assert all(torch.isfinite(v) for v in losses.values())
        feats = model(x, data['data_samples'], mode='tensor')
        assert feats.shape == (2, 9, 64)
        out = model(x, data['data_samples'], mode='predict')
    assert out[0].pred['semseg'].shape == (5, 8, 8)
    assert torch.equal(out[1].masks['depth'], masks['depth'][1])
    with pytest.raises(ValueError, match='masks'):
        model.loss(x, [BaseDataElement(), BaseDataElement()])


def test_backward_norm_rgb_and_uncertainty():
    torch.manual_seed(0)
    head = tiny_head_cfg(uncertainty_weighting=True)
    head['tasks']['norm_rgb'] = dict(
        target='rgb',
        loss=dict(type='mmmae.MaskedMSELoss', patch_size=8, norm_pix=True))
    m = MODELS.build(
        dict(
            type='mmmae.MultiMAE',
            backbone=tiny_backbone_cfg(drop_path_rate=0.1),
            neck=tiny_neck_cfg(with_norm_rgb=True),
            head=head))
    m.init_weights()
    m.train()
    masks = _random_masks(2)
    samples = [
        BaseDataElement(masks={k: v[b] for k, v in masks.items()})
        for b in range(2)
    ]
    losses = m(_inputs(2), samples, mode='loss')
    assert set(losses) == {f'loss_{t}' for t in MODS + ('norm_rgb', )}
    sum(losses.values()).backward()
    assert m.head.log_vars.grad is not None
    assert m.neck.output_adapters['norm_rgb'].task == 'rgb'
    assert m.backbone.global_tokens.grad is not None
    assert m.backbone.input_adapters['rgb'].pos_emb.grad is None


def test_layer_depth_and_init(model):
    bb = model.backbone
    assert bb.get_layer_depth('backbone.global_tokens', 'backbone.') == (0, 4)
    assert bb.get_layer_depth('backbone.input_adapters.rgb.proj.weight',
                              'backbone.') == (0, 4)
    assert bb.get_layer_depth('backbone.encoder.1.attn.qkv.weight',
                              'backbone.') == (2, 4)
    assert bb.get_layer_depth('neck.x', 'backbone.') == (3, 4)
    assert not bb.input_adapters['rgb'].pos_emb.requires_grad
    torch.testing.assert_close(
        bb.input_adapters['rgb'].pos_emb.data,
        build_2d_sincos_posemb(4, 4, 64))
    qkv = bb.encoder[0].attn.qkv.weight
    bound = (6. / (64 + 64))**0.5  # one 64x64 matrix, not (192, 64)
    assert qkv.abs().max() <= bound and qkv.abs().max() > 0.9 * bound
    assert bb.encoder[0].norm1.weight.eq(1).all()
    assert bb.global_tokens.std() < 0.05


VITB_KEYS_PER_BLOCK = [
    f'{m}.{p}' for m in ('norm1', 'attn.qkv', 'attn.proj', 'norm2',
                         'mlp.fc1', 'mlp.fc2') for p in ('weight', 'bias')
]


def test_vit_b_keys_and_param_counts():
    """ViT-B rgb+norm_rgb+depth+semseg(133) vs the official listing (ref
    section 6.2) and counts (85.05 M encoder, 98.57 M total). Built on the
    meta device: shapes only, no memory, fast."""
    cfg = dict(
        type='mmmae.MultiMAE',
        backbone=dict(
            type='mmmae.MultiMAEViT',
            input_adapters=dict(
                rgb=dict(type='mmmae.PatchedInputAdapter', in_channels=3),
                depth=dict(type='mmmae.PatchedInputAdapter', in_channels=1),
                semseg=dict(type='mmmae.SemSegInputAdapter',
                            num_classes=133))),
        neck=dict(
            type='mmmae.MultiMAEDecoder',
            output_adapters=dict(
                rgb=dict(num_channels=3),
                norm_rgb=dict(num_channels=3, task='rgb'),
                depth=dict(num_channels=1),
                semseg=dict(num_channels=133, stride_level=4))))
    with torch.device('meta'):
        m = MODELS.build(cfg)
    sd = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    expected = {
        'backbone.global_tokens': (1, 1, 768),
        'backbone.input_adapters.rgb.pos_emb': (1, 768, 14, 14),
        'backbone.input_adapters.rgb.proj.weight': (768, 3, 16, 16),
        'backbone.input_adapters.rgb.proj.bias': (768, ),
        'backbone.input_adapters.depth.pos_emb': (1, 768, 14, 14),
        'backbone.input_adapters.depth.proj.weight': (768, 1, 16, 16),
        'backbone.input_adapters.depth.proj.bias': (768, ),
        'backbone.input_adapters.semseg.pos_emb': (1, 768, 14, 14),
        'backbone.input_adapters.semseg.class_emb.weight': (133, 64),
        'backbone.input_adapters.semseg.proj.weight': (768, 64, 4, 4),
        'backbone.input_adapters.semseg.proj.bias': (768, ),
    }
    for i in range(12):
        for k in VITB_KEYS_PER_BLOCK:
            expected[f'backbone.encoder.{i}.{k}'] = None
    out_dims = dict(rgb=768, norm_rgb=768, depth=256, semseg=2128)
    for t, od in out_dims.items():
        p = f'neck.output_adapters.{t}.'
        expected.update({
            p + 'mask_token': (1, 1, 256),
            p + 'pos_emb': (1, 256, 14, 14),
            p + 'proj_context.weight': (256, 768),
            p + 'proj_context.bias': (256, ),
            p + 'decoder.q.weight': (256, 256),
            p + 'decoder.kv.weight': (512, 256),
            p + 'decoder.proj.weight': (256, 256),
            p + 'mlp.fc1.weight': (1024, 256),
            p + 'mlp.fc2.weight': (256, 1024),
            p + 'out_proj.weight': (od, 256),
        })
        for c in MODS:
            expected[p + f'task_embeddings.{c}'] = (1, 1, 256)
        for b in ('decoder.q', 'decoder.kv', 'decoder.proj', 'mlp.fc1',
                  'mlp.fc2', 'out_proj', 'query_norm', 'context_norm',
                  'out_norm'):
            expected.setdefault(p + b + '.bias', None)
            if 'norm' in b:
                expected.setdefault(p + b + '.weight', (256, ))
        for i in range(2):
            for k in VITB_KEYS_PER_BLOCK:
                expected[p + f'decoder_transformer.{i}.{k}'] = None
    assert set(sd) == set(expected)
    for k, shape in expected.items():
        if shape is not None:
            assert sd[k] == shape, k

    def count(mod):
        return sum(p.numel() for p in mod.parameters())

    assert round(count(m.backbone.encoder) / 1e6, 2) == 85.05
    assert round(count(m) / 1e6, 2) == 98.57
    trainable = sum(p.numel() for p in m.parameters() if p.requires_grad)
    assert round(trainable / 1e6, 2) == 97.92
    per_task = {
        t: round(count(a) / 1e6, 2)
        for t, a in m.neck.output_adapters.items()
    }
    assert per_task == dict(rgb=2.82, norm_rgb=2.82, depth=2.68, semseg=3.16)
