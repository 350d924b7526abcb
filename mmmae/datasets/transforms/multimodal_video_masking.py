# Copyright (c) mmmae contributors. All rights reserved.
"""Multi-modal *video* token masking: a Dirichlet token budget across
modalities (MultiMAE) with a tube mask in each modality (VideoMAE).

A video tube mask hides the same spatial cells in every temporal slot, so a
modality's visible tokens are always ``T'`` times its visible cells. The
per-sample draw is therefore exactly the image problem on the spatial grids
``(H'_d, W'_d)`` with a budget of ``num_visible / T'`` cells, and this
module delegates it to a :class:`MultiModalMaskGenerator` over those grids
(Dirichlet shares, subset sampling, exact-budget rounding, fixed masks,
absent modalities) and tiles its masks over the ``T'`` slots. Without
modality dropout and with the same RNG state, both generators draw the
same spatial masks.

Tokens are ordered ``n = t' * H' * W' + h' * W' + w'`` (VideoMAE's
row-major ``(t, h, w)`` order), so ``mask.reshape(T', H', W')`` repeats one
``(H', W')`` pattern in every slot. True = masked (hidden from the
encoder); in ``decoder_masks`` True = not reconstructed.
"""
import math
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform

from mmmae.registry import TRANSFORMS
from .masking import RunningCellMaskGenerator, _as_grid
from .multimodal_masking import MultiModalMaskGenerator

__all__ = ['MultiModalTubeMaskGenerator']

GridType = Union[int, Sequence[int]]


def _as_thw(grid: GridType, what: str) -> Tuple[int, int, int]:
    """``(T', H', W')`` (or an int for a cube) -> tuple; error names
    ``what``."""
    try:
        return _as_grid(grid)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be the token grid (T', H', W') of "
                         f'positive ints, got {grid!r}') from None


def _spatial_fixed(name: str, spec: object,
                   grid: Tuple[int, int, int]) -> object:
    """A fixed-mask spec on the video grid -> the spec of one slot.

    ``'all'``/``'none'`` and spatial arrays ``(H', W')`` / ``(H' * W',)``
    pass through (the image generator checks their values); full-grid
    arrays ``(T', H', W')`` / ``(T' * H' * W',)`` must be tubes.
    """
    if isinstance(spec, str):
        return spec
    arr = np.asarray(spec)
    t, h, w = grid
    spatial = ((h, w), (h * w, ))
    full = ((t, h, w), (t * h * w, ))
    if arr.shape in spatial:
        return arr
    if arr.shape not in full:
        raise ValueError(
            f'fixed_masks[{name!r}] has shape {arr.shape}; expected the '
            f'spatial grid {spatial[0]} or {spatial[1]}, or the full grid '
            f'{full[0]} or {full[1]}')
    slots = arr.reshape(t, h * w)
    differ = np.flatnonzero((slots != slots[:1]).any(1))
    if differ.size:
        raise ValueError(
            f'fixed_masks[{name!r}] is not a tube mask: temporal slot '
            f'{int(differ[0])} differs from slot 0. Every slot must hide the '
            "same cells; give one (H', W') pattern instead")
    return slots[0]


