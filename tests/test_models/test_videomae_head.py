# Copyright (c) mmmae contributors. All rights reserved.
import torch
from _videomae_helpers import running_cell_decoder_masks, tube_masks
from einops import rearrange

from mmmae.models import VideoMAEPretrainHead
from mmmae.models.utils import patchify


def tiny_head(**kwargs):
    return VideoMAEPretrainHead(patch_size=8, tubelet_size=2, **kwargs)


def official_target(video01, norm_pix, p=8, t=2):
    if norm_pix:
        sq = rearrange(
            video01, 'b c (t p0) (h p1) (w p2) -> b (t h w) (p0 p1 p2) c',
            p0=t, p1=p, p2=p)
        sq = (sq - sq.mean(dim=-2, keepdim=True)) / (
            sq.var(dim=-2, unbiased=True, keepdim=True).sqrt() + 1e-6)
        return rearrange(sq, 'b n p c -> b n (p c)')
    return rearrange(
        video01, 'b c (t p0) (h p1) (w p2) -> b (t h w) (p0 p1 p2 c)',
        p0=t, p1=p, p2=p)


def test_construct_target_matches_official_formula():
    video = torch.rand(2, 3, 4, 32, 32)
    for norm_pix in (True, False):
        tgt = tiny_head(norm_pix=norm_pix).construct_target(video)
        assert tgt.shape == (2, 32, 384)
        torch.testing.assert_close(tgt, official_target(video, norm_pix),
                                   rtol=0, atol=1e-6)


def test_loss_v1_and_v2():
    torch.manual_seed(0)
    video = torch.rand(2, 3, 4, 32, 32)
    mask = tube_masks(2)
    head = tiny_head()
    tgt = official_target(video, True)
    pred = torch.randn(2, 24, 384)
    ref = ((pred - tgt[mask].reshape(2, 24, 384))**2).mean()
    torch.testing.assert_close(head.loss(pred, video, mask), ref)

    dm = running_cell_decoder_masks(2)
    pred = torch.randn(2, 16, 384)
    t2 = tgt[~dm].reshape(2, 16, 384)
    w = mask[~dm].reshape(2, 16)
    ref = (((pred - t2)**2).mean(-1) * w).sum() / w.sum()
    before = video.clone()
    torch.testing.assert_close(head.loss(pred, video, mask, dm), ref)
    assert torch.equal(video, before)  # targets are normalised in place


def test_reconstruct_gt_stats_of_perfect_prediction_is_identity():
    video = torch.rand(2, 3, 4, 32, 32)
    mask = tube_masks(2)
    head = tiny_head()
    tgt = head.construct_target(video)
    pred = tgt[mask].reshape(2, 24, 384)
    recon = head.reconstruct(pred, video, mask, use_gt_stats=True)
    assert recon.shape == video.shape
    torch.testing.assert_close(recon, video, rtol=0, atol=1e-5)
    raw = head.reconstruct(pred, video, mask)
    assert raw.min() >= 0 and raw.max() <= 1
    # Visible tubes are the input, bit for bit.
    vis = ~mask
    assert torch.equal(patchify(raw, 2, 8)[vis], patchify(video, 2, 8)[vis])
    # Raw view: normalised prediction mapped with the dataset mean/std.
    expect = (pred.view(2, 24, 128, 3) * head.std01 + head.mean01).clamp(0, 1)
    got = patchify(raw, 2, 8)[mask].view(2, 24, 128, 3)
    torch.testing.assert_close(got, expect)


def test_reconstruct_without_norm_pix_and_v2():
    video = torch.rand(1, 3, 4, 32, 32)
    mask = tube_masks(1)
    dm = running_cell_decoder_masks(1)
    head = tiny_head(norm_pix=False)
    pred = torch.full((1, 16, 384), 0.25)
    recon = head.reconstruct(pred, video, mask, dm)
    patches = patchify(recon, 2, 8)[0]
    src = patchify(video, 2, 8)[0]
    written = mask[0] & ~dm[0]
    assert torch.all(patches[written] == 0.25)
    assert torch.equal(patches[~written], src[~written])
    marked = head.reconstruct(pred, video, mask, dm, undecoded_value=0.)
    patches = patchify(marked, 2, 8)[0]
    assert torch.all(patches[mask[0] & dm[0]] == 0.)
    assert torch.equal(patches[~mask[0]], src[~mask[0]])
    # Both views coincide for pixel targets.
    torch.testing.assert_close(
        head.reconstruct(pred, video, mask, dm, use_gt_stats=True), recon)


def flat_and_textured_video():
    """``(2, 3, 4, 32, 32)`` clips: the left half near-constant (noise of
    1/255), the right half textured; tokens of a row alternate halves."""
    torch.manual_seed(0)
    video = 0.1 + torch.randn(2, 3, 4, 32, 32) / 255
    video[..., 16:] = torch.rand(2, 3, 4, 32, 16)
    flat = torch.zeros(2, 4, 4, dtype=torch.bool)  # (t, h, w) token grid
    flat[..., :2] = True
    return video, flat.view(1, -1).expand(2, -1)


def test_loss_terms_split_content_and_flat_tokens():
    video, flat = flat_and_textured_video()
    mask = tube_masks(2)
    pred = torch.randn(2, 24, 384, requires_grad=True)
    head = tiny_head(content_std=0.03)
    terms = head.loss_terms(pred, video, mask)
    torch.testing.assert_close(terms['loss'], tiny_head().loss(pred, video,
                                                               mask))
    tgt = official_target(video, True)[mask].reshape(2, 24, 384)
    err = ((pred - tgt)**2).mean(-1).detach()
    is_flat = flat[mask].reshape(2, 24)
    torch.testing.assert_close(terms['recon_flat'], err[is_flat].mean())
    torch.testing.assert_close(terms['recon_content'], err[~is_flat].mean())
    torch.testing.assert_close(terms['flat_ratio'], is_flat.float().mean())
    assert not terms['recon_flat'].requires_grad  # diagnostics only
    # V2: token weights (masked AND decoded) apply to the split too
    dm = running_cell_decoder_masks(2)
    pred2 = torch.randn(2, 16, 384)
    t2 = tiny_head(content_std=0.03).loss_terms(pred2, video, mask, dm)
    w = mask[~dm].reshape(2, 16).float()
    f = flat[~dm].reshape(2, 16).float()
    e2 = ((pred2 - official_target(video, True)[~dm].reshape(2, 16, 384)
           )**2).mean(-1)
    torch.testing.assert_close(t2['recon_flat'], (e2 * w * f).sum() /
                               (w * f).sum())
    # no content_std: only the loss
    assert set(tiny_head().loss_terms(pred, video, mask)) == {'loss'}


def test_std_floor_quiets_flat_targets_and_keeps_textured_ones():
    video, flat = flat_and_textured_video()
    official = tiny_head().construct_target(video)
    floored = tiny_head(std_floor=0.02).construct_target(video)
    # flat tubes: noise blown up to unit variance officially, ~0 with a floor
    assert official[flat].std() > 0.9
    assert floored[flat].std() < 0.25  # (1/255) / 0.02 ~ 0.2
    torch.testing.assert_close(floored[~flat], official[~flat])
    import pytest
    with pytest.raises(ValueError, match='std_floor'):
        tiny_head(std_floor=-1.)
