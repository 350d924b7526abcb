# Copyright (c) mmmae contributors. All rights reserved.
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from mmmae.visualization import (COLUMN_TITLES, make_reconstruction_grid,
                                 mask_to_pixels, masked_mse, predicted_pixels,
                                 save_reconstruction, select_frames)

C, T, H, W = 3, 8, 32, 32
P, TUB = 8, 2
N = (T // TUB) * (H // P) * (W // P)  # 64


def _clip(seed=0):
    g = torch.Generator().manual_seed(seed)
    # keep away from the mask grey so greyed pixels are unambiguous
    return torch.rand(C, T, H, W, generator=g) * 0.3 + 0.65


def _tube_mask(ratio=0.75, seed=0):
    rng = np.random.default_rng(seed)
    hw = (H // P) * (W // P)
    spatial = np.zeros(hw, bool)
    spatial[rng.permutation(hw)[:int(hw * ratio)]] = True
    return np.tile(spatial, T // TUB)


def test_mask_to_pixels_token_order():
    mask = np.zeros(N, bool)
    # token n = t'*H'*W' + h'*W' + w' with grid (4, 4, 4)
    mask[1 * 16 + 2 * 4 + 3] = True
    pix = mask_to_pixels(mask, (C, T, H, W), P, TUB)
    assert pix.shape == (T, H, W)
    assert pix.sum() == TUB * P * P
    assert pix[2:4, 16:24, 24:32].all()
    with pytest.raises(ValueError):
        mask_to_pixels(np.zeros(N - 1, bool), (T, H, W), P, TUB)
    with pytest.raises(ValueError):
        mask_to_pixels(mask, (T, H, W + 1), P, TUB)


def test_select_frames():
    assert select_frames(16) == [0, 2, 4, 6, 9, 11, 13, 15]
    assert select_frames(4) == [0, 1, 2, 3]
    assert select_frames(16, 2) == [0, 15]
    assert select_frames(8, [0, -1, 0]) == [0, 7]
    with pytest.raises(IndexError):
        select_frames(8, [8])


def test_grid_shape_columns_and_masked_pixels():
    clip = _clip()
    mask = _tube_mask()
    raw = torch.full_like(clip, 0.1)
    leaky = torch.full_like(clip, 0.9)
    img, layout = make_reconstruction_grid(clip,
                                           torch.from_numpy(mask),
                                           raw,
                                           leaky,
                                           P,
                                           TUB,
                                           return_layout=True)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    frames = layout['frames']
    assert frames == list(range(T))  # 8 frames -> all shown
    cols = {c for (_, c) in layout['tiles']}
    assert cols == {0, 1, 2, 3}
    assert len(layout['tiles']) == 4 * len(frames)
    s = layout['scale']
    assert H * s >= 96 and W * s >= 96  # tiny frames upscaled

    pix = mask_to_pixels(mask, clip.shape, P, TUB)
    orig_u8 = (clip.permute(1, 2, 3, 0).numpy() * 255 + 0.5).astype(np.uint8)
    for r, t in enumerate(frames):
        # column 0: the original, upscaled by nearest neighbour
        y, x, th, tw = layout['tiles'][(r, 0)]
        assert (th, tw) == (H * s, W * s)
        np.testing.assert_array_equal(img[y:y + th:s, x:x + tw:s], orig_u8[t])
        # column 1: grey exactly where the mask says, original elsewhere
        y, x, th, tw = layout['tiles'][(r, 1)]
        tile = img[y:y + th:s, x:x + tw:s]
        grey = (tile == 128).all(-1)
        np.testing.assert_array_equal(grey, pix[t])
        np.testing.assert_array_equal(tile[~pix[t]], orig_u8[t][~pix[t]])
        # columns 2 and 3: the reconstructions
        y, x, th, tw = layout['tiles'][(r, 2)]
        assert (img[y:y + th, x:x + tw] == 26).all()
        y, x, th, tw = layout['tiles'][(r, 3)]
        assert (img[y:y + th, x:x + tw] == 230).all()


def test_grid_header_has_labels_and_leak_warning():
    clip = _clip()
    img, layout = make_reconstruction_grid(clip,
                                           _tube_mask(),
                                           clip,
                                           clip,
                                           P,
                                           TUB,
                                           return_layout=True)
    y0, y1 = layout['header']
    assert y1 - y0 >= 12
    header = img[y0:y1]
    # text pixels are light on the dark background, in every column
    for r_c, (_, x, _, tw) in layout['tiles'].items():
        if r_c[0] != 0:
            continue
        assert (header[:, x:x + tw].max(-1) > 150).sum() > 20, r_c
    titles = layout['titles']
    assert len(titles) == 4
    assert 'raw' in titles[2]
    assert 'ground-truth' in titles[3] and 'leak' in titles[3]
    assert 'ground-truth' in ' '.join(COLUMN_TITLES)


def test_grid_frames_option_and_three_columns():
    clip = _clip()
    img, layout = make_reconstruction_grid(clip.numpy(),
                                           _tube_mask(),
                                           clip.numpy(),
                                           None,
                                           P,
                                           TUB,
                                           frames=3,
                                           return_layout=True)
    assert layout['frames'] == [0, 4, 7]
    assert {c for (_, c) in layout['tiles']} == {0, 1, 2}
    img2 = make_reconstruction_grid(clip,
                                    _tube_mask(),
                                    clip,
                                    clip,
                                    P,
                                    TUB,
                                    frames=[1, 2])
    assert img2.shape[1] > img.shape[1]  # one more column
    with pytest.raises(ValueError):
        make_reconstruction_grid(clip, _tube_mask(), clip[:, :4], None, P, TUB)


def test_grid_large_frames_not_upscaled_and_clipped_values():
    v = torch.rand(3, 4, 128, 160) * 1.6 - 0.3  # out of [0, 1]
    mask = np.zeros((4 // 2) * (128 // 16) * (160 // 16), bool)
    img, layout = make_reconstruction_grid(v,
                                           mask,
                                           v,
                                           v,
                                           16,
                                           2,
                                           return_layout=True)
    assert layout['scale'] == 1
    assert layout['tiles'][(0, 0)][2:] == (128, 160)


def test_masked_mse():
    a = torch.zeros(3, 2, 4, 4)
    b = torch.zeros(3, 2, 4, 4)
    pix = np.zeros((2, 4, 4), bool)
    pix[0, :2] = True
    b[:, 0, :2] = 0.5
    b[:, 1] = 1.0  # visible: ignored
    assert masked_mse(b, a, pix) == pytest.approx(0.25)
    assert np.isnan(masked_mse(a, b, np.zeros_like(pix)))


def test_save_reconstruction_png(tmp_path):
    clip = _clip()
    path = osp.join(str(tmp_path), 'sub', 'x.png')
    img = save_reconstruction(path, clip, _tube_mask(), clip, clip, P, TUB)
    assert osp.isfile(path)
    back = cv2.imread(path)[..., ::-1]
    np.testing.assert_array_equal(back, img)  # RGB written as BGR


def test_grid_v2_decoder_mask_hides_undecoded_tokens():
    clip = _clip()
    mask = _tube_mask(0.75)
    dmask = np.zeros(N, bool)
    dmask[::2] = True  # every other token not decoded
    raw = torch.full_like(clip, 0.1)
    img, layout = make_reconstruction_grid(clip,
                                           mask,
                                           raw,
                                           raw,
                                           P,
                                           TUB,
                                           decoder_mask=dmask,
                                           undecoded_color=(1, 2, 3),
                                           return_layout=True)
    s = layout['scale']
    undecoded = mask_to_pixels(mask & dmask, clip.shape, P, TUB)
    for r, t in enumerate(layout['frames']):
        for c in (2, 3):
            y, x, th, tw = layout['tiles'][(r, c)]
            tile = img[y:y + th:s, x:x + tw:s]
            np.testing.assert_array_equal((tile == (1, 2, 3)).all(-1),
                                          undecoded[t])
    pix = predicted_pixels(mask, clip.shape, P, TUB, dmask)
    np.testing.assert_array_equal(
        pix, mask_to_pixels(mask & ~dmask, clip.shape, P, TUB))
