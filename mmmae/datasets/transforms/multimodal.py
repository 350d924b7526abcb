# Copyright (c) mmmae contributors. All rights reserved.
"""Loading, augmentation and packing for multi-modal (MultiMAE) samples.

All transforms work on ``results['images']``: a dict modality name ->
``np.ndarray`` with the same ``H x W`` for every modality:

- *rgb* kind: ``(H, W, 3)`` uint8, RGB order;
- *depth* kind: ``(H, W)`` float32, the 16-bit PNG value / ``2**16``;
- *semseg* kind (label maps): ``(H, W)`` int64 class ids.

Integer single-channel maps are treated as labels everywhere: they are only
ever resized with nearest neighbour (the official loader resizes ``L``-mode
label PNGs bicubically unless they are forced to mode ``P``). Geometry is
drawn once per sample and applied to every modality (one crop box, one flip
draw), as ``DataAugmentationForMultiMAE`` does; each modality is resized
with its own filter. Resizing crops, then uses Pillow's ``Image.resize``
(antialiased, as the official PIL pipeline) for rgb and depth (mode ``F``),
and exact numpy index gathering with Pillow's pixel-centre convention
(``src = floor((dst + 0.5) * in / out)``) for labels.

Semseg resolution: the full-resolution label map travels through the
geometric transforms with the other modalities and :class:`SemSegDownsample`
(``factor=4``, nearest) brings it to ``H/4 x W/4`` at the end of the
pipeline, right before :class:`PackMultiModalInputs` (official: 224 -> 56
with nearest). The packer checks that the label maps have that size and
names the fix if the step was forgotten.
"""
import math
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine import fileio
from mmengine.structures import BaseDataElement
from PIL import Image

from mmmae.registry import TRANSFORMS

__all__ = [
    'DEFAULT_MODALITY_KINDS', 'LoadMultiModalImages',
    'MultiModalRandomResizedCrop', 'MultiModalFlip', 'MultiModalResize',
    'MultiModalCenterCrop', 'SemSegDownsample', 'PackMultiModalInputs'
]

#: How a modality is decoded, by name (override with ``kinds=``).
DEFAULT_MODALITY_KINDS = dict(rgb='rgb',
                              depth='depth',
                              semseg='semseg',
                              pseudo_depth='depth',
                              pseudo_semseg='semseg',
                              mask_valid='semseg')
_KINDS = ('rgb', 'depth', 'semseg')

_PIL_FILTERS = {
    'nearest': Image.NEAREST,
    'bilinear': Image.BILINEAR,
    'bicubic': Image.BICUBIC,
    'lanczos': Image.LANCZOS,
    'box': Image.BOX,
    'hamming': Image.HAMMING,
}
#: Default filter per kind (official: bicubic rgb; labels always nearest).
DEFAULT_INTERPOLATION = dict(rgb='bicubic', depth='bilinear', semseg='nearest')


def _kind_of(name: str, kinds: Optional[Mapping[str, str]] = None) -> str:
    kind = (kinds or {}).get(name, DEFAULT_MODALITY_KINDS.get(name))
    if kind not in _KINDS:
        raise ValueError(
            f'unknown modality {name!r}: pass kinds=dict({name}=...) with '
            f'one of {_KINDS} to say how it is decoded and resized')
    return kind


def _is_label(arr: np.ndarray) -> bool:
    """Integer single-channel maps are labels (nearest resizing only)."""
    return arr.ndim == 2 and np.issubdtype(arr.dtype, np.integer)


def _as_size(size: Union[int, Sequence[int]], what: str) -> Tuple[int, int]:
    """``int`` or ``(h, w)`` -> ``(h, w)``."""
    if isinstance(size, (int, np.integer)):
        size = (int(size), int(size))
    hw = tuple(int(s) for s in size)
    if len(hw) != 2 or min(hw) < 1:
        raise ValueError(f'{what} must be a positive int or (h, w), got '
                         f'{size!r}')
    return hw  # type: ignore[return-value]


