# Copyright (c) mmmae contributors. All rights reserved.
"""Extract VideoMAE encoder features from (long) videos with sliding windows.

One ``.npy`` (float32) and one ``.json`` sidecar are written per video under
``OUT_DIR``, mirroring the input sub-folders (``OUT_DIR/<rel/path/stem>.npy``).

Windows
    Window ``w`` starts at frame ``s_w = w * stride`` and samples
    ``clip_len`` frames ``s_w, s_w + frame_interval, ...,
    s_w + (clip_len - 1) * frame_interval``; it covers the
    ``span = clip_len * frame_interval`` frames ``[s_w, s_w + span)``.
    Windows are added until one reaches the end of the video
    (``s_w + span >= num_frames``), so there are
    ``1 + max(0, ceil((num_frames - span) / stride))`` of them and every
    frame is inside a window. Frame indices past the end are replaced by the
    last frame (a video shorter than ``span`` gives one padded window). The
    sidecar lists ``window_starts`` (frames), ``window_start_sec``, ``fps``,
    ``num_frames`` and the settings, so features can be aligned with time
    (window ``w`` ~ ``[s_w, s_w + span) / fps`` seconds).

Preprocessing (the MMAction2 test pipeline ``Resize(scale=(-1, S))`` +
``CenterCrop`` + ``ActionDataPreprocessor``)
    frames are decoded with decord (``get_batch``, one call per batch of
    windows, frames shared by overlapping windows decoded once), resized
    (bilinear, keep ratio) so the short side is ``--short-side`` (default:
    the crop size), center-cropped to ``--input-size`` (default: the
    backbone ``img_size``; ``--crop none`` resizes to it directly), and
    normalised with the config's ``model.data_preprocessor`` mean/std
    (0-255 units; ImageNet when absent) into ``(B, 3, T, H, W)`` float32.

Features (``D`` = embed dims, ``N = T/t * H/p * W/p`` tokens in
``(t, h, w)`` row-major order, ``L`` = number of ``--layers``)
    * ``--feature pooled`` (default): ``(num_windows, D)``. A fine-tuning
      backbone (``use_mean_pooling=True``) gives its own output
      ``fc_norm(tokens.mean(1))``; a pretraining backbone gives the mean over
      tokens of its output (tokens after the final ``norm``).
    * ``--feature tokens``: ``(num_windows, N, D)``: the tokens after the
      final ``norm`` (which is Identity in a fine-tuning backbone: there,
      the raw last-block tokens; ``fc_norm`` only applies to the mean).
    * ``--layers i j ...`` (block indices, negative from the end):
      ``(num_windows, L, D)`` (pooled: mean over tokens) or
      ``(num_windows, L, N, D)`` (tokens), taken right after each block,
      *before* the final ``norm`` -- also for the last block.

Checkpoints
    any VideoMAE checkpoint: mmmae / MMEngine (``tools/train.py``
    pretraining or ``Recognizer3D`` fine-tuning runs), official V1/V2,
    MMAction2 or HuggingFace (the layout is detected by
    ``load_backbone_checkpoint``). Every backbone key must come from the
    file. ``none`` keeps a random initialisation (for smoke tests).

Unreadable videos (decord cannot open or decode them, 0 frames, empty or
missing files) are skipped with a warning and listed in
``OUT_DIR/skipped.txt``. The exit status is 0 when at least one video was
extracted (or already existed with ``--skip-existing``), 1 when none was, 2
on a usage / config / checkpoint error.

Examples::

    python tools/extract_features.py CONFIG CKPT videos/ feats/
    python tools/extract_features.py CONFIG CKPT ann.txt feats/ \\
        --data-prefix data/k400/videos --batch-size 16 --amp
    python tools/extract_features.py CONFIG CKPT long.mp4 feats/ \\
        --feature tokens --layers 5 -1 --stride 8 --device cuda
"""
import argparse
import contextlib
import json
import math
import os
import os.path as osp
import sys
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _REPO not in sys.path:  # run as a script from a source checkout
    sys.path.insert(0, _REPO)

import mmmae  # noqa: E402,F401,I001  (compat patches + registries first)

import numpy as np  # noqa: E402
import torch  # noqa: E402

VIDEO_EXTS = ('.mp4', '.avi', '.mkv', '.webm', '.mov')
LIST_EXTS = ('.txt', '.csv', '.lst', '.list')
IMAGENET_MEAN_255 = (123.675, 116.28, 103.53)
IMAGENET_STD_255 = (58.395, 57.12, 57.375)
SKIPPED_FILE = 'skipped.txt'

__all__ = [
    'parse_args', 'main', 'window_starts', 'window_frame_indices',
    'collect_videos', 'build_backbone', 'load_backbone_weights',
    'resize_and_crop', 'normalize_clips', 'compute_features', 'extract_video',
    'VideoDecodeError', 'CheckpointError'
]


