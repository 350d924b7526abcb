# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAE multi-modal token masking (Dirichlet token budget).

The official code draws the masks on the GPU inside ``MultiMAE.forward``
(``generate_random_masks``); mmmae draws them per sample in the data
pipeline (as 4M does), with numpy's *global* RNG like the VideoMAE
generators (:mod:`mmmae.datasets.transforms.masking`), so MMEngine's worker
seeding makes them reproducible.

Per sample:

1. shares ``lambda ~ Dirichlet(alpha)`` over the *free* modalities (those
   without a fixed mask); with ``sample_tasks_uniformly`` a non-empty subset
   of them is first drawn uniformly from the ``2^n - 1`` choices and only
   that subset gets a Dirichlet draw (the others get exactly 0 shares);
2. ``counts = round(lambda * budget)`` (numpy round-half-even, like
   ``torch.round``), clipped to the modality's token count;
3. the rounding error (at most ``n // 2`` tokens) is fixed to the exact
   budget as the official ``argsort(mask_all + rand)`` does -- the extra
   (missing) tokens go to modalities drawn at random with probability
   proportional to their masked (visible) tokens -- but each modality is
   adjusted at most once, so per-modality counts stay within +-1 of the
   rounded draw (the official fix-up can move 2 tokens of one modality when
   there are 5+ modalities; with 3 it is at most 1 anyway). In subset mode
   the fix-up only touches the chosen modalities, so unchosen ones have
   exactly 0 visible tokens (the official 1e-5 alpha can leak one token to
   them in rare cases);
4. for every modality, ``count`` random positions are visible.

Every sample thus has exactly ``num_visible`` visible tokens, which avoids
the official batch bug (``ids_keep`` sized with the visible count of the
*whole batch*, leaking masked tokens when B > 1): a batch of these masks
always has equal per-sample counts.

Output: ``results['masks'] = {name: np.ndarray (N_d,) bool}`` with
``N_d = H'_d * W'_d`` in ``(h, w)`` row-major order, **True = masked**
(the official tensors use int 1 = masked).
"""
import math
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform

from mmmae.registry import TRANSFORMS

__all__ = ['MultiModalMaskGenerator']

GridType = Union[int, Sequence[int]]


def _as_hw(grid: GridType, what: str) -> Tuple[int, int]:
    """``14`` or ``(14, 14)`` -> ``(14, 14)``; error names ``what``."""
    if isinstance(grid, (int, np.integer)):
        grid = (int(grid), int(grid))
    try:
        hw = tuple(int(g) for g in grid)
    except TypeError:
        hw = ()
    if len(hw) != 2 or min(hw) < 1:
        raise ValueError(f'{what} must be a positive int or (H\', W\') token '
                         f'grid of positive ints, got {grid!r}')
    return hw  # type: ignore[return-value]


@TRANSFORMS.register_module()
class MultiModalMaskGenerator(BaseTransform):
    """MultiMAE masking: ``num_visible`` visible tokens per sample, split
    across modalities by a Dirichlet draw.

    **Required Keys:** none. When ``results['images']`` (the
    :class:`~mmmae.datasets.transforms.LoadMultiModalImages` output) is
    present it is used to find modalities absent from the sample.

    **Added Keys:**

    - masks (dict[str, np.ndarray]): ``(N_d,)`` bool per modality, True =
      masked (hidden from the encoder).

    Absent modalities (named in ``modalities`` but missing from
    ``results['images']``): ``absent='error'`` (default) raises a
    ``KeyError`` naming the modality, because it is almost always a
    configuration mismatch between the dataset's and the generator's
    ``modalities`` and because samples with different modality sets cannot
    be batched. ``absent='mask'`` masks the absent modality entirely (0
    visible tokens, as a fixed ``'all'`` mask) and gives the whole budget to
    the present ones, for single-sample inference on incomplete data.

    Args:
        modalities (Sequence[str]): modality names, in output order.
            Defaults to ``('rgb', 'depth', 'semseg')``.
        grid (int | Sequence[int] | dict): token grid ``(H', W')``, the same
            for all modalities, or a dict name -> grid. Defaults to
            ``(14, 14)`` (224 / 16).
        num_visible (int | None): visible (encoded) tokens per sample over
            all modalities. Defaults to 98 (official: 1/6 of 3 x 196).
            ``None`` is allowed only when every modality has a fixed mask,
            and then means "as many as the fixed masks leave visible".
        alpha (float | Sequence[float] | dict): Dirichlet concentration,
            one for all or one per modality (list in ``modalities`` order or
            dict). Small alpha gives skewed, one-modality-dominant samples.
            Defaults to 1.0.
        sample_tasks_uniformly (bool): first draw a non-empty subset of the
            free modalities uniformly; the others get no visible token.
            Defaults to False (official default).
        fixed_masks (dict, optional): name -> fixed mask for cross-modal
            prediction; ``'all'`` (fully masked), ``'none'`` (fully
            visible), or a 0/1 / bool array of shape ``(H', W')`` or
            ``(N_d,)`` with 1/True = masked. Fixed modalities take no part
            in the Dirichlet draw; their visible tokens count towards
            ``num_visible``. E.g. ``dict(depth='all', semseg='all')`` keeps
            ``num_visible`` random rgb tokens and nothing else (RGB ->
            depth/semseg); ``dict(rgb='none', depth='all', semseg='all')``
            with ``num_visible=None`` encodes the full rgb image.
        absent (str): ``'error'`` or ``'mask'``, see above.
    """

    def __init__(self,
                 modalities: Sequence[str] = ('rgb', 'depth', 'semseg'),
                 grid: Union[GridType, Mapping[str, GridType]] = (14, 14),
                 num_visible: Optional[int] = 98,
                 alpha: Union[float, Sequence[float], Mapping[str,
                                                              float]] = 1.0,
                 sample_tasks_uniformly: bool = False,
                 fixed_masks: Optional[Mapping[str, object]] = None,
                 absent: str = 'error') -> None:
        if isinstance(modalities, str) or not modalities:
            raise ValueError('modalities must be a non-empty sequence of '
                             f'names, got {modalities!r}')
        self.modalities = tuple(str(m) for m in modalities)
        if len(set(self.modalities)) != len(self.modalities):
            raise ValueError(f'modalities has duplicates: {modalities!r}')

        # Token grids.
        if isinstance(grid, Mapping):
            unknown = set(grid) - set(self.modalities)
            missing = [m for m in self.modalities if m not in grid]
            if unknown or missing:
                raise ValueError(
                    f'grid dict must have exactly the keys {self.modalities}'
                    f'; unknown: {sorted(unknown)}, missing: {missing}')
            self.grid = {
                m: _as_hw(grid[m], f'grid[{m!r}]')
                for m in self.modalities
            }
        else:
            hw = _as_hw(grid, 'grid')
            self.grid = {m: hw for m in self.modalities}
        self.num_tokens = {m: h * w for m, (h, w) in self.grid.items()}

        # Dirichlet concentrations.
        if isinstance(alpha, Mapping):
            missing = [m for m in self.modalities if m not in alpha]
            unknown = set(alpha) - set(self.modalities)
            if missing or unknown:
                raise ValueError(
                    f'alpha dict must have exactly the keys {self.modalities}'
                    f'; unknown: {sorted(unknown)}, missing: {missing}')
            alphas = [alpha[m] for m in self.modalities]
        elif isinstance(alpha, (int, float, np.number)):
            alphas = [alpha] * len(self.modalities)
        else:
            alphas = list(alpha)
            if len(alphas) != len(self.modalities):
                raise ValueError(
                    f'alpha has {len(alphas)} values but there are '
                    f'{len(self.modalities)} modalities {self.modalities}')
        alphas = [float(a) for a in alphas]
        if not all(a > 0 and math.isfinite(a) for a in alphas):
            raise ValueError(f'alpha must be positive and finite, got {alpha}')
        self.alpha = dict(zip(self.modalities, alphas))
        self.sample_tasks_uniformly = bool(sample_tasks_uniformly)

        if absent not in ('error', 'mask'):
            raise ValueError(f"absent must be 'error' or 'mask', got "
                             f'{absent!r}')
        self.absent = absent

        # Fixed masks.
        self.fixed_masks: Dict[str, np.ndarray] = {}
        for name, spec in (fixed_masks or {}).items():
            if name not in self.modalities:
                raise ValueError(
                    f'fixed_masks names {name!r}, which is not one of the '
                    f'modalities {self.modalities}')
            self.fixed_masks[name] = self._parse_fixed(name, spec)
        self.free = tuple(m for m in self.modalities
                          if m not in self.fixed_masks)
        fixed_visible = sum(int((~v).sum()) for v in self.fixed_masks.values())

        if num_visible is None:
            if self.free:
                raise ValueError(
                    'num_visible=None is only allowed when every modality '
                    f'has a fixed mask; {list(self.free)} have none')
            num_visible = fixed_visible
        if isinstance(num_visible,
                      bool) or not isinstance(num_visible, (int, np.integer)):
            raise ValueError(f'num_visible must be an int, got '
                             f'{num_visible!r}')
        self.num_visible = int(num_visible)
        budget = self.num_visible - fixed_visible
        capacity = sum(self.num_tokens[m] for m in self.free)
        if self.num_visible < 1 or not 0 <= budget <= capacity:
            raise ValueError(
                f'num_visible={num_visible} cannot be met: the fixed masks '
                f'leave {fixed_visible} tokens visible and the free '
                f'modalities {list(self.free)} have {capacity} tokens, so '
                f'num_visible must be in [{max(1, fixed_visible)}, '
                f'{fixed_visible + capacity}]')
        self.free_budget = budget

    # ---------------------------------------------------------------- helpers
    def _parse_fixed(self, name: str, spec: object) -> np.ndarray:
        """A fixed-mask spec -> ``(N_d,)`` bool, True = masked."""
        n = self.num_tokens[name]
        if isinstance(spec, str):
            if spec == 'all':
                return np.ones(n, dtype=bool)
            if spec == 'none':
                return np.zeros(n, dtype=bool)
            raise ValueError(f"fixed_masks[{name!r}] must be 'all', 'none' "
                             f'or an array, got {spec!r}')
        arr = np.asarray(spec)
        if arr.shape not in (self.grid[name], (n, )):
            raise ValueError(
                f'fixed_masks[{name!r}] has shape {arr.shape}; expected the '
                f'token grid {self.grid[name]} or ({n},)')
        if arr.dtype != bool:
            if not np.isin(arr, (0, 1)).all():
                raise ValueError(f'fixed_masks[{name!r}] must hold only 0/1 '
                                 '(1 = masked) or bools')
            arr = arr.astype(bool)
        return arr.reshape(-1).copy()

    def sample_counts(self, free: Sequence[str], budget: int) -> List[int]:
        """Draw visible-token counts for the ``free`` modalities.

        Args:
            free (Sequence[str]): modalities sharing the budget.
            budget (int): visible tokens to distribute exactly.

        Returns:
            list[int]: one count per entry of ``free``; they sum to
            ``budget`` and each is within +-1 of ``round(share * budget)``
            unless a modality's token count caps it.
        """
        k = len(free)
        caps = np.array([self.num_tokens[m] for m in free])
        if k == 0 or budget == 0:
            return [0] * k
        chosen = np.ones(k, dtype=bool)
        if self.sample_tasks_uniformly and k > 1:
            # Uniform over the 2^k - 1 non-empty subsets.
            code = np.random.randint(1, 2**k)
            chosen = np.array([(code >> i) & 1 for i in range(k)], dtype=bool)
        alphas = np.array([self.alpha[m] for m in free])
        shares = np.zeros(k)
        shares[chosen] = np.random.dirichlet(alphas[chosen])
        counts = np.minimum(np.round(shares * budget).astype(np.int64), caps)
        # Fix the rounding error; each modality moves at most once per pass,
        # chosen ones first; further passes only when caps force them.
        for pool in (chosen, np.ones(k, dtype=bool)):
            while True:
                diff = budget - int(counts.sum())
                if diff == 0:
                    return counts.tolist()
                step = 1 if diff > 0 else -1
                room = (caps - counts) if step > 0 else counts
                weights = np.where(pool, room, 0).astype(np.float64)
                num = min(abs(diff), int((weights > 0).sum()))
                if num == 0:
                    break
                picks = np.random.choice(k,
                                         size=num,
                                         replace=False,
                                         p=weights / weights.sum())
                counts[picks] += step
        raise AssertionError('unreachable: budget checked in __init__')

    def generate(self, absent: Sequence[str] = ()) -> Dict[str, np.ndarray]:
        """Draw the masks of one sample.

        Args:
            absent (Sequence[str]): modalities to mask entirely (only with
                ``absent='mask'``).

        Returns:
            dict[str, np.ndarray]: ``(N_d,)`` bool per modality, True =
            masked.
        """
        fixed = dict(self.fixed_masks)
        for m in absent:
            fixed[m] = np.ones(self.num_tokens[m], dtype=bool)
        free = [m for m in self.modalities if m not in fixed]
        budget = self.num_visible - sum(
            int((~v).sum()) for v in fixed.values())
        capacity = sum(self.num_tokens[m] for m in free)
        if not 0 <= budget <= capacity:
            raise ValueError(
                f'cannot place num_visible={self.num_visible} tokens: '
                f'modalities {list(free)} have only {capacity} tokens '
                f'(absent: {list(absent)})')
        counts = dict(zip(free, self.sample_counts(free, budget)))
        masks = {}
        for m in self.modalities:
            if m in fixed:
                masks[m] = fixed[m].copy()
                continue
            n = self.num_tokens[m]
            mask = np.ones(n, dtype=bool)
            mask[np.random.permutation(n)[:counts[m]]] = False
            masks[m] = mask
        return masks

    def transform(self, results: dict) -> dict:
        """Add ``results['masks']``."""
        absent: List[str] = []
        images = results.get('images')
        if images is not None:
            absent = [m for m in self.modalities if m not in images]
            if absent and self.absent == 'error':
                raise KeyError(
                    f'MultiModalMaskGenerator: modalities {absent} are not in '
                    f'this sample (it has {sorted(images)}; '
                    f'{results.get("img_path")}). Make the dataset and the '
                    "mask generator `modalities` agree, or set absent='mask' "
                    'to mask a missing modality entirely')
        results['masks'] = self.generate(absent)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(modalities={self.modalities}, '
                f'grid={self.grid}, num_visible={self.num_visible}, '
                f'alpha={self.alpha}, sample_tasks_uniformly='
                f'{self.sample_tasks_uniformly}, fixed_masks='
                f'{sorted(self.fixed_masks)}, absent={self.absent!r})')
