# Copyright (c) mmmae contributors. All rights reserved.
"""VideoMAE encoder features of (long) videos with sliding windows.

Windows
    Window ``w`` starts at frame ``s_w = w * stride`` and samples
    ``clip_len`` frames ``s_w, s_w + frame_interval, ...``; it covers the
    ``span = clip_len * frame_interval`` frames ``[s_w, s_w + span)``.
    Windows are added until one reaches the end of the video
    (``s_w + span >= num_frames``), so there are
    ``1 + max(0, ceil((num_frames - span) / stride))`` of them and every
    frame is inside a window. Frame indices past the end are replaced by the
    last frame (a video shorter than ``span`` gives one padded window).

Preprocessing
    the dataset transforms of training and testing: ``mmmae.VideoInit`` /
    ``mmmae.VideoDecode`` (decord, PyAV fallback; frames shared by
    overlapping windows of consecutive batches are decoded once), then the
    MMAction2 test-pipeline geometry ``Resize(scale=(-1, short_side))`` +
    ``CenterCrop(input_size)`` (or ``Resize(input_size, keep_ratio=False)``
    with ``crop='none'``), and the normalisation of
    :class:`~mmmae.models.VideoMAEDataPreprocessor` (mean/std in 0-255
    units, from the model's data preprocessor or config; ImageNet else).

Features (``D`` = embed dims, ``N = T/t * H/p * W/p`` tokens in
``(t, h, w)`` row-major order, ``L`` = number of layers)
    * ``mode='pooled'``: ``(W, D)``. A fine-tuning backbone
      (``use_mean_pooling=True``) gives its own output
      ``fc_norm(tokens.mean(1))``; a pretraining backbone the mean over
      tokens of its output (tokens after the final ``norm``).
    * ``mode='tokens'``: ``(W, N, D)``: the tokens after the final ``norm``
      (an Identity in a fine-tuning backbone: the raw last-block tokens).
    * ``layers=[i, j, ...]`` (block indices, negative from the end):
      ``(W, L, D)`` (pooled: mean over tokens) or ``(W, L, N, D)``
      (tokens), taken right after each block, *before* the final ``norm``
      -- also for the last block. ``mode='layers'`` is ``'pooled'`` with
      every block by default.
"""
import contextlib
import copy
import json
import math
import os
import os.path as osp
from collections import OrderedDict
from typing import (Any, Callable, Dict, List, Optional, Sequence, Tuple,
                    Union)

import numpy as np
import torch
import torch.nn as nn

from .inference import InputError, load_config, quiet_init_weights

__all__ = [
    'VideoDecodeError', 'CheckpointError', 'IMAGENET_MEAN_255',
    'IMAGENET_STD_255', 'window_starts', 'window_frame_indices',
    'build_backbone', 'load_backbone_weights', 'init_backbone',
    'normalization_from_config', 'resolve_layers', 'resolve_window_settings',
    'compute_features', 'extract_features', 'feature_settings',
    'save_video_features'
]

IMAGENET_MEAN_255 = (123.675, 116.28, 103.53)
IMAGENET_STD_255 = (58.395, 57.12, 57.375)
MODES = ('pooled', 'tokens', 'layers')


class VideoDecodeError(RuntimeError):
    """A video cannot be opened or decoded (callers skip it)."""


class CheckpointError(InputError):
    """The checkpoint does not fit the backbone."""