class VideoDecodeError(RuntimeError):
    """A video cannot be opened or decoded (it is skipped, not fatal)."""


class CheckpointError(RuntimeError):
    """The checkpoint does not fit the backbone (fatal)."""


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------
def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): arguments (default ``sys.argv[1:]``).

    Returns:
        argparse.Namespace: the options.
    """
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(
        description='Extract VideoMAE encoder features from videos with '
        'sliding windows (one .npy + .json per video).',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='Windows\n' + __doc__.split('Windows\n')[1].split('\n\n')[0] +
        '\n\nSee the module docstring of tools/extract_features.py for the '
        'preprocessing and feature definitions.\n\nExamples::' +
        __doc__.split('Examples::')[-1])
    p.add_argument(
        'config',
        help='mmmae config whose model has a (mmmae.)VideoMAEViT backbone '
        '(pretraining VideoMAE or fine-tuning Recognizer3D)')
    p.add_argument(
        'checkpoint',
        help='mmmae/MMEngine checkpoint (backbone.* keys), bare backbone '
        'or official VideoMAE state dict; "none" = random init')
    p.add_argument(
        'videos',
        help='a video file, a folder (searched recursively for '
        f'{"/".join(VIDEO_EXTS)}), or a list file (one path per line, extra '
        'columns such as labels ignored)')
    p.add_argument('out_dir', help='output folder')
    p.add_argument(
        '--feature',
        choices=['pooled', 'tokens'],
        default='pooled',
        help='pooled: (windows, D) [or (windows, L, D) with --layers]; '
        'tokens: (windows, N, D) [or (windows, L, N, D)]. Default: pooled')
    p.add_argument(
        '--layers',
        type=int,
        nargs='+',
        default=None,
        help='block indices (negative from the end, e.g. -1 = last) to take '
        'features from, before the final norm. Default: the model output')
    p.add_argument(
        '--clip-len',
        type=int,
        default=None,
        help='frames per window (multiple of the tubelet size). Default: '
        'the backbone num_frames')
    p.add_argument('--frame-interval',
                   type=int,
                   default=4,
                   help='sample every K-th frame inside a window. Default: 4 '
                   '(Kinetics-400 VideoMAE recipe)')
    p.add_argument(
        '--stride',
        type=int,
        default=16,
        help='frames between window starts (in original frames). Default: '
        '16 (= 16 x 4 / 4, a quarter of a 16x4 window)')
    p.add_argument(
        '--input-size',
        type=int,
        nargs='+',
        default=None,
        metavar='SIZE',
        help='network input size: S or H W (multiples of the patch size). '
        'Default: the backbone img_size')
    p.add_argument(
        '--short-side',
        type=int,
        default=None,
        help='resize the short side to this before the center crop. '
        'Default: the input size')
    p.add_argument(
        '--crop',
        choices=['center', 'none'],
        default='center',
        help='center: keep-ratio resize + center crop; none: resize frames '
        'to the input size directly. Default: center')
    p.add_argument('--batch-size',
                   type=int,
                   default=8,
                   help='windows per forward pass. Default: 8')
    p.add_argument(
        '--device',
        default=None,
        help='cpu, cuda or cuda:N. Default: cuda when available, else cpu')
    p.add_argument(
        '--amp',
        action='store_true',
        help='autocast (float16 on CUDA, bfloat16 on CPU); features are '
        'still saved as float32')
    p.add_argument('--skip-existing',
                   action='store_true',
                   help='skip videos whose output .npy already exists')
    p.add_argument(
        '--data-prefix',
        default=None,
        help='folder that relative paths of a list file are resolved '
        'against. Default: the list file folder')
    p.add_argument(
        '--decode-threads',
        type=int,
        default=0,
        help='decord decoding threads (0 = decord default). Default: 0')
    p.add_argument('--cfg-options',
                   nargs='+',
                   action=DictAction,
                   help='override config settings, key=value (e.g. '
                   'model.backbone.use_mean_pooling=False)')
    args = p.parse_args(argv)
    for name in ('frame_interval', 'stride', 'batch_size'):
        if getattr(args, name) < 1:
            p.error(f'--{name.replace("_", "-")} must be >= 1')
    if args.clip_len is not None and args.clip_len < 1:
        p.error('--clip-len must be >= 1')
    if args.input_size is not None and len(args.input_size) not in (1, 2):
        p.error('--input-size takes S or H W')
    if args.short_side is not None and args.short_side < 1:
        p.error('--short-side must be >= 1')
    return args


# --------------------------------------------------------------------------
# windows
# --------------------------------------------------------------------------
def window_starts(num_frames: int, clip_len: int, frame_interval: int,
                  stride: int) -> List[int]:
    """Start frames of the sliding windows over a video.

    Window ``w`` starts at ``w * stride`` and covers the
    ``span = clip_len * frame_interval`` frames from there. Windows are
    added until one reaches the end (``start + span >= num_frames``), so
    every frame is covered and a video shorter than ``span`` still gets one
    window.

    Args:
        num_frames (int): frames in the video.
        clip_len (int): frames sampled per window.
        frame_interval (int): step between sampled frames.
        stride (int): frames between window starts.

    Returns:
        list[int]: ``[0, stride, 2 * stride, ...]``,
        ``1 + max(0, ceil((num_frames - span) / stride))`` entries; empty
        when ``num_frames <= 0``.
    """
    if num_frames <= 0:
        return []
    if min(clip_len, frame_interval, stride) < 1:
        raise ValueError('clip_len, frame_interval and stride must be >= 1')
    span = clip_len * frame_interval
    num = 1 + max(0, math.ceil((num_frames - span) / stride))
    return [w * stride for w in range(num)]


def window_frame_indices(starts: Sequence[int], num_frames: int, clip_len: int,
                         frame_interval: int) -> np.ndarray:
    """Frame indices each window reads, padded with the last frame.

    Args:
        starts (Sequence[int]): window start frames (``W`` of them).
        num_frames (int): frames in the video.
        clip_len (int): frames per window ``T``.
        frame_interval (int): step between sampled frames.

    Returns:
        np.ndarray: ``(W, T)`` int64, ``min(start + i * frame_interval,
        num_frames - 1)``.
    """
    starts = np.asarray(starts, dtype=np.int64).reshape(-1, 1)
    offsets = np.arange(clip_len, dtype=np.int64) * frame_interval
    return np.minimum(starts + offsets[None], num_frames - 1)


# --------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------
def _is_video(path: str) -> bool:
    return path.lower().endswith(VIDEO_EXTS)


def _strip_ext(rel: str) -> str:
    return osp.splitext(osp.normpath(rel))[0]


def _read_list(path: str, data_prefix: Optional[str]) -> List[Tuple[str, str]]:
    root = data_prefix if data_prefix is not None else osp.dirname(
        osp.abspath(path))
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            # a whole line naming a file wins (paths with spaces), else the
            # first whitespace/comma separated column
            entry = line
            full = entry if osp.isabs(entry) else osp.join(root, entry)
            if not osp.isfile(full):
                entry = line.replace(',', ' ').split()[0]
                full = entry if osp.isabs(entry) else osp.join(root, entry)
            rel = osp.normpath(
                osp.relpath(entry, root) if osp.isabs(entry) else entry)
            if rel == os.pardir or rel.startswith(os.pardir + os.sep):
                rel = osp.basename(entry)  # keep outputs inside OUT_DIR
            out.append((full, _strip_ext(rel)))
    return out


def collect_videos(path: str,
                   data_prefix: Optional[str] = None) -> List[Tuple[str, str]]:
    """Resolve the VIDEOS argument.

    Args:
        path (str): a video file (by extension), a folder (searched
            recursively for :data:`VIDEO_EXTS`, sorted) or a list file (one
            video per line; a line that is not an existing path is split on
            whitespace/commas and its first column is taken; ``#`` comments
            and blank lines are ignored).
        data_prefix (str, optional): root of relative list entries (default
            the list folder).

    Returns:
        list[tuple[str, str]]: ``(video path, output key)``; the key is the
        path relative to the folder / list root without extension (the
        file stem for a single video or a list entry outside the root).
        Duplicate paths are dropped; keys that collide (``a.mp4`` and
        ``a.avi``) keep their extension as ``a_mp4`` / ``a_avi``.
        Listed files that do not exist are kept (they are reported as
        skipped).

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    if osp.isdir(path):
        items = []
        for root, dirs, files in os.walk(path, followlinks=True):
            dirs.sort()
            for f in sorted(files):
                if _is_video(f):
                    full = osp.join(root, f)
                    items.append((full, _strip_ext(osp.relpath(full, path))))
        items.sort(key=lambda x: x[0])
    elif osp.isfile(path) and (_is_video(path)
                               or not path.lower().endswith(LIST_EXTS)
                               and _looks_binary(path)):
        items = [(path, _strip_ext(osp.basename(path)))]
    elif osp.isfile(path):
        items = _read_list(path, data_prefix)
    else:
        raise FileNotFoundError(f'{path} is not a file or folder')

    seen, unique = set(), []
    for full, key in items:
        ident = osp.abspath(full)
        if ident not in seen:
            seen.add(ident)
            unique.append((full, key))
    counts: Dict[str, int] = {}
    for _, key in unique:
        counts[key] = counts.get(key, 0) + 1
    out = []
    for full, key in unique:
        if counts[key] > 1:
            ext = osp.splitext(full)[1].lstrip('.').lower()
            key = f'{key}_{ext}' if ext else key
        out.append((full, key))
    return out


