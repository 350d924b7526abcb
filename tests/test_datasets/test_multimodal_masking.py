# Copyright (c) mmmae contributors. All rights reserved.
import numpy as np
import pytest
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from mmmae.datasets.transforms import MultiModalMaskGenerator

MODS = ('rgb', 'depth', 'semseg')


def visible(masks):
    return np.array([(~masks[m]).sum() for m in MODS])


def draw(gen, n):
    return np.stack([visible(gen({})['masks']) for _ in range(n)])


def test_exact_budget_and_format():
    np.random.seed(0)
    gen = MultiModalMaskGenerator()
    for _ in range(300):
        masks = gen({})['masks']
        assert list(masks) == list(MODS)
        for m in MODS:
            assert masks[m].dtype == np.bool_ and masks[m].shape == (196, )
        assert visible(masks).sum() == 98


def test_shares_vary_and_alpha_skews():
    np.random.seed(1)
    counts = draw(MultiModalMaskGenerator(), 400)
    assert (counts.sum(1) == 98).all()
    # Dirichlet(1,1,1): shares differ between samples, mean ~ 1/3 each.
    assert len({tuple(c) for c in counts}) > 300
    np.testing.assert_allclose(counts.mean(0) / 98, [1 / 3] * 3, atol=0.05)
    # Small alpha: one modality dominates most samples.
    skewed = draw(MultiModalMaskGenerator(alpha=0.05), 400)
    assert (skewed.sum(1) == 98).all()
    assert (skewed.max(1) >= 90).mean() > 0.7
    assert (counts.max(1) >= 90).mean() < 0.1
    # Per-modality alpha (list or dict) biases the split.
    biased = draw(MultiModalMaskGenerator(alpha=[10.0, 1.0, 1.0]), 200)
    assert biased[:, 0].mean() > 2.5 * biased[:, 1].mean()
    same = draw(MultiModalMaskGenerator(alpha=dict(rgb=1, depth=10, semseg=1)),
                200)
    assert same[:, 1].mean() > 2.5 * same[:, 0].mean()


def test_rounding_fixup_within_one():
    """Counts stay within +-1 of round(share * budget) for the shares drawn
    with the same RNG state (monkeypatched Dirichlet records them)."""
    gen = MultiModalMaskGenerator(modalities=tuple('abcde'),
                                  grid=(3, 3),
                                  num_visible=13)
    np.random.seed(2)
    real = np.random.dirichlet
    shares = []

    def record(alpha):
        out = real(alpha)
        shares.append(out)
        return out

    try:
        np.random.dirichlet = record
        for _ in range(300):
            masks = gen({})['masks']
            got = np.array([(~masks[m]).sum() for m in 'abcde'])
            assert got.sum() == 13
            assert (got <= 9).all()
            want = np.minimum(np.round(shares[-1] * 13), 9)
            # Caps (9 tokens) can push further only when a share exceeds
            # 9/13; otherwise +-1.
            if (shares[-1] * 13 < 9).all():
                assert np.abs(got - want).max() <= 1
    finally:
        np.random.dirichlet = real


def test_sample_tasks_uniformly_zeroes_modalities():
    np.random.seed(3)
    gen = MultiModalMaskGenerator(sample_tasks_uniformly=True)
    counts = draw(gen, 700)
    assert (counts.sum(1) == 98).all()
    used = counts > 0
    # All 7 non-empty subsets occur, roughly uniformly (1/7 = 0.143 each).
    patterns, freq = np.unique(used, axis=0, return_counts=True)
    assert len(patterns) == 7
    assert freq.min() / len(counts) > 0.08
    # Single-modality samples get the whole budget.
    single = used.sum(1) == 1
    assert single.any() and (counts[single].max(1) == 98).all()