# --------------------------------------------------------------------------
# windows
# --------------------------------------------------------------------------
def window_starts(num_frames: int, clip_len: int, frame_interval: int,
                  stride: int) -> List[int]:
    """Start frames of the sliding windows over a video.

    Args:
        num_frames (int): frames in the video.
        clip_len (int): frames sampled per window.
        frame_interval (int): step between sampled frames.
        stride (int): frames between window starts.

    Returns:
        list[int]: ``[0, stride, 2 * stride, ...]``,
        ``1 + max(0, ceil((num_frames - span) / stride))`` entries
        (``span = clip_len * frame_interval``); empty when
        ``num_frames <= 0``.
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
# model
# --------------------------------------------------------------------------
def build_backbone(cfg) -> nn.Module:
    """Build only ``cfg.model.backbone`` (a ``VideoMAEViT``).

    The type may carry the ``mmmae.`` scope (``Recognizer3D`` configs); it
    is built in the ``mmmae`` scope whatever the config's
    ``default_scope``, so a config without a complete model (no decoder or
    head) still gives its encoder. An ``init_cfg`` of type ``Pretrained`` is
    dropped: the checkpoint argument provides the weights.

    Args:
        cfg (Config): the full config.

    Returns:
        VideoMAEViT: on CPU, eval mode, not initialised (load a checkpoint
        or call :func:`~mmmae.apis.quiet_init_weights`).

    Raises:
        InputError: no ``model.backbone``, or not a VideoMAEViT.
    """
    from mmengine.registry import DefaultScope

    from mmmae.models.backbones.videomae_vit import VideoMAEViT
    from mmmae.registry import MODELS
    model_cfg = cfg.get('model', None)
    if model_cfg is None or model_cfg.get('backbone', None) is None:
        raise InputError('the config has no model.backbone')
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
        raise InputError(f'model.backbone is {type(backbone).__name__}, not '
                         'a (mmmae.)VideoMAEViT')
    return backbone.eval()


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]


def _norm_hint(missing: str) -> str:
    if "'fc_norm.weight'" in missing:
        return ('. A pretraining checkpoint has no trained fc_norm: use '
                '--cfg-options model.backbone.use_mean_pooling=False')
    if "'norm.weight'" in missing:
        return ('. A fine-tuned checkpoint has fc_norm, not norm: use '
                '--cfg-options model.backbone.use_mean_pooling=True')
    return ''


def load_backbone_weights(backbone: nn.Module,
                          checkpoint: Optional[str]) -> Optional[str]:
    """Load a checkpoint into a bare backbone, strictly.

    Any VideoMAE layout works (mmmae/MMEngine, official V1/V2, MMAction2,
    HF; see :func:`mmmae.checkpoint.loaders.
    load_backbone_checkpoint`), but every backbone key must come from the
    file: features of a half-initialised encoder (a fresh ``fc_norm``)
    would be silently wrong.

    Args:
        backbone (VideoMAEViT): the encoder.
        checkpoint (str, optional): path or URL; None or ``'none'`` gives
            the official random init (quietly).

    Returns:
        str | None: what was loaded (``'<path> (<format> layout)'``), None
        for a random init.

    Raises:
        CheckpointError: keys missing, unexpected or of the wrong shape, or
            a file that is not a checkpoint.
        FileNotFoundError: no such file.
    """
    if checkpoint is None or checkpoint.lower() == 'none':
        quiet_init_weights(backbone)
        return None
    from mmmae.checkpoint.loaders import load_backbone_checkpoint
    try:
        result = load_backbone_checkpoint(backbone, checkpoint, strict=True)
    except FileNotFoundError:
        raise
    except (KeyError, RuntimeError, ValueError) as e:
        raise CheckpointError(f'{checkpoint} does not fit the backbone: {e}' +
                              _norm_hint(str(e))) from e
    except Exception as e:  # unreadable file, not a checkpoint, ...
        raise CheckpointError(f'cannot load checkpoint {checkpoint}: '
                              f'{type(e).__name__}: {_first_line(e)}') from e
    if result['unexpected']:
        raise CheckpointError(
            f'{checkpoint} does not fit the backbone: unexpected keys '
            f'({len(result["unexpected"])}): {result["unexpected"][:10]}')
    return f'{checkpoint} ({result["format"]} layout)'


def init_backbone(config,
                  checkpoint: Optional[str] = None,
                  device: Union[str, torch.device] = 'cpu',
                  cfg_options: Optional[dict] = None) -> nn.Module:
    """:func:`build_backbone` + :func:`load_backbone_weights`, eval mode.

    Args:
        config (str | Path | Config): a config with a VideoMAEViT backbone.
        checkpoint (str, optional): any VideoMAE checkpoint; None = random.
        device (str | torch.device): target device.
        cfg_options (dict, optional): config overrides.

    Returns:
        VideoMAEViT: with the config as ``.cfg`` (its data preprocessor's
        mean/std are what :func:`extract_features` normalises with) and
        ``.checkpoint_info`` (what was loaded).
    """
    cfg = load_config(config, cfg_options)
    backbone = build_backbone(cfg)
    backbone.checkpoint_info = load_backbone_weights(backbone, checkpoint)
    backbone.cfg = cfg
    return backbone.to(device).eval()


def normalization_from_config(
        cfg) -> Tuple[Tuple[float, ...], Tuple[float, ...], bool]:
    """``(mean, std, to_rgb)`` of ``cfg.model.data_preprocessor``.

    Returns:
        tuple: mean and std in 0-255 units (ImageNet when the config gives
        none) and ``to_rgb`` (reverse the channels first).
    """
    dp = (cfg.get('model', None) or {}).get('data_preprocessor', None) or {}
    mean, std = dp.get('mean', None), dp.get('std', None)
    if mean is None or std is None:
        mean, std = IMAGENET_MEAN_255, IMAGENET_STD_255
    return (tuple(float(m) for m in mean), tuple(float(s) for s in std),
            bool(dp.get('to_rgb', False)))


def _model_normalization(model: nn.Module):
    """``(mean, std, to_rgb)`` the model was trained with."""
    dp = getattr(model, 'data_preprocessor', None)
    mean, std = getattr(dp, 'mean', None), getattr(dp, 'std', None)
    if torch.is_tensor(mean) and torch.is_tensor(std):
        # MMAction2's ActionDataPreprocessor keeps `to_rgb`, MMEngine's
        # ImgDataPreprocessor `_channel_conversion`
        to_rgb = getattr(dp, 'to_rgb',
                         getattr(dp, '_channel_conversion', False))
        return (tuple(mean.flatten().tolist()), tuple(std.flatten().tolist()),
                bool(to_rgb))
    cfg = getattr(model, 'cfg', None)
    if cfg is not None:
        return normalization_from_config(cfg)
    return IMAGENET_MEAN_255, IMAGENET_STD_255, False


def _backbone_of(model: nn.Module) -> nn.Module:
    backbone = getattr(model, 'backbone', model)
    if not hasattr(backbone, 'get_intermediate_layers'):
        raise InputError(f'{type(backbone).__name__} is not a VideoMAEViT '
                         '(no get_intermediate_layers)')
    return backbone


def resolve_layers(backbone: nn.Module,
                   layers: Optional[Sequence[int]]) -> Optional[List[int]]:
    """Non-negative block indices (None or empty stays None).

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


