# Copyright (c) mmmae contributors. All rights reserved.
import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmengine.structures import BaseDataElement

from mmmae.datasets.transforms import (MultiModalMaskGenerator,
                                       MultiModalTubeMaskGenerator)
from mmmae.models.algorithms.multimae import MultiMAE

MODS = ('rgb', 'depth', 'semseg')
T = 4


def visible(masks):
    return np.array([(~masks[m]).sum() for m in MODS])


def slots(mask, grid):
    """``(T' * H' * W',)`` -> ``(T', H' * W')``."""
    return mask.reshape(grid[0], -1)


def test_exact_budget_and_tube_structure():
    grids = dict(rgb=(T, 6, 6), depth=(T, 4, 5), semseg=(T, 3, 3))
    gen = MultiModalTubeMaskGenerator(grid=grids, num_visible=T * 15)
    np.random.seed(0)
    seen = set()
    for _ in range(300):
        masks = gen({})['masks']
        assert list(masks) == list(MODS)
        for m in MODS:
            assert masks[m].dtype == np.bool_
            assert masks[m].shape == (int(np.prod(grids[m])), )
            per_slot = slots(masks[m], grids[m])
            # Token order (t, h, w): every slot repeats slot 0's pattern.
            assert (per_slot == per_slot[:1]).all()
        counts = visible(masks)
        assert counts.sum() == T * 15 and (counts % T == 0).all()
        seen.add(tuple(counts))
    assert len(seen) > 20  # the split changes between samples


@pytest.mark.parametrize('kwargs', [
    dict(),
    dict(alpha=[4.0, 1.0, 0.5], num_visible=7),
    dict(sample_tasks_uniformly=True, num_visible=13),
    dict(fixed_masks=dict(semseg='all'), num_visible=20),
])
def test_same_draws_as_image_generator(kwargs):
    """Same RNG state -> the tube masks repeat the image generator's
    masks, so shares, subset sampling and the exact-budget rounding are the
    image generator's own."""
    image_kwargs = dict(dict(grid=(5, 6), num_visible=10), **kwargs)
    video_kwargs = dict(image_kwargs,
                        grid=(T, 5, 6),
                        num_visible=T * image_kwargs['num_visible'])
    image = MultiModalMaskGenerator(**image_kwargs)
    video = MultiModalTubeMaskGenerator(**video_kwargs)
    np.random.seed(1)
    want = [image({})['masks'] for _ in range(100)]
    np.random.seed(1)
    got = [video({})['masks'] for _ in range(100)]
    for w, g in zip(want, got):
        for m in MODS:
            np.testing.assert_array_equal(g[m], np.tile(w[m], T))


def test_fixed_masks():
    spatial = np.zeros((3, 4), dtype=int)
    spatial[0] = 1
    full = np.tile(spatial, (T, 1, 1))
    gen = MultiModalTubeMaskGenerator(grid=(T, 3, 4),
                                      num_visible=T * 10,
                                      fixed_masks=dict(rgb=spatial,
                                                       depth='all'))
    np.random.seed(2)
    for _ in range(50):
        masks = gen({})['masks']
        np.testing.assert_array_equal(masks['rgb'],
                                      full.reshape(-1).astype(bool))
        assert masks['depth'].all()
        # 8 of the 10 visible cells per slot are rgb's fixed ones.
        assert (~masks['semseg']).sum() == T * 2
    # Full-grid tube arrays and 'none': all fixed, num_visible=None.
    gen = MultiModalTubeMaskGenerator(grid=(T, 3, 4),
                                      num_visible=None,
                                      fixed_masks=dict(rgb='none',
                                                       depth=full,
                                                       semseg=full.ravel()))
    masks = gen({})['masks']
    assert gen.num_visible == T * 28 and visible(masks).sum() == T * 28
    assert not masks['rgb'].any()
    np.testing.assert_array_equal(masks['depth'], masks['semseg'])

    broken = full.copy()
    broken[2, 1, 1] = 1
    with pytest.raises(ValueError, match='not a tube mask: temporal slot 2'):
        MultiModalTubeMaskGenerator(grid=(T, 3, 4),
                                    num_visible=T * 4,
                                    fixed_masks=dict(rgb=broken))
    with pytest.raises(ValueError, match=r'full grid \(4, 3, 4\)'):
        MultiModalTubeMaskGenerator(grid=(T, 3, 4),
                                    num_visible=T * 4,
                                    fixed_masks=dict(rgb=np.zeros((2, 3, 4))))
    with pytest.raises(ValueError, match='only 0/1'):
        MultiModalTubeMaskGenerator(grid=(T, 3, 4),
                                    num_visible=T * 4,
                                    fixed_masks=dict(rgb=spatial * 2))