def _looks_binary(path: str) -> bool:
    """Whether a file of unknown extension is not a text list."""
    try:
        with open(path, 'rb') as f:
            head = f.read(4096)
    except OSError:
        return False
    if b'\0' in head:
        return True
    try:
        head.decode('utf-8')
    except UnicodeDecodeError:
        return True
    return False


# --------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------
def _norm_cfg(cfg) -> Tuple[Tuple[float, ...], Tuple[float, ...], bool]:
    dp = cfg.get('model', {}).get('data_preprocessor', None) or {}
    mean = dp.get('mean', None)
    std = dp.get('std', None)
    if mean is None or std is None:
        mean, std = IMAGENET_MEAN_255, IMAGENET_STD_255
    return (tuple(float(m) for m in mean), tuple(float(s) for s in std),
            bool(dp.get('to_rgb', False)))


def build_backbone(cfg) -> torch.nn.Module:
    """Build only ``cfg.model.backbone`` (a ``VideoMAEViT``).

    The type may carry the ``mmmae.`` scope (``Recognizer3D`` configs);
    the backbone is built from :data:`mmmae.registry.MODELS` in the
    ``mmmae`` scope whatever the config's ``default_scope``. An
    ``init_cfg`` of type ``Pretrained`` is dropped (the CHECKPOINT argument
    provides the weights).

    Args:
        cfg (mmengine.Config): the full config.

    Returns:
        VideoMAEViT: the backbone, on CPU, in eval mode, not initialised
        (load a checkpoint or call :func:`quiet_init`).

    Raises:
        KeyError: the config has no ``model.backbone``.
        TypeError: the backbone is not a VideoMAEViT.
    """
    import copy

    from mmengine.registry import DefaultScope

    from mmmae.models.backbones.videomae_vit import VideoMAEViT
    from mmmae.registry import MODELS
    model_cfg = cfg.get('model', None)
    if model_cfg is None or model_cfg.get('backbone', None) is None:
        raise KeyError('the config has no model.backbone')
    bb = copy.deepcopy(dict(model_cfg['backbone']))
    type_name = str(bb.get('type', ''))
    if type_name.startswith('mmmae.'):
        bb['type'] = type_name[len('mmmae.'):]
    init_cfg = bb.get('init_cfg', None)
    if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
        bb.pop('init_cfg')
    with DefaultScope.overwrite_default_scope('mmmae'):
        backbone = MODELS.build(bb)
    if not isinstance(backbone, VideoMAEViT):
        raise TypeError(f'model.backbone is {type(backbone).__name__}, not a '
                        '(mmmae.)VideoMAEViT')
    return backbone.eval()