def resolve_window_settings(
        backbone: nn.Module,
        clip_len: Optional[int] = None,
        input_size: Union[None, int, Sequence[int]] = None,
        short_side: Optional[int] = None,
        crop: str = 'center') -> Tuple[int, Tuple[int, int]]:
    """Check the window geometry against the backbone.

    Args:
        backbone (VideoMAEViT): the encoder.
        clip_len (int, optional): frames per window (default
            ``backbone.num_frames``).
        input_size (int | Sequence[int], optional): ``S`` or ``(H, W)``
            (default ``backbone.img_size``).
        short_side (int, optional): short side before a center crop.
        crop (str): ``'center'`` or ``'none'``.

    Returns:
        tuple: ``(clip_len, (H, W))``.

    Raises:
        InputError: not a multiple of the tubelet / patch size, or a short
            side smaller than the crop.
    """
    if crop not in ('center', 'none'):
        raise InputError(f"crop must be 'center' or 'none', got {crop!r}")
    clip_len = clip_len or backbone.num_frames
    if clip_len % backbone.tubelet_size:
        raise InputError(f'--clip-len {clip_len} is not a multiple of the '
                         f'tubelet size {backbone.tubelet_size}')
    if input_size is None:
        size = tuple(backbone.img_size)
    elif isinstance(input_size, int):
        size = (input_size, input_size)
    else:
        size = tuple(input_size) * (2 if len(input_size) == 1 else 1)
    patch = backbone.patch_size
    ph, pw = (patch, patch) if isinstance(patch, int) else tuple(patch)
    if size[0] % ph or size[1] % pw:
        raise InputError(f'input size {size} is not a multiple of the patch '
                         f'size {patch}')
    if crop == 'center' and short_side is not None and short_side < max(size):
        raise InputError(f'--short-side {short_side} is smaller than the '
                         f'crop {size}')
    return int(clip_len), (int(size[0]), int(size[1]))


