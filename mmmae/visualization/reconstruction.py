# Copyright (c) mmmae contributors. All rights reserved.
"""Side-by-side pictures of VideoMAE reconstructions.

One image per clip: rows are frames, columns are

``original | masked input | reconstruction (raw prediction) |
reconstruction (GT patch stats: leaks)``.

The last column is the view the official ``run_videomae_vis.py`` shows: a
norm-pix prediction is un-normalized with the *ground-truth* mean and std of
every masked patch, so the colour and contrast of hidden patches come from the
answer (VideoMAE#25, #56, #120). It looks far better than what the model
predicts on its own; the raw-prediction column is the honest one.
"""
import math
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

__all__ = [
    'COLUMN_TITLES', 'mask_to_pixels', 'predicted_pixels', 'masked_mse',
    'select_frames', 'make_reconstruction_grid', 'save_reconstruction'
]

#: Column titles, left to right (the header wraps them to the tile width).
COLUMN_TITLES = (
    'original',
    'masked input (grey = hidden)',
    'reconstruction: raw prediction',
    'reconstruction using ground-truth patch mean/std (leaks)',
)

FOOTNOTE = ('Last column un-normalizes predictions with the ground-truth '
            'mean/std of each hidden patch (as upstream VideoMAE vis): '
            'it leaks the answer. Judge the model by the raw prediction.')

UNDECODED_NOTE = ('Dark blue in the reconstructions: hidden tokens the V2 '
                  'decoder mask left out (no prediction).')

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_BG = (24, 24, 24)
_FG = (240, 240, 240)
_ACCENT = (255, 170, 60)  # orange, used for the leaky column title

ArrayLike = Union[np.ndarray, 'torch.Tensor']  # noqa: F821


def _to_numpy(x) -> np.ndarray:
    """Detach a tensor (any device/dtype) or pass an array through."""
    if hasattr(x, 'detach'):
        x = x.detach().cpu()
        if str(x.dtype).startswith('torch.bfloat16') or str(
                x.dtype) == 'torch.float16':
            x = x.float()
        x = x.numpy()
    return np.asarray(x)


def _pair(x: Union[int, Sequence[int]]) -> Tuple[int, int]:
    if isinstance(x, (int, np.integer)):
        return int(x), int(x)
    x = tuple(int(v) for v in x)
    assert len(x) == 2, f'expected an int or a pair, got {x}'
    return x


