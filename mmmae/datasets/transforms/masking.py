# Copyright (c) mmmae contributors. All rights reserved.
"""Token mask generators for VideoMAE (V1 tube masking, V2 dual masking).

All generators are pipeline transforms. They draw from numpy's *global* RNG
(``np.random``), exactly like the official generators, so that with
``np.random.seed(s)`` and one call per sample they reproduce the official
masks bit for bit (see ``tests/test_datasets/test_masking.py``). The
DataLoader's worker seeding (MMEngine ``worker_init_fn``) seeds that RNG per
worker, as the official ``utils.seed_worker`` does.

Token order is ``n = t' * H' * W' + h' * W' + w'`` (row-major over the token
grid ``(T', H', W')``); ``True`` means masked (hidden from the encoder) for
``mask`` and *not reconstructed* for ``decoder_mask``.

When ``results['num_clips'] > 1`` (several clips of one video, which
``FormatShape('NCTHW')`` stacks as views) one independent mask is drawn per
view and the result has shape ``(V, N)`` instead of ``(N,)``.
"""
from typing import Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform

from mmmae.registry import TRANSFORMS

__all__ = [
    'TubeMaskGenerator', 'RandomMaskGenerator', 'RunningCellMaskGenerator'
]


def _as_grid(input_size: Union[int, Sequence[int]]) -> Tuple[int, int, int]:
    """Normalize ``input_size`` to a ``(T', H', W')`` tuple of ints."""
    if isinstance(input_size, int):
        # The official RandomMaskingGenerator accepts one int for a cube.
        input_size = (input_size, ) * 3
    grid = tuple(int(s) for s in input_size)
    if len(grid) != 3 or min(grid) < 1:
        raise ValueError('input_size must be the token grid (T\', H\', W\') '
                         f'of positive ints, got {input_size!r}')
    return grid  # type: ignore[return-value]


def _check_mask_ratio(owner: str, mask_ratio: float, per: int,
                      unit: str) -> int:
    """Validate an encoder mask ratio; return the masked count per ``unit``.

    The ratio must be in (0, 1) and hide at least one of the ``per`` tokens:
    a mask that hides nothing leaves the reconstruction loss with no target
    (NaN), one that hides everything leaves the encoder no input.
    """
    if isinstance(mask_ratio, bool) or not isinstance(
            mask_ratio, (int, float, np.integer, np.floating)) or \
            not 0.0 < float(mask_ratio) < 1.0:
        raise ValueError(
            f'{owner}: mask_ratio must be a float in (0, 1) (the fraction '
            f'of tokens hidden from the encoder), got {mask_ratio!r}')
    num = int(mask_ratio * per)
    if num < 1:
        raise ValueError(
            f'{owner}: mask_ratio={mask_ratio} masks int({mask_ratio} * '
            f'{per}) = 0 of the {per} tokens {unit}; allowed: mask_ratio in '
            f'[{1 / per:.4g}, 1) for this input_size')
    return num


def _num_views(results: dict) -> int:
    """Number of views packed for this sample (``num_clips``, default 1)."""
    return max(1, int(results.get('num_clips', 1)))


def _stack_views(masks: list) -> np.ndarray:
    """``[(N,)] * V`` -> ``(N,)`` for one view, ``(V, N)`` otherwise."""
    return masks[0] if len(masks) == 1 else np.stack(masks)


def _shuffled_ones(num_total: int, num_ones: int) -> np.ndarray:
    """``num_total`` entries, ``num_ones`` of them True, in random order.

    The vector is built as float64 zeros-then-ones and shuffled in place with
    ``np.random.shuffle``, as the official code does, so the global RNG is
    consumed identically and the resulting permutation is the same.

    Returns:
        np.ndarray: ``(num_total,)`` bool.
    """
    vec = np.hstack([np.zeros(num_total - num_ones), np.ones(num_ones)])
    np.random.shuffle(vec)
    return vec.astype(bool)


