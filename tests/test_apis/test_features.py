# Copyright (c) mmmae contributors. All rights reserved.
"""mmmae.apis.extract_features on a real mp4 with the moving-digits
pretraining config (shrunk): numerics against a hand computation, modes,
normalisation source, datasets, bare backbones, bad videos."""
import numpy as np
import pytest
import torch

from _apis_helpers import (decode_resize_crop, normalise,
                           tiny_videomae_cfg)
from conftest import random_video, write_mp4
from mmmae.apis import (InputError, VideoDecodeError, extract_features,
                        feature_settings, init_backbone, init_model,
                        quiet_init_weights, save_video_features,
                        window_frame_indices, window_starts)

# not the config's ImageNet values: a feature normalised with the wrong
# statistics would not match the hand computation
MEAN = [100., 110., 120.]
STD = [50., 60., 70.]
D, N = 32, 4 * 8 * 8  # tokens of an 8 x 64 x 64 clip, tubelet 2, patch 8
# 40 frames, windows of 8 frames every 2nd (span 16), stride 8: 4 windows
WIN = dict(frame_interval=2, stride=8)


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp('apis_features')
    cfg = tiny_videomae_cfg(**{
        'model.data_preprocessor.mean': MEAN,
        'model.data_preprocessor.std': STD
    })
    torch.manual_seed(0)
    model = quiet_init_weights(init_model(cfg))
    with torch.no_grad():  # non-trivial norms, so a skipped norm shows
        for name, p in model.backbone.named_parameters():
            if 'norm' in name:
                p.add_(torch.randn_like(p) * 0.3)
    ckpt = str(root / 'videomae.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    videos = root / 'videos'
    long = write_mp4(str(videos / 'long.mp4'), random_video(40, (48, 64), 1))
    short = write_mp4(str(videos / 'short.mp4'), random_video(5, (48, 64), 2))
    return dict(root=root, cfg=cfg, model=model, ckpt=ckpt, long=long,
                short=short, videos=videos)


def _manual(env, start, frame_interval=2):
    """Tokens after the final norm of the window starting at ``start``."""
    idx = window_frame_indices([start], 40, 8, frame_interval)[0]
    clip = decode_resize_crop(env['long'], idx, 64, 64)
    with torch.no_grad():
        return env['model'].backbone(normalise(clip, MEAN, STD))[0]


def test_pooled_and_tokens_match_manual(env):
    model = env['model']
    meta = {}
    # batches of 3: the frame cache is reused across a batch boundary
    pooled = extract_features(model, env['long'], batch_size=3, meta=meta,
                              **WIN)
    assert pooled.dtype == np.float32 and pooled.shape == (4, D)
    assert meta['window_starts'] == window_starts(40, 8, 2, 8) == [
        0, 8, 16, 24
    ]
    assert meta['num_frames'] == 40 and meta['fps'] == pytest.approx(10)
    assert (meta['height'], meta['width']) == (48, 64)
    tokens = extract_features(model, env['long'], mode='tokens', **WIN)
    assert tokens.shape == (4, N, D)
    for w in (0, 3):
        ref = _manual(env, 8 * w).numpy()
        np.testing.assert_allclose(tokens[w], ref, atol=1e-5, rtol=0)
        np.testing.assert_allclose(pooled[w], ref.mean(0), atol=1e-5,
                                   rtol=0)
    # the normalisation comes from the model's data preprocessor: forcing
    # ImageNet changes the features
    imagenet = extract_features(model, env['long'],
                                mean=[123.675, 116.28, 103.53],
                                std=[58.395, 57.12, 57.375], **WIN)
    assert not np.allclose(imagenet, pooled, atol=1e-3)


def test_layers(env):
    model = env['model']
    per_block = extract_features(model, env['long'], mode='layers', **WIN)
    assert per_block.shape == (4, 2, D)  # every block, pooled
    last = extract_features(model, env['long'], mode='tokens', layers=[-1],
                            **WIN)
    assert last.shape == (4, 1, N, D)
    np.testing.assert_allclose(last[:, 0].mean(1), per_block[:, 1],
                               atol=1e-5)
    # the last block is taken before the final norm
    with torch.no_grad():
        normed = model.backbone.norm(torch.from_numpy(last[:, 0])).numpy()
    tokens = extract_features(model, env['long'], mode='tokens', **WIN)
    np.testing.assert_allclose(normed, tokens, atol=1e-4)
    assert not np.allclose(last[:, 0], tokens, atol=1e-3)
    with pytest.raises(IndexError):
        extract_features(model, env['long'], layers=[2], **WIN)
    with pytest.raises(InputError):
        extract_features(model, env['long'], mode='cls', **WIN)
    with pytest.raises(InputError):  # not a multiple of the tubelet
        extract_features(model, env['long'], clip_len=3, **WIN)


def test_dataset_list_and_bare_backbone(env):
    from mmmae.datasets import VideoMAEDataset
    ann = env['root'] / 'ann.txt'
    ann.write_text('long.mp4 0\nshort.mp4 1\n')
    ds = VideoMAEDataset(str(ann), pipeline=[],
                         data_prefix=dict(video=str(env['videos'])),
                         check_files=False, test_mode=True)
    metas = []
    feats = extract_features(env['model'], ds, meta=metas, **WIN)
    assert [f.shape for f in feats] == [(4, D), (1, D)]
    assert [m['num_frames'] for m in metas] == [40, 5]
    single = extract_features(env['model'], env['long'], **WIN)
    np.testing.assert_array_equal(feats[0], single)
    # a list of paths; a short video is one window padded with its last
    # frame (frames 0, 2, 4, 4, ...)
    feats = extract_features(env['model'], [env['short']], **WIN)
    assert feats[0].shape == (1, D) and np.isfinite(feats[0]).all()
    # a bare backbone: the checkpoint's weights, the config's mean/std
    backbone = init_backbone(env['cfg'], env['ckpt'])
    assert backbone.checkpoint_info.startswith(env['ckpt'])
    np.testing.assert_allclose(extract_features(backbone, env['long'],
                                                **WIN), single, atol=1e-6)


def test_bad_videos(env, tmp_path):
    corrupt = tmp_path / 'corrupt.mp4'
    corrupt.write_bytes(np.random.default_rng(0).bytes(4000))
    empty = tmp_path / 'empty.mp4'
    empty.write_bytes(b'')
    for path, why in ((corrupt, 'cannot open'), (empty, 'empty file'),
                      (tmp_path / 'missing.mp4', 'not found')):
        with pytest.raises(VideoDecodeError, match=why):
            extract_features(env['model'], str(path), **WIN)


def test_settings_and_save(env, tmp_path):
    import json
    s = feature_settings(env['model'], mode='layers', clip_len=4, **WIN)
    assert s['feature'] == 'pooled' and s['layers'] == [0, 1]
    assert s['pre_norm'] and s['pooling'] == 'mean of tokens'
    assert s['mean'] == MEAN and s['std'] == STD  # the model's
    assert s['token_grid'] == [2, 8, 8] and s['window_span'] == 8
    assert s['short_side'] == 64 and s['input_size'] == [64, 64]

    out = tmp_path / 'sub' / 'long.npy'
    sidecar = save_video_features(env['model'], env['long'], str(out),
                                  info=dict(tag='x'), **WIN)
    np.testing.assert_array_equal(
        np.load(out), extract_features(env['model'], env['long'], **WIN))
    with open(tmp_path / 'sub' / 'long.json') as f:
        assert json.load(f) == json.loads(json.dumps(sidecar))
    assert sidecar['shape'] == [4, D] and sidecar['tag'] == 'x'
    assert sidecar['window_start_sec'] == pytest.approx([0, .8, 1.6, 2.4])
    bad = tmp_path / 'bad.mp4'
    bad.write_bytes(b'')
    with pytest.raises(VideoDecodeError):
        save_video_features(env['model'], str(bad), str(tmp_path / 'b.npy'))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'bad.mp4', 'sub'
    ]  # nothing half-written
