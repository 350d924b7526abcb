# Copyright (c) mmmae contributors. All rights reserved.
"""Pseudo-labellers: any MMSegmentation model as a label generator.

MultiMAE pre-trains on ImageNet with *pseudo* depth (Omnidata DPT-Hybrid) and
semantic segmentation (Mask2Former Swin-S, 133 COCO-panoptic classes). The
official code has no labelling script; the recipe the authors describe
(MultiMAE issue #7) is: resize H and W of each image to the nearest multiple
of 32, predict, resize the prediction back to the **original** size, save
depth as 16-bit PNG and class ids as 8-bit PNG (16-bit for more than 255
classes). These wrappers implement that recipe for any mmseg 1.x model:

* :class:`MMSegSemSegLabeler` wraps a segmentor whose predictions carry
  ``pred_sem_seg`` (``EncoderDecoder``, ``CascadeEncoderDecoder``, mmseg's
  Mask2Former configs...). Class ids are resized back with **nearest**.
* :class:`MMSegDepthLabeler` wraps a model whose predictions carry
  ``pred_depth_map``: mmseg 1.2's ``DepthEstimator`` (e.g. with
  ``VPDDepthHead``) or any custom segmentor that sets that field. Depth is
  resized back **bilinearly**; the float depth (model units, usually metres)
  is stored as ``round(depth * scale)`` in a uint16 PNG
  (:func:`encode_depth`, :func:`auto_depth_scale`).

The model's own ``data_preprocessor`` (mean/std, ``bgr_to_rgb``, test-time
padding) is used, fed with BGR uint8 images exactly as mmseg's
``LoadImageFromFile`` would, so a stock mmseg config + checkpoint works
as is. Prediction runs in the model's ``test_cfg`` mode; with mmseg 1.2.2's
``DepthEstimator`` use ``mode='whole'`` or ``'slide_flip'`` (``'slide'`` is
silently overwritten by whole inference, mmseg issue #3655).
"""
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from mmmae.registry import PSEUDO_LABELERS

__all__ = [
    'BaseMMSegLabeler', 'MMSegSemSegLabeler', 'MMSegDepthLabeler',
    'build_mmseg_model', 'round_to_multiple', 'encode_depth', 'decode_depth',
    'auto_depth_scale', 'build_labeler', 'UINT16_MAX'
]

UINT16_MAX = 65535
ModelSpec = Union[str, dict, 'mmengine.Config', torch.nn.Module]  # noqa


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def round_to_multiple(size: Sequence[int],
                      divisor: int = 32,
                      max_side: Optional[int] = None,
                      min_side: Optional[int] = None) -> Tuple[int, int]:
    """Network input size for an image of ``size`` ``(H, W)``.

    Optionally rescale (keeping the aspect ratio) so the longer side is at
    most ``max_side`` and the shorter at least ``min_side``, then round each
    side to the nearest multiple of ``divisor`` (at least ``divisor``).

    Returns:
        tuple[int, int]: ``(H', W')``.
    """
    h, w = float(size[0]), float(size[1])
    factor = 1.0
    if max_side is not None and max(h, w) * factor > max_side:
        factor = max_side / max(h, w)
    if min_side is not None and min(h, w) * factor < min_side:
        factor = min_side / min(h, w)
    h, w = h * factor, w * factor
    if divisor <= 1:
        return max(1, int(round(h))), max(1, int(round(w)))
    return (max(divisor, int(round(h / divisor)) * divisor),
            max(divisor, int(round(w / divisor)) * divisor))


def auto_depth_scale(max_depth: float, headroom: float = 1.25) -> float:
    """A "round" scale so that ``max_depth * headroom`` fits in uint16.

    The scale is ``65535 / (max_depth * headroom)`` rounded *down* to two
    significant digits (e.g. ``5100.0``), so manifests stay readable.
    """
    max_depth = float(max_depth)
    if not np.isfinite(max_depth) or max_depth <= 0:
        return 1000.0
    raw = UINT16_MAX / (max_depth * headroom)
    mag = 10.0**(np.floor(np.log10(raw)) - 1)
    return float(max(np.floor(raw / mag), 1.0) * mag)