def mask_to_pixels(mask: ArrayLike, video_shape: Sequence[int],
                   patch_size: Union[int, Sequence[int]],
                   tubelet_size: int) -> np.ndarray:
    """Expand a token mask to a pixel mask.

    Token ``n = t'*H'*W' + h'*W' + w'`` covers frames ``t'*t .. t'*t+t-1``,
    rows ``h'*p ..`` and columns ``w'*p ..``.

    Args:
        mask (np.ndarray | Tensor): ``(N,)`` bool, True = masked.
        video_shape (Sequence[int]): ``(T, H, W)`` (a leading ``C`` is
            ignored when four numbers are given).
        patch_size (int | Sequence[int]): spatial patch size ``p`` or
            ``(ph, pw)``.
        tubelet_size (int): temporal size ``t`` of a token.

    Returns:
        np.ndarray: ``(T, H, W)`` bool, True where the pixel is hidden.
    """
    shape = tuple(int(s) for s in video_shape)[-3:]
    t, h, w = shape
    ph, pw = _pair(patch_size)
    tt = int(tubelet_size)
    if t % tt or h % ph or w % pw:
        raise ValueError(f'video {shape} is not divisible by tubelet '
                         f'{tt} x patch {(ph, pw)}')
    grid = (t // tt, h // ph, w // pw)
    m = _to_numpy(mask).astype(bool).reshape(-1)
    if m.size != grid[0] * grid[1] * grid[2]:
        raise ValueError(
            f'mask has {m.size} tokens but a {shape} video with tubelet '
            f'{tt} and patch {(ph, pw)} has {grid} = '
            f'{grid[0] * grid[1] * grid[2]} tokens')
    m = m.reshape(grid)
    return m.repeat(tt, 0).repeat(ph, 1).repeat(pw, 2)


def predicted_pixels(mask: ArrayLike,
                     video_shape: Sequence[int],
                     patch_size: Union[int, Sequence[int]],
                     tubelet_size: int,
                     decoder_mask: Optional[ArrayLike] = None) -> np.ndarray:
    """Pixels that are hidden from the encoder and predicted by the decoder.

    Args:
        mask (np.ndarray | Tensor): ``(N,)`` bool, True = hidden.
        video_shape (Sequence[int]): ``(T, H, W)`` or ``(C, T, H, W)``.
        patch_size (int | Sequence[int]): spatial patch size.
        tubelet_size (int): temporal token size.
        decoder_mask (np.ndarray | Tensor, optional): ``(N,)`` bool V2
            decoder mask, True = not reconstructed.

    Returns:
        np.ndarray: ``(T, H, W)`` bool.
    """
    pix = mask_to_pixels(mask, video_shape, patch_size, tubelet_size)
    if decoder_mask is not None:
        pix &= ~mask_to_pixels(decoder_mask, video_shape, patch_size,
                               tubelet_size)
    return pix


def masked_mse(pred01: ArrayLike, target01: ArrayLike,
               pixel_mask: np.ndarray) -> float:
    """Mean squared error over the hidden pixels (all channels).

    Args:
        pred01 (np.ndarray | Tensor): ``(C, T, H, W)`` in [0, 1].
        target01 (np.ndarray | Tensor): ``(C, T, H, W)`` in [0, 1].
        pixel_mask (np.ndarray): ``(T, H, W)`` bool, True = hidden.

    Returns:
        float: the MSE over hidden pixels, ``nan`` when nothing is hidden.
    """
    p = _to_numpy(pred01).astype(np.float64)
    g = _to_numpy(target01).astype(np.float64)
    if not pixel_mask.any():
        return float('nan')
    d = (p - g)[:, pixel_mask]
    return float((d * d).mean())


def select_frames(num_frames: int,
                  frames: Union[None, int, Sequence[int]] = None,
                  max_frames: int = 8) -> List[int]:
    """Frame indices to show.

    Args:
        num_frames (int): ``T`` of the clip.
        frames (None | int | Sequence[int]): None shows up to ``max_frames``
            evenly spaced frames; an int ``K`` shows ``K`` evenly spaced
            frames; a sequence is used as given (negative indices allowed).
        max_frames (int): cap used when ``frames`` is None.

    Returns:
        list[int]: sorted-as-given, de-duplicated indices in ``[0, T)``.
    """
    if frames is None or isinstance(frames, (int, np.integer)):
        k = max_frames if frames is None else int(frames)
        k = max(1, min(k, num_frames))
        idx = np.linspace(0, num_frames - 1, k).round().astype(int).tolist()
    else:
        idx = [
            int(i) % num_frames if -num_frames <= int(i) < num_frames else None
            for i in frames
        ]
        if any(i is None for i in idx) or not idx:
            raise IndexError(f'frames {list(frames)} out of range for a clip '
                             f'of {num_frames} frames')
    out = []
    for i in idx:
        if i not in out:
            out.append(i)
    return out


def _to_uint8_frames(video01: ArrayLike) -> np.ndarray:
    """``(C, T, H, W)`` [0, 1] -> ``(T, H, W, 3)`` uint8 RGB."""
    v = _to_numpy(video01).astype(np.float32)
    if v.ndim != 4:
        raise ValueError(f'expected a (C, T, H, W) video, got {v.shape}')
    if v.shape[0] == 1:
        v = np.repeat(v, 3, axis=0)
    if v.shape[0] != 3:
        raise ValueError(f'expected 1 or 3 channels, got {v.shape}')
    v = np.nan_to_num(v, nan=0.0, posinf=1.0, neginf=0.0)
    v = np.clip(v, 0.0, 1.0)
    return (v.transpose(1, 2, 3, 0) * 255.0 + 0.5).astype(np.uint8)


def _wrap(text: str, width_px: int, scale: float, thickness: int) -> List[str]:
    """Greedy word wrap of ``text`` to ``width_px`` for cv2's font."""
    lines: List[str] = []
    cur = ''
    for word in text.split():
        cand = word if not cur else cur + ' ' + word
        (tw, _), _ = cv2.getTextSize(cand, _FONT, scale, thickness)
        if tw <= width_px or not cur:
            cur = cand
        else:
            lines.append(cur)
            cur = word
    if cur:
        lines.append(cur)
    return lines


def _line_height(scale: float, thickness: int) -> int:
    (_, th), base = cv2.getTextSize('Ag', _FONT, scale, thickness)
    return th + base + 3


def _draw_lines(img: np.ndarray,
                lines: Sequence[str],
                x0: int,
                y0: int,
                width: int,
                scale: float,
                thickness: int,
                color: Tuple[int, int, int],
                center: bool = True) -> None:
    lh = _line_height(scale, thickness)
    (_, th), _ = cv2.getTextSize('Ag', _FONT, scale, thickness)
    for k, line in enumerate(lines):
        (tw, _), _ = cv2.getTextSize(line, _FONT, scale, thickness)
        x = x0 + max(0, (width - tw) // 2) if center else x0
        y = y0 + k * lh + th + 1
        cv2.putText(img, line, (x, y), _FONT, scale, color, thickness,
                    cv2.LINE_AA)


def make_reconstruction_grid(original01: ArrayLike,
                             mask: ArrayLike,
                             recon_raw01: ArrayLike,
                             recon_gt_stats01: Optional[ArrayLike] = None,
                             patch_size: Union[int, Sequence[int]] = 16,
                             tubelet_size: int = 2,
                             frames: Union[None, int, Sequence[int]] = None,
                             min_tile_size: int = 128,
                             mask_color: Tuple[int, int,
                                               int] = (128, 128, 128),
                             gap: int = 2,
                             title: Optional[str] = None,
                             footnote: bool = True,
                             decoder_mask: Optional[ArrayLike] = None,
                             undecoded_color: Tuple[int, int,
                                                    int] = (40, 40, 96),
                             return_layout: bool = False):
    """Draw ``original | masked | recon (raw) | recon (GT stats)``.

    Tiles are upscaled with nearest neighbour by an integer factor so the
    smaller side is at least ``min_tile_size`` (patch borders stay sharp and
    labels stay readable for tiny clips). Hidden patches of the masked-input
    column are filled with ``mask_color`` exactly where ``mask`` is True.

    Layout (pixels): an optional title band, a header band with one wrapped
    label per column, then one row per frame (a left margin holds ``t=i``),
    then an optional footnote band explaining the GT-stats leak. Tiles are
    separated by ``gap`` background pixels.

    Args:
        original01 (np.ndarray | Tensor): ``(C, T, H, W)`` clip in [0, 1].
        mask (np.ndarray | Tensor): ``(N,)`` bool token mask, True = hidden,
            ``N = T/t * H/p * W/p``.
        recon_raw01 (np.ndarray | Tensor): ``(C, T, H, W)`` reconstruction in
            [0, 1] (visible patches from the input, predicted ones elsewhere)
            with the prediction un-normalized without ground-truth
            statistics.
        recon_gt_stats01 (np.ndarray | Tensor, optional): ``(C, T, H, W)``
            the leaky upstream view. None drops that column.
        patch_size (int | Sequence[int]): spatial patch size.
        tubelet_size (int): temporal token size.
        frames (None | int | Sequence[int]): frames to show (see
            :func:`select_frames`; default up to 8 evenly spaced).
        min_tile_size (int): minimum tile side after upscaling.
        mask_color (tuple[int]): RGB fill of hidden patches.
        gap (int): pixels between tiles.
        title (str, optional): a line drawn above the header.
        footnote (bool): draw the leak explanation under the grid (only when
            the GT-stats column is present).
        decoder_mask (np.ndarray | Tensor, optional): ``(N,)`` bool V2
            decoder mask, True = not reconstructed. Tokens hidden from the
            encoder *and* not decoded have no prediction (the model's
            reconstruction keeps their input pixels); they are filled with
            ``undecoded_color`` in the reconstruction columns so ground truth
            is not passed off as a prediction.
        undecoded_color (tuple[int]): RGB fill for hidden, undecoded tokens.
        return_layout (bool): also return where things were drawn.

    Returns:
        np.ndarray | tuple: ``(H_img, W_img, 3)`` uint8 RGB image; with
        ``return_layout`` a tuple ``(image, layout)`` where ``layout`` has
        ``frames`` (the shown indices), ``scale`` (the upscale factor),
        ``header`` (``(y0, y1)`` rows of the label band), ``titles`` and
        ``tiles``: ``{(row, col): (y, x, tile_h, tile_w)}``.
    """
    orig = _to_uint8_frames(original01)
    t, h, w, _ = orig.shape
    cols = [orig]
    pix = mask_to_pixels(mask, (t, h, w), patch_size, tubelet_size)
    masked = orig.copy()
    masked[pix] = np.asarray(mask_color, dtype=np.uint8)
    cols.append(masked)
    undecoded = None
    if decoder_mask is not None:
        undecoded = pix & mask_to_pixels(decoder_mask,
                                         (t, h, w), patch_size, tubelet_size)
    for v in (recon_raw01, recon_gt_stats01):
        if v is None:
            continue
        arr = _to_uint8_frames(v)
        if arr.shape != orig.shape:
            raise ValueError(f'reconstruction {arr.shape[:3]} and original '
                             f'{orig.shape[:3]} differ in (T, H, W)')
        if undecoded is not None:
            arr[undecoded] = np.asarray(undecoded_color, dtype=np.uint8)
        cols.append(arr)
    titles = list(COLUMN_TITLES[:len(cols)])
    idx = select_frames(t, frames)

    scale_f = max(1, int(math.ceil(min_tile_size / max(1, min(h, w)))))
    th_, tw_ = h * scale_f, w * scale_f
    ncol = len(cols)

    # Text metrics scale with the tile so large tiles get larger text.
    fscale = float(np.clip(tw_ / 260.0, 0.38, 0.9))
    thick = 1
    lh = _line_height(fscale, thick)
    margin = cv2.getTextSize(f't={t - 1}', _FONT, fscale, thick)[0][0] + 10

    wrapped = [_wrap(s, tw_ - 4, fscale, thick) for s in titles]
    header_h = max(len(x) for x in wrapped) * lh + 8
    width = margin + ncol * tw_ + (ncol + 1) * gap
    title_lines = _wrap(title, width - 8, fscale, thick) if title else []
    title_h = len(title_lines) * lh + 6 if title_lines else 0
    note = FOOTNOTE if footnote and recon_gt_stats01 is not None else ''
    if undecoded is not None:
        note = (UNDECODED_NOTE + ' ' + note).strip()
    note_scale = max(0.35, fscale * 0.85)
    note_lines = _wrap(note, width - 8, note_scale, thick) if note else []
    note_h = len(note_lines) * _line_height(note_scale, thick) + 8 \
        if note_lines else 0
    grid_h = len(idx) * th_ + (len(idx) + 1) * gap
    height = title_h + header_h + grid_h + note_h

    layout = dict(frames=idx,
                  scale=scale_f,
                  header=(title_h, title_h + header_h),
                  titles=titles,
                  tiles={})
    img = np.empty((height, width, 3), np.uint8)
    img[:] = np.asarray(_BG, np.uint8)
    if title_lines:
        _draw_lines(img, title_lines, 4, 3, width - 8, fscale, thick, _FG)
    y_hdr = title_h
    for c, lines in enumerate(wrapped):
        x = margin + gap + c * (tw_ + gap)
        color = _ACCENT if c == 3 else _FG
        _draw_lines(img, lines, x, y_hdr + 4, tw_, fscale, thick, color)
    y0 = title_h + header_h + gap
    for r, fi in enumerate(idx):
        y = y0 + r * (th_ + gap)
        lab = f't={fi}'
        (lw, lhh), _ = cv2.getTextSize(lab, _FONT, fscale, thick)
        cv2.putText(img, lab, (max(2, margin - lw - 6), y + (th_ + lhh) // 2),
                    _FONT, fscale, _FG, thick, cv2.LINE_AA)
        for c, col in enumerate(cols):
            x = margin + gap + c * (tw_ + gap)
            tile = col[fi]
            if scale_f > 1:
                tile = tile.repeat(scale_f, 0).repeat(scale_f, 1)
            img[y:y + th_, x:x + tw_] = tile
            layout['tiles'][(r, c)] = (y, x, th_, tw_)
    if note_lines:
        _draw_lines(img,
                    note_lines,
                    4,
                    title_h + header_h + grid_h + 4,
                    width - 8,
                    note_scale,
                    thick,
                    _ACCENT,
                    center=False)
    if return_layout:
        return img, layout
    return img


def save_reconstruction(path: str, *args, **kwargs) -> np.ndarray:
    """Draw :func:`make_reconstruction_grid` and write it as a PNG.

    Args:
        path (str): output file; parent folders are created.
        *args: passed to :func:`make_reconstruction_grid`.
        **kwargs: passed to :func:`make_reconstruction_grid`.

    Returns:
        np.ndarray: the ``(H_img, W_img, 3)`` uint8 RGB image written.
    """
    kwargs.pop('return_layout', None)
    img = make_reconstruction_grid(*args, **kwargs)
    d = osp.dirname(osp.abspath(path))
    os.makedirs(d, exist_ok=True)
    if not cv2.imwrite(path, np.ascontiguousarray(img[..., ::-1])):
        raise IOError(f'cv2.imwrite could not write {path}')
    return img
