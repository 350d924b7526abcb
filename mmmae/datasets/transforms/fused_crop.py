# Copyright (c) mmmae contributors. All rights reserved.
"""Multi-scale corner crop and resize in one pass over a clip.

The VideoMAE pretraining augmentation is MMAction2's ``MultiScaleCrop``
followed by ``Resize((224, 224), keep_ratio=False)``. Those two build a list
of per-frame views, then ``mmcv.imresize`` allocates one output per frame
and ``FormatShape`` stacks them into a new array. :class:`MultiScaleCropResize`
draws the crop box with exactly the same Python ``random`` calls and resizes
each frame's crop view with one ``cv2.resize`` straight into one
preallocated ``(T, h, w, 3)`` array: same pixels, fewer copies.
"""
import random
from typing import Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmmae.registry import TRANSFORMS

__all__ = ['MultiScaleCropResize']

_INTERP = dict(
    nearest=cv2.INTER_NEAREST,
    bilinear=cv2.INTER_LINEAR,
    bicubic=cv2.INTER_CUBIC,
    area=cv2.INTER_AREA,
    lanczos=cv2.INTER_LANCZOS4)


def _pair(x: Union[int, Sequence[int]]) -> Tuple[int, int]:
    return (int(x), int(x)) if isinstance(x, int) else tuple(map(int, x))


@TRANSFORMS.register_module()
class MultiScaleCropResize(BaseTransform):
    """``mmaction.MultiScaleCrop`` + ``mmaction.Resize(keep_ratio=False)``.

    Under the same ``random`` state it returns the same pixels as the two
    MMAction2 transforms in sequence (tested bit for bit), and sets the
    same ``crop_bbox``, ``crop_quadruple``, ``scales``, ``img_shape``,
    ``scale_factor`` and ``keep_ratio`` keys.

    **Required Keys:** imgs (``(T, H, W, C)`` uint8 array or list of
    ``(H, W, C)`` arrays), img_shape

    **Modified Keys:** imgs (``(T, out_h, out_w, C)`` uint8 array),
    img_shape

    Args:
        input_size (int | tuple[int]): ``(w, h)`` the crop sizes snap to,
            as in ``MultiScaleCrop``. Defaults to 224.
        scales (tuple[float]): crop side fractions of the short side.
            Defaults to ``(1, .875, .75, .66)``.
        max_wh_scale_gap (int): max gap between the w and h scale levels.
            Defaults to 1.
        random_crop (bool): random offset instead of the fixed ones.
            Defaults to False.
        num_fixed_crops (int): 5 or 13 fixed offsets. Defaults to 13.
        out_size (int | tuple[int] | None): ``(w, h)`` of the output;
            ``None`` uses ``input_size``. Defaults to None.
        interpolation (str): as ``mmaction.Resize``. Defaults to
            ``'bilinear'``.
    """

    def __init__(self,
                 input_size: Union[int, Sequence[int]] = 224,
                 scales: Tuple[float, ...] = (1, .875, .75, .66),
                 max_wh_scale_gap: int = 1,
                 random_crop: bool = False,
                 num_fixed_crops: int = 13,
                 out_size: Union[int, Sequence[int], None] = None,
                 interpolation: str = 'bilinear') -> None:
        if num_fixed_crops not in (5, 13):
            raise ValueError(
                f'num_fixed_crops must be 5 or 13, got {num_fixed_crops}')
        if interpolation not in _INTERP:
            raise ValueError(f'interpolation must be one of '
                             f'{sorted(_INTERP)}, got {interpolation!r}')
        self.input_size = _pair(input_size)
        self.scales = tuple(scales)
        self.max_wh_scale_gap = max_wh_scale_gap
        self.random_crop = random_crop
        self.num_fixed_crops = num_fixed_crops
        self.out_size = self.input_size if out_size is None else _pair(
            out_size)
        self.interpolation = interpolation

    def _crop_box(self, img_h: int, img_w: int) -> Tuple[int, int, int, int]:
        """``(x, y, w, h)`` drawn as ``MultiScaleCrop.transform`` does."""
        base = min(img_h, img_w)
        sizes = [int(base * s) for s in self.scales]
        candidates = [[w, h] for i, h in enumerate(sizes)
                      for j, w in enumerate(sizes)
                      if abs(i - j) <= self.max_wh_scale_gap]
        crop = random.choice(candidates)
        for i in range(2):
            if abs(crop[i] - self.input_size[i]) < 3:
                crop[i] = self.input_size[i]
        crop_w, crop_h = crop
        if self.random_crop:
            x = random.randint(0, img_w - crop_w)
            y = random.randint(0, img_h - crop_h)
        else:
            ws, hs = (img_w - crop_w) // 4, (img_h - crop_h) // 4
            offsets = [(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs),
                       (2 * ws, 2 * hs)]
            if self.num_fixed_crops == 13:
                offsets += [(0, 2 * hs), (4 * ws, 2 * hs), (2 * ws, 4 * hs),
                            (2 * ws, 0), (ws, hs), (3 * ws, hs), (ws, 3 * hs),
                            (3 * ws, 3 * hs)]
            x, y = random.choice(offsets)
        return x, y, crop_w, crop_h

    def transform(self, results: dict) -> dict:
        imgs = results['imgs']
        img_h, img_w = results['img_shape']
        x, y, cw, ch = self._crop_box(img_h, img_w)
        out_w, out_h = self.out_size
        first = imgs[0]
        out = np.empty((len(imgs), out_h, out_w) + first.shape[2:],
                       dtype=first.dtype)
        interp = _INTERP[self.interpolation]
        for t, img in enumerate(imgs):
            # the crop is a view; cv2 reads it with its row stride
            cv2.resize(img[y:y + ch, x:x + cw], (out_w, out_h),
                       dst=out[t], interpolation=interp)

        quad = results.get('crop_quadruple',
                           np.array([0, 0, 1, 1], dtype=np.float32))
        results['crop_quadruple'] = np.array([
            quad[0] + x / img_w * quad[2], quad[1] + y / img_h * quad[3],
            cw / img_w * quad[2], ch / img_h * quad[3]
        ],
                                             dtype=np.float32)
        results['crop_bbox'] = np.array([x, y, x + cw, y + ch])
        results['scales'] = self.scales
        factor = np.array([out_w / cw, out_h / ch], dtype=np.float32)
        results['scale_factor'] = results.get(
            'scale_factor', np.array([1, 1], dtype=np.float32)) * factor
        results['keep_ratio'] = False
        results['img_shape'] = (out_h, out_w)
        results['imgs'] = out
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(input_size={self.input_size}, '
                f'scales={self.scales}, '
                f'max_wh_scale_gap={self.max_wh_scale_gap}, '
                f'random_crop={self.random_crop}, '
                f'num_fixed_crops={self.num_fixed_crops}, '
                f'out_size={self.out_size}, '
                f'interpolation={self.interpolation!r})')