def _check_interpolation(interpolation: Union[str, Mapping[str, str]],
                         what: str) -> Dict[str, str]:
    """Normalise a per-modality interpolation dict; reject non-nearest for
    label kinds (semseg)."""
    if isinstance(interpolation, str):
        interp = {k: interpolation for k in DEFAULT_INTERPOLATION}
        interp['semseg'] = 'nearest'  # a single string never covers labels
    else:
        interp = dict(DEFAULT_INTERPOLATION)
        interp.update(interpolation)
    for name, mode in interp.items():
        if mode not in _PIL_FILTERS:
            raise ValueError(f'{what}[{name!r}]={mode!r}: use one of '
                             f'{sorted(_PIL_FILTERS)}')
        if DEFAULT_MODALITY_KINDS.get(name) == 'semseg' and mode != 'nearest':
            raise ValueError(
                f'{what}[{name!r}]={mode!r}: label maps must be resized '
                "with 'nearest' (any other filter invents class ids)")
    return interp


def _resize_box(arr: np.ndarray, box: Tuple[int, int, int, int],
                size_hw: Tuple[int, int], mode: str) -> np.ndarray:
    """Crop ``box = (x1, y1, x2, y2)`` of ``arr`` and resize it to
    ``size_hw`` with filter ``mode`` (labels: always nearest)."""
    x1, y1, x2, y2 = box
    oh, ow = size_hw
    if _is_label(arr) or mode == 'nearest':
        # Pillow's nearest: pixel-centre sampling, exact for any dtype.
        ys = y1 + np.minimum(((np.arange(oh) + 0.5) *
                              (y2 - y1) / oh).astype(np.int64), y2 - y1 - 1)
        xs = x1 + np.minimum(((np.arange(ow) + 0.5) *
                              (x2 - x1) / ow).astype(np.int64), x2 - x1 - 1)
        return np.ascontiguousarray(arr[ys[:, None], xs[None, :]])
    # Crop first, then resize (official ``img.crop(box).resize(...)``):
    # the filter never reads pixels outside the box.
    arr = np.ascontiguousarray(arr[y1:y2, x1:x2])
    if (x2 - x1, y2 - y1) == (ow, oh):
        return arr
    resample = _PIL_FILTERS[mode]
    if arr.dtype == np.uint8 and arr.ndim in (2, 3):
        img = Image.fromarray(arr)
        return np.asarray(img.resize((ow, oh), resample)).copy()
    if arr.ndim == 2:
        img = Image.fromarray(arr.astype(np.float32, copy=False))  # mode F
        out = np.asarray(img.resize((ow, oh), resample))
        return out.astype(arr.dtype, copy=True)
    # Multi-channel non-uint8: resize each channel as float.
    h, w = arr.shape[:2]
    return np.stack([
        _resize_box(arr[..., c].astype(np.float32),
                    (0, 0, w, h), size_hw, mode) for c in range(arr.shape[-1])
    ], -1).astype(arr.dtype)


def _images(results: dict) -> Dict[str, np.ndarray]:
    images = results.get('images')
    if not isinstance(images, dict) or not images:
        raise KeyError("results['images'] (dict name -> array) is missing; "
                       'put LoadMultiModalImages first in the pipeline')
    return images


