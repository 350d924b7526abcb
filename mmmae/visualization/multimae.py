# Copyright (c) mmmae contributors. All rights reserved.
"""Pictures of MultiMAE predictions: generic image-grid and colouring helpers.

:func:`make_image_grid` lays out labelled tiles (rows x columns, any number
of each, any tile may be missing) with the text helpers of the VideoMAE
reconstruction pictures (:mod:`mmmae.visualization.reconstruction`); the
other helpers turn MultiMAE maps into RGB tiles:

* :func:`patch_mask_to_pixels`: a ``(h, w)`` token mask -> pixel mask;
* :func:`grey_out`: hidden patches filled with a flat grey;
* :func:`colorize_depth`: a depth map through a colormap over a fixed range;
* :func:`colorize_labels` / :func:`make_palette`: class ids -> palette;
* :func:`unnormalize_patches`: a per-patch normalised (``norm_rgb``)
  prediction un-normalised with the ground-truth patch mean/std (as
  upstream MultiMAE/VideoMAE visualisations do: it leaks the answer).

:func:`render_multimae_prediction` draws one prediction of
:func:`mmmae.apis.predict_multimae`: a row per decoder task,
``input | masked input | prediction``.
"""
import math
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from .reconstruction import (_BG, _FG, _FONT, _draw_lines, _line_height,
                             _to_numpy, _wrap, mask_to_pixels)

__all__ = [
    'MASK_GREY', 'patch_mask_to_pixels', 'grey_out', 'to_uint8_image',
    'colorize_depth', 'depth_range', 'make_palette', 'colorize_labels',
    'unnormalize_patches', 'make_image_grid', 'save_image',
    'MULTIMAE_COLUMN_TITLES', 'render_multimae_prediction'
]

#: Fill of hidden patches in masked-input tiles (RGB).
MASK_GREY = (128, 128, 128)
_MISSING_BG = (48, 48, 48)


def patch_mask_to_pixels(mask, image_hw: Sequence[int],
                         patch_size: Union[int, Sequence[int]]) -> np.ndarray:
    """Expand a token mask of an image to a pixel mask.

    Args:
        mask (np.ndarray | Tensor): ``(h, w)`` or ``(h*w,)`` bool/0-1,
            True = hidden, row-major.
        image_hw (Sequence[int]): ``(H, W)`` of the image.
        patch_size (int | Sequence[int]): patch size at that resolution.

    Returns:
        np.ndarray: ``(H, W)`` bool.
    """
    h, w = (int(s) for s in image_hw[-2:])
    return mask_to_pixels(
        _to_numpy(mask).astype(bool).reshape(-1), (1, h, w), patch_size,
        1)[0]


def grey_out(image: np.ndarray,
             pixel_mask: np.ndarray,
             color: Tuple[int, int, int] = MASK_GREY) -> np.ndarray:
    """Copy of an ``(H, W, 3)`` uint8 image with hidden pixels = ``color``."""
    out = np.array(image, dtype=np.uint8, copy=True)
    out[np.asarray(pixel_mask, bool)] = np.asarray(color, np.uint8)
    return out


def to_uint8_image(image01) -> np.ndarray:
    """``(C, H, W)`` or ``(H, W)`` in [0, 1] -> ``(H, W, 3)`` uint8."""
    x = _to_numpy(image01).astype(np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[0] not in (1, 3):
        raise ValueError(f'expected (C, H, W) with C in (1, 3), got '
                         f'{x.shape}')
    if x.shape[0] == 1:
        x = np.repeat(x, 3, axis=0)
    x = np.clip(np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=0.0), 0., 1.)
    return (x.transpose(1, 2, 0) * 255.0 + 0.5).astype(np.uint8)


def colorize_depth(depth,
                   vmin: Optional[float] = None,
                   vmax: Optional[float] = None,
                   colormap: int = cv2.COLORMAP_VIRIDIS) -> np.ndarray:
    """Depth map -> ``(H, W, 3)`` uint8 RGB through a cv2 colormap.

    Values are mapped linearly from ``[vmin, vmax]`` (default: the 2nd and
    98th percentile of ``depth``) to the colormap and clipped; with
    viridis small (near) values are dark purple, large (far) yellow. Pass
    the range of the ground truth to draw a prediction comparably.

    Args:
        depth (np.ndarray | Tensor): ``(H, W)`` or ``(1, H, W)``.
        vmin, vmax (float, optional): display range.
        colormap (int): a ``cv2.COLORMAP_*``.
    """
    d = _to_numpy(depth).astype(np.float32)
    d = d.reshape(d.shape[-2:])
    if vmin is None or vmax is None:
        lo, hi = depth_range(d)
        vmin = lo if vmin is None else vmin
        vmax = hi if vmax is None else vmax
    span = max(float(vmax) - float(vmin), 1e-6)
    u = np.clip((np.nan_to_num(d) - float(vmin)) / span, 0., 1.)
    bgr = cv2.applyColorMap((u * 255.0 + 0.5).astype(np.uint8), colormap)
    return np.ascontiguousarray(bgr[..., ::-1])