@TRANSFORMS.register_module()
class MultiModalTubeMaskGenerator(BaseTransform):
    """MultiMAE's Dirichlet token budget over video modalities, with a tube
    mask in each modality.

    Per sample, ``num_visible / T'`` visible *cells* are shared across the
    modalities exactly as :class:`MultiModalMaskGenerator` shares tokens
    (``Dirichlet(alpha)`` shares, optional uniform subset, exact budget with
    per-modality counts within +-1 of the rounded share), and each visible
    cell is visible in all ``T'`` temporal slots. Every sample thus has
    exactly ``num_visible`` visible tokens, so a batch can be stacked.

    Randomness comes only from numpy's global RNG (as in the other mask
    generators), so :class:`~mmmae.datasets.transforms.PerSampleSeed` makes
    the masks a function of (seed, epoch, sample index). Draw order: the
    modality-dropout decision (only when ``modality_dropout > 0``), the
    encoder masks (the same draws as the image generator), then the decoder
    masks (only when ``decoder_mask_ratio > 0``) in ``modalities`` order.

    **Required Keys:** none. When ``results['videos']`` (the
    :class:`LoadMultiModalVideo` output) or ``results['images']`` (dict name
    -> array) is present it is used to find modalities absent from the
    sample.

    **Added Keys:**

    - masks (dict[str, np.ndarray]): ``(T' * H'_d * W'_d,)`` bool per
      modality, True = masked.
    - decoder_masks (dict[str, np.ndarray]): only with
      ``decoder_mask_ratio > 0``; ``(T' * H'_d * W'_d,)`` bool per
      modality, True = not reconstructed by the decoder.

    Args:
        modalities (Sequence[str]): modality names, in output order.
            Defaults to ``('rgb', 'depth', 'semseg')``.
        grid (int | Sequence[int] | dict): token grid ``(T', H', W')``, the
            same for all modalities, or a dict name -> grid. ``T'`` must be
            equal for all modalities. Defaults to ``(8, 14, 14)``.
        num_visible (int | None): visible (encoded) tokens per sample over
            all modalities; a multiple of ``T'``. Defaults to 784
            (98 cells per slot, MultiMAE's 1/6 of 3 x 196, over 8 slots).
            ``None`` only when every modality has a fixed mask.
        alpha (float | Sequence[float] | dict): Dirichlet concentration, one
            for all or one per modality. Defaults to 1.0.
        sample_tasks_uniformly (bool): first draw a non-empty subset of the
            free modalities uniformly; the others get no visible token.
            Defaults to False.
        fixed_masks (dict, optional): name -> ``'all'``, ``'none'``, or a
            0/1 / bool array (1 = masked) of the spatial grid ``(H', W')`` /
            ``(H' * W',)`` (tiled over the slots) or of the full grid
            ``(T', H', W')`` / ``(T' * H' * W',)`` (must be a tube). Fixed
            modalities take no part in the draw; their visible tokens count
            towards ``num_visible``.
        absent (str): ``'error'`` (default) raises a ``KeyError`` for a
            modality missing from ``results['images']``; ``'mask'`` masks
            it entirely and gives its share to the present ones.
        decoder_mask_ratio (float): VideoMAE V2 running-cell decoder
            masking per modality (:class:`RunningCellMaskGenerator`, one
            phase drawn per modality); ``int(4 * ratio)`` must be 1 to 3.
            Defaults to 0 (off: no ``decoder_masks``).
        modality_dropout (float): probability per sample that one randomly
            chosen free, present modality is fully masked and the others
            share the whole budget. A sample with fewer than two free
            present modalities is never dropped. Defaults to 0.0.
    """

    def __init__(self,
                 modalities: Sequence[str] = ('rgb', 'depth', 'semseg'),
                 grid: Union[GridType, Mapping[str, GridType]] = (8, 14, 14),
                 num_visible: Optional[int] = 784,
                 alpha: Union[float, Sequence[float], Mapping[str,
                                                              float]] = 1.0,
                 sample_tasks_uniformly: bool = False,
                 fixed_masks: Optional[Mapping[str, object]] = None,
                 absent: str = 'error',
                 decoder_mask_ratio: float = 0.0,
                 modality_dropout: float = 0.0) -> None:
        if isinstance(modalities, str) or not modalities:
            raise ValueError('modalities must be a non-empty sequence of '
                             f'names, got {modalities!r}')
        names = tuple(str(m) for m in modalities)
        if isinstance(grid, Mapping):
            unknown = set(grid) - set(names)
            missing = [m for m in names if m not in grid]
            if unknown or missing:
                raise ValueError(
                    f'grid dict must have exactly the keys {names}; unknown: '
                    f'{sorted(unknown)}, missing: {missing}')
            grids = {m: _as_thw(grid[m], f'grid[{m!r}]') for m in names}
        else:
            thw = _as_thw(grid, 'grid')
            grids = {m: thw for m in names}
        slots = {g[0] for g in grids.values()}
        if len(slots) != 1:
            raise ValueError(
                "every modality needs the same number of temporal slots T' "
                '(one clip, one tubelet depth), got '
                f'{ {m: g[0] for m, g in grids.items()} }')
        self.num_slots = t = slots.pop()
        self.grid: Dict[str, Tuple[int, int, int]] = grids
        self.num_tokens = {m: int(np.prod(g)) for m, g in grids.items()}

        if num_visible is not None:
            if isinstance(num_visible, bool) or not isinstance(
                    num_visible, (int, np.integer)):
                raise ValueError(f'num_visible must be an int, got '
                                 f'{num_visible!r}')
            if num_visible % t:
                lower = num_visible // t * t
                raise ValueError(
                    f'num_visible={num_visible} is not a multiple of '
                    f"T'={t}: a tube mask shows each visible cell in all "
                    f'{t} temporal slots, so the visible tokens come in '
                    f'multiples of {t}; use e.g. {lower or t} or '
                    f'{lower + t}')
        fixed = {
            m: _spatial_fixed(m, spec, grids[m]) if m in grids else spec
            for m, spec in (fixed_masks or {}).items()
        }
        try:
            self.slot_generator = MultiModalMaskGenerator(
                modalities=names,
                grid={m: g[1:]
                      for m, g in grids.items()},
                num_visible=None if num_visible is None else num_visible // t,
                alpha=alpha,
                sample_tasks_uniformly=sample_tasks_uniformly,
                fixed_masks=fixed,
                absent=absent)
        except ValueError as err:
            if num_visible is None or 'num_visible' not in str(err):
                raise
            # The slot generator speaks in cells; say so in token terms.
            raise ValueError(
                f'{self.__class__.__name__}: num_visible={num_visible} '
                f'tokens are {num_visible // t} visible cells in each of the '
                f"T'={t} slots, which cannot be placed ({err}; these counts "
                f'are cells per slot, x{t} for tokens)') from None
        gen = self.slot_generator
        self.modalities = gen.modalities
        self.num_visible = gen.num_visible * t
        self.absent = gen.absent

        if isinstance(modality_dropout, bool) or not isinstance(
                modality_dropout, (int, float, np.number)) or not (
                    0.0 <= float(modality_dropout) <= 1.0):
            raise ValueError('modality_dropout must be a probability in '
                             f'[0, 1], got {modality_dropout!r}')
        self.modality_dropout = float(modality_dropout)
        if self.modality_dropout > 0:
            if len(gen.free) < 2:
                raise ValueError(
                    'modality_dropout needs at least two modalities without '
                    f'a fixed mask (it never masks all of them); free: '
                    f'{list(gen.free)}')
            for m in gen.free:
                rest = sum(gen.num_tokens[o] for o in gen.free if o != m)
                if rest < gen.free_budget:
                    raise ValueError(
                        f'modality_dropout: without {m!r} the other free '
                        f'modalities have {rest * t} tokens, fewer than the '
                        f'{gen.free_budget * t} visible tokens they must '
                        'hold; lower num_visible')

        if isinstance(decoder_mask_ratio, bool) or not isinstance(
                decoder_mask_ratio, (int, float, np.number)) or \
                not math.isfinite(decoder_mask_ratio):
            raise ValueError('decoder_mask_ratio must be a number, got '
                             f'{decoder_mask_ratio!r}')
        self.decoder_mask_ratio = float(decoder_mask_ratio)
        self.decoder_generators: Dict[str, RunningCellMaskGenerator] = {}
        if self.decoder_mask_ratio != 0:
            self.decoder_generators = {
                m: RunningCellMaskGenerator(g, self.decoder_mask_ratio)
                for m, g in grids.items()
            }

    @property
    def free(self) -> Tuple[str, ...]:
        """Modalities without a fixed mask (they share the budget)."""
        return self.slot_generator.free

    def generate(self, absent: Sequence[str] = ()) -> Dict[str, np.ndarray]:
        """Draw the encoder masks of one sample.

        Args:
            absent (Sequence[str]): modalities to mask entirely (missing
                from the sample).

        Returns:
            dict[str, np.ndarray]: ``(T' * H'_d * W'_d,)`` bool per
            modality, True = masked.
        """
        absent = list(absent)
        if self.modality_dropout > 0 and \
                np.random.random() < self.modality_dropout:
            gen = self.slot_generator
            present = [m for m in gen.free if m not in absent]
            fixed_visible = sum(
                int((~v).sum()) for m, v in gen.fixed_masks.items()
                if m not in absent)
            budget = gen.num_visible - fixed_visible
            # Absent modalities can leave some drops unable to hold the
            # budget; only the others are candidates.
            candidates = [
                m for m in present
                if sum(gen.num_tokens[o]
                       for o in present if o != m) >= budget
            ]
            if len(present) > 1 and candidates:
                absent.append(candidates[np.random.randint(len(candidates))])
        slot_masks = self.slot_generator.generate(absent)
        return {
            m: np.tile(mask, self.num_slots)
            for m, mask in slot_masks.items()
        }

    def _absent(self, results: dict) -> List[str]:
        """Modalities missing from the sample's ``videos`` (or ``images``)
        dict, when it has one."""
        images = results.get('videos', results.get('images'))
        if images is None:
            return []
        absent = [m for m in self.modalities if m not in images]
        if absent and self.absent == 'error':
            raise KeyError(
                f'{self.__class__.__name__}: modalities {absent} are not in '
                f'this sample (it has {sorted(images)}; '
                f'{results.get("filename", results.get("img_path"))}). Make '
                'the dataset and the mask generator `modalities` agree, or '
                "set absent='mask' to mask a missing modality entirely")
        return absent

    def transform(self, results: dict) -> dict:
        """Add ``results['masks']`` (and ``results['decoder_masks']``)."""
        results['masks'] = self.generate(self._absent(results))
        if self.decoder_generators:
            results['decoder_masks'] = {
                m: gen.generate()
                for m, gen in self.decoder_generators.items()
            }
        return results

    def __repr__(self) -> str:
        gen = self.slot_generator
        return (f'{self.__class__.__name__}(modalities={self.modalities}, '
                f'grid={self.grid}, num_visible={self.num_visible}, '
                f'alpha={gen.alpha}, sample_tasks_uniformly='
                f'{gen.sample_tasks_uniformly}, fixed_masks='
                f'{sorted(gen.fixed_masks)}, absent={self.absent!r}, '
                f'decoder_mask_ratio={self.decoder_mask_ratio}, '
                f'modality_dropout={self.modality_dropout})')
