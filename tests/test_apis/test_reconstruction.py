# Copyright (c) mmmae contributors. All rights reserved.
"""mmmae.apis.reconstruct_video with the moving-digits pretraining config
(shrunk) on a real mp4: the deterministic clip, the mask, the views."""
import numpy as np
import pytest
import torch

from _apis_helpers import decode_resize_crop, tiny_videomae_cfg
from conftest import random_video, write_mp4
from mmmae.apis import (InputError, build_reconstruction_pipeline,
                        init_model, quiet_init_weights, reconstruct_video)

GRID = (4, 8, 8)  # 8 frames / tubelet 2, 64 / patch 8


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp('apis_recon')
    torch.manual_seed(0)
    model = quiet_init_weights(init_model(tiny_videomae_cfg()))
    video = write_mp4(str(root / 'clip.mp4'), random_video(40, (48, 64), 4))
    return dict(model=model, video=video, root=root)


def _pixels(mask):
    """(N,) token mask -> (T, H, W) by hand (token order t, h, w)."""
    m = np.asarray(mask).reshape(GRID)
    return m.repeat(2, 0).repeat(8, 1).repeat(8, 2)


def test_reconstruct_video(env):
    from mmaction.datasets.transforms import SampleFrames
    results = reconstruct_video(env['model'], env['video'], seed=1)
    assert len(results) == 1
    res = results[0]
    orig, mask = res['original'], res['mask']
    assert orig.shape == (3, 8, 64, 64) and mask.shape == (256, )
    assert int(mask.sum()) == 192  # the config's tube mask, ratio 0.75
    # tube masking: the same tokens hidden in every temporal slice
    m = mask.numpy().reshape(GRID)
    assert (m == m[:1]).all()
    # the clip: test-mode frame sampling, MultiScaleCrop replaced by a
    # short-side resize to 64 and a 64 center crop (no random crop)
    inds = SampleFrames(clip_len=8, frame_interval=4, num_clips=1,
                        test_mode=True)(dict(total_frames=40,
                                             start_index=0))['frame_inds']
    clip = decode_resize_crop(env['video'], inds, 64, 64)
    expected = torch.from_numpy(clip).permute(3, 0, 1, 2).float() / 255
    torch.testing.assert_close(orig, expected, atol=1e-5, rtol=0)
    # masked input: hidden pixels grey, the rest the original
    hidden = torch.from_numpy(_pixels(mask))
    assert torch.equal(res['masked_input'][:, hidden],
                       torch.full_like(res['masked_input'][:, hidden], 0.5))
    assert torch.equal(res['masked_input'][:, ~hidden], orig[:, ~hidden])
    assert np.array_equal(res['pixel_mask'], _pixels(mask))
    # the reconstruction keeps visible patches, predicts hidden ones
    pred = res['pred_video']
    assert pred.shape == orig.shape
    torch.testing.assert_close(pred[:, ~hidden], orig[:, ~hidden],
                               atol=1e-5, rtol=0)
    d = (pred - orig)[:, hidden]
    assert res['mse'] == pytest.approx(float((d * d).mean()), rel=1e-5)
    assert res['pred_video_gt_stats'] is not None  # norm_pix head
    assert res['mse_gt_stats'] is not None
    assert (res['patch_size'], res['tubelet_size']) == (8, 2)


def test_seed_mask_ratio_and_errors(env, tmp_path):
    model = env['model']
    a = reconstruct_video(model, env['video'], seed=1)[0]['mask']
    b = reconstruct_video(model, env['video'], seed=1)[0]['mask']
    c = reconstruct_video(model, env['video'], seed=2)[0]['mask']
    assert torch.equal(a, b) and not torch.equal(a, c)
    half = reconstruct_video(model, env['video'], mask_ratio=0.5)[0]
    assert int(half['mask'].sum()) == 128
    # a prebuilt pipeline is used as given
    pipe = build_reconstruction_pipeline(model.cfg, mask_ratio=0.25)
    quarter = reconstruct_video(model, env['video'], pipeline=pipe)[0]
    assert int(quarter['mask'].sum()) == 64
    bad = tmp_path / 'bad.mp4'
    bad.write_bytes(b'not a video')
    with pytest.raises(InputError, match='bad.mp4: cannot read it'):
        reconstruct_video(model, str(bad))