def load_backbone_weights(backbone: torch.nn.Module,
                          checkpoint: str) -> Optional[str]:
    """Load a checkpoint into a bare backbone, strictly.

    Any VideoMAE layout works (mmmae, official, MMAction2, HF; see
    :func:`mmmae.models.backbones.videomae_vit.load_backbone_checkpoint`),
    but every backbone key must come from the file: features of a
    half-initialised encoder (e.g. a fresh ``fc_norm``) would be silently
    wrong.

    Args:
        backbone (VideoMAEViT): the model.
        checkpoint (str): path or URL; ``'none'`` gives the official
            random init (:func:`quiet_init`).

    Returns:
        str | None: a short description of what was loaded (None for
        ``'none'``).

    Raises:
        CheckpointError: keys missing, unexpected or of the wrong shape.
    """
    if checkpoint.lower() == 'none':
        quiet_init(backbone)
        return None
    from mmmae.models.backbones.videomae_vit import load_backbone_checkpoint
    try:
        result = load_backbone_checkpoint(backbone, checkpoint, strict=True)
    except (KeyError, RuntimeError, ValueError) as e:
        raise CheckpointError(f'{checkpoint} does not fit the backbone: {e}' +
                              _norm_hint(str(e))) from e
    if result['unexpected']:
        raise CheckpointError(
            f'{checkpoint} does not fit the backbone: unexpected keys '
            f'({len(result["unexpected"])}): {result["unexpected"][:10]}')
    return f'{checkpoint} ({result["format"]} layout)'


def _norm_hint(missing: str) -> str:
    if "'fc_norm.weight'" in missing:
        return ('. A pretraining checkpoint has no trained fc_norm: use '
                '--cfg-options model.backbone.use_mean_pooling=False')
    if "'norm.weight'" in missing:
        return ('. A fine-tuned checkpoint has fc_norm, not norm: use '
                '--cfg-options model.backbone.use_mean_pooling=True')
    return ''


def quiet_init(backbone: torch.nn.Module) -> None:
    """``init_weights()`` without MMEngine's per-parameter log lines."""
    import logging

    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        backbone.init_weights()
    finally:
        logger.setLevel(level)


