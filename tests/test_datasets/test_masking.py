# Copyright (c) mmmae contributors. All rights reserved.
import numpy as np
import pytest
from mmcv.transforms import Compose
from mmengine.registry import init_default_scope

from mmmae.datasets.transforms import (RandomMaskGenerator,
                                       RunningCellMaskGenerator,
                                       TubeMaskGenerator)
from mmmae.registry import TRANSFORMS


def test_tube_counts_and_structure():
    gen = TubeMaskGenerator(input_size=(8, 14, 14), mask_ratio=0.9)
    np.random.seed(1)
    mask = gen({})['mask']
    assert mask.shape == (1568, ) and mask.dtype == np.bool_
    # int(0.9 * 196) = 176 per slice (floor) -> 1408 masked, 160 visible.
    assert mask.sum() == 1408 and (~mask).sum() == 160
    grid = mask.reshape(8, 196)
    assert (grid == grid[0]).all()  # one spatial pattern for every slice
    assert gen.num_masked == 1408
    # 0.75 on 196: 147 masked per slice, 49 visible.
    mask = TubeMaskGenerator((8, 14, 14), 0.75)({})['mask']
    assert (~mask).sum() == 8 * 49
    # Different samples get different masks.
    masks = np.stack([gen({})['mask'] for _ in range(4)])
    assert len({m.tobytes() for m in masks}) == 4


def test_random_mask_counts():
    gen = RandomMaskGenerator(input_size=(2, 4, 4), mask_ratio=0.75)
    np.random.seed(0)
    masks = np.stack([gen({})['mask'] for _ in range(50)])
    assert masks.shape == (50, 32) and masks.dtype == np.bool_
    assert (masks.sum(1) == 24).all()
    # Not a tube: slice 0 and slice 1 differ for most samples.
    grid = masks.reshape(50, 2, 16)
    assert (grid[:, 0] != grid[:, 1]).any(1).mean() > 0.5
    # Every position gets masked sometimes.
    assert masks.any(0).all()
    assert RandomMaskGenerator(4, 0.5)({})['mask'].shape == (64, )


def test_running_cell_patterns():
    gen = RunningCellMaskGenerator(input_size=(4, 4, 6), mask_ratio=0.5)
    assert gen.all_mask_maps.shape == (4, 96)
    np.random.seed(0)
    for _ in range(8):
        dmask = gen({})['decoder_mask']
        assert dmask.shape == (96, ) and dmask.dtype == np.bool_
        grid = dmask.reshape(4, 4, 6)
        assert dmask.sum() == 48  # 2 of 4 per 2x2 cell in every slice
        # Each slice is one 2x2 cell tiled over the grid.
        cell = grid[:, :2, :2]
        assert (grid == np.tile(cell, (1, 2, 3))).all()
        # The cell pattern rolls by one position per slice (row-major).
        flat = cell.reshape(4, 4)
        for t in range(3):
            assert (flat[t + 1] == np.roll(flat[t], -1)).all()
        # Over 4 consecutive slices every position is decoded twice.
        assert (flat.sum(0) == 2).all()
    # The 4 phases are the 4 rotations of the cell queue [1, 1, 0, 0].
    firsts = {
        tuple(m.reshape(4, 24)[0, [0, 1, 6, 7]])
        for m in gen.all_mask_maps
    }
    assert firsts == {(1, 1, 0, 0), (1, 0, 0, 1), (0, 0, 1, 1), (0, 1, 1, 0)}
    # 0.25 and 0.75 keep 3 and 1 of 4.
    assert RunningCellMaskGenerator((2, 2, 2), 0.25).generate().sum() == 2
    assert RunningCellMaskGenerator((2, 2, 2), 0.75).generate().sum() == 6
    # Odd grids crop the tiling instead of failing.
    assert RunningCellMaskGenerator((2, 3, 5), 0.5).generate().shape == (30, )
    with pytest.raises(ValueError, match='mask_ratio'):
        RunningCellMaskGenerator((2, 4, 4), 0.1)