def compute_features(backbone: nn.Module,
                     x: torch.Tensor,
                     mode: str = 'pooled',
                     layers: Optional[Sequence[int]] = None) -> torch.Tensor:
    """Features of a batch of clips.

    Args:
        backbone (VideoMAEViT): the encoder (eval mode).
        x (Tensor): ``(B, 3, T, H, W)`` normalised clips.
        mode (str): ``'pooled'`` or ``'tokens'``.
        layers (Sequence[int], optional): non-negative block indices.

    Returns:
        Tensor: without ``layers``: ``(B, D)`` pooled or ``(B, N, D)``
        tokens after the final ``norm``. With ``layers``: ``(B, L, D)``
        (mean over tokens) or ``(B, L, N, D)``, pre-norm.
    """
    if mode not in ('pooled', 'tokens'):
        raise ValueError(f'unknown feature mode {mode!r}')
    if layers:
        feats = torch.stack(backbone.get_intermediate_layers(x, layers), 1)
        return feats.mean(2) if mode == 'pooled' else feats
    if mode == 'pooled':
        out = backbone(x)
        return out if backbone.use_mean_pooling else out.mean(1)
    if backbone.use_mean_pooling:
        # forward() would pool; norm is Identity in this layout
        return backbone.norm(backbone.get_intermediate_layers(x, [-1])[0])
    return backbone(x)


# --------------------------------------------------------------------------
# decoding through the dataset transforms
# --------------------------------------------------------------------------
class _WindowFrames:
    """Frames of one video, decoded and resized/cropped by the pipeline.

    ``mmmae.VideoInit`` opens the file once; each :meth:`get` runs
    ``mmmae.VideoDecode`` on the frames the batch needs that the previous
    batch did not (overlapping windows share frames), then the test-time
    geometry transforms.
    """

    def __init__(self, path: str, input_size: Tuple[int, int],
                 short_side: Optional[int], crop: str,
                 num_threads: int) -> None:
        from mmaction.datasets.transforms import CenterCrop, Resize

        from mmmae.datasets.transforms.video_decode import (VideoDecode,
                                                            VideoInit)
        if not osp.isfile(path):
            raise VideoDecodeError('file not found')
        if osp.getsize(path) == 0:
            raise VideoDecodeError('empty file (0 bytes)')
        try:
            self.opened = VideoInit(num_threads=num_threads)(
                dict(filename=path))
        except Exception as e:  # decord/PyAV raise their own types
            raise VideoDecodeError(f'cannot open it: {_first_line(e)}')
        if self.opened['total_frames'] <= 0:
            raise VideoDecodeError('0 frames')
        self.num_frames = int(self.opened['total_frames'])
        self.fps = float(self.opened['avg_fps'])
        self.original_shape = None
        self.decode = VideoDecode()
        h, w = input_size
        if crop == 'none':
            self.geometry = [Resize(scale=(w, h), keep_ratio=False)]
        else:
            # MMAction2's test pipeline: keep-ratio short-side resize (the
            # crop size by default) then a center crop; crop_size is (w, h)
            s = short_side if short_side is not None else max(h, w)
            self.geometry = [Resize(scale=(-1, s)), CenterCrop((w, h))]
        self.cache: Dict[int, np.ndarray] = {}

    def _load(self, inds: List[int]) -> Dict[int, np.ndarray]:
        # a copy: VideoDecode releases the reader of the dict it is given
        results = dict(self.opened, frame_inds=np.asarray(inds))
        try:
            results = self.decode(results)
        except Exception as e:
            raise VideoDecodeError(f'decoding frames {inds[0]}..{inds[-1]} '
                                   f'failed: {_first_line(e)}')
        if len(results['imgs']) != len(inds):
            raise VideoDecodeError(f'the reader returned '
                                   f'{len(results["imgs"])} frames for '
                                   f'{len(inds)} indices')
        self.original_shape = tuple(int(v) for v in results['imgs'].shape[1:3])
        for t in self.geometry:
            results = t(results)
        return dict(zip(inds, results['imgs']))

    def get(self, idx: np.ndarray) -> np.ndarray:
        """``(B, T)`` frame indices -> ``(B, T, H, W, 3)`` uint8 RGB."""
        wanted = sorted(set(int(i) for i in idx.ravel()))
        need = [i for i in wanted if i not in self.cache]
        fresh = self._load(need) if need else {}
        # keep only this batch's frames: the next batch overlaps it at most
        self.cache = {
            i: self.cache[i] if i in self.cache else fresh[i]
            for i in wanted
        }
        return np.stack(
            [np.stack([self.cache[int(i)] for i in row]) for row in idx])


