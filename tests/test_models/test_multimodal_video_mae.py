# Copyright (c) mmmae contributors. All rights reserved.
"""The multi-modal video MAE: ``mmmae.MultiMAE`` with tubelet adapters,
cross-attention video decoders and clip losses (rgb norm-pix MSE, depth L1,
semseg CE) trains on rgb + depth + semseg clips, and predicts depth and
segmentation clips from rgb tubes alone."""
import numpy as np
import torch
from _multimodal_video_helpers import GRID, K, P, S, T, TUB, video_mae_cfg
from mmengine.structures import BaseDataElement

from mmmae.datasets.transforms import MultiModalTubeMaskGenerator
from mmmae.models.losses.multimae_losses import (MaskedL1Loss,
                                                 norm_pix_target)
from mmmae.registry import MODELS


def _batch(B=2, seed=0, fixed_masks=None, num_visible=16):
    rng = np.random.default_rng(seed)
    np.random.seed(seed)
    gen = MultiModalTubeMaskGenerator(
        grid=GRID, num_visible=num_visible, fixed_masks=fixed_masks)
    inputs, samples = [], []
    for _ in range(B):
        inputs.append(
            dict(
                rgb=torch.from_numpy(
                    rng.integers(0, 256, (3, T, S, S), dtype=np.uint8)),
                depth=torch.from_numpy(
                    rng.uniform(0.5, 5, (1, T, S, S)).astype(np.float32)),
                semseg=torch.from_numpy(
                    rng.integers(0, K, (T, S // 4, S // 4)))))
        masks = gen.transform({})['masks']
        samples.append(
            BaseDataElement(
                masks={k: torch.from_numpy(v)
                       for k, v in masks.items()}))
    return dict(inputs=inputs, data_samples=samples)


def test_video_mae_trains_every_part():
    torch.manual_seed(0)
    model = MODELS.build(video_mae_cfg())
    model.init_weights()
    data = model.data_preprocessor(_batch(), True)
    assert data['inputs']['rgb'].shape == (2, 3, T, S, S)
    assert data['inputs']['depth'].shape == (2, 1, T, S, S)
    assert data['inputs']['semseg'].shape == (2, T, S // 4, S // 4)
    losses = model(**data, mode='loss')
    assert sorted(losses) == ['loss_depth', 'loss_rgb', 'loss_semseg']
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    for name in ('rgb', 'depth', 'semseg'):
        grad = model.backbone.input_adapters[name].proj.weight.grad
        assert grad is not None and grad.abs().sum() > 0, name
        dec = model.neck.output_adapters[name].out_proj.weight.grad
        assert dec is not None and dec.abs().sum() > 0, name


def test_cross_modal_prediction_from_rgb_tubes():
    """Only rgb tubes visible: the depth and semseg decoders still predict
    whole clips (from the rgb context), at full / quarter resolution."""
    model = MODELS.build(video_mae_cfg()).eval()
    data = model.data_preprocessor(
        _batch(fixed_masks=dict(depth='all', semseg='all')), False)
    with torch.no_grad():
        out = model(**data, mode='predict')
    pred = out[0].pred
    assert pred['rgb'].shape == (3, T, S, S)
    assert pred['depth'].shape == (1, T, S, S)
    assert pred['semseg'].shape == (K, T, S // 4, S // 4)
    masks = out[0].masks
    assert masks['depth'].all() and masks['semseg'].all()
    assert int((~masks['rgb']).sum()) == 16


def test_norm_pix_clip_target_is_videomae_target():
    from mmmae.models.heads.videomae_head import VideoMAEPretrainHead
    video = torch.rand(2, 3, T, S, S)
    head = VideoMAEPretrainHead(norm_pix=True, patch_size=P, tubelet_size=TUB)
    ref = head.construct_target(video)  # (B, N, (t p p c))
    ours = norm_pix_target(video, P, tubelet=TUB)
    B, C = 2, 3
    ours = ours.reshape(B, C, GRID[0], TUB, GRID[1], P, GRID[2], P)
    ours = ours.permute(0, 2, 4, 6, 3, 5, 7, 1).reshape(B, 32, -1)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


def test_clip_loss_counts_masked_tubelets_only():
    loss = MaskedL1Loss(patch_size=P, tubelet_size=TUB)
    target = torch.zeros(1, 1, T, S, S)
    pred = target.clone()
    mask = torch.zeros(1, 32, dtype=torch.bool)
    mask[0, 5] = True  # token (t=0, h=1, w=1)
    pred[0, 0, :TUB, P:2 * P, P:2 * P] = 2.  # its tubelet: error 2
    pred[0, 0, TUB:, :P, :P] = 7.  # a visible tubelet: not counted
    assert float(loss(pred, target, mask)) == 2.
    mask[0, 16] = True  # token (t=1, h=0, w=0): the 7s now count
    assert float(loss(pred, target, mask)) == (2. + 7.) / 2


def _with_decoder_masks(data, ratio=0.5, seed=1):
    np.random.seed(seed)
    gen = MultiModalTubeMaskGenerator(
        grid=GRID, num_visible=16, decoder_mask_ratio=ratio)
    for ds in data['data_samples']:
        ds.decoder_masks = {
            k: torch.from_numpy(v)
            for k, v in gen.transform({})['decoder_masks'].items()
        }
    return data


def test_v2_decoder_masking_decodes_only_the_kept_queries():
    """Each decoder gets only the queries its modality's decoder mask keeps
    (half of them), and predicts them as the same modules applied to those
    queries alone (boolean indexing per sample) would."""
    torch.manual_seed(0)
    model = MODELS.build(video_mae_cfg()).eval()
    model.init_weights()
    data = _with_decoder_masks(model.data_preprocessor(_batch(), True))
    samples = data['data_samples']
    masks, num_visible = model.stack_masks(data['inputs'], samples)
    dmasks, num_decoded = model.stack_decoder_masks(data['inputs'], samples)
    assert num_decoded == dict(rgb=16, depth=16, semseg=16)
    seen = {}

    def record(name):
        def hook(module, args, out):
            seen[name] = tuple(out.shape)
        return hook

    for name, dec in model.neck.output_adapters.items():
        dec.decoder_transformer.register_forward_hook(record(name))
    with torch.no_grad():
        tokens, info = model.backbone(data['inputs'], masks, num_visible)
        preds = model.neck(tokens, info, None, dmasks, num_decoded)
    assert seen == {n: (2, 16, 16) for n in ('rgb', 'depth', 'semseg')}

    for name, dec in model.neck.output_adapters.items():
        with torch.no_grad():
            q, ctx = dec.get_queries_and_context(dec.proj_context(tokens),
                                                 info)
            ref = torch.zeros(2, GRID[0] * GRID[1] * GRID[2],
                              dec.out_proj.out_features)
            for b in range(2):
                keep = ~dmasks[name][b]
                x = dec.decoder(dec.query_norm(q[b:b + 1, keep]),
                                dec.context_norm(ctx[b:b + 1]))
                x = x + dec.mlp(dec.out_norm(x))
                ref[b, keep] = dec.out_proj(dec.decoder_transformer(x))[0]
        torch.testing.assert_close(preds[name], dec.unpatchify(ref, GRID),
                                   rtol=1e-5, atol=1e-5)


def test_v2_decoder_masking_scores_masked_and_decoded_tokens_only():
    """The loss ignores the target of a token that is masked but not
    decoded, and is the head's loss over (masked and decoded) tokens."""
    torch.manual_seed(0)
    model = MODELS.build(video_mae_cfg())
    model.init_weights()
    data = _with_decoder_masks(model.data_preprocessor(_batch(), True))
    losses = model(**data, mode='loss')
    sum(losses.values()).backward()
    assert model.neck.output_adapters.depth.out_proj.weight.grad.abs().sum() \
        > 0

    samples = data['data_samples']
    masks, _ = model.stack_masks(data['inputs'], samples)
    dmasks, num_decoded = model.stack_decoder_masks(data['inputs'], samples)
    both = {k: masks[k] & ~dmasks[k] for k in masks}
    with torch.no_grad():
        preds = model.reconstruct(data['inputs'], masks,
                                  decoder_masks=dmasks,
                                  num_decoded=num_decoded)
        expected = model.head.loss(preds, data['inputs'], both)
    for k, v in expected.items():
        torch.testing.assert_close(losses[k].detach(), v)

    # a masked but undecoded depth tubelet: its target does not count
    skipped = (masks['depth'][0] & dmasks['depth'][0]).nonzero()[0, 0]
    t, rest = divmod(int(skipped), GRID[1] * GRID[2])
    h, w = divmod(rest, GRID[2])
    inputs = dict(data['inputs'])
    inputs['depth'] = inputs['depth'].clone()
    inputs['depth'][0, :, t * TUB:(t + 1) * TUB, h * P:(h + 1) * P,
                    w * P:(w + 1) * P] += 5.
    with torch.no_grad():
        again = model(inputs, samples, mode='loss')
    torch.testing.assert_close(again['loss_depth'],
                               losses['loss_depth'].detach())
    # ... while without decoder masks it does
    for ds in samples:
        del ds.decoder_masks
    with torch.no_grad():
        plain = model(data['inputs'], samples, mode='loss')['loss_depth']
        moved = model(inputs, samples, mode='loss')['loss_depth']
    assert not torch.allclose(plain, moved)