def _shared_hw(images: Mapping[str, np.ndarray],
               results: dict) -> Tuple[int, int]:
    shapes = {n: a.shape[:2] for n, a in images.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError('all modalities must have the same H x W before a '
                         f'shared crop, got {shapes} for '
                         f'{results.get("img_path")}')
    return next(iter(shapes.values()))


def _apply_box(results: dict, box: Tuple[int, int, int, int],
               size_hw: Tuple[int, int], interp: Mapping[str, str]) -> None:
    images = _images(results)
    for name, arr in images.items():
        mode = 'nearest' if _is_label(arr) else interp.get(
            name, interp.get('rgb' if arr.ndim == 3 else 'depth'))
        images[name] = _resize_box(arr, box, size_hw, mode)
    results['img_shape'] = tuple(size_hw)


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------
@TRANSFORMS.register_module()
class LoadMultiModalImages(BaseTransform):
    """Load every modality of a multi-modal sample.

    **Required Keys:** img_path (dict name -> file path).

    **Added Keys:** images (dict name -> array, see the module doc),
    ori_shape and img_shape ``(H, W)``.

    Decoding per kind:

    - ``rgb``: any image format, colour, RGB order, uint8 ``(H, W, 3)``;
    - ``depth``: a single-channel **16-bit** PNG read unchanged with cv2,
      divided by ``depth_scale`` (``2**16``, official) to float32
      ``(H, W)``; anything else raises naming the file;
    - ``semseg``: a single-channel 8- or 16-bit PNG of class ids read with
      Pillow (palette PNGs give their indices, as the official mode-``P``
      loader) to int64 ``(H, W)``; a colour image raises naming the file.

    Every modality must have the H x W of the first one in ``img_path``
    (the main modality): the crop box is shared, and the official code
    silently mis-crops otherwise. A mismatch raises naming both files.

    Args:
        kinds (dict, optional): name -> ``'rgb' | 'depth' | 'semseg'`` for
            names outside :data:`DEFAULT_MODALITY_KINDS`.
        depth_scale (float): divisor of the raw depth values. Defaults to
            ``2**16``.
        backend_args (dict, optional): MMEngine file backend arguments.
    """

    def __init__(self,
                 kinds: Optional[Mapping[str, str]] = None,
                 depth_scale: float = 2.0**16,
                 backend_args: Optional[dict] = None) -> None:
        for name in (kinds or {}):
            _kind_of(name, kinds)
        self.kinds = dict(kinds or {})
        if not depth_scale > 0:
            raise ValueError(f'depth_scale must be > 0, got {depth_scale}')
        self.depth_scale = float(depth_scale)
        self.backend_args = backend_args

    def load(self, name: str, path: str) -> np.ndarray:
        """Decode one file of modality ``name``."""
        kind = _kind_of(name, self.kinds)
        content = fileio.get(path, backend_args=self.backend_args)
        if kind == 'rgb':
            img = mmcv.imfrombytes(content,
                                   flag='color',
                                   channel_order='rgb',
                                   backend='cv2')
            if img is None:
                raise ValueError(f'cannot decode {name} image {path!r}')
            return img
        if kind == 'depth':
            img = mmcv.imfrombytes(content, flag='unchanged', backend='cv2')
            if img is None:
                raise ValueError(f'cannot decode depth image {path!r}')
            if img.ndim == 3 and img.shape[2] == 1:
                img = img[..., 0]
            if img.ndim != 2 or img.dtype != np.uint16:
                raise ValueError(
                    f'depth file {path!r} must be a single-channel 16-bit '
                    f'PNG, got dtype {img.dtype} and shape {img.shape}; '
                    're-save it as uint16 (e.g. cv2.imwrite with a uint16 '
                    'array)')
            return img.astype(np.float32) / np.float32(self.depth_scale)
        img = mmcv.imfrombytes(content, flag='unchanged', backend='pillow')
        if img is None:
            raise ValueError(f'cannot decode label image {path!r}')
        if img.ndim == 3 and img.shape[2] == 1:
            img = img[..., 0]
        if img.ndim != 2 or not np.issubdtype(img.dtype, np.integer):
            raise ValueError(
                f'{name} file {path!r} must be a single-channel PNG of class '
                f'ids (8 or 16-bit), got dtype {img.dtype} and shape '
                f'{img.shape}; colour-coded label maps must be converted to '
                'ids first')
        return img.astype(np.int64)

    def transform(self, results: dict) -> dict:
        """Load all files of ``results['img_path']``."""
        paths = results['img_path']
        if not isinstance(paths, Mapping) or not paths:
            raise KeyError("results['img_path'] must be a dict modality name "
                           f'-> file path, got {paths!r}')
        images: Dict[str, np.ndarray] = {}
        ref_name, ref_hw = None, None
        for name, path in paths.items():
            arr = self.load(name, path)
            if ref_hw is None:
                ref_name, ref_hw = name, arr.shape[:2]
            elif arr.shape[:2] != ref_hw:
                raise ValueError(
                    f'{name} file {path!r} is {arr.shape[0]}x{arr.shape[1]} '
                    f'(HxW) but {ref_name} file {paths[ref_name]!r} is '
                    f'{ref_hw[0]}x{ref_hw[1]}: every modality must have the '
                    'same size (the crop box is shared); resize the '
                    'pseudo-labels to the rgb size')
            images[name] = arr
        results['images'] = images
        results['ori_shape'] = tuple(ref_hw)
        results['img_shape'] = tuple(ref_hw)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(kinds={self.kinds}, '
                f'depth_scale={self.depth_scale})')


# --------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------
@TRANSFORMS.register_module()
class MultiModalRandomResizedCrop(BaseTransform):
    """One random resized crop for all modalities.

    The box is drawn like torchvision's ``RandomResizedCrop.get_params``
    (10 attempts of area/log-ratio sampling, then a centre crop clamped to
    ``ratio``) with numpy's global RNG, then every modality is cropped and
    resized to ``size`` with its own filter.

    **Required Keys:** images. **Modified Keys:** images, img_shape.
    **Added Keys:** crop_bbox ``(x1, y1, x2, y2)`` in input pixels.

    Args:
        size (int | tuple[int, int]): output ``(h, w)``. Defaults to 224.
        scale (tuple[float, float]): area fraction range. Defaults to
            ``(0.2, 1.0)`` (MultiMAE).
        ratio (tuple[float, float]): aspect ratio (w / h) range. Defaults
            to ``(3/4, 4/3)``.
        interpolation (str | dict): filter per modality name: ``'nearest'``,
            ``'bilinear'``, ``'bicubic'``, ... Defaults to
            ``dict(rgb='bicubic', depth='bilinear', semseg='nearest')``.
            Label maps (semseg, int arrays) are always resized with nearest
            and a non-nearest filter for ``semseg`` is rejected.
    """

    def __init__(
        self,
        size: Union[int, Sequence[int]] = 224,
        scale: Tuple[float, float] = (0.2, 1.0),
        ratio: Tuple[float, float] = (3. / 4., 4. / 3.),
        interpolation: Union[str, Mapping[str, str]] = dict(rgb='bicubic',
                                                            depth='bilinear',
                                                            semseg='nearest')
    ) -> None:
        self.size = _as_size(size, 'size')
        scale, ratio = tuple(scale), tuple(ratio)
        if len(scale) != 2 or not 0 < scale[0] <= scale[1]:
            raise ValueError(f'scale must be (min, max) with 0 < min <= max, '
                             f'got {scale}')
        if len(ratio) != 2 or not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f'ratio must be (min, max) with 0 < min <= max, '
                             f'got {ratio}')
        self.scale, self.ratio = scale, ratio
        self.interpolation = _check_interpolation(interpolation,
                                                  'interpolation')

    def get_params(self, height: int, width: int) -> Tuple[int, int, int, int]:
        """torchvision ``RandomResizedCrop.get_params`` with numpy RNG.

        Returns:
            tuple: ``(top, left, h, w)``.
        """
        area = height * width
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target_area = area * np.random.uniform(*self.scale)
            aspect = math.exp(np.random.uniform(*log_ratio))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                top = int(np.random.randint(0, height - h + 1))
                left = int(np.random.randint(0, width - w + 1))
                return top, left, h, w
        # Fallback: centre crop, aspect clamped to the ratio range.
        in_ratio = width / height
        if in_ratio < min(self.ratio):
            w = width
            h = int(round(w / min(self.ratio)))
        elif in_ratio > max(self.ratio):
            h = height
            w = int(round(h * max(self.ratio)))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def transform(self, results: dict) -> dict:
        """Crop and resize every modality with the same box."""
        height, width = _shared_hw(_images(results), results)
        top, left, h, w = self.get_params(height, width)
        box = (left, top, left + w, top + h)
        _apply_box(results, box, self.size, self.interpolation)
        results['crop_bbox'] = box
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, '
                f'scale={self.scale}, ratio={self.ratio}, '
                f'interpolation={self.interpolation})')


