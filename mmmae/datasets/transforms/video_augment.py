# Copyright (c) mmmae contributors. All rights reserved.
"""Clip-consistent RandAugment for video fine-tuning.

The official VideoMAE fine-tuning recipe (``--aa rand-m7-n4-mstd0.5-inc1``)
uses the SlowFast port of timm's RandAugment, whose ``AugmentOp`` takes a
*list* of frames: the op choice, the apply/skip decision and the jittered
magnitude (plus the random sign some ops draw in their ``level_fn``) are
drawn once per clip and the same op is then applied to every frame. Calling
timm's image ``RandAugment`` frame by frame would re-draw all of these per
frame and make the clip flicker, so :class:`VideoRandAugment` reuses timm's
op table and level functions but does the per-clip sampling itself.
"""
import math
import random
from numbers import Real
from typing import List, NamedTuple, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from PIL import Image
from timm.data import auto_augment as timm_aa

from mmmae.registry import TRANSFORMS

__all__ = ['VideoRandAugment', 'SampledOp']

if hasattr(Image, 'Resampling'):
    _PIL_INTERP = dict(
        nearest=Image.Resampling.NEAREST,
        bilinear=Image.Resampling.BILINEAR,
        bicubic=Image.Resampling.BICUBIC)
else:  # pragma: no cover - Pillow < 9.1
    _PIL_INTERP = dict(
        nearest=Image.NEAREST, bilinear=Image.BILINEAR, bicubic=Image.BICUBIC)

# timm clips the jittered magnitude to [0, magnitude_max or _LEVEL_DENOM].
_MAX_LEVEL = float(timm_aa._LEVEL_DENOM)


class SampledOp(NamedTuple):
    """One op drawn for a clip, applied identically to every frame.

    Attributes:
        name (str): timm op name, e.g. ``'ShearX'``.
        magnitude (float): The jittered and clipped magnitude in
            ``[0, 10]``.
        level_args (tuple): Positional args for the timm op function,
            i.e. ``level_fn(magnitude, hparams)`` (empty for parameter-free
            ops such as ``'Equalize'``).
    """
    name: str
    magnitude: float
    level_args: tuple


