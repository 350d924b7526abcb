# Copyright (c) mmmae contributors. All rights reserved.
"""tools/extract_features.py (mmmae.apis.extract_features): windows, shapes,
numerics, bad videos, inputs."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

import mmmae  # noqa: F401
from conftest import random_video, run_tool, write_mp4
from mmmae.apis import window_frame_indices, window_starts

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]
BACKBONE = dict(arch=dict(embed_dims=32,
                          num_layers=2,
                          num_heads=2,
                          feedforward_channels=64),
                img_size=32,
                patch_size=8,
                num_frames=4,
                tubelet_size=2)
D, N = 32, 2 * 4 * 4
# 40 frames, clip 4 x interval 2 (span 8), stride 4 -> starts 0, 4, ..., 32
WIN = ['--clip-len', '4', '--frame-interval', '2', '--stride', '4']


def _build(use_mean_pooling=False):
    from mmmae.models.backbones.videomae_vit import VideoMAEViT
    return VideoMAEViT(**BACKBONE, use_mean_pooling=use_mean_pooling)


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp('extract')
    cfg = dict(default_scope='mmmae',
               model=dict(type='VideoMAE',
                          data_preprocessor=dict(
                              type='VideoMAEDataPreprocessor',
                              mean=MEAN,
                              std=STD),
                          backbone=dict(type='VideoMAEViT', **BACKBONE)))
    cfg_path = root / 'cfg.py'
    cfg_path.write_text(''.join(f'{k} = {v!r}\n' for k, v in cfg.items()))

    torch.manual_seed(0)
    bb = _build()
    bb.init_weights()
    with torch.no_grad():  # non-trivial norms so a skipped norm shows
        for name, p in bb.named_parameters():
            if 'norm' in name:
                p.add_(torch.randn_like(p) * 0.3)
    state = {'backbone.' + k: v for k, v in bb.state_dict().items()}
    state['neck.decoder_thing'] = torch.zeros(3)  # other parts are ignored
    ckpt = root / 'bb.pth'
    torch.save({'state_dict': state, 'meta': {}}, str(ckpt))

    vids = root / 'videos'
    write_mp4(str(vids / 'a.mp4'), random_video(40, (48, 64), seed=1))
    write_mp4(str(vids / 'sub' / 'b.mp4'), random_video(5, (48, 64), seed=2))
    bad = tmp_path_factory.mktemp('bad')
    os.symlink(vids / 'a.mp4', bad / 'good.mp4')
    (bad / 'corrupt.mp4').write_bytes(np.random.default_rng(0).bytes(4000))
    (bad / 'empty.mp4').write_bytes(b'')
    return dict(root=root,
                cfg=str(cfg_path),
                ckpt=str(ckpt),
                vids=vids,
                bad=bad,
                bb=bb.eval())


def _run(env, videos, out, *extra, ckpt=None):
    """tools/extract_features.py's command line; returns the exit status."""
    return run_tool('tools/extract_features.py', env['cfg'],
                    ckpt or env['ckpt'], videos, out, '--device', 'cpu', *WIN,
                    *extra)


def _meta(path):
    with open(path) as f:
        return json.load(f)


def test_window_starts():
    starts = window_starts(40, 4, 2, 4)
    assert starts == list(range(0, 33, 4))
    idx = window_frame_indices(starts, 40, 4, 2)
    assert idx.shape == (9, 4)
    assert idx[-1].tolist() == [32, 34, 36, 38]
    # one more frame: a 10th window, padded with the last frame
    starts = window_starts(41, 4, 2, 4)
    assert starts[-1] == 36
    assert window_frame_indices(starts, 41, 4,
                                2)[-1].tolist() == [36, 38, 40, 40]
    # a video shorter than a window: one padded window
    assert window_starts(5, 4, 2, 4) == [0]
    assert window_frame_indices([0], 5, 4, 2).tolist() == [[0, 2, 4, 4]]
    assert window_starts(0, 4, 2, 4) == []
    # defaults 16 x 4, stride 16
    assert window_starts(64, 16, 4, 16) == [0]
    assert window_starts(65, 16, 4, 16) == [0, 16]