# --------------------------------------------------------------------------
# preprocessing and features
# --------------------------------------------------------------------------
def resize_and_crop(frames: np.ndarray,
                    input_size: Tuple[int, int],
                    short_side: Optional[int] = None,
                    crop: str = 'center') -> np.ndarray:
    """Resize and crop frames like MMAction2's test pipeline.

    ``crop='center'``: ``Resize(scale=(-1, short_side))`` (keep ratio, new
    size ``int(x * short_side / min(h, w) + 0.5)``, bilinear) then
    ``CenterCrop`` (offset ``(size - crop) // 2``). ``crop='none'``:
    bilinear resize to ``input_size``.

    Args:
        frames (np.ndarray): ``(T, H, W, 3)`` uint8.
        input_size (tuple[int, int]): output ``(h, w)``.
        short_side (int, optional): short side before the crop (default
            ``max(input_size)``).
        crop (str): ``'center'`` or ``'none'``.

    Returns:
        np.ndarray: ``(T, h, w, 3)`` uint8.
    """
    import cv2
    h, w = input_size
    H, W = frames.shape[1:3]
    if crop == 'none':
        new_w, new_h = w, h
    else:
        s = short_side if short_side is not None else max(h, w)
        scale = s / min(H, W)
        new_w, new_h = int(W * scale + 0.5), int(H * scale + 0.5)
        if new_h < h or new_w < w:
            raise ValueError(f'resized frames {new_h}x{new_w} are smaller '
                             f'than the crop {h}x{w}; raise --short-side')
    if (new_h, new_w) != (H, W):
        frames = np.stack([
            cv2.resize(f, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
            for f in frames
        ])
    if crop != 'none':
        top, left = (new_h - h) // 2, (new_w - w) // 2
        frames = frames[:, top:top + h, left:left + w]
    return np.ascontiguousarray(frames)


def normalize_clips(clips: np.ndarray,
                    mean: Sequence[float],
                    std: Sequence[float],
                    to_rgb: bool = False,
                    device: Union[str, torch.device] = 'cpu') -> torch.Tensor:
    """uint8 clips to normalised network input.

    Args:
        clips (np.ndarray): ``(B, T, H, W, 3)`` uint8 RGB.
        mean (Sequence[float]): per-channel mean, 0-255 units.
        std (Sequence[float]): per-channel std, 0-255 units.
        to_rgb (bool): reverse the channels first (the data preprocessor's
            ``to_rgb``).
        device: target device.

    Returns:
        Tensor: ``(B, 3, T, H, W)`` float32, ``(x - mean) / std``.
    """
    x = torch.from_numpy(clips).to(device)
    x = x.permute(0, 4, 1, 2, 3).float()
    if to_rgb:
        x = x[:, [2, 1, 0]]
    m = torch.tensor(mean, dtype=torch.float32, device=x.device)
    s = torch.tensor(std, dtype=torch.float32, device=x.device)
    return (x - m.view(1, -1, 1, 1, 1)) / s.view(1, -1, 1, 1, 1)


def resolve_layers(backbone: torch.nn.Module,
                   layers: Optional[Sequence[int]]) -> Optional[List[int]]:
    """Non-negative block indices (None stays None).

    Raises:
        IndexError: an index out of range.
    """
    if not layers:
        return None
    n = backbone.num_layers
    out = []
    for i in layers:
        j = i + n if i < 0 else i
        if not 0 <= j < n:
            raise IndexError(f'layer {i} out of range for {n} blocks')
        out.append(j)
    return out


def compute_features(backbone: torch.nn.Module,
                     x: torch.Tensor,
                     feature: str = 'pooled',
                     layers: Optional[Sequence[int]] = None) -> torch.Tensor:
    """Features of a batch of clips.

    Args:
        backbone (VideoMAEViT): the encoder (eval mode).
        x (Tensor): ``(B, 3, T, H, W)`` normalised clips.
        feature (str): ``'pooled'`` or ``'tokens'``.
        layers (Sequence[int], optional): block indices.

    Returns:
        Tensor: without ``layers``: ``(B, D)`` pooled (``backbone(x)`` for a
        mean-pooling backbone, ``backbone(x).mean(1)`` otherwise) or
        ``(B, N, D)`` tokens after the final ``norm``. With ``layers``:
        ``(B, L, D)`` (mean over tokens) or ``(B, L, N, D)``, pre-norm.
    """
    if feature not in ('pooled', 'tokens'):
        raise ValueError(f'unknown feature {feature!r}')
    if layers:
        feats = torch.stack(backbone.get_intermediate_layers(x, layers), 1)
        return feats.mean(2) if feature == 'pooled' else feats
    if feature == 'pooled':
        out = backbone(x)
        return out if backbone.use_mean_pooling else out.mean(1)
    if backbone.use_mean_pooling:
        # forward() would pool; norm is Identity in this layout
        return backbone.norm(backbone.get_intermediate_layers(x, [-1])[0])
    return backbone(x)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]