@TRANSFORMS.register_module()
class VideoRandAugment(BaseTransform):
    """RandAugment with the same ops and magnitudes on every frame of a clip.

    Equivalent to the official VideoMAE / SlowFast ``rand_augment_transform(
    'rand-m{magnitude}-n{num_layers}-mstd{magnitude_std}-inc1', hparams)``
    applied to a frame list: ``num_layers`` ops are chosen per clip with
    ``np.random.choice`` *with* replacement (as timm's ``RandAugment`` does
    without choice weights), and for each one the apply/skip draw
    (``prob``), the gaussian magnitude jitter and the level arguments are
    drawn once with Python's ``random`` in the same order as timm's
    ``AugmentOp.__call__``. Under the same seeds, output frame ``t`` is
    therefore bit-identical to timm's image RandAugment on frame ``t``.

    Place it on the full-resolution frames, before the random resized crop,
    as the official recipe does.

    **Required Keys:**

    - imgs: list of ``(H, W, 3)`` uint8 RGB arrays, or one
      ``(T, H, W, 3)`` uint8 array.

    **Modified Keys:**

    - imgs: same container type, shapes and dtype.

    **Added Keys:**

    - rand_augment: list of :class:`SampledOp` that were applied, in order.

    Args:
        magnitude (float): Mean op magnitude on timm's ``[0, 10]`` scale.
            Defaults to 7.
        num_layers (int): Ops drawn per clip, before the per-op probability
            check. Defaults to 4.
        magnitude_std (float): Std of the gaussian magnitude jitter; ``0``
            disables it and ``inf`` samples uniformly in ``[0, magnitude]``
            (timm's convention). Defaults to 0.5.
        increasing (bool): Use timm's ``_RAND_INCREASING_TRANSFORMS``
            (severity grows with magnitude, ``inc1``) rather than
            ``_RAND_TRANSFORMS``. Defaults to True.
        prob (float): Probability of applying each drawn op. Defaults to 0.5.
        translate_const (int): Pixel range of the absolute translate ops,
            ``int(crop_size * 0.45)`` in the official recipe. Neither op set
            contains the absolute ``TranslateX/Y`` (both use the relative
            variants with ``translate_pct=0.45``), so it only matters for
            parity of ``hparams``. Defaults to 100.
        img_mean (Sequence[int]): RGB fill of pixels uncovered by the
            geometric ops, 0-255. Defaults to ``(128, 128, 128)``: the
            official VideoMAE / SlowFast ``create_random_augment`` passes
            no ``img_mean``, so its ops use timm's default fill (timm's
            image pipeline passes the ImageNet mean ``(124, 116, 104)``).
        interpolation (str): ``'bicubic'``, ``'bilinear'`` or ``'nearest'``
            resampling for the geometric ops. Defaults to ``'bicubic'``.
    """

    def __init__(self,
                 magnitude: float = 7,
                 num_layers: int = 4,
                 magnitude_std: float = 0.5,
                 increasing: bool = True,
                 prob: float = 0.5,
                 translate_const: int = 100,
                 img_mean: Sequence[int] = (128, 128, 128),
                 interpolation: str = 'bicubic') -> None:
        if (not isinstance(magnitude, Real) or isinstance(magnitude, bool)
                or not 0 <= magnitude <= _MAX_LEVEL):
            raise ValueError(f'magnitude must be a number in [0, '
                             f'{_MAX_LEVEL:g}], got {magnitude!r}')
        if (not isinstance(num_layers, int) or isinstance(num_layers, bool)
                or num_layers < 1):
            raise ValueError(
                f'num_layers must be a positive int, got {num_layers!r}')
        if (not isinstance(magnitude_std, Real)
                or isinstance(magnitude_std, bool) or math.isnan(magnitude_std)
                or magnitude_std < 0):
            raise ValueError('magnitude_std must be a number >= 0 (inf for '
                             f'uniform sampling), got {magnitude_std!r}')
        if not isinstance(increasing, bool):
            raise ValueError(
                f'increasing must be a bool, got {increasing!r}')
        if (not isinstance(prob, Real) or isinstance(prob, bool)
                or not 0 <= prob <= 1):
            raise ValueError(f'prob must be a number in [0, 1], got {prob!r}')
        if (not isinstance(translate_const, Real)
                or isinstance(translate_const, bool) or translate_const <= 0):
            raise ValueError('translate_const must be a positive number, '
                             f'got {translate_const!r}')
        if (not isinstance(img_mean, Sequence) or len(img_mean) != 3
                or not all(
                    isinstance(v, int) and not isinstance(v, bool)
                    and 0 <= v <= 255 for v in img_mean)):
            raise ValueError('img_mean must be 3 ints in [0, 255], '
                             f'got {img_mean!r}')
        if interpolation not in _PIL_INTERP:
            raise ValueError(f'interpolation must be one of '
                             f'{sorted(_PIL_INTERP)}, got {interpolation!r}')

        self.magnitude = magnitude
        self.num_layers = num_layers
        self.magnitude_std = float(magnitude_std)
        self.increasing = increasing
        self.prob = float(prob)
        self.translate_const = translate_const
        self.img_mean = tuple(img_mean)
        self.interpolation = interpolation

        # A fixed resample mode, never timm's random (bilinear, bicubic)
        # tuple: that one is drawn inside every op call, i.e. per frame.
        self.hparams = dict(
            translate_const=translate_const,
            img_mean=self.img_mean,
            interpolation=_PIL_INTERP[interpolation],
            magnitude_std=self.magnitude_std)
        transforms = (
            timm_aa._RAND_INCREASING_TRANSFORMS
            if increasing else timm_aa._RAND_TRANSFORMS)
        self.ops = timm_aa.rand_augment_ops(
            magnitude=magnitude,
            prob=self.prob,
            hparams=self.hparams,
            transforms=list(transforms))
        # What AugmentOp.__init__ derives from these hparams.
        self._op_kwargs = dict(
            fillcolor=self.img_mean, resample=_PIL_INTERP[interpolation])

    def _choose_ops(self) -> List['timm_aa.AugmentOp']:
        """Draw ``num_layers`` ops for one clip, before the prob check.

        Returns:
            list[AugmentOp]: ``num_layers`` timm ops, repeats allowed.
        """
        # Same call as timm's RandAugment (no choice weights -> with
        # replacement), so the numpy stream matches it draw for draw.
        return list(np.random.choice(self.ops, self.num_layers, replace=True))

    def _sample_ops(self) -> List[SampledOp]:
        """Draw the ops and their level args for one clip.

        Mirrors ``AugmentOp.__call__`` but stops before ``aug_fn`` so the
        draws can be reused for every frame.

        Returns:
            list[SampledOp]: The ops that passed the ``prob`` check, in
            application order; between 0 and ``num_layers`` items.
        """
        sampled = []
        for op in self._choose_ops():
            if op.prob < 1.0 and random.random() > op.prob:
                continue
            magnitude = op.magnitude
            if op.magnitude_std == float('inf'):
                magnitude = random.uniform(0, magnitude)
            elif op.magnitude_std > 0:
                magnitude = random.gauss(magnitude, op.magnitude_std)
            upper_bound = op.magnitude_max or _MAX_LEVEL
            magnitude = max(0., min(magnitude, upper_bound))
            # level_fn may draw a random sign: drawing it here, once,
            # is what keeps e.g. the rotation direction fixed over the clip.
            level_args = (
                tuple(op.level_fn(magnitude, op.hparams))
                if op.level_fn is not None else tuple())
            sampled.append(SampledOp(op.name, magnitude, level_args))
        return sampled

    def _apply(self, frame: np.ndarray, ops: List[SampledOp]) -> np.ndarray:
        """Apply the sampled ops to one frame.

        Args:
            frame (np.ndarray): ``(H, W, 3)`` uint8 RGB frame.
            ops (list[SampledOp]): Output of :meth:`_sample_ops`.

        Returns:
            np.ndarray: ``(H, W, 3)`` uint8 RGB frame.
        """
        img = Image.fromarray(frame)
        for op in ops:
            aug_fn = timm_aa.NAME_TO_OP[op.name]
            img = aug_fn(img, *op.level_args, **self._op_kwargs)
        # np.array, not np.asarray: a PIL-backed array is read-only and
        # later transforms (e.g. RandomErasing) write into the frames.
        return np.array(img)

    def transform(self, results: dict) -> dict:
        """Apply one set of sampled ops to every frame of the clip.

        Args:
            results (dict): With ``imgs``, a list of ``(H, W, 3)`` uint8
                arrays or a ``(T, H, W, 3)`` uint8 array.

        Returns:
            dict: ``imgs`` augmented, same type, shapes and dtype;
            ``rand_augment`` lists the applied :class:`SampledOp`.
        """
        imgs = results['imgs']
        frames = list(imgs)
        for i, frame in enumerate(frames):
            if (not isinstance(frame, np.ndarray) or frame.dtype != np.uint8
                    or frame.ndim != 3 or frame.shape[-1] != 3):
                desc = (f'{frame.dtype} {frame.shape}' if isinstance(
                    frame, np.ndarray) else type(frame).__name__)
                raise ValueError('VideoRandAugment expects (H, W, 3) uint8 '
                                 f'RGB frames, frame {i} is {desc}')
        ops = self._sample_ops()
        results['rand_augment'] = ops
        if not ops:
            return results
        out = [self._apply(frame, ops) for frame in frames]
        results['imgs'] = np.stack(out) if isinstance(imgs,
                                                      np.ndarray) else out
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(magnitude={self.magnitude}, '
                f'num_layers={self.num_layers}, '
                f'magnitude_std={self.magnitude_std}, '
                f'increasing={self.increasing}, prob={self.prob}, '
                f'translate_const={self.translate_const}, '
                f'img_mean={self.img_mean}, '
                f'interpolation={self.interpolation!r})')