def _normalizer(mean, std, device):
    from mmmae.models.data_preprocessors.video_preprocessor import \
        VideoMAEDataPreprocessor
    return VideoMAEDataPreprocessor(mean=mean, std=std).to(device)


def _device_of(module: nn.Module) -> torch.device:
    p = next(module.parameters(), None)
    return p.device if p is not None else torch.device('cpu')


def _extract_one(backbone, path, *, mode, layers, clip_len, frame_interval,
                 stride, input_size, short_side, crop, batch_size, norm,
                 to_rgb, amp, decode_threads, out_file, meta, on_batch):
    device = _device_of(backbone)
    frames = _WindowFrames(path, input_size, short_side, crop, decode_threads)
    starts = window_starts(frames.num_frames, clip_len, frame_interval,
                           stride)
    indices = window_frame_indices(starts, frames.num_frames, clip_len,
                                   frame_interval)
    amp_dtype = torch.float16 if device.type == 'cuda' else torch.bfloat16
    out, chunks, total = None, [], len(starts)
    for b0 in range(0, total, batch_size):
        clips = frames.get(indices[b0:b0 + batch_size])
        # (B, T, H, W, C) -> (B, C, T, H, W), FormatShape('NCTHW')'s layout
        x = torch.from_numpy(clips).to(device).permute(0, 4, 1, 2, 3)
        if to_rgb:
            x = x.flip(1)
        x = norm.normalize(x)
        amp_ctx = (torch.autocast(device_type=device.type, dtype=amp_dtype)
                   if amp else contextlib.nullcontext())
        with torch.inference_mode(), amp_ctx:
            feats = compute_features(backbone, x, mode, layers)
        feats = feats.float().cpu().numpy()
        if out_file is not None:
            if out is None:  # a memmap: long token outputs need not fit RAM
                out = np.lib.format.open_memmap(
                    out_file, mode='w+', dtype=np.float32,
                    shape=(total, ) + feats.shape[1:])
            out[b0:b0 + len(feats)] = feats
        else:
            chunks.append(feats)
        if on_batch is not None:
            on_batch(min(b0 + batch_size, total), total)
    if meta is not None:
        height, width = frames.original_shape
        meta.update(num_frames=frames.num_frames, fps=frames.fps,
                    height=height, width=width,
                    window_starts=[int(s) for s in starts])
    if out is not None:
        out.flush()
        return out
    return np.concatenate(chunks, 0).astype(np.float32, copy=False)


def _video_list(videos) -> List[str]:
    """Paths of a sequence of paths or of a dataset's samples."""
    if hasattr(videos, 'get_data_info'):  # an MMEngine BaseDataset
        out = []
        for i in range(len(videos)):
            info = videos.get_data_info(i)
            out.append(info.get('filename') or info['video_path'])
        return out
    return [str(v) for v in videos]