def test_fixed_masks():
    np.random.seed(4)
    # RGB -> depth/semseg: only rgb visible.
    gen = MultiModalMaskGenerator(fixed_masks=dict(depth='all', semseg='all'))
    for _ in range(20):
        masks = gen({})['masks']
        assert masks['depth'].all() and masks['semseg'].all()
        assert (~masks['rgb']).sum() == 98
    # Full rgb encoded.
    gen = MultiModalMaskGenerator(fixed_masks=dict(rgb='none',
                                                   depth='all',
                                                   semseg='all'),
                                  num_visible=None)
    masks = gen({})['masks']
    assert not masks['rgb'].any() and gen.num_visible == 196
    # A hand-drawn grid mask (1 = masked): 10 visible depth tokens, the
    # rest of the budget shared by rgb and semseg.
    hand = np.ones((14, 14), dtype=int)
    hand[2:4, 3:8] = 0
    gen = MultiModalMaskGenerator(fixed_masks=dict(depth=hand))
    for _ in range(50):
        masks = gen({})['masks']
        np.testing.assert_array_equal(masks['depth'],
                                      hand.reshape(-1).astype(bool))
        assert visible(masks).sum() == 98
    # Flat bool array works too.
    gen = MultiModalMaskGenerator(fixed_masks=dict(
        semseg=hand.reshape(-1).astype(bool)))
    assert (~gen({})['masks']['semseg']).sum() == 10


def test_batch_of_four_exact_budget():
    """Every sample of a batch has the same visible count (no official
    batch-size bug), with and without user fixed masks."""
    init_default_scope('mmmae')
    hand = np.ones((2, 2), dtype=bool)
    hand[0, 0] = False
    for fixed in (None, dict(depth='all'), dict(semseg=hand)):
        pipe = Compose([
            dict(type='MultiModalMaskGenerator',
                 grid=(2, 2),
                 num_visible=5,
                 fixed_masks=fixed)
        ])
        batch = [pipe({})['masks'] for _ in range(4)]
        for masks in batch:
            assert visible(masks).sum() == 5
            if fixed and 'depth' in fixed:
                assert masks['depth'].all()
            if fixed and 'semseg' in fixed:
                np.testing.assert_array_equal(masks['semseg'],
                                              hand.reshape(-1))


def test_per_modality_grid():
    gen = MultiModalMaskGenerator(modalities=('rgb', 'depth'),
                                  grid=dict(rgb=(4, 6), depth=3),
                                  num_visible=7)
    masks = gen({})['masks']
    assert masks['rgb'].shape == (24, ) and masks['depth'].shape == (9, )
    assert sum((~v).sum() for v in masks.values()) == 7


def test_reproducible_with_global_seed():
    gen = MultiModalMaskGenerator()
    np.random.seed(5)
    a = [gen({})['masks'] for _ in range(3)]
    np.random.seed(5)
    b = [gen({})['masks'] for _ in range(3)]
    for x, y in zip(a, b):
        for m in MODS:
            np.testing.assert_array_equal(x[m], y[m])


def test_absent_modality_policy():
    gen = MultiModalMaskGenerator(grid=(2, 2), num_visible=4)
    results = dict(images=dict(rgb=0, semseg=0), img_path='x')
    with pytest.raises(KeyError, match=r"\['depth'\]"):
        gen(dict(results))
    gen = MultiModalMaskGenerator(grid=(2, 2), num_visible=4, absent='mask')
    np.random.seed(6)
    for _ in range(20):
        masks = gen(dict(results))['masks']
        assert masks['depth'].all()
        assert (~masks['rgb']).sum() + (~masks['semseg']).sum() == 4


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_visible=0), 'num_visible'),
    (dict(num_visible=589), 'num_visible'),
    (dict(num_visible=None), 'num_visible'),
    (dict(num_visible=98.0), 'num_visible'),
    (dict(alpha=0.0), 'alpha'),
    (dict(alpha=[1.0, 1.0]), 'alpha'),
    (dict(alpha=dict(rgb=1.0)), 'alpha'),
    (dict(grid=(14, )), 'grid'),
    (dict(grid=dict(rgb=14)), 'grid'),
    (dict(modalities='rgb'), 'modalities'),
    (dict(fixed_masks=dict(normal='all')), 'fixed_masks'),
    (dict(fixed_masks=dict(depth='some')), 'fixed_masks'),
    (dict(fixed_masks=dict(depth=np.zeros((13, 14)))), 'fixed_masks'),
    (dict(fixed_masks=dict(depth=np.full((14, 14), 2))), 'fixed_masks'),
    (dict(fixed_masks=dict(rgb='none')), 'num_visible'),
    (dict(absent='skip'), 'absent'),
])
def test_validation_names_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MultiModalMaskGenerator(**kwargs)