def depth_range(depth, lo: float = 2., hi: float = 98.) -> Tuple[float, float]:
    """``(vmin, vmax)`` percentiles of a depth map for display."""
    d = _to_numpy(depth).astype(np.float64).reshape(-1)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return 0.0, 1.0
    a, b = np.percentile(d, [lo, hi])
    if b - a < 1e-6:
        a, b = a - 0.5, b + 0.5
    return float(a), float(b)


#: A fixed, well separated table (Cityscapes-like) for the first classes.
_BASE_PALETTE = ((70, 130, 180), (128, 64, 128), (102, 102, 156),
                 (220, 20, 60), (250, 170, 30), (0, 142, 0), (244, 35, 232),
                 (190, 153, 153), (220, 220, 0), (107, 142, 35),
                 (152, 251, 152), (255, 0, 0), (0, 0, 142), (0, 60, 100),
                 (119, 11, 32), (255, 255, 255))


def make_palette(num_classes: int,
                 seed: int = 0) -> List[Tuple[int, int, int]]:
    """``num_classes`` RGB colours: a fixed table, then seeded random ones."""
    pal = [tuple(c) for c in _BASE_PALETTE[:num_classes]]
    rng = np.random.RandomState(seed)
    while len(pal) < num_classes:
        pal.append(tuple(int(v) for v in rng.randint(0, 256, 3)))
    return pal