def open_video(path: str, num_threads: int = 0):
    """Open a video with decord.

    Returns:
        tuple: ``(VideoReader, num_frames, fps, (height, width))``.

    Raises:
        VideoDecodeError: missing, empty, unreadable, or 0 frames.
    """
    if not osp.isfile(path):
        raise VideoDecodeError('file not found')
    if osp.getsize(path) == 0:
        raise VideoDecodeError('empty file (0 bytes)')
    import decord
    try:
        vr = decord.VideoReader(path, num_threads=num_threads)
        num = len(vr)
    except Exception as e:  # decord raises DECORDError / RuntimeError
        raise VideoDecodeError(f'decord cannot open it: {_first_line(e)}')
    if num <= 0:
        raise VideoDecodeError('0 frames')
    try:
        fps = float(vr.get_avg_fps())
    except Exception:
        fps = float('nan')
    try:
        h, w = (int(v) for v in vr[0].shape[:2])
    except Exception as e:
        raise VideoDecodeError(f'cannot decode frame 0: {_first_line(e)}')
    return vr, num, fps, (h, w)


def extract_video(
        backbone: torch.nn.Module,
        path: str,
        clip_len: Optional[int] = None,
        frame_interval: int = 4,
        stride: int = 16,
        input_size: Optional[Tuple[int, int]] = None,
        short_side: Optional[int] = None,
        crop: str = 'center',
        mean: Sequence[float] = IMAGENET_MEAN_255,
        std: Sequence[float] = IMAGENET_STD_255,
        to_rgb: bool = False,
        feature: str = 'pooled',
        layers: Optional[Sequence[int]] = None,
        batch_size: int = 8,
        device: Union[str, torch.device] = 'cpu',
        amp: bool = False,
        decode_threads: int = 0,
        out_file: Optional[str] = None,
        meta: Optional[dict] = None,
        on_batch: Optional[Callable[[int, int], None]] = None) -> np.ndarray:
    """Sliding-window features of one video.

    Args:
        backbone (VideoMAEViT): encoder, already on ``device``, eval mode.
        path (str): video file.
        clip_len (int, optional): frames per window ``T`` (default
            ``backbone.num_frames``).
        frame_interval (int): step between sampled frames.
        stride (int): frames between window starts.
        input_size (tuple[int, int], optional): ``(H, W)`` (default
            ``backbone.img_size``).
        short_side (int, optional): see :func:`resize_and_crop`.
        crop (str): ``'center'`` or ``'none'``.
        mean, std (Sequence[float]): normalisation, 0-255 units.
        to_rgb (bool): reverse channels before normalising.
        feature (str): ``'pooled'`` or ``'tokens'``.
        layers (Sequence[int], optional): block indices.
        batch_size (int): windows per forward pass.
        device: torch device.
        amp (bool): autocast (fp16 on CUDA, bf16 on CPU).
        decode_threads (int): decord threads.
        out_file (str, optional): write the features into this ``.npy``
            (a memory map, so long token outputs need not fit in RAM).
        meta (dict, optional): filled with ``num_frames``, ``fps``,
            ``height``, ``width``, ``window_starts``.
        on_batch (callable, optional): called as ``on_batch(done, total)``
            (windows) after each batch.

    Returns:
        np.ndarray: float32 ``(W, D)``, ``(W, N, D)``, ``(W, L, D)`` or
        ``(W, L, N, D)`` (see :func:`compute_features`), ``W`` =
        ``len(window_starts(...))``; a memmap when ``out_file`` is given.

    Raises:
        VideoDecodeError: the video cannot be opened or decoded.
    """
    clip_len = clip_len or backbone.num_frames
    input_size = tuple(input_size or backbone.img_size)
    layers = resolve_layers(backbone, layers)
    device = torch.device(device)
    vr, num_frames, fps, (height, width) = open_video(path, decode_threads)
    starts = window_starts(num_frames, clip_len, frame_interval, stride)
    indices = window_frame_indices(starts, num_frames, clip_len,
                                   frame_interval)
    if meta is not None:
        meta.update(num_frames=int(num_frames),
                    fps=fps,
                    height=height,
                    width=width,
                    window_starts=[int(s) for s in starts])

    amp_dtype = torch.float16 if device.type == 'cuda' else torch.bfloat16
    out = None
    chunks = []
    cache: Dict[int, np.ndarray] = {}  # frame -> preprocessed, last batch
    total = len(starts)
    for b0 in range(0, total, batch_size):
        idx = indices[b0:b0 + batch_size]
        wanted = sorted(set(int(i) for i in idx.ravel()))
        need = [i for i in wanted if i not in cache]
        fresh = {}
        if need:
            try:
                frames = vr.get_batch(need).asnumpy()
            except Exception as e:
                raise VideoDecodeError(
                    f'decoding frames {need[0]}..{need[-1]} failed: '
                    f'{_first_line(e)}')
            if frames.shape[0] != len(need):
                raise VideoDecodeError(
                    f'decord returned {frames.shape[0]} frames for '
                    f'{len(need)} indices')
            frames = resize_and_crop(frames, input_size, short_side, crop)
            fresh = dict(zip(need, frames))
        cache = {i: cache[i] if i in cache else fresh[i] for i in wanted}
        clips = np.stack(
            [np.stack([cache[int(i)] for i in row]) for row in idx])
        x = normalize_clips(clips, mean, std, to_rgb, device)
        amp_ctx = (torch.autocast(device_type=device.type, dtype=amp_dtype)
                   if amp else contextlib.nullcontext())
        with torch.inference_mode(), amp_ctx:
            feats = compute_features(backbone, x, feature, layers)
        feats = feats.float().cpu().numpy()
        if out_file is not None:
            if out is None:
                out = np.lib.format.open_memmap(out_file,
                                                mode='w+',
                                                dtype=np.float32,
                                                shape=(total, ) +
                                                feats.shape[1:])
            out[b0:b0 + len(feats)] = feats
        else:
            chunks.append(feats)
        if on_batch is not None:
            on_batch(min(b0 + batch_size, total), total)
    if out_file is not None:
        out.flush()
        return out
    return np.concatenate(chunks, 0).astype(np.float32, copy=False)