def extract_features(
    model: nn.Module,
    video_or_dataset: Union[str, Sequence[str], Any],
    mode: str = 'pooled',
    layers: Optional[Sequence[int]] = None,
    clip_len: Optional[int] = None,
    frame_interval: int = 4,
    stride: int = 16,
    input_size: Union[None, int, Sequence[int]] = None,
    short_side: Optional[int] = None,
    crop: str = 'center',
    batch_size: int = 8,
    mean: Optional[Sequence[float]] = None,
    std: Optional[Sequence[float]] = None,
    to_rgb: Optional[bool] = None,
    amp: bool = False,
    decode_threads: int = 0,
    out_file: Optional[str] = None,
    meta: Union[None, dict, list] = None,
    on_batch: Optional[Callable[[int, int], None]] = None
) -> Union[np.ndarray, List[np.ndarray]]:
    """Sliding-window encoder features of a video or of several.

    See the module docstring for the windows, preprocessing and features.

    Args:
        model (nn.Module): a model with a ``VideoMAEViT`` ``backbone``
            (:func:`~mmmae.apis.init_model`: ``VideoMAE``, ``Recognizer3D``)
            or a bare backbone (:func:`init_backbone`); on its device.
        video_or_dataset (str | Sequence[str] | BaseDataset): a video file,
            a list of them, or a dataset whose samples name a ``filename``
            (its own pipeline is not used: windows cover whole videos).
        mode (str): ``'pooled'``, ``'tokens'`` or ``'layers'``.
        layers (Sequence[int], optional): block indices, negative from the
            end (``'layers'`` mode: every block by default).
        clip_len (int, optional): frames per window ``T`` (default
            ``backbone.num_frames``; a multiple of the tubelet size).
        frame_interval (int): step between sampled frames.
        stride (int): frames between window starts.
        input_size (int | Sequence[int], optional): ``S`` or ``(H, W)``
            (default ``backbone.img_size``).
        short_side (int, optional): short side before the center crop
            (default ``max(input_size)``).
        crop (str): ``'center'`` or ``'none'`` (plain resize).
        batch_size (int): windows per forward pass.
        mean, std (Sequence[float], optional): normalisation in 0-255
            units; default the model's data preprocessor / config, else
            ImageNet.
        to_rgb (bool, optional): reverse channels first (default as the
            data preprocessor).
        amp (bool): autocast (fp16 on CUDA, bf16 on CPU); features are
            returned as float32.
        decode_threads (int): decoder threads (0 = decord's default).
        out_file (str, optional): one video only: write the features into
            this ``.npy`` (a memory map) and return the memmap.
        meta (dict | list, optional): filled with ``num_frames``, ``fps``,
            ``height``, ``width``, ``window_starts`` (a list gets one dict
            per video).
        on_batch (callable, optional): ``on_batch(done, total)`` windows.

    Returns:
        np.ndarray | list[np.ndarray]: float32 ``(W, D)``, ``(W, N, D)``,
        ``(W, L, D)`` or ``(W, L, N, D)`` per video (``W`` =
        ``len(window_starts(...))``); a list for several videos.

    Raises:
        VideoDecodeError: a video cannot be opened or decoded.
        InputError: bad settings for this backbone.
        IndexError: a layer out of range.
    """
    if mode not in MODES:
        raise InputError(f'mode must be one of {MODES}, got {mode!r}')
    if min(frame_interval, stride, batch_size) < 1:
        raise InputError('frame_interval, stride and batch_size must be >= 1')
    backbone = _backbone_of(model)
    if mode == 'layers':
        mode, layers = 'pooled', layers or list(range(backbone.num_layers))
    layers = resolve_layers(backbone, layers)
    clip_len, size = resolve_window_settings(backbone, clip_len, input_size,
                                             short_side, crop)
    m, s, rgb = _model_normalization(model)
    norm = _normalizer(mean if mean is not None else m,
                       std if std is not None else s, _device_of(backbone))
    opts = dict(mode=mode, layers=layers, clip_len=clip_len,
                frame_interval=frame_interval, stride=stride,
                input_size=size, short_side=short_side, crop=crop,
                batch_size=batch_size, norm=norm,
                to_rgb=rgb if to_rgb is None else bool(to_rgb), amp=amp,
                decode_threads=decode_threads, on_batch=on_batch)
    if isinstance(video_or_dataset, (str, os.PathLike)):
        return _extract_one(backbone, str(video_or_dataset),
                            out_file=out_file, meta=meta, **opts)
    if out_file is not None:
        raise InputError('out_file takes one video')
    outs = []
    for path in _video_list(video_or_dataset):
        info: dict = {}
        outs.append(_extract_one(backbone, path, out_file=None, meta=info,
                                 **opts))
        if isinstance(meta, list):
            meta.append(info)
    return outs