def colorize_labels(labels, palette: Sequence[Sequence[int]],
                    unknown: Tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """``(H, W)`` class ids -> ``(H, W, 3)`` uint8 RGB; ids outside the
    palette get ``unknown``."""
    lab = _to_numpy(labels).astype(np.int64)
    lab = lab.reshape(lab.shape[-2:])
    table = np.asarray(list(palette) + [unknown], np.uint8).reshape(-1, 3)
    idx = np.where((lab >= 0) & (lab < len(palette)), lab, len(palette))
    return table[idx]


def unnormalize_patches(pred, reference, patch_size: int,
                        eps: float = 1e-6) -> np.ndarray:
    """Undo a per-patch normalisation with the statistics of ``reference``.

    Inverse of :func:`mmmae.models.losses.norm_pix_target` (statistics
    pooled over the ``p*p*C`` values of a patch, unbiased variance):
    ``pred * sqrt(var_ref + eps) + mean_ref`` per patch.

    Args:
        pred (np.ndarray | Tensor): ``(C, H, W)`` normalised prediction.
        reference (np.ndarray | Tensor): ``(C, H, W)`` image in the space
            the target was normalised from (e.g. ImageNet-normalised rgb).
        patch_size (int): patch size ``p``.

    Returns:
        np.ndarray: ``(C, H, W)`` float32 in the space of ``reference``.
    """
    p = _to_numpy(pred).astype(np.float64)
    r = _to_numpy(reference).astype(np.float64)
    if p.shape != r.shape or p.ndim != 3:
        raise ValueError(f'pred {p.shape} and reference {r.shape} must be '
                         'the same (C, H, W)')
    C, H, W = r.shape
    ps = int(patch_size)
    nh, nw = H // ps, W // ps
    rp = r.reshape(C, nh, ps, nw, ps).transpose(1, 3, 0, 2, 4).reshape(
        nh, nw, -1)
    mean = rp.mean(-1)
    std = np.sqrt(rp.var(-1, ddof=1) + eps)
    mean = mean.repeat(ps, 0).repeat(ps, 1)[None]
    std = std.repeat(ps, 0).repeat(ps, 1)[None]
    return (p * std + mean).astype(np.float32)


def _missing_tile(h: int, w: int, text: str, scale: float) -> np.ndarray:
    tile = np.empty((h, w, 3), np.uint8)
    tile[:] = np.asarray(_MISSING_BG, np.uint8)
    lines = _wrap(text, w - 6, scale, 1)
    lh = _line_height(scale, 1)
    y0 = max(2, (h - len(lines) * lh) // 2)
    _draw_lines(tile, lines, 3, y0, w - 6, scale, 1, _FG)
    return tile


def make_image_grid(tiles: Sequence[Sequence[Optional[np.ndarray]]],
                    row_labels: Optional[Sequence[str]] = None,
                    col_titles: Optional[Sequence[str]] = None,
                    title: Optional[str] = None,
                    footnote: Optional[str] = None,
                    min_tile_size: int = 128,
                    gap: int = 2,
                    missing_text: str = 'not given',
                    header_colors: Optional[Sequence[Tuple[int, int,
                                                           int]]] = None,
                    return_layout: bool = False):
    """Draw a labelled grid of equally sized RGB tiles.

    Tiles are upscaled with nearest neighbour by one integer factor so the
    smaller side is at least ``min_tile_size`` (patch borders stay sharp).
    Layout (pixels), top to bottom: an optional title band, a header band
    with one wrapped title per column, the rows (a left margin holds each
    row's wrapped label), an optional footnote band; tiles are separated by
    ``gap`` background pixels. Text is never drawn over a tile (a missing
    tile, None, is a dark tile saying ``missing_text``).

    Args:
        tiles (Sequence[Sequence[np.ndarray | None]]): ``rows x cols``
            ``(H, W, 3)`` uint8 RGB tiles, all the same ``H x W``.
        row_labels (Sequence[str], optional): one per row.
        col_titles (Sequence[str], optional): one per column.
        title (str, optional): line(s) above the header.
        footnote (str, optional): text under the grid.
        min_tile_size (int): minimum tile side after upscaling.
        gap (int): pixels between tiles.
        missing_text (str): text of missing tiles.
        header_colors (Sequence[tuple], optional): per-column title colour.
        return_layout (bool): also return where things were drawn.

    Returns:
        np.ndarray | tuple: ``(H_img, W_img, 3)`` uint8 RGB; with
        ``return_layout`` also a dict with ``scale``, ``tile_hw`` (upscaled),
        ``header`` ``(y0, y1)`` and ``tiles`` ``{(row, col): (y, x, h, w)}``.
    """
    rows = [list(r) for r in tiles]
    if not rows or not rows[0]:
        raise ValueError('tiles must have at least one row and column')
    ncol = len(rows[0])
    if any(len(r) != ncol for r in rows):
        raise ValueError('every row must have the same number of tiles')
    shapes = {t.shape for r in rows for t in r if t is not None}
    if len(shapes) != 1:
        raise ValueError(f'tiles must all have one (H, W, 3) shape, got '
                         f'{sorted(shapes)}')
    h, w, c = next(iter(shapes))
    if c != 3:
        raise ValueError(f'tiles must be (H, W, 3), got {(h, w, c)}')
    nrow = len(rows)

    scale_f = max(1, int(math.ceil(min_tile_size / max(1, min(h, w)))))
    th_, tw_ = h * scale_f, w * scale_f
    fscale = float(np.clip(tw_ / 260.0, 0.38, 0.9))
    thick = 1
    lh = _line_height(fscale, thick)

    labels = list(row_labels or [''] * nrow)
    if len(labels) != nrow:
        raise ValueError(f'{len(labels)} row labels for {nrow} rows')
    max_margin = max(tw_, 60)
    label_w = max([
        cv2.getTextSize(word, _FONT, fscale, thick)[0][0]
        for lab in labels for word in lab.split()
    ] + [0])
    longest = max([
        cv2.getTextSize(lab, _FONT, fscale, thick)[0][0] for lab in labels
    ] + [0])
    margin = min(max_margin, max(label_w, longest)) + 10 if any(
        labels) else 0
    wrapped_labels = [_wrap(lab, max(margin - 8, 1), fscale, thick)
                      for lab in labels]

    titles = list(col_titles or [''] * ncol)
    if len(titles) != ncol:
        raise ValueError(f'{len(titles)} column titles for {ncol} columns')
    wrapped = [_wrap(s, tw_ - 4, fscale, thick) for s in titles]
    header_h = (max(len(x) for x in wrapped) * lh + 8) if any(titles) else 0
    width = margin + ncol * tw_ + (ncol + 1) * gap
    title_lines = _wrap(title, width - 8, fscale, thick) if title else []
    title_h = len(title_lines) * lh + 6 if title_lines else 0
    # rows are at least as tall as their wrapped label
    row_h = [max(th_, len(wl) * lh + 4) for wl in wrapped_labels]
    grid_h = sum(row_h) + (nrow + 1) * gap
    note_scale = max(0.35, fscale * 0.85)
    note_lines = _wrap(footnote, width - 8, note_scale, thick) \
        if footnote else []
    note_h = len(note_lines) * _line_height(note_scale, thick) + 8 \
        if note_lines else 0
    height = title_h + header_h + grid_h + note_h

    img = np.empty((height, width, 3), np.uint8)
    img[:] = np.asarray(_BG, np.uint8)
    layout: Dict = dict(scale=scale_f,
                        tile_hw=(th_, tw_),
                        header=(title_h, title_h + header_h),
                        tiles={})
    if title_lines:
        _draw_lines(img, title_lines, 4, 3, width - 8, fscale, thick, _FG)
    for ci, lines in enumerate(wrapped):
        x = margin + gap + ci * (tw_ + gap)
        color = tuple(header_colors[ci]) if header_colors else _FG
        _draw_lines(img, lines, x, title_h + 4, tw_, fscale, thick, color)
    y = title_h + header_h + gap
    for r, row in enumerate(rows):
        lines = wrapped_labels[r]
        if lines and margin:
            ly = y + max(0, (th_ - len(lines) * lh) // 2)
            _draw_lines(img, lines, 4, ly, margin - 8, fscale, thick, _FG,
                        center=False)
        for ci, tile in enumerate(row):
            x = margin + gap + ci * (tw_ + gap)
            if tile is None:
                big = _missing_tile(th_, tw_, missing_text, fscale)
            else:
                big = np.asarray(tile, np.uint8)
                if scale_f > 1:
                    big = big.repeat(scale_f, 0).repeat(scale_f, 1)
            img[y:y + th_, x:x + tw_] = big
            layout['tiles'][(r, ci)] = (y, x, th_, tw_)
        y += row_h[r] + gap
    if note_lines:
        _draw_lines(img, note_lines, 4, title_h + header_h + grid_h + 4,
                    width - 8, note_scale, thick, _FG, center=False)
    if return_layout:
        return img, layout
    return img


def save_image(path: str, image: np.ndarray) -> str:
    """Write an ``(H, W, 3)`` uint8 RGB image (parents created)."""
    d = osp.dirname(osp.abspath(path))
    os.makedirs(d, exist_ok=True)
    if not cv2.imwrite(path, np.ascontiguousarray(image[..., ::-1])):
        raise IOError(f'cv2.imwrite could not write {path}')
    return path


#: Columns of :func:`render_multimae_prediction`.
MULTIMAE_COLUMN_TITLES = ('input', 'masked input (grey = hidden)',
                          'prediction')


def _rep(x: np.ndarray, k: int) -> np.ndarray:
    return x.repeat(k, 0).repeat(k, 1) if k > 1 else x


def _expand_tasks(tasks: Sequence[dict]) -> List[dict]:
    """One entry per drawn row (norm-pix rgb tasks draw two)."""
    out = []
    for t in tasks:
        out += [t, t] if (t['norm'] and t['kind'] == 'rgb') else [t]
    return out


def render_multimae_prediction(data_preprocessor,
                               geom: dict,
                               inputs: Dict[str, 'torch.Tensor'],  # noqa
                               masks: Dict[str, np.ndarray],
                               preds: Dict[str, 'torch.Tensor'],  # noqa
                               palette: Optional[Sequence] = None,
                               classes: Optional[Sequence[str]] = None,
                               title: str = ''):
    """Tiles, labels and the grid of one MultiMAE prediction.

    Rows, one per decoder task in ``geom['tasks']`` order:

    * rgb: prediction un-normalised with the preprocessor's mean/std;
    * norm-pix rgb (per-patch normalised target): two rows, the prediction
      un-normalised with the *ground-truth* mean/std of every patch (leaks
      the answer) and the raw z-scores (-3..3 -> black..white);
    * depth: viridis over the 10-90 % range of the input (of the
      prediction when depth is not given);
    * semseg: class ids through ``palette``, prediction = argmax of the
      logits, up-sampled to full size.

    Inputs that are not given get a "not given" input tile and an all-grey
    masked-input tile.

    Args:
        data_preprocessor (MultiMAEDataPreprocessor): for
            ``denormalize_rgb`` and ``rgb_keys``.
        geom (dict): :func:`mmmae.apis.multimae_geometry`.
        inputs (dict): normalised ``(C, H, W)`` / ``(h, w)`` CPU tensors of
            the given modalities.
        masks (dict): ``(N,)`` bool per input modality, True = hidden.
        preds (dict): ``task -> (C, h, w)`` CPU tensors.
        palette (Sequence, optional): RGB per class (semseg rows);
            default :func:`make_palette` of the largest class count.
        classes (Sequence[str], optional): class names for the footnote.
        title (str): the line above the grid.

    Returns:
        tuple: ``(image, layout, metrics)``: ``(H, W, 3)`` uint8 RGB, the
        :func:`make_image_grid` layout plus ``rows`` (row labels), and
        hidden-pixel errors (``<task>_mse`` rgb, ``<task>_l1`` depth,
        ``<task>_acc`` semseg) where the input is given.
    """
    import torch
    H, W = geom['img_size']
    pre = data_preprocessor
    if palette is None:
        palette, classes = make_palette(max([1] + [
            t['channels'] for t in geom['tasks'] if t['kind'] == 'semseg'
        ] + list(geom['num_classes'].values()))), None
    grey_tile = np.empty((H, W, 3), np.uint8)
    grey_tile[:] = np.asarray(MASK_GREY, np.uint8)

    def rgb01(x):
        return (pre.denormalize_rgb(x[None].float().to(pre.mean.device))[0] /
                255.).cpu()

    def pixels(target):
        return (patch_mask_to_pixels(masks[target], (H, W), geom['patch'])
                if target in masks else np.zeros((H, W), bool))

    rows, labels, metrics = [], [], {}
    for t in geom['tasks']:
        task, target, kind = t['task'], t['target'], t['kind']
        pred = preds[task].float()
        gt = inputs.get(target)
        pix = pixels(target)
        if kind is None:  # unknown target: guess from the channels
            kind = 'semseg' if pred.shape[0] not in (1, 3) else (
                'depth' if pred.shape[0] == 1 else 'image')
        if kind == 'rgb' and target in pre.rgb_keys:
            gt_t = to_uint8_image(rgb01(gt)) if gt is not None else None
            if t['norm']:
                leak_t = None
                if gt is not None:
                    leak = unnormalize_patches(pred, gt.float(),
                                               t['norm_patch'])
                    leak_t = to_uint8_image(rgb01(torch.from_numpy(leak)))
                raw_t = to_uint8_image((pred.numpy() + 3.) / 6.)
                for lab, p_t in ((f'{task} (GT patch stats: leaks)', leak_t),
                                 (f'{task} raw z-scores', raw_t)):
                    rows.append([gt_t, None, p_t])
                    labels.append(lab)
                continue
            p01 = rgb01(pred).clamp(0, 1)
            p_t = to_uint8_image(p01)
            if gt is not None and pix.any():
                d = (p01 - rgb01(gt).clamp(0, 1)).numpy()[:, pix]
                metrics[f'{task}_mse'] = float((d * d).mean())
        elif kind == 'depth' or (kind == 'image' and pred.shape[0] == 1):
            vmin, vmax = depth_range(gt if gt is not None else pred, 10., 90.)
            gt_t = colorize_depth(gt, vmin, vmax) if gt is not None else None
            p_t = colorize_depth(pred, vmin, vmax)
            if gt is not None and pix.any():
                metrics[f'{task}_l1'] = float(
                    np.abs(pred.numpy()[0] - gt.numpy().reshape(H, W))[pix]
                    .mean())
        elif kind == 'semseg':
            lab = _rep(pred.argmax(0).numpy(), t['stride'])
            p_t = colorize_labels(lab, palette)
            gt_t = None
            if gt is not None:
                g = _rep(gt.numpy().reshape(gt.shape[-2:]), H // gt.shape[-2])
                gt_t = colorize_labels(g, palette)
                if pix.any():
                    metrics[f'{task}_acc'] = float((lab == g)[pix].mean())
        else:
            gt_t = to_uint8_image(gt.float()) if gt is not None else None
            p_t = to_uint8_image(pred)
        rows.append([gt_t, None, p_t])
        labels.append(task)
    # masked-input column: hidden patches grey; not given = all grey
    for row, t in zip(rows, _expand_tasks(geom['tasks'])):
        row[1] = (grey_tile.copy() if row[0] is None else grey_out(
            row[0], pixels(t['target'])))
    notes = []
    if any(t['norm'] for t in geom['tasks']):
        notes.append('norm_rgb (GT patch stats) un-normalises every patch '
                     'with the mean/std of the true rgb patch: it leaks the '
                     'answer; the raw z-scores row (-3..3 -> black..white) '
                     'is the honest one.')
    if any(t['kind'] == 'depth' for t in geom['tasks']):
        notes.append('depth: standardised, viridis over the input 10-90% '
                     'range (dark = near).')
    if palette is not None and classes:
        notes.append('semseg: ' + ', '.join(
            f'{i} {c}' for i, c in enumerate(classes)) + '.')
    img, layout = make_image_grid(rows, labels, MULTIMAE_COLUMN_TITLES,
                                  title=title, footnote=' '.join(notes),
                                  return_layout=True)
    layout['rows'] = labels
    return img, layout, metrics