# --------------------------------------------------------------------------
# progress
# --------------------------------------------------------------------------
class _Progress:
    """tqdm when installed, else MMEngine's ProgressBar."""

    def __init__(self, total: int) -> None:
        try:
            from tqdm import tqdm
        except ImportError:  # pragma: no cover - tqdm is normally present
            tqdm = None
        self._tqdm = tqdm
        self._inner = None
        if tqdm is not None:
            self.bar = tqdm(total=total, unit='video', dynamic_ncols=True)
        else:  # pragma: no cover
            from mmengine.utils import ProgressBar
            self.bar = ProgressBar(total)

    def write(self, msg: str) -> None:
        if self._tqdm is not None:
            self._tqdm.write(msg, file=sys.stderr)
        else:  # pragma: no cover
            print('\n' + msg, file=sys.stderr, flush=True)

    def windows(self, done: int, total: int) -> None:
        if self._tqdm is None or (self._inner is None and done >= total):
            return  # no inner bar for videos of one batch
        if self._inner is None:
            self._inner = self._tqdm(total=total,
                                     unit='win',
                                     leave=False,
                                     dynamic_ncols=True)
        self._inner.update(done - self._inner.n)

    def step(self, name: str) -> None:
        if self._inner is not None:
            self._inner.close()
            self._inner = None
        if self._tqdm is not None:
            self.bar.set_postfix_str(name[-40:], refresh=False)
        self.bar.update()

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()
        if self._tqdm is not None:
            self.bar.close()
        else:  # pragma: no cover
            sys.stdout.write('\n')


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------
def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)


