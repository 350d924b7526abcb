# Copyright (c) mmmae contributors. All rights reserved.
"""Pack a clip whose crop, resize and flip were only *drawn* on the CPU.

MMAction2's geometric transforms have a ``lazy=True`` mode: they draw their
random parameters exactly as usual but only record the result in
``results['lazy']`` (the crop box in source pixels, the flip, the output
size), leaving the frames untouched; ``mmaction.Fuse`` would then crop,
resize and flip on the CPU. :class:`PackLazyActionInputs` takes the place of
``Fuse`` + ``FormatShape`` + ``PackActionInputs``: it packs the decoded
uint8 frames ``(T, H, W, C)`` with the recorded parameters, and the data
preprocessor applies them to the whole batch on the device
(:func:`mmmae.models.data_preprocessors.apply_lazy_geometry`).

A worker then only decodes and draws numbers: resize, flip, layout
change, float conversion and normalisation leave the CPU. The one thing it
does to the pixels is keep the crop box (a slice, then a copy of what is
kept): everything outside it would cross the DataLoader's shared memory and
the host-to-device copy only to be ignored.
"""
from typing import Dict, Sequence, Tuple

import numpy as np
from mmaction.datasets.transforms import PackActionInputs
from mmaction.datasets.transforms.processing import RandomErasing

from mmmae.registry import TRANSFORMS

__all__ = ['PackLazyActionInputs', 'LazyRandomErasing', 'LAZY_FIELD']

# data-sample field holding the recorded geometry
LAZY_FIELD = 'lazy_aug'
_INTERPOLATIONS = ('bilinear', 'nearest', 'bicubic')