def _by_hand(env, video, frame_idx, short_side):
    import decord
    frames = decord.VideoReader(str(video)).get_batch(
        list(frame_idx)).asnumpy()
    h, w = frames.shape[1:3]
    scale = short_side / min(h, w)
    nw, nh = int(w * scale + 0.5), int(h * scale + 0.5)
    frames = np.stack([
        cv2.resize(f, (nw, nh), interpolation=cv2.INTER_LINEAR) for f in frames
    ])
    top, left = (nh - 32) // 2, (nw - 32) // 2
    clip = frames[:, top:top + 32, left:left + 32].astype(np.float32)
    clip = (clip - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    x = torch.from_numpy(clip).permute(3, 0, 1, 2)[None]  # 1, C, T, H, W
    with torch.no_grad():
        return env['bb'](x)[0]  # N, D tokens after the final norm


def test_pooled_matches_manual(env, tmp_path, capsys):
    out = tmp_path / 'out'
    assert _run(env, env['vids'] / 'a.mp4', out, '--short-side', '40',
                '--batch-size', '4') == 0
    feats = np.load(out / 'a.npy')
    assert feats.dtype == np.float32 and feats.shape == (9, D)
    meta = _meta(out / 'a.json')
    assert meta['window_starts'] == list(range(0, 33, 4))
    assert meta['num_frames'] == 40 and meta['fps'] == pytest.approx(10)
    assert meta['window_start_sec'][1] == pytest.approx(0.4)
    assert meta['feature'] == 'pooled' and meta['layers'] is None
    assert meta['shape'] == [9, D] and meta['token_grid'] == [2, 4, 4]
    assert meta['window_span'] == 8 and meta['short_side'] == 40
    # windows in the first, second and last batch (cache across batches)
    for w in (0, 5, 8):
        idx = window_frame_indices([4 * w], 40, 4, 2)[0]
        ref = _by_hand(env, env['vids'] / 'a.mp4', idx, 40).mean(0)
        np.testing.assert_allclose(feats[w], ref.numpy(), atol=1e-5, rtol=0)
    assert 'extracted 1, skipped 0' in capsys.readouterr().out


def test_tokens_layers_shapes(env, tmp_path):
    video = env['vids'] / 'a.mp4'
    pooled = tmp_path / 'pooled'
    _run(env, video, pooled)
    ref = np.load(pooled / 'a.npy')

    tokens = tmp_path / 'tokens'
    assert _run(env, video, tokens, '--feature', 'tokens') == 0
    tok = np.load(tokens / 'a.npy')
    assert tok.shape == (9, N, D)
    np.testing.assert_allclose(tok.mean(1), ref, atol=1e-5)
    idx = window_frame_indices([12], 40, 4, 2)[0]
    manual = _by_hand(env, video, idx, 32).numpy()
    np.testing.assert_allclose(tok[3], manual, atol=1e-5, rtol=0)

    lay = tmp_path / 'layers'
    assert _run(env, video, lay, '--layers', '0', '-1') == 0
    lp = np.load(lay / 'a.npy')
    assert lp.shape == (9, 2, D)
    meta = _meta(lay / 'a.json')
    assert meta['layers'] == [0, 1] and meta['pre_norm'] is True

    lay_tok = tmp_path / 'layers_tok'
    assert _run(env, video, lay_tok, '--layers', '0', '-1', '--feature',
                'tokens', '--batch-size', '3') == 0
    lt = np.load(lay_tok / 'a.npy')
    assert lt.shape == (9, 2, N, D)
    np.testing.assert_allclose(lt.mean(2), lp, atol=1e-5)
    # the last block, pre-norm, then the final norm = the tokens output
    with torch.no_grad():
        normed = env['bb'].norm(torch.from_numpy(lt[:, 1])).numpy()
    np.testing.assert_allclose(normed, tok, atol=1e-4)


def test_short_video_and_options(env, tmp_path):
    out = tmp_path / 'out'
    assert _run(env, env['vids'] / 'sub' / 'b.mp4', out, '--crop', 'none',
                '--clip-len', '6', '--amp') == 0
    feats = np.load(out / 'b.npy')
    assert feats.shape == (1, D) and np.isfinite(feats).all()
    meta = _meta(out / 'b.json')
    assert meta['window_starts'] == [0] and meta['num_frames'] == 5
    assert meta['clip_len'] == 6 and meta['amp'] is True
    # a fine-tuning (mean pooling) backbone, random init
    ft = tmp_path / 'ft'
    assert _run(env,
                env['vids'] / 'a.mp4',
                ft,
                '--cfg-options',
                'model.backbone.use_mean_pooling=True',
                ckpt='none') == 0
    assert np.load(ft / 'a.npy').shape == (9, D)


def test_bad_checkpoint_and_args(env, tmp_path, capsys):
    sd = torch.load(env['ckpt'], weights_only=True)['state_dict']
    sd.pop('backbone.blocks.1.mlp.fc2.weight')
    bad = tmp_path / 'bad.pth'
    torch.save({'state_dict': sd}, str(bad))
    out = tmp_path / 'out'
    assert _run(env, env['vids'], out, ckpt=str(bad)) == 2
    assert 'blocks.1.mlp.fc2.weight' in capsys.readouterr().err
    # pretraining weights into a fine-tuning backbone: norm vs fc_norm
    assert _run(env, env['vids'], out, '--cfg-options',
                'model.backbone.use_mean_pooling=True') == 2
    assert 'use_mean_pooling=False' in capsys.readouterr().err
    # a complete checkpoint loads
    assert _run(env, env['vids'] / 'sub' / 'b.mp4', out) == 0
    assert _run(env, env['vids'], out, '--layers', '2') == 2
    assert _run(env, env['vids'], out, '--clip-len', '3') == 2
    assert not (out / 'a.npy').exists() and (out / 'b.npy').exists()


def test_bad_videos_skipped(env, tmp_path, capsys):
    out = tmp_path / 'out'
    assert _run(env, env['bad'], out) == 0
    assert (out / 'good.npy').is_file()
    assert not (out / 'corrupt.npy').exists()
    assert not any(p.name.endswith('.part') for p in out.iterdir())
    lines = (out / 'skipped.txt').read_text().splitlines()
    assert sorted(osp.basename(ln.split('\t')[0])
                  for ln in lines) == ['corrupt.mp4', 'empty.mp4']
    captured = capsys.readouterr()
    assert 'extracted 1, skipped 2 (listed in' in captured.out
    assert 'corrupt.mp4' in captured.err and 'empty.mp4' in captured.err
    # nothing readable: exit 1
    only_bad = tmp_path / 'only_bad'
    only_bad.mkdir()
    (only_bad / 'x.mp4').write_bytes(b'')
    assert _run(env, only_bad, tmp_path / 'out2') == 1


def test_directory_list_and_skip_existing(env, tmp_path, capsys):
    out = tmp_path / 'dir_out'
    assert _run(env, env['vids'], out) == 0
    assert np.load(out / 'a.npy').shape == (9, D)
    assert np.load(out / 'sub' / 'b.npy').shape == (1, D)
    assert (out / 'sub' / 'b.json').is_file()
    assert not (out / 'skipped.txt').exists()
    capsys.readouterr()

    mtime = os.stat(out / 'a.npy').st_mtime_ns
    os.remove(out / 'sub' / 'b.npy')
    assert _run(env, env['vids'], out, '--skip-existing') == 0
    assert os.stat(out / 'a.npy').st_mtime_ns == mtime
    assert (out / 'sub' / 'b.npy').is_file()
    assert 'extracted 1, skipped 0, 1 already done' in capsys.readouterr().out

    # an mmaction-style list: `path label`, relative to the list folder
    ann = env['root'] / 'ann.txt'
    ann.write_text('videos/a.mp4 0\n\nvideos/sub/b.mp4 1\nvideos/nope.mp4 0\n')
    lst = tmp_path / 'list_out'
    assert _run(env, ann, lst) == 0
    assert (lst / 'videos' / 'a.npy').is_file()
    assert (lst / 'videos' / 'sub' / 'b.npy').is_file()
    assert 'nope.mp4' in (lst / 'skipped.txt').read_text()
    # --data-prefix
    ann2 = tmp_path / 'ann2.txt'
    ann2.write_text('a.mp4 3\n')
    lst2 = tmp_path / 'list_out2'
    assert _run(env, ann2, lst2, '--data-prefix', str(env['vids'])) == 0
    np.testing.assert_array_equal(np.load(lst2 / 'a.npy'),
                                  np.load(out / 'a.npy'))