def _fail(msg: str) -> int:
    print(f'[extract_features] error: {msg}', file=sys.stderr)
    return 2


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point.

    Args:
        argv (Sequence[str], optional): arguments (default ``sys.argv[1:]``).

    Returns:
        int: 0 when at least one video was extracted (or already existed
        with ``--skip-existing``), 1 when none was, 2 on a setup error.
    """
    args = parse_args(argv)
    from mmengine.config import Config

    try:
        cfg = Config.fromfile(args.config)
    except Exception as e:
        return _fail(f'cannot read config {args.config}: {e}')
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)

    if args.device is None:
        device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    else:
        device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        return _fail('--device cuda but CUDA is not available')

    try:
        backbone = build_backbone(cfg)
    except (KeyError, TypeError) as e:
        return _fail(f'{args.config}: {e}')
    try:
        loaded = load_backbone_weights(backbone, args.checkpoint)
    except (CheckpointError, FileNotFoundError) as e:
        return _fail(str(e))
    except Exception as e:  # unreadable file, not a checkpoint, ...
        return _fail(f'cannot load checkpoint {args.checkpoint}: '
                     f'{type(e).__name__}: {_first_line(e)}')
    backbone.to(device).eval()

    # ---- settings, validated before touching any video
    clip_len = args.clip_len or backbone.num_frames
    if clip_len % backbone.tubelet_size:
        return _fail(f'--clip-len {clip_len} is not a multiple of the '
                     f'tubelet size {backbone.tubelet_size}')
    if args.input_size is None:
        input_size = tuple(backbone.img_size)
    elif len(args.input_size) == 1:
        input_size = (args.input_size[0], args.input_size[0])
    else:
        input_size = tuple(args.input_size)
    patch = backbone.patch_size
    ph, pw = (patch, patch) if isinstance(patch, int) else tuple(patch)
    if input_size[0] % ph or input_size[1] % pw:
        return _fail(f'input size {input_size} is not a multiple of the '
                     f'patch size {patch}')
    if (args.crop == 'center' and args.short_side is not None
            and args.short_side < max(input_size)):
        return _fail(f'--short-side {args.short_side} is smaller than the '
                     f'crop {input_size}')
    try:
        layers = resolve_layers(backbone, args.layers)
    except IndexError as e:
        return _fail(str(e))
    mean, std, to_rgb = _norm_cfg(cfg)

    try:
        videos = collect_videos(args.videos, args.data_prefix)
    except (FileNotFoundError, OSError) as e:
        return _fail(str(e))
    if not videos:
        return _fail(f'no videos found in {args.videos}')

    os.makedirs(args.out_dir, exist_ok=True)
    token_grid = [
        clip_len // backbone.tubelet_size, input_size[0] // ph,
        input_size[1] // pw
    ]
    settings = OrderedDict(
        config=osp.abspath(args.config),
        checkpoint=loaded,
        feature=args.feature,
        layers=layers,
        pre_norm=layers is not None,
        pooling=('fc_norm(mean of tokens)' if backbone.use_mean_pooling
                 and layers is None else 'mean of tokens')
        if args.feature == 'pooled' else None,
        clip_len=clip_len,
        frame_interval=args.frame_interval,
        stride=args.stride,
        window_span=clip_len * args.frame_interval,
        input_size=list(input_size),
        short_side=(args.short_side or max(input_size))
        if args.crop == 'center' else None,
        crop=args.crop,
        mean=list(mean),
        std=list(std),
        to_rgb=to_rgb,
        token_grid=token_grid,
        embed_dims=backbone.embed_dims,
        amp=bool(args.amp))

    extracted, existing = 0, 0
    skipped: List[Tuple[str, str]] = []
    progress = _Progress(len(videos))
    try:
        for path, key in videos:
            out_npy = osp.join(args.out_dir, key + '.npy')
            out_json = osp.join(args.out_dir, key + '.json')
            if args.skip_existing and osp.isfile(out_npy):
                existing += 1
                progress.step(key)
                continue
            os.makedirs(osp.dirname(out_npy) or '.', exist_ok=True)
            tmp = out_npy + '.part'
            meta: dict = {}
            try:
                feats = extract_video(backbone,
                                      path,
                                      clip_len=clip_len,
                                      frame_interval=args.frame_interval,
                                      stride=args.stride,
                                      input_size=input_size,
                                      short_side=args.short_side,
                                      crop=args.crop,
                                      mean=mean,
                                      std=std,
                                      to_rgb=to_rgb,
                                      feature=args.feature,
                                      layers=layers,
                                      batch_size=args.batch_size,
                                      device=device,
                                      amp=args.amp,
                                      decode_threads=args.decode_threads,
                                      out_file=tmp,
                                      meta=meta,
                                      on_batch=progress.windows)
            except VideoDecodeError as e:
                _remove(tmp)
                skipped.append((path, str(e)))
                progress.write(f'[extract_features] WARNING: skipped {path}: '
                               f'{e}')
                progress.step(key)
                continue
            except BaseException:
                _remove(tmp)
                raise
            shape = list(feats.shape)
            del feats  # close the memmap before renaming
            fps = meta['fps']
            info = OrderedDict(video=osp.abspath(path))
            info.update(meta)
            info['window_start_sec'] = [
                s / fps if fps and fps == fps else None
                for s in meta['window_starts']
            ]
            info['shape'] = shape
            info['dtype'] = 'float32'
            info.update(settings)
            with open(out_json + '.part', 'w') as f:
                json.dump(info, f, indent=1)
            os.replace(out_json + '.part', out_json)
            # the .npy last: --skip-existing trusts it
            os.replace(tmp, out_npy)
            extracted += 1
            progress.step(key)
    finally:
        progress.close()

    skipped_path = osp.join(args.out_dir, SKIPPED_FILE)
    if skipped:
        with open(skipped_path, 'w') as f:
            for path, why in skipped:
                f.write(f'{path}\t{why}\n')
    else:
        _remove(skipped_path)  # stale list from an earlier run
    line = f'extracted {extracted}, skipped {len(skipped)}'
    if skipped:
        line += f' (listed in {skipped_path})'
    if existing:
        line += f', {existing} already done'
    print(line, flush=True)
    return 0 if extracted + existing > 0 else 1


if __name__ == '__main__':
    sys.exit(main())