class _MaskGenerator(BaseTransform):
    """What the mask generators share: one :meth:`generate` draw per view,
    stored under :attr:`key`, and the repr.

    Subclasses set ``input_size`` and ``mask_ratio`` and define
    :meth:`generate` (``(N,)`` bool).
    """

    key = 'mask'

    def generate(self) -> np.ndarray:
        raise NotImplementedError

    def transform(self, results: dict) -> dict:
        """Add ``results[self.key]``: ``(N,)``, or ``(V, N)`` bool for
        ``num_clips = V > 1`` (one independent draw per view)."""
        results[self.key] = _stack_views(
            [self.generate() for _ in range(_num_views(results))])
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(input_size={self.input_size}, '
                f'mask_ratio={self.mask_ratio})')


@TRANSFORMS.register_module()
class TubeMaskGenerator(_MaskGenerator):
    """VideoMAE V1 tube masking: one random spatial mask shared by all
    temporal token slices.

    ``int(mask_ratio * H' * W')`` positions (floored, as in the official
    code: 176 of 196 at 0.9, so the real ratio is 0.898) are masked in every
    slice, giving ``T' * int(mask_ratio * H' * W')`` masked tokens.

    **Required Keys:** none (``num_clips`` is read when present).

    **Added Keys:**

    - mask (np.ndarray): ``(N,)`` bool with ``N = T' * H' * W'``, or
      ``(V, N)`` when ``num_clips = V > 1``. True = masked.

    Args:
        input_size (Sequence[int]): token grid ``(T', H', W')``, e.g.
            ``(8, 14, 14)`` for 16x224x224 clips with 2x16x16 tubelets.
        mask_ratio (float): nominal masking ratio in ``(0, 1)``; at least
            one token per frame must be masked.
    """

    def __init__(self,
                 input_size: Sequence[int] = (8, 14, 14),
                 mask_ratio: float = 0.9) -> None:
        self.input_size = _as_grid(input_size)
        t, h, w = self.input_size
        self.num_masks_per_frame = _check_mask_ratio(
            'TubeMaskGenerator', mask_ratio, h * w, "per frame (H' * W')")
        self.mask_ratio = mask_ratio
        self.num_patches_per_frame = h * w
        self.num_tokens = t * h * w
        self.num_masked = t * self.num_masks_per_frame

    def generate(self) -> np.ndarray:
        """Draw one tube mask.

        Returns:
            np.ndarray: ``(N,)`` bool, the same ``(H'*W',)`` pattern tiled
            ``T'`` times.
        """
        per_frame = _shuffled_ones(self.num_patches_per_frame,
                                   self.num_masks_per_frame)
        return np.tile(per_frame, self.input_size[0])


@TRANSFORMS.register_module()
class RandomMaskGenerator(_MaskGenerator):
    """Per-token random masking with a fixed count.

    Exactly ``int(mask_ratio * N)`` of the ``N = T' * H' * W'`` tokens are
    masked, chosen uniformly without any tube structure (the official V2
    ``RandomMaskingGenerator`` semantics). The fixed count keeps the number
    of visible tokens equal across a batch.

    **Added Keys:**

    - mask (np.ndarray): ``(N,)`` bool, or ``(V, N)`` when
      ``num_clips = V > 1``. True = masked.

    Args:
        input_size (int | Sequence[int]): token grid ``(T', H', W')`` (an
            int means a cube).
        mask_ratio (float): masking ratio in ``(0, 1)``; at least one
            token must be masked.
    """

    def __init__(self,
                 input_size: Union[int, Sequence[int]] = (8, 14, 14),
                 mask_ratio: float = 0.9) -> None:
        self.input_size = _as_grid(input_size)
        self.num_tokens = int(np.prod(self.input_size))
        self.num_masked = _check_mask_ratio('RandomMaskGenerator', mask_ratio,
                                            self.num_tokens,
                                            "(T' * H' * W')")
        self.mask_ratio = mask_ratio

    def generate(self) -> np.ndarray:
        """Draw one random mask.

        Returns:
            np.ndarray: ``(N,)`` bool with ``num_masked`` True entries.
        """
        return _shuffled_ones(self.num_tokens, self.num_masked)