def _cut_to_box(imgs: np.ndarray,
                crop_bbox: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """``(T, h, w, C)`` view of the rounded box and the box in its pixels;
    the inputs unchanged when the box is the whole frame or does not fit
    (the data preprocessor reports a box that does not fit)."""
    left, top, right, bottom = np.round(crop_bbox).astype(np.int64).tolist()
    height, width = imgs.shape[1:3]
    if not (0 <= left < right <= width and 0 <= top < bottom <= height):
        return imgs, crop_bbox
    if (left, top, right, bottom) == (0, 0, width, height):
        return imgs, crop_bbox
    box = np.array([0, 0, right - left, bottom - top], dtype=np.float64)
    return imgs[:, top:bottom, left:right], box


@TRANSFORMS.register_module()
class LazyRandomErasing(RandomErasing):
    """MMAction2's ``RandomErasing`` for lazy pipelines: the box is drawn as
    usual (same calls, on the output size the lazy transforms set) and
    recorded; the device fills it after the crop, resize and flip.

    Put it after the lazy geometric transforms and before
    :class:`PackLazyActionInputs`. One box for all frames of a clip, as the
    eager transform; the fill values (``mode``, ``fill_color``,
    ``fill_std``: same distribution as the eager transform, drawn per
    pixel of every frame) come from a device generator seeded by a number
    drawn here, so a clip's erasing is a function of the sample's RNG state
    (``PerSampleSeed``) like every other draw.

    **Required Keys:** lazy, img_shape

    **Modified Keys:** lazy (adds ``erase``: dict with ``box`` ``(top,
    left, h, w)``, ``seed``, ``mode``, ``fill_color``, ``fill_std``)

    Args:
        See ``mmaction.datasets.transforms.RandomErasing``.
    """

    def transform(self, results: Dict) -> Dict:
        """Record the erasing box of one clip (or none)."""
        lazy = results.get('lazy')
        if lazy is None:
            raise KeyError(
                'LazyRandomErasing: no lazy geometry in '
                f'{results.get("filename", "<clip>")}; put it after the '
                'lazy=True crop / resize / flip transforms (or use '
                'RandomErasing in an eager pipeline)')
        if self.random_disable():
            return results
        img_h, img_w = results['img_shape']
        lazy['erase'] = dict(
            box=tuple(int(v) for v in self.random_patch(img_h, img_w)),
            seed=int(np.random.randint(2**31 - 1)),
            mode=self.mode,
            fill_color=tuple(float(c) for c in self.fill_color),
            fill_std=None if self.fill_std is None else tuple(
                float(c) for c in self.fill_std))
        return results


@TRANSFORMS.register_module()
class PackLazyActionInputs(PackActionInputs):
    """``PackActionInputs`` for lazy geometric augmentation.

    Use it after MMAction2 transforms with ``lazy=True`` (``MultiScaleCrop``,
    ``RandomResizedCrop``, ``CenterCrop``, ``Resize``, ``Flip``) and without
    ``Fuse`` / ``FormatShape``. The data preprocessor must apply the
    geometry: :class:`~mmmae.models.VideoMAEDataPreprocessor` (pretraining)
    or :class:`~mmmae.models.LazyAugActionDataPreprocessor` (fine-tuning).

    **Required Keys:** imgs (``(T, H, W, C)`` uint8 array or list of
    ``(H, W, C)`` frames), lazy (from the lazy transforms), img_shape (the
    output size they set)

    **Output:** ``inputs``: uint8 tensor ``(T, H, W, C)``: the frames cut
    to the crop box (rounded as ``Fuse`` rounds it), or, with
    ``crop=False``, at the decoded size (sharing memory with ``imgs`` when
    it is a contiguous array); ``data_samples.lazy_aug``: dict with

    - ``crop_bbox`` (np.ndarray): ``(4,)`` float ``left, top, right,
      bottom`` in the pixels of ``inputs`` (rounded when applied, as
      ``Fuse`` does; the whole of ``inputs`` after the cut);
    - ``flip`` (bool) and ``flip_direction`` (``'horizontal'`` /
      ``'vertical'`` / None);
    - ``out_shape`` (tuple): ``(h, w)`` after resizing;
    - ``interpolation`` (str): ``'bilinear'`` unless a lazy ``Resize`` set
      another;
    - ``erase`` (dict | None): the box of :class:`LazyRandomErasing`.

    Args:
        algorithm_keys (Sequence[str]): As ``PackActionInputs``, e.g.
            ``('mask', )`` for the pretraining masks.
        meta_keys (Sequence[str]): As ``PackActionInputs``.
        crop (bool): Cut the frames to the crop box here. The device output
            is the same either way; the cut saves the copies and transfers
            of the pixels outside the box. Defaults to True.
    """

    def __init__(self,
                 algorithm_keys: Sequence[str] = (),
                 meta_keys: Sequence[str] = ('img_shape', 'img_key',
                                             'video_id', 'timestamp'),
                 crop: bool = True) -> None:
        super().__init__(meta_keys=meta_keys, algorithm_keys=algorithm_keys)
        self.crop = crop

    def transform(self, results: Dict) -> Dict:
        """Pack frames and geometry; see the class docstring."""
        lazy = results.pop('lazy', None)
        where = results.get('filename', '<clip>')
        if lazy is None:
            raise KeyError(
                f'PackLazyActionInputs: {where} has no lazy geometry; set '
                'lazy=True on the crop / resize / flip transforms before it '
                '(or use FormatShape + PackActionInputs)')
        if results.get('num_clips', 1) > 1:
            raise ValueError(
                f'PackLazyActionInputs: {where} has num_clips='
                f'{results["num_clips"]}; lazy augmentation packs one clip '
                'per sample (use num_repeats for several views of a video, '
                'or FormatShape + PackActionInputs for multi-clip testing)')
        imgs = results['imgs']
        if not isinstance(imgs, np.ndarray):
            imgs = np.stack(imgs)
        if imgs.ndim != 4 or imgs.dtype != np.uint8:
            raise ValueError(
                f'PackLazyActionInputs: {where}: frames must be uint8 '
                f'(T, H, W, C), got {imgs.dtype} {imgs.shape}')
        interpolation = lazy.get('interpolation') or 'bilinear'
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(
                f'PackLazyActionInputs: interpolation {interpolation!r} is '
                f'not available on the device; use one of {_INTERPOLATIONS}')
        crop_bbox = np.asarray(lazy['crop_bbox'], dtype=np.float64)
        if self.crop:
            imgs, crop_bbox = _cut_to_box(imgs, crop_bbox)
        results['imgs'] = np.ascontiguousarray(imgs)
        packed = super().transform(results)
        packed['data_samples'].set_field(
            dict(
                crop_bbox=crop_bbox,
                flip=bool(lazy['flip']),
                flip_direction=lazy.get('flip_direction'),
                out_shape=tuple(int(s) for s in results['img_shape']),
                interpolation=interpolation,
                erase=lazy.get('erase')), LAZY_FIELD)
        return packed
