# Copyright (c) mmmae contributors. All rights reserved.
"""Pictures of multi-modal *video* MAE predictions (rgb, depth, semseg).

:func:`render_multimodal_video` draws one clip's result of
:func:`mmmae.apis.predict_video_cross_modal` as one image: for every
predicted modality a block of rows

``input (grey = hidden tubes) | prediction (one row per task) | truth``

and one column per shown frame. The tiles come from the image helpers of
:mod:`mmmae.visualization.multimae` (:func:`make_image_grid`,
:func:`colorize_depth`, :func:`colorize_labels`, :func:`grey_out`) and the
tube-to-pixel mask of :mod:`mmmae.visualization.reconstruction`.

Units of the maps (:func:`video_prediction_maps`):

* rgb: the prediction un-normalised with the data preprocessor's mean/std;
  a per-tubelet normalised (norm-pix) prediction is un-normalised with the
  mean/std of the *true* tubelet (it leaks the answer, as upstream
  VideoMAE pictures do; :func:`hidden_tube_metrics` also gives the honest
  z-score error);
* depth: the model predicts truncated-standardised depth. When the clip's
  depth is given it is mapped back to metres with the clip's own
  statistics (the ones the data preprocessor used, so the scale and shift
  come from the truth), and truth and prediction are coloured alike:
  viridis over the truth's 10-90 % range, dark = near, pixels without
  depth black. Without depth the prediction stays in standardised units,
  coloured over its own 10-90 % range;
* semseg: argmax of the logits, up-sampled (nearest) to the frame size,
  through the palette.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .multimae import (colorize_depth, colorize_labels, depth_range,
                       grey_out, make_image_grid, make_palette)
from .reconstruction import mask_to_pixels, masked_mse, select_frames

__all__ = [
    'NO_DEPTH_COLOR', 'unnormalize_tubes', 'standardization_stats',
    'video_prediction_maps', 'hidden_tube_metrics', 'render_multimodal_video'
]

#: Colour of truth pixels without depth (sky, invalid).
NO_DEPTH_COLOR = (0, 0, 0)


def unnormalize_tubes(pred: torch.Tensor,
                      reference: torch.Tensor,
                      patch_size: int,
                      tubelet_size: int,
                      eps: float = 1e-6) -> torch.Tensor:
    """Undo VideoMAE's per-tubelet normalisation with a reference's stats.

    Inverse of :func:`mmmae.models.losses.norm_pix_target` for clips: each
    channel of each ``t x p x p`` tubelet of ``pred`` becomes
    ``z * (std_ref + eps) + mean_ref`` (unbiased std of the reference's
    tubelet).

    Args:
        pred (Tensor): ``(C, T, H, W)`` per-tubelet z-scores.
        reference (Tensor): ``(C, T, H, W)`` clip in the space the target
            was normalised from (the preprocessed rgb).
        patch_size (int): spatial patch ``p``.
        tubelet_size (int): frames per token ``t``.
        eps (float): the loss's eps. Defaults to 1e-6.

    Returns:
        Tensor: ``(C, T, H, W)`` in the space of ``reference``.
    """
    from mmmae.models.utils.patch_ops import patchify, unpatchify
    if pred.shape != reference.shape or pred.dim() != 4:
        raise ValueError(f'pred {tuple(pred.shape)} and reference '
                         f'{tuple(reference.shape)} must be one (C, T, H, W)')
    C, T, H, W = reference.shape
    t, p = int(tubelet_size), int(patch_size)
    ref = patchify(reference[None].double(), t, p)
    n, length = ref.shape[1:]
    ref = ref.reshape(1, n, -1, C)  # channel-last tubes: per-channel stats
    mean = ref.mean(2, keepdim=True)
    std = ref.var(2, keepdim=True).sqrt() + eps
    z = patchify(pred[None].double(), t, p).reshape(1, n, -1, C)
    out = (z * std + mean).reshape(1, n, length)
    return unpatchify(out, (T // t, H // p, W // p), t, p, C)[0].to(
        pred.dtype)


def standardization_stats(raw: torch.Tensor,
                          standardized: torch.Tensor) -> Tuple[float, float]:
    """``(mean, std)`` with ``standardized = (raw - mean) / std``.

    Recovered from the data preprocessor's own input and output (a linear
    fit), so it holds whatever the preprocessor does (truncated statistics,
    or none: ``(0, 1)``).

    Args:
        raw (Tensor): the depth as packed, e.g. ``(1, T, H, W)`` metres.
        standardized (Tensor): the preprocessor's output, same shape.

    Returns:
        tuple[float, float]: ``mean`` and ``std`` (1 for a constant clip).
    """
    x = raw.double().reshape(-1)
    z = standardized.double().reshape(-1).to(x.device)
    sz = float(z.std())
    std = float(x.std()) / sz if sz > 1e-12 else 1.0
    if std < 1e-12:
        std = 1.0
    return float(x.mean() - std * z.mean()), std


def _upsample(x: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """``(..., h, w)`` -> ``(..., H, W)`` by pixel repetition (nearest)."""
    fh, fw = size[0] // x.shape[-2], size[1] // x.shape[-1]
    return x.repeat(fh, -2).repeat(fw, -1) if fh * fw > 1 else x


def video_prediction_maps(data_preprocessor, geom: dict,
                          result: dict) -> Dict[str, dict]:
    """The predictions of one clip in display units, per decoder task.

    Args:
        data_preprocessor (MultiMAEDataPreprocessor): for ``mean``/``std``.
        geom (dict): :func:`mmmae.apis.video_mae_geometry`.
        result (dict): :func:`mmmae.apis.predict_video_cross_modal`'s
            (``clip``, ``inputs``, ``preds``).

    Returns:
        dict: ``task -> dict(kind, map, ...)``: rgb ``map`` ``(3, T, H, W)``
        float in [0, 1] (``leaky`` True when un-normalised with the true
        tubelet stats, ``z`` the raw ``(3, T, H, W)`` z-scores then); depth
        ``map`` ``(T, H, W)`` float with ``unit`` ``'m'`` (``stats`` =
        ``(mean, std)`` used) or ``'standardised'``; semseg ``map``
        ``(T, H, W)`` int64 class ids; other kinds ``(C, T, H, W)`` float.
    """
    pre = data_preprocessor
    H, W = _thw(geom, result)[1:]
    out = {}
    for t in geom['tasks']:
        task, target, kind = t['task'], t['target'], t['kind']
        pred = result['preds'][task].float().cpu()
        norm_in = result['inputs'].get(target)
        raw = result['clip'].get(target)
        entry = dict(kind=kind, target=target)
        if kind == 'rgb' and pred.shape[0] == 3:
            z = None
            if t['norm']:
                z = pred
                if norm_in is None:  # no truth: show the z-scores
                    entry.update(map=((pred + 3.) / 6.).clamp(0, 1).numpy(),
                                 leaky=False, z=z.numpy())
                    out[task] = entry
                    continue
                pred = unnormalize_tubes(pred, norm_in.float().cpu(),
                                         t['norm_patch'], geom['tubelet'])
            rgb = pre.denormalize_rgb(pred[None].to(pre.mean.device))[0]
            entry.update(map=(rgb / 255.).clamp(0, 1).cpu().numpy(),
                         leaky=bool(t['norm']),
                         z=None if z is None else z.numpy())
        elif kind == 'depth' and pred.shape[0] == 1:
            d = _upsample(pred[0].numpy(), (H, W))
            if norm_in is not None and raw is not None:
                packed = torch.nan_to_num(raw.float(), nan=0.0)
                mean, std = standardization_stats(packed, norm_in)
                entry.update(map=d * std + mean, unit='m', stats=(mean, std))
            else:
                entry.update(map=d, unit='standardised', stats=None)
        elif kind == 'semseg':
            ids = pred.argmax(0).numpy()
            entry.update(map=_upsample(ids, (H, W)).astype(np.int64))
        else:
            entry.update(map=_upsample(pred.numpy(), (H, W)))
        out[task] = entry
    return out


def _thw(geom: dict, result: dict) -> Tuple[int, int, int]:
    """``(T, H, W)`` of the clip (the model's when not recorded)."""
    return tuple(result.get('thw') or (geom['num_frames'],
                                       *geom['img_size']))


def _hidden_pixels(geom: dict, result: dict, target: str) -> np.ndarray:
    thw = _thw(geom, result)
    if target not in result['masks']:
        return np.ones(thw, bool)
    return mask_to_pixels(result['masks'][target], thw, geom['patch'],
                          geom['tubelet'])


def hidden_tube_metrics(geom: dict, result: dict,
                        maps: Dict[str, dict]) -> Dict[str, float]:
    """Errors on the hidden tubes of the modalities whose truth is given.

    Keys per task: rgb ``<task>_mse`` (pixels in [0, 1]; for norm-pix
    tasks after the leaky un-normalisation, plus ``<task>_z_mse``, the
    training loss's z-score MSE), depth ``<task>_absrel`` and ``<task>_l1``
    (metres, valid pixels; only when the prediction is in metres), semseg
    ``<task>_acc`` (pixel accuracy, 255 = ignore left out). A task without
    truth or without a hidden pixel has no entry.

    Args:
        geom (dict): :func:`mmmae.apis.video_mae_geometry`.
        result (dict): :func:`mmmae.apis.predict_video_cross_modal`'s.
        maps (dict): :func:`video_prediction_maps`.

    Returns:
        dict[str, float]: the metrics.
    """
    from mmmae.models.losses.multimae_losses import norm_pix_target
    metrics = {}
    for task, entry in maps.items():
        target, kind = entry['target'], entry['kind']
        truth = result['clip'].get(target)
        pix = _hidden_pixels(geom, result, target)
        if truth is None or not pix.any():
            continue
        if kind == 'rgb' and 'z' in entry:
            truth01 = truth.float().numpy() / 255.
            metrics[f'{task}_mse'] = masked_mse(entry['map'], truth01, pix)
            if entry['z'] is not None:
                target_z = norm_pix_target(
                    result['inputs'][target][None].float().cpu(),
                    geom['patch'][0], tubelet=geom['tubelet'])[0]
                metrics[f'{task}_z_mse'] = masked_mse(entry['z'], target_z,
                                                      pix)
        elif kind == 'depth' and entry.get('unit') == 'm':
            g = truth.float().numpy()[0]
            ok = pix & np.isfinite(g) & (g > 0)
            if ok.any():
                err = np.abs(entry['map'][ok] - g[ok])
                metrics[f'{task}_absrel'] = float((err / g[ok]).mean())
                metrics[f'{task}_l1'] = float(err.mean())
        elif kind == 'semseg':
            g = truth.numpy()
            ok = pix & (g != 255)
            if ok.any():
                metrics[f'{task}_acc'] = float(
                    (entry['map'][ok] == g[ok]).mean())
    return metrics


def _depth_tiles(depth: np.ndarray, vmin: float, vmax: float,
                 frames: Sequence[int]) -> List[np.ndarray]:
    out = []
    for f in frames:
        tile = colorize_depth(depth[f], vmin, vmax)
        tile[~np.isfinite(depth[f])] = np.asarray(NO_DEPTH_COLOR, np.uint8)
        out.append(tile)
    return out


def _truth_tiles(kind: str, truth: torch.Tensor, frames: Sequence[int],
                 palette, depth_lim) -> List[np.ndarray]:
    if kind == 'rgb':
        rgb = truth.numpy().astype(np.uint8)
        return [np.ascontiguousarray(rgb[:, f].transpose(1, 2, 0))
                for f in frames]
    if kind == 'depth':
        return _depth_tiles(truth.float().numpy()[0], *depth_lim, frames)
    if kind == 'semseg':
        return [colorize_labels(truth[f], palette) for f in frames]
    v = truth.float().numpy().reshape(-1, *truth.shape[-3:]).mean(0)
    return _depth_tiles(v, *depth_range(v), frames)


def _pred_tiles(entry: dict, frames: Sequence[int], palette,
                depth_lim) -> List[np.ndarray]:
    m = entry['map']
    if entry['kind'] == 'rgb' and m.shape[0] == 3:
        return [(m[:, f].transpose(1, 2, 0) * 255. + .5).astype(np.uint8)
                for f in frames]
    if entry['kind'] == 'depth' and m.ndim == 3:
        return _depth_tiles(m, *depth_lim, frames)
    if entry['kind'] == 'semseg':
        return [colorize_labels(m[f], palette) for f in frames]
    v = m.reshape(-1, *m.shape[-3:]).mean(0)
    return _depth_tiles(v, *depth_range(v), frames)


def render_multimodal_video(data_preprocessor,
                            geom: dict,
                            result: dict,
                            palette: Optional[Sequence] = None,
                            classes: Optional[Sequence[str]] = None,
                            frames=None,
                            max_frames: int = 8,
                            title: str = ''):
    """The picture of one clip's prediction, its layout and its metrics.

    Rows, for each target modality of the decoder tasks (``geom['tasks']``
    order): ``<mod> input`` (as given, grey where its tubes are hidden; a
    dark "not given" tile when the clip lacks it), one ``<task>
    prediction`` row per task, ``<mod> truth``. Columns: the shown frames
    (``frames``: None = up to ``max_frames`` evenly spaced, an int, or clip
    indices; see :func:`mmmae.visualization.select_frames`), titled with
    their frame number in the video.

    Args:
        data_preprocessor (MultiMAEDataPreprocessor): the model's.
        geom (dict): :func:`mmmae.apis.video_mae_geometry`.
        result (dict): :func:`mmmae.apis.predict_video_cross_modal`'s;
            its ``maps`` are computed when absent.
        palette (Sequence, optional): RGB per class; default
            :func:`make_palette` of the largest class count.
        classes (Sequence[str], optional): class names for the footnote.
        frames (None | int | Sequence[int]): frames shown.
        max_frames (int): cap when ``frames`` is None. Defaults to 8.
        title (str): the line above the grid.

    Returns:
        tuple: ``(image, layout, metrics)``: ``(H, W, 3)`` uint8 RGB; the
        :func:`make_image_grid` layout plus ``rows`` (labels), ``frames``
        (clip indices shown) and ``depth_range`` (``target -> (vmin, vmax,
        unit)``); :func:`hidden_tube_metrics`.
    """
    maps = result.get('maps') or video_prediction_maps(data_preprocessor,
                                                       geom, result)
    shown = select_frames(_thw(geom, result)[0], frames, max_frames)
    if palette is None:
        palette, classes = make_palette(max([1] + [
            t['channels'] for t in geom['tasks'] if t['kind'] == 'semseg'
        ] + list(geom['num_classes'].values()))), None
    blocks: Dict[str, List[str]] = {}
    for t in geom['tasks']:
        blocks.setdefault(t['target'], []).append(t['task'])
    rows, labels, ranges = [], [], {}
    for target, tasks in blocks.items():
        kind = maps[tasks[0]]['kind']
        truth = result['clip'].get(target)
        lim = None
        if kind == 'depth':
            lim = depth_range(truth.float().numpy(), 10., 90.) \
                if truth is not None else depth_range(
                    maps[tasks[0]]['map'], 10., 90.)
            ranges[target] = (*lim, maps[tasks[0]].get('unit', 'm'))
        truth_t = (_truth_tiles(kind, truth, shown, palette, lim)
                   if truth is not None else [None] * len(shown))
        pix = _hidden_pixels(geom, result, target)
        rows.append([None if tile is None else grey_out(tile, pix[f])
                     for tile, f in zip(truth_t, shown)])
        labels.append(f'{target} input (grey = hidden)')
        for task in tasks:
            rows.append(_pred_tiles(maps[task], shown, palette, lim))
            leak = ' (GT tube mean/std)' if maps[task].get('leaky') else ''
            labels.append(f'{task} prediction{leak}')
        rows.append(truth_t)
        labels.append(f'{target} truth')
    inds = result.get('frame_inds')
    cols = [f'frame {int(inds[f])}' if inds is not None else f't={f}'
            for f in shown]
    notes = []
    if any(e.get('leaky') for e in maps.values()):
        notes.append('norm-pix rgb is un-normalised with the mean/std of '
                     'each true tubelet: it leaks the answer (the honest '
                     'error is the metrics\' z-score MSE).')
    for target, (lo, hi, unit) in ranges.items():
        how = ('prediction mapped to metres with the clip\'s standardisation'
               ' statistics' if unit == 'm' else 'not given: prediction in '
               'standardised units')
        notes.append(f'{target}: viridis over {lo:.2f}-{hi:.2f} {unit} '
                     f'(10-90 %), dark = near, black = no depth; {how}.')
    if classes:
        notes.append('semseg: ' + ', '.join(
            f'{i} {c}' for i, c in enumerate(classes)) + '.')
    img, layout = make_image_grid(rows, labels, cols, title=title,
                                  footnote=' '.join(notes),
                                  return_layout=True)
    layout.update(rows=labels, frames=shown, depth_range=ranges)
    return img, layout, hidden_tube_metrics(geom, result, maps)