def test_running_cell_ratio_zero_is_complement():
    tube = TubeMaskGenerator((2, 4, 4), 0.75)
    cell = RunningCellMaskGenerator((2, 4, 4), 0.0)
    state = np.random.get_state()
    out = cell(tube({}))
    assert (out['decoder_mask'] == ~out['mask']).all()
    # No random number was drawn for the decoder mask.
    np.random.set_state(state)
    assert (tube({})['mask'] == out['mask']).all()
    with pytest.raises(KeyError, match='mask'):
        cell({})


def test_v1_fixture_reproduction():
    from conftest import load_fixture
    fx = load_fixture('videomae_v1_pretrain_tiny.pth')
    expected = fx['mask'].numpy()
    gen = TubeMaskGenerator(input_size=(8, 4, 4), mask_ratio=0.75)
    np.random.seed(0)
    masks = np.stack([gen({})['mask'] for _ in range(len(expected))])
    np.testing.assert_array_equal(masks, expected)


def test_v2_fixture_reproduction():
    """Official order: encoder mask then decoder mask for each sample."""
    from conftest import load_fixture
    fx = load_fixture('videomae_v2_pretrain_tiny.pth')
    init_default_scope('mmmae')
    pipeline = Compose([
        dict(type='TubeMaskGenerator', input_size=(2, 4, 4), mask_ratio=0.75),
        dict(type='RunningCellMaskGenerator',
             input_size=(2, 4, 4),
             mask_ratio=0.5),
    ])
    np.random.seed(0)
    outs = [pipeline({}) for _ in range(len(fx['mask']))]
    np.testing.assert_array_equal(np.stack([o['mask'] for o in outs]),
                                  fx['mask'].numpy())
    np.testing.assert_array_equal(np.stack([o['decoder_mask'] for o in outs]),
                                  fx['decode_mask'].numpy())
    # 16 decoded tokens per sample, as in the fixture.
    assert all((~o['decoder_mask']).sum() == 16 for o in outs)


@pytest.mark.parametrize('cls,key',
                         [(TubeMaskGenerator, 'mask'),
                          (RandomMaskGenerator, 'mask'),
                          (RunningCellMaskGenerator, 'decoder_mask')])
def test_num_clips_gives_one_mask_per_view(cls, key):
    gen = cls(input_size=(2, 4, 4), mask_ratio=0.5)
    np.random.seed(3)
    masks = gen({'num_clips': 5})[key]
    assert masks.shape == (5, 32) and masks.dtype == np.bool_
    assert (masks.sum(1) == masks[0].sum()).all()  # equal counts per view
    if cls is not RunningCellMaskGenerator:  # only 4 possible cell masks
        assert len({m.tobytes() for m in masks}) == 5
    # Same draws as five single-view calls.
    np.random.seed(3)
    singles = np.stack([gen({'num_clips': 1})[key] for _ in range(5)])
    np.testing.assert_array_equal(masks, singles)
    # Ratio 0 complement follows the encoder mask's shape.
    enc = TubeMaskGenerator((2, 4, 4), 0.75)({'num_clips': 3})
    out = RunningCellMaskGenerator((2, 4, 4), 0)(enc)
    assert out['decoder_mask'].shape == (3, 32)


def test_build_and_repr():
    init_default_scope('mmmae')
    for cfg in (dict(type='TubeMaskGenerator'),
                dict(type='mmmae.RandomMaskGenerator',
                     input_size=(8, 14, 14),
                     mask_ratio=0.9),
                dict(type='RunningCellMaskGenerator', input_size=(8, 14, 14))):
        gen = TRANSFORMS.build(cfg)
        text = repr(gen)
        assert text.startswith(type(gen).__name__ + '(')
        assert 'input_size=(8, 14, 14)' in text and 'mask_ratio=' in text
    with pytest.raises(ValueError):
        TubeMaskGenerator((8, 14), 0.9)
    with pytest.raises(ValueError):
        TubeMaskGenerator((8, 14, 14), 1.0)