@TRANSFORMS.register_module()
class RunningCellMaskGenerator(_MaskGenerator):
    """VideoMAE V2 decoder masking ("running cell").

    Each 2x2 spatial cell holds ``int(4 * mask_ratio)`` dropped positions.
    Reading the cell as a cyclic queue ``[1] * k + [0] * (4 - k)`` in
    row-major order, slice ``t'`` uses the queue rotated by
    ``phase + t' + 1`` (the official generator advances the pointer before
    reading every slice), so the decoded set moves over time and every
    position is decoded in some slice. The cell is tiled over the
    ``H' x W'`` grid and one of the four phases is picked per sample with
    ``np.random.randint(4)``, the official single draw, which keeps parity
    with official masks when called right after :class:`TubeMaskGenerator`.

    Odd ``H'``/``W'`` (unsupported by the official code) crop the tiling.

    With ``mask_ratio == 0`` there is no decoder masking and the decoder
    reconstructs exactly the encoder-masked tokens: ``decoder_mask = ~mask``
    (the official V2 fallback ``1 - encoder_mask``, i.e. V1 behaviour). This
    needs ``results['mask']`` and draws no random numbers.

    **Required Keys:** mask (only when ``mask_ratio == 0``).

    **Added Keys:**

    - decoder_mask (np.ndarray): ``(N,)`` bool, or ``(V, N)`` when
      ``num_clips = V > 1``. True = *not* reconstructed by the decoder.

    Args:
        input_size (Sequence[int]): token grid ``(T', H', W')``.
        mask_ratio (float): decoder drop ratio; ``int(4 * mask_ratio)`` must
            be 1, 2 or 3, or ``mask_ratio`` must be 0. Defaults to 0.5.
    """

    cell_size = 4  # a 2x2 cell
    key = 'decoder_mask'

    def __init__(self,
                 input_size: Sequence[int] = (8, 14, 14),
                 mask_ratio: float = 0.5) -> None:
        self.input_size = _as_grid(input_size)
        self.mask_ratio = mask_ratio
        t, h, w = self.input_size
        self.num_tokens = t * h * w
        if mask_ratio == 0:
            self.all_mask_maps = None
            return
        num_masks_per_cell = int(self.cell_size * mask_ratio)
        if not 0 < num_masks_per_cell < self.cell_size:
            raise ValueError(
                'RunningCellMaskGenerator: mask_ratio must give 1 to 3 '
                'dropped positions per 2x2 cell (int(4 * mask_ratio)), got '
                f'mask_ratio={mask_ratio!r}; allowed: 0 (reconstruct all '
                'encoder-masked tokens) or a value in [0.25, 1)')
        queue = np.zeros(self.cell_size, dtype=bool)
        queue[:num_masks_per_cell] = True
        reps = (-(-h // 2), -(-w // 2))  # ceil, cropped below for odd sizes
        maps = np.empty((self.cell_size, t, h * w), dtype=bool)
        for phase in range(self.cell_size):
            for ti in range(t):
                shift = phase + ti + 1
                cell = queue[(np.arange(self.cell_size) + shift) %
                             self.cell_size].reshape(2, 2)
                maps[phase, ti] = np.tile(cell, reps)[:h, :w].reshape(-1)
        # (4, N): one precomputed mask per phase.
        self.all_mask_maps = maps.reshape(self.cell_size, -1)

    def generate(self) -> np.ndarray:
        """Draw one decoder mask (``mask_ratio > 0`` only).

        Returns:
            np.ndarray: ``(N,)`` bool, True = not reconstructed.
        """
        assert self.all_mask_maps is not None
        return self.all_mask_maps[np.random.randint(self.cell_size)].copy()

    def transform(self, results: dict) -> dict:
        """Add ``results['decoder_mask']``: ``(N,)`` or ``(V, N)`` bool."""
        if self.all_mask_maps is None:
            if 'mask' not in results:
                raise KeyError(
                    'RunningCellMaskGenerator(mask_ratio=0) reconstructs the '
                    'encoder-masked tokens and needs results["mask"]; put an '
                    'encoder mask generator (e.g. TubeMaskGenerator) before '
                    'it in the pipeline')
            results['decoder_mask'] = ~np.asarray(results['mask'], dtype=bool)
            return results
        return super().transform(results)