def feature_settings(backbone: nn.Module,
                     mode: str = 'pooled',
                     layers: Optional[Sequence[int]] = None,
                     clip_len: Optional[int] = None,
                     frame_interval: int = 4,
                     stride: int = 16,
                     input_size: Union[None, int, Sequence[int]] = None,
                     short_side: Optional[int] = None,
                     crop: str = 'center',
                     mean: Optional[Sequence[float]] = None,
                     std: Optional[Sequence[float]] = None,
                     to_rgb: Optional[bool] = None,
                     amp: bool = False,
                     **unused) -> 'OrderedDict[str, Any]':
    """What :func:`extract_features` computes with these options, resolved
    (for the sidecar of :func:`save_video_features`).

    Args:
        backbone (nn.Module): the model or its VideoMAEViT backbone.
        mode, layers, ...: the options of :func:`extract_features` (others,
            such as ``batch_size``, are ignored).

    Returns:
        OrderedDict: ``feature``, ``layers`` (non-negative), ``pre_norm``,
        ``pooling``, ``clip_len``, ``frame_interval``, ``stride``,
        ``window_span``, ``input_size``, ``short_side``, ``crop``,
        ``mean``, ``std``, ``to_rgb``, ``token_grid``, ``embed_dims``,
        ``amp``.
    """
    m, s, rgb = _model_normalization(backbone)
    backbone = _backbone_of(backbone)
    if mode == 'layers':
        mode, layers = 'pooled', layers or list(range(backbone.num_layers))
    layers = resolve_layers(backbone, layers)
    clip_len, size = resolve_window_settings(backbone, clip_len, input_size,
                                             short_side, crop)
    patch = backbone.patch_size
    ph, pw = (patch, patch) if isinstance(patch, int) else tuple(patch)
    fc_norm = layers is None and backbone.use_mean_pooling
    return OrderedDict(
        feature=mode, layers=layers, pre_norm=layers is not None,
        pooling=('fc_norm(mean of tokens)' if fc_norm else 'mean of tokens')
        if mode == 'pooled' else None,
        clip_len=clip_len, frame_interval=frame_interval, stride=stride,
        window_span=clip_len * frame_interval, input_size=list(size),
        short_side=(short_side or max(size)) if crop == 'center' else None,
        crop=crop, mean=[float(v) for v in (m if mean is None else mean)],
        std=[float(v) for v in (s if std is None else std)],
        to_rgb=rgb if to_rgb is None else bool(to_rgb),
        token_grid=[clip_len // backbone.tubelet_size, size[0] // ph,
                    size[1] // pw],
        embed_dims=backbone.embed_dims, amp=bool(amp))


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)


def save_video_features(model: nn.Module,
                        video: str,
                        out_npy: str,
                        info: Optional[dict] = None,
                        **kwargs) -> dict:
    """Extract one video into ``out_npy`` and a ``.json`` sidecar, safely.

    The features go to ``<out_npy>.part`` (a memory map) and the sidecar
    to ``<json>.part``; both are renamed when complete, the ``.npy`` last,
    so an existing ``.npy`` always has its sidecar (``--skip-existing``
    trusts it) and an interrupted run leaves no truncated file.

    Args:
        model (nn.Module): see :func:`extract_features`.
        video (str): the video file.
        out_npy (str): output ``.npy``; the sidecar is the same name with
            ``.json``.
        info (dict, optional): settings appended to the sidecar.
        **kwargs: options of :func:`extract_features`.

    Returns:
        dict: the sidecar: ``video``, ``num_frames``, ``fps``, ``height``,
        ``width``, ``window_starts``, ``window_start_sec``, ``shape``,
        ``dtype``, then ``info``.

    Raises:
        VideoDecodeError: the video cannot be read (nothing is written).
    """
    os.makedirs(osp.dirname(out_npy) or '.', exist_ok=True)
    out_json = osp.splitext(out_npy)[0] + '.json'
    tmp = out_npy + '.part'
    meta: dict = {}
    try:
        feats = extract_features(model, video, out_file=tmp, meta=meta,
                                 **kwargs)
    except BaseException:
        _remove(tmp)
        raise
    shape = list(feats.shape)
    del feats  # close the memmap before renaming
    fps = meta['fps']
    sidecar = OrderedDict(video=osp.abspath(video))
    sidecar.update(meta)
    sidecar['window_start_sec'] = [
        s / fps if fps and fps == fps else None for s in meta['window_starts']
    ]
    sidecar['shape'] = shape
    sidecar['dtype'] = 'float32'
    sidecar.update(info or {})
    with open(out_json + '.part', 'w') as f:
        json.dump(sidecar, f, indent=1)
    os.replace(out_json + '.part', out_json)
    os.replace(tmp, out_npy)
    return sidecar