@TRANSFORMS.register_module()
class MultiModalFlip(BaseTransform):
    """Flip all modalities together, with one random draw per sample.

    **Modified Keys:** images. **Added Keys:** flip (bool),
    flip_direction.

    Args:
        prob (float): flip probability. Defaults to 0.5.
        direction (str): ``'horizontal'`` or ``'vertical'``.
    """

    def __init__(self, prob: float = 0.5, direction: str = 'horizontal'):
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if direction not in ('horizontal', 'vertical'):
            raise ValueError("direction must be 'horizontal' or 'vertical', "
                             f'got {direction!r}')
        self.prob, self.direction = prob, direction

    def transform(self, results: dict) -> dict:
        """Flip every modality if the shared draw says so."""
        images = _images(results)
        flip = bool(np.random.rand() < self.prob)
        if flip:
            axis = 1 if self.direction == 'horizontal' else 0
            for name, arr in images.items():
                images[name] = np.ascontiguousarray(np.flip(arr, axis))
        results['flip'] = flip
        results['flip_direction'] = self.direction if flip else None
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'direction={self.direction!r})')


@TRANSFORMS.register_module()
class MultiModalResize(BaseTransform):
    """Resize all modalities (evaluation).

    Args:
        scale (int | tuple[int, int]): an int resizes the *shorter* side to
            ``scale`` keeping the aspect ratio (torchvision ``Resize(int)``);
            ``(h, w)`` resizes to exactly that size.
        interpolation (str | dict): as :class:`MultiModalRandomResizedCrop`.
    """

    def __init__(
        self,
        scale: Union[int, Sequence[int]] = 256,
        interpolation: Union[str, Mapping[str, str]] = dict(rgb='bicubic',
                                                            depth='bilinear',
                                                            semseg='nearest')
    ) -> None:
        if isinstance(scale, (int, np.integer)):
            if scale < 1:
                raise ValueError(f'scale must be positive, got {scale}')
            self.scale: Union[int, Tuple[int, int]] = int(scale)
        else:
            self.scale = _as_size(scale, 'scale')
        self.interpolation = _check_interpolation(interpolation,
                                                  'interpolation')

    def transform(self, results: dict) -> dict:
        """Resize every modality to the same size."""
        h, w = _shared_hw(_images(results), results)
        if isinstance(self.scale, int):
            short = self.scale
            if h <= w:
                size = (short, int(short * w / h))
            else:
                size = (int(short * h / w), short)
        else:
            size = self.scale
        _apply_box(results, (0, 0, w, h), size, self.interpolation)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={self.scale}, '
                f'interpolation={self.interpolation})')