def test_absent_modalities():
    frames = np.zeros((T * 2, 8, 8, 3), np.uint8)
    sample = dict(images=dict(rgb=frames, semseg=frames[..., 0]),
                  filename='clip_7.mp4')
    strict = MultiModalTubeMaskGenerator(grid=(T, 4, 4), num_visible=T * 8)
    with pytest.raises(KeyError, match=r"\['depth'\].*clip_7.mp4"):
        strict(dict(sample))
    lenient = MultiModalTubeMaskGenerator(grid=(T, 4, 4),
                                          num_visible=T * 8,
                                          absent='mask')
    np.random.seed(3)
    for _ in range(50):
        masks = lenient(dict(sample))['masks']
        assert masks['depth'].all() and visible(masks).sum() == T * 8


def test_decoder_masks_running_cell_per_slot():
    grids = dict(rgb=(8, 4, 6), depth=(8, 4, 6), semseg=(8, 3, 5))
    for ratio, dropped in ((0.5, 2), (0.75, 3)):
        gen = MultiModalTubeMaskGenerator(grid=grids,
                                          num_visible=8 * 12,
                                          decoder_mask_ratio=ratio)
        np.random.seed(4)
        phases = set()
        for _ in range(20):
            out = gen({})
            assert list(out['decoder_masks']) == list(MODS)
            for m in MODS:
                t, h, w = grids[m]
                dec = out['decoder_masks'][m]
                assert dec.dtype == np.bool_ and dec.shape == (t * h * w, )
                dec = dec.reshape(t, h, w)
                # Every full 2x2 cell of every slot drops int(4 * ratio).
                cells = dec[:, :h // 2 * 2, :w // 2 * 2].reshape(
                    t, h // 2, 2, w // 2, 2).sum((2, 4))
                assert (cells == dropped).all()
                # The cell runs: 4 consecutive slots decode every position.
                for t0 in range(t - 3):
                    assert (~dec[t0:t0 + 4]).any(0).all()
                assert (dec[1:] != dec[:-1]).any((1, 2)).all()
            phases.add(out['decoder_masks']['rgb'][:4].tobytes())
        assert len(phases) > 1  # the phase is drawn per sample
    off = MultiModalTubeMaskGenerator(grid=(T, 4, 4), num_visible=T * 8)
    assert 'decoder_masks' not in off({})
    with pytest.raises(ValueError, match='1 to 3 dropped positions'):
        MultiModalTubeMaskGenerator(grid=(T, 4, 4),
                                    num_visible=T * 8,
                                    decoder_mask_ratio=0.1)


def test_modality_dropout_rate_and_budget():
    # A large alpha keeps every Dirichlet share well above 0, so a fully
    # masked modality can only come from the dropout.
    gen = MultiModalTubeMaskGenerator(grid=(T, 6, 6),
                                      num_visible=T * 30,
                                      alpha=30.0,
                                      modality_dropout=0.3)
    np.random.seed(5)
    dropped = []
    for _ in range(1000):
        masks = gen({})['masks']
        assert visible(masks).sum() == T * 30
        full = [m for m in MODS if masks[m].all()]
        assert len(full) <= 1
        dropped.extend(full)
    rate = len(dropped) / 1000
    assert abs(rate - 0.3) < 0.06, rate
    # The dropped modality is uniform over the three.
    counts = np.array([dropped.count(m) for m in MODS])
    assert counts.min() > 0.2 * len(dropped), counts

    # Always drop; with depth absent only rgb or semseg can go, never both.
    always = MultiModalTubeMaskGenerator(grid=(T, 6, 6),
                                         num_visible=T * 30,
                                         absent='mask',
                                         modality_dropout=1.0)
    sample = dict(images=dict(rgb=0, semseg=0))
    for _ in range(100):
        masks = always(dict(sample))['masks']
        assert masks['depth'].all() and visible(masks).sum() == T * 30
        assert masks['rgb'].all() != masks['semseg'].all()
    # An absent fixed 'none' modality hands its 4 cells to the free ones;
    # then neither can be dropped (4 cells cannot hold 6), so none is.
    tight = MultiModalTubeMaskGenerator(grid=(T, 2, 2),
                                        num_visible=T * 6,
                                        fixed_masks=dict(rgb='none'),
                                        absent='mask',
                                        modality_dropout=1.0)
    masks = tight(dict(images=dict(depth=0, semseg=0)))['masks']
    counts = visible(masks)
    assert masks['rgb'].all() and counts.sum() == T * 6 and counts[1:].all()

    with pytest.raises(ValueError, match='at least two modalities'):
        MultiModalTubeMaskGenerator(grid=(T, 6, 6),
                                    num_visible=T * 10,
                                    fixed_masks=dict(rgb='all', depth='all'),
                                    modality_dropout=0.5)
    with pytest.raises(ValueError, match="without 'rgb'.*fewer than"):
        MultiModalTubeMaskGenerator(grid=(T, 6, 6),
                                    num_visible=T * 80,
                                    modality_dropout=0.5)
    with pytest.raises(ValueError, match=r'probability in \[0, 1\]'):
        MultiModalTubeMaskGenerator(modality_dropout=1.5)


def test_per_sample_seed_and_batching():
    init_default_scope('mmmae')
    pipeline = Compose([
        dict(type='PerSampleSeed', seed=7),
        dict(type='MultiModalTubeMaskGenerator',
             grid=(T, 4, 4),
             num_visible=T * 8,
             decoder_mask_ratio=0.5,
             modality_dropout=0.2)
    ])
    first = [pipeline(dict(sample_idx=i)) for i in range(4)]
    np.random.rand(17)  # other draws in between change nothing
    again = [pipeline(dict(sample_idx=i)) for i in reversed(range(4))][::-1]
    for a, b in zip(first, again):
        for key in ('masks', 'decoder_masks'):
            for m in MODS:
                np.testing.assert_array_equal(a[key][m], b[key][m])
    assert len({first[i]['masks']['rgb'].tobytes() for i in range(4)}) > 1

    # The masks batch as the image generator's do.
    samples = [
        BaseDataElement(masks={m: torch.as_tensor(r['masks'][m])
                               for m in MODS}) for r in first
    ]
    inputs = dict(rgb=torch.zeros(4, 3, 2 * T, 32, 32))
    stacked, num_visible = MultiMAE.stack_masks(inputs, samples)
    assert num_visible == T * 8
    assert stacked['depth'].shape == (4, T * 16)


def test_clear_errors():
    with pytest.raises(ValueError, match="not a multiple of T'=4.*12 or 16"):
        MultiModalTubeMaskGenerator(grid=(T, 4, 4), num_visible=14)
    with pytest.raises(ValueError, match="same number of temporal slots"):
        MultiModalTubeMaskGenerator(grid=dict(rgb=(4, 4, 4),
                                              depth=(2, 4, 4),
                                              semseg=(4, 4, 4)),
                                    num_visible=8)
    with pytest.raises(ValueError, match=r"grid must be the token grid"):
        MultiModalTubeMaskGenerator(grid=(4, 4), num_visible=8)
    with pytest.raises(ValueError, match=r"missing: \['semseg'\]"):
        MultiModalTubeMaskGenerator(grid=dict(rgb=(4, 4, 4),
                                              depth=(4, 4, 4)))
    with pytest.raises(ValueError,
                       match=r'num_visible=400 tokens are 100 visible cells'
                       r'.*must be in \[1, 48\]'):
        MultiModalTubeMaskGenerator(grid=(T, 4, 4), num_visible=400)
    with pytest.raises(ValueError, match='must be an int'):
        MultiModalTubeMaskGenerator(grid=(T, 4, 4), num_visible=8.0)
    with pytest.raises(ValueError, match='decoder_mask_ratio must be'):
        MultiModalTubeMaskGenerator(decoder_mask_ratio='0.5')