def encode_depth(depth: np.ndarray, scale: float) -> np.ndarray:
    """Float depth -> uint16 ``round(depth * scale)`` clipped to
    ``[0, 65535]`` (NaN -> 0)."""
    value = np.nan_to_num(np.asarray(depth, dtype=np.float64) * scale,
                          nan=0.0, posinf=UINT16_MAX, neginf=0.0)
    return np.clip(np.round(value), 0, UINT16_MAX).astype(np.uint16)


def decode_depth(value: np.ndarray, scale: float) -> np.ndarray:
    """uint16 PNG value -> float32 depth (inverse of :func:`encode_depth`)."""
    return (np.asarray(value, dtype=np.float32) / np.float32(scale))


def _to_config(config):
    from mmengine import Config
    if isinstance(config, Config):
        return config.copy()
    if isinstance(config, str):
        return Config.fromfile(config)
    if isinstance(config, dict):
        cfg = dict(config)
        return Config(cfg if 'model' in cfg else dict(model=cfg))
    raise TypeError('config must be a config file path, a Config, a (model) '
                    f'config dict or an nn.Module, got {type(config)}')


def build_mmseg_model(config: ModelSpec,
                      checkpoint: Optional[str] = None,
                      device: Union[str, torch.device] = 'cpu',
                      cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """Build an mmseg model for inference (a robust ``mmseg.apis.init_model``).

    Differences from ``init_model``: ``config`` may also be a plain dict (a
    full config with ``model`` or just the model config) or an already built
    module; ``test_cfg`` defaults to ``dict(mode='whole')`` and is made a
    ``ConfigDict``; no weights are downloaded (``pretrained`` and the
    backbone ``init_cfg`` are dropped); a checkpoint without ``meta`` loads;
    ``dataset_meta`` is taken from the checkpoint meta, else from the
    config's ``dataset_meta`` / ``metainfo`` / test dataset ``metainfo``.

    Returns:
        torch.nn.Module: the model, in eval mode on ``device``, with
        ``dataset_meta`` (dict or None) and ``cfg`` attributes.
    """
    from mmengine.config import ConfigDict
    from mmengine.registry import DefaultScope
    if isinstance(config, torch.nn.Module):
        model = config
        if checkpoint is not None:
            _load(model, checkpoint)
        if not hasattr(model, 'dataset_meta'):
            model.dataset_meta = None
        return model.to(device).eval()

    import mmseg.models  # noqa: F401  (register mmseg models)
    from mmseg.registry import MODELS
    cfg = _to_config(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model_cfg = cfg.model
    model_cfg.pop('pretrained', None)
    model_cfg['train_cfg'] = None
    if isinstance(model_cfg.get('backbone'), dict):
        model_cfg.backbone.pop('init_cfg', None)
    test_cfg = model_cfg.get('test_cfg') or dict(mode='whole')
    model_cfg['test_cfg'] = ConfigDict(test_cfg)
    scope = cfg.get('default_scope', None) or 'mmseg'
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(model_cfg)
    meta = None
    if checkpoint is not None:
        meta = _load(model, checkpoint)
    if meta is None:
        meta = cfg.get('dataset_meta', None) or cfg.get('metainfo', None)
    if meta is None:
        try:
            meta = cfg.test_dataloader.dataset.metainfo
        except (AttributeError, KeyError, TypeError):
            meta = None
    model.dataset_meta = dict(meta) if meta else None
    model.cfg = cfg
    return model.to(device).eval()


def _load(model: torch.nn.Module, checkpoint: str) -> Optional[dict]:
    """Load weights (strictly); return the checkpoint's dataset_meta."""
    from mmengine.runner import load_checkpoint
    ckpt = load_checkpoint(model, checkpoint, map_location='cpu',
                           strict=True, logger='current')
    meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
    if 'dataset_meta' in meta:
        return meta['dataset_meta']
    if 'CLASSES' in meta:  # mmseg 0.x
        return dict(classes=meta['CLASSES'], palette=meta.get('PALETTE'))
    return None


# --------------------------------------------------------------------------
# labellers
# --------------------------------------------------------------------------
class BaseMMSegLabeler:
    """Run an mmseg model with the official pseudo-labelling recipe.

    Args:
        config (str | dict | Config | nn.Module): mmseg config file, config
            (full, or just the ``model`` dict), or a built model.
        checkpoint (str, optional): weights; None keeps the initialisation
            (tests, smoke runs).
        device (str): e.g. ``'cpu'``, ``'cuda'``. Defaults to ``'cpu'``.
        size_divisor (int): network input sides are rounded to the nearest
            multiple of this. Defaults to 32 (official recipe).
        max_side (int, optional): downscale larger images first so the long
            side is at most this (the official run "limits the maximum
            size"). Defaults to None (no limit).
        min_side (int, optional): upscale smaller images first so the short
            side is at least this. Defaults to None.
        cfg_options (dict, optional): overrides merged into the config.
    """
    task: str = ''
    _interp: str = 'nearest'

    def __init__(self,
                 config: ModelSpec,
                 checkpoint: Optional[str] = None,
                 device: str = 'cpu',
                 size_divisor: int = 32,
                 max_side: Optional[int] = None,
                 min_side: Optional[int] = None,
                 cfg_options: Optional[dict] = None):
        self.config_path = config if isinstance(config, str) else None
        self.checkpoint = checkpoint
        self.device = torch.device(device)
        self.size_divisor = int(size_divisor)
        self.max_side = max_side
        self.min_side = min_side
        self.model = build_mmseg_model(config, checkpoint, self.device,
                                       cfg_options)
        self.dataset_meta = getattr(self.model, 'dataset_meta', None)

    # ---- prediction ------------------------------------------------------
    def __call__(self, images: Sequence[np.ndarray],
                 channel_order: str = 'rgb') -> List[np.ndarray]:
        return self.predict(images, channel_order)

    @torch.no_grad()
    def predict(self, images: Sequence[np.ndarray],
                channel_order: str = 'rgb') -> List[np.ndarray]:
        """Label a list of images.

        Images of the same size are run as one batch (pass at most as many
        as fit in memory); each label map has its image's ``H x W``.

        Args:
            images (Sequence[np.ndarray]): ``(H, W, 3)`` uint8 images.
            channel_order (str): ``'rgb'`` (default) or ``'bgr'`` (cv2).

        Returns:
            list[np.ndarray]: one ``(H, W)`` map per image, see
            :meth:`postprocess` of the subclass.
        """
        if channel_order not in ('rgb', 'bgr'):
            raise ValueError(f"channel_order must be 'rgb' or 'bgr', got "
                             f'{channel_order!r}')
        groups: Dict[Tuple[int, ...], List[int]] = OrderedDict()
        for i, img in enumerate(images):
            img = np.asarray(img)
            if img.ndim != 3 or img.shape[2] != 3:
                raise ValueError('images must be (H, W, 3) arrays, got shape '
                                 f'{img.shape} at index {i}')
            groups.setdefault(img.shape[:2], []).append(i)
        out: List[Optional[np.ndarray]] = [None] * len(images)
        for (h, w), idx in groups.items():
            maps = self._predict_same_size([images[i] for i in idx], (h, w),
                                           channel_order)
            for i, m in zip(idx, maps):
                out[i] = self.postprocess(m)
        return out

    def _predict_same_size(self, images, ori_hw, channel_order):
        import cv2
        from mmseg.structures import SegDataSample
        net_h, net_w = round_to_multiple(ori_hw, self.size_divisor,
                                         self.max_side, self.min_side)
        inputs = []
        for img in images:
            img = np.ascontiguousarray(img)
            if channel_order == 'rgb':  # mmseg models eat cv2 (BGR) images
                img = img[..., ::-1]
            if (net_h, net_w) != tuple(ori_hw):
                img = cv2.resize(img, (net_w, net_h),
                                 interpolation=cv2.INTER_LINEAR)
            inputs.append(
                torch.from_numpy(np.ascontiguousarray(
                    img.transpose(2, 0, 1))).to(self.device))
        shape = (net_h, net_w)
        samples = [
            SegDataSample(metainfo=dict(ori_shape=shape, img_shape=shape,
                                        pad_shape=shape,
                                        padding_size=[0, 0, 0, 0]))
            for _ in images
        ]
        results = self.model.test_step(dict(inputs=inputs,
                                            data_samples=samples))
        pred = torch.stack([self._extract(r) for r in results]).float()
        if pred.shape[-2:] != tuple(ori_hw):
            kwargs = dict(align_corners=False) \
                if self._interp == 'bilinear' else {}
            pred = F.interpolate(pred, size=tuple(ori_hw),
                                 mode=self._interp, **kwargs)
        return list(pred[:, 0].cpu().numpy())

    def _extract(self, result) -> torch.Tensor:
        """``(1, h, w)`` prediction tensor of one SegDataSample."""
        raise NotImplementedError

    def postprocess(self, pred: np.ndarray) -> np.ndarray:
        """Float ``(H, W)`` prediction -> label map to return."""
        return pred

    # ---- description -----------------------------------------------------
    @property
    def classes(self) -> Optional[List[str]]:
        meta = self.dataset_meta or {}
        classes = meta.get('classes')
        return list(classes) if classes is not None else None

    def meta(self) -> dict:
        """What a manifest should record about this labeller."""
        return dict(labeler=type(self).__name__, task=self.task,
                    model=type(self.model).__name__,
                    config=(osp.abspath(self.config_path)
                            if self.config_path else None),
                    checkpoint=(osp.abspath(self.checkpoint)
                                if self.checkpoint else None),
                    size_divisor=self.size_divisor,
                    max_side=self.max_side, min_side=self.min_side,
                    resize_back=self._interp)


@PSEUDO_LABELERS.register_module()
class MMSegSemSegLabeler(BaseMMSegLabeler):
    """Semantic-segmentation pseudo-labels (class ids) from an mmseg
    segmentor (``pred_sem_seg``).

    The prediction at the rounded size is resized back with nearest
    neighbour. Output dtype: uint8, or uint16 when the model has more than
    255 classes (``num_classes`` of ``decode_head``, else of
    ``dataset_meta['classes']``).
    """
    task = 'semseg'
    _interp = 'nearest'

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        head = getattr(self.model, 'decode_head', None)
        num = getattr(head, 'num_classes', None)
        if num is None and self.classes is not None:
            num = len(self.classes)
        self.num_classes = int(num) if num is not None else None
        self.dtype = np.uint16 if (self.num_classes is None
                                   or self.num_classes > 255) else np.uint8

    def _extract(self, result) -> torch.Tensor:
        if 'pred_sem_seg' not in result:
            raise TypeError(
                f'{type(self.model).__name__} predictions have no '
                "'pred_sem_seg'; MMSegSemSegLabeler needs an mmseg segmentor")
        return result.pred_sem_seg.data[:1]

    def postprocess(self, pred: np.ndarray) -> np.ndarray:
        return np.rint(pred).astype(self.dtype)

    def meta(self) -> dict:
        meta = super().meta()
        meta.update(num_classes=self.num_classes,
                    dtype=np.dtype(self.dtype).name, classes=self.classes)
        return meta


@PSEUDO_LABELERS.register_module()
class MMSegDepthLabeler(BaseMMSegLabeler):
    """Depth pseudo-labels from an mmseg model whose predictions carry
    ``pred_depth_map`` (mmseg 1.2 ``DepthEstimator``).

    Returns float32 ``(H, W)`` depth in the model's units (resized back
    bilinearly); store it with :func:`encode_depth` and a ``scale`` (the
    offline tool records it in the manifest).
    """
    task = 'depth'
    _interp = 'bilinear'

    def _extract(self, result) -> torch.Tensor:
        if 'pred_depth_map' not in result:
            raise TypeError(
                f'{type(self.model).__name__} predictions have no '
                "'pred_depth_map'; MMSegDepthLabeler needs an mmseg depth "
                "estimator (type='DepthEstimator', e.g. with VPDDepthHead)")
        return result.pred_depth_map.data[:1]

    def postprocess(self, pred: np.ndarray) -> np.ndarray:
        return pred.astype(np.float32)

    def meta(self) -> dict:
        meta = super().meta()
        meta.update(dtype='float32')
        return meta


def build_labeler(cfg: Union[dict, BaseMMSegLabeler]) -> BaseMMSegLabeler:
    """Build a labeller from ``dict(type='MMSegSemSegLabeler', ...)``."""
    if isinstance(cfg, BaseMMSegLabeler):
        return cfg
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise TypeError(f'labeler must be a config dict with a type, got '
                        f'{cfg!r}')
    return PSEUDO_LABELERS.build(cfg)