@TRANSFORMS.register_module()
class MultiModalCenterCrop(BaseTransform):
    """Centre crop of all modalities (evaluation).

    Args:
        crop_size (int | tuple[int, int]): ``(h, w)``; must fit the image.
    """

    def __init__(self, crop_size: Union[int, Sequence[int]] = 224) -> None:
        self.crop_size = _as_size(crop_size, 'crop_size')

    def transform(self, results: dict) -> dict:
        """Crop the centre ``crop_size`` of every modality."""
        images = _images(results)
        h, w = _shared_hw(images, results)
        ch, cw = self.crop_size
        if ch > h or cw > w:
            raise ValueError(f'crop_size {self.crop_size} exceeds the image '
                             f'size {(h, w)} of {results.get("img_path")}; '
                             'resize first (MultiModalResize)')
        top, left = (h - ch) // 2, (w - cw) // 2
        for name, arr in images.items():
            images[name] = np.ascontiguousarray(arr[top:top + ch,
                                                    left:left + cw])
        results['img_shape'] = (ch, cw)
        results['crop_bbox'] = (left, top, left + cw, top + ch)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(crop_size={self.crop_size})'


@TRANSFORMS.register_module()
class SemSegDownsample(BaseTransform):
    """Downsample label maps by ``factor`` with nearest neighbour.

    Official MultiMAE feeds semseg at 1/4 resolution (224 -> 56, Pillow
    nearest, which samples source pixel ``factor * i + factor // 2``).
    Put it last, after all geometric transforms.

    Args:
        factor (int): downsampling factor; must divide H and W. Defaults
            to 4.
        keys (Sequence[str]): modalities to downsample. Defaults to
            ``('semseg', )``; absent ones are skipped.
    """

    def __init__(self, factor: int = 4, keys: Sequence[str] = ('semseg', )):
        if int(factor) != factor or factor < 1:
            raise ValueError(f'factor must be a positive int, got {factor}')
        self.factor = int(factor)
        self.keys = (keys, ) if isinstance(keys, str) else tuple(keys)

    def transform(self, results: dict) -> dict:
        """Replace the label maps by their ``1/factor`` nearest samples."""
        images = _images(results)
        for name in self.keys:
            if name not in images:
                continue
            arr = images[name]
            h, w = arr.shape[:2]
            if h % self.factor or w % self.factor:
                raise ValueError(
                    f'SemSegDownsample: {name} is {h}x{w}, not divisible by '
                    f'factor={self.factor}; crop/resize to a multiple first')
            size = (h // self.factor, w // self.factor)
            images[name] = _resize_box(arr, (0, 0, w, h), size, 'nearest')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(factor={self.factor}, '
                f'keys={self.keys})')


# --------------------------------------------------------------------------
# Packing
# --------------------------------------------------------------------------
@TRANSFORMS.register_module()
class PackMultiModalInputs(BaseTransform):
    """Pack a multi-modal sample into the MultiMAE contract format.

    Output::

        {'inputs': {'rgb': uint8 (3, H, W), 'depth': float32 (1, H, W),
                    'semseg': int64 (H/4, W/4)},
         'data_samples': BaseDataElement(
             masks={'rgb': torch.bool (N,), ...},   # only if masks exist
             metainfo={k: results[k] for k in meta_keys if k in results})}

    Conversions: ``(H, W, C)`` arrays -> ``(C, H, W)``; 2-D float arrays ->
    ``(1, H, W)``; 2-D integer arrays (labels) -> ``(H, W)`` int64. Masks
    (numpy bool, True = masked) become ``torch.bool``.

    Args:
        meta_keys (Sequence[str]): keys copied into the metainfo when
            present. Defaults to ``('img_path', 'ori_shape', 'img_shape',
            'flip')``.
        semseg_stride (int | None): label maps must be ``img_shape /
            semseg_stride`` (contract: 4); a full-resolution map raises
            and names :class:`SemSegDownsample`. ``None`` disables it.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('img_path', 'ori_shape',
                                             'img_shape', 'flip'),
                 semseg_stride: Optional[int] = 4) -> None:
        self.meta_keys = tuple(meta_keys)
        self.semseg_stride = semseg_stride

    def transform(self, results: dict) -> dict:
        """Build ``dict(inputs=..., data_samples=...)``."""
        inputs = {}
        for name, arr in _images(results).items():
            if _is_label(arr):
                if self.semseg_stride:
                    h, w = results.get('img_shape', arr.shape)[:2]
                    want = (h // self.semseg_stride, w // self.semseg_stride)
                    if arr.shape != want:
                        raise ValueError(
                            f'{name} label map is {arr.shape}, expected '
                            f'{want} (img_shape / {self.semseg_stride}); '
                            'add SemSegDownsample(factor='
                            f'{self.semseg_stride}) before '
                            'PackMultiModalInputs, or set semseg_stride=None')
                tensor = torch.from_numpy(arr.astype(np.int64, copy=False))
            elif arr.ndim == 2:
                tensor = torch.from_numpy(arr)[None]
            elif arr.ndim == 3:
                tensor = torch.from_numpy(arr).permute(2, 0, 1)
            else:
                raise ValueError(f'{name}: cannot pack an array of shape '
                                 f'{arr.shape}')
            inputs[name] = tensor.contiguous()
        data_sample = BaseDataElement(
            metainfo={k: results[k]
                      for k in self.meta_keys if k in results})
        if 'masks' in results:
            data_sample.masks = {
                name: torch.as_tensor(np.asarray(mask, dtype=bool))
                for name, mask in results['masks'].items()
            }
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(meta_keys={self.meta_keys}, '
                f'semseg_stride={self.semseg_stride})')
