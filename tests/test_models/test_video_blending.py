# Copyright (c) mmmae contributors. All rights reserved.
"""mmaction2's mixup / cutmix / random erasing, checked against the official
VideoMAE fine-tuning recipe (mixup 0.8, cutmix 1.0, switch prob 0.5, label
smoothing 0.1, cube random erasing in 'pixel' mode)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmaction.models import CutmixBlending, MixupBlending
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.registry import DefaultScope

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]
N, C, T, H, W = 4, 3, 8, 32, 32
SHAPES = [(N, 1, C, T, H, W), (N, C, T, H, W)]


@pytest.fixture(autouse=True, scope='module')
def one_torch_thread():
    """Tiny tensors: intra-op threads only add overhead (a lot of it on a
    busy 2-core machine)."""
    num = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(num)


@pytest.fixture(autouse=True)
def mmaction_scope():
    """Plain MMAction2 type names, whatever scope an earlier test left."""
    with DefaultScope.overwrite_default_scope('mmaction'):
        yield


def const_batch(shape):
    """Sample ``i`` filled with ``i + 1`` everywhere."""
    return torch.arange(1., shape[0] + 1).view(-1, *[1] * (len(shape) - 1)) \
        .expand(shape).clone()


def spatial_mask(changed):
    """``changed`` ``(..., H, W)`` -> the ``(H, W)`` mask if it is the same
    for every leading index (channel, frame), else ``None``."""
    flat = changed.reshape(-1, *changed.shape[-2:])
    return flat[0] if bool((flat == flat[0]).all()) else None


def box_of(mask):
    """``(y1, y2, x1, x2)`` if ``mask`` is one axis-aligned filled
    rectangle (possibly empty), else ``None``."""
    if not mask.any():
        return (0, 0, 0, 0)
    rows = mask.any(1).nonzero().flatten()
    cols = mask.any(0).nonzero().flatten()
    y1, y2 = int(rows[0]), int(rows[-1]) + 1
    x1, x2 = int(cols[0]), int(cols[-1]) + 1
    rect = torch.zeros_like(mask)
    rect[y1:y2, x1:x2] = True
    return (y1, y2, x1, x2) if torch.equal(rect, mask) else None


def check_cutmix(x, out, soft):
    """Every sample of a cutmixed ``const_batch``: one box shared over the
    batch, intact over channels and time, and label weight of the pasted
    sample = box area / (H * W)."""
    boxes = set()
    n, k = soft.shape
    for i in range(n):
        changed = out[i] != x[i]
        mask = spatial_mask(changed)
        assert mask is not None, 'box differs between frames or channels'
        box = box_of(mask)
        assert box is not None, 'changed pixels are not one rectangle'
        own = F.one_hot(torch.tensor(i), k).float()
        if mask.any():
            src = out[i][changed].unique()
            assert src.numel() == 1  # pasted from one other sample
            j = int(src.item()) - 1
            assert j != i
            boxes.add(box)
            area = (box[1] - box[0]) * (box[3] - box[2])
            lam = 1 - area / (out.shape[-2] * out.shape[-1])
            ref = lam * own + (1 - lam) * F.one_hot(torch.tensor(j), k)
        else:  # empty box, or sample paired with itself by randperm
            ref = own
        torch.testing.assert_close(soft[i], ref)
    assert len(boxes) <= 1
    return boxes


@pytest.mark.parametrize('shape', SHAPES)
def test_cutmix_keeps_time_axis(shape):
    cutmix = CutmixBlending(num_classes=5, alpha=1.0)
    labels = F.one_hot(torch.arange(N), 5)
    mixed = 0
    for seed in range(60):
        torch.manual_seed(seed)
        x = const_batch(shape)
        out, soft = cutmix.do_blending(x.clone(), labels)
        assert out.shape == shape
        torch.testing.assert_close(soft.sum(1), torch.ones(N))
        mixed += bool(check_cutmix(x, out, soft))
    assert mixed >= 40


def test_checker_catches_official_time_axis_bug():
    """The official VideoMAE ``Mixup._mix_batch`` (same line in timm)
    indexes ``x[:, :, yl:yh, xl:xh]``, which on ``(N, C, T, H, W)`` cuts
    the T and H axes; :func:`spatial_mask` must notice."""
    from timm.data import Mixup
    mix = Mixup(mixup_alpha=0., cutmix_alpha=1.0, label_smoothing=0.,
                num_classes=5)
    broken = 0
    for seed in range(40):
        np.random.seed(seed)
        x = const_batch((N, C, T, H, W))
        out, _ = mix(x.clone(), torch.arange(N))
        masks = [spatial_mask(out[i] != x[i]) for i in range(N)]
        broken += any(m is None for m in masks)
    # Only boxes reaching into t < T show up (the box rows are drawn over
    # H = 32 but land on the T = 8 axis), about a third of the draws.
    assert broken >= 5


@pytest.mark.parametrize('shape', SHAPES)
def test_mixup_is_convex_blend(shape):
    mixup = MixupBlending(num_classes=5, alpha=0.8)
    labels = F.one_hot(torch.arange(N), 5)
    lams = []
    for seed in range(30):
        torch.manual_seed(seed)
        x = torch.randn(shape)
        out, soft = mixup.do_blending(x.clone(), labels)
        assert out.shape == shape
        torch.testing.assert_close(soft.sum(1), torch.ones(N))
        assert (soft >= 0).all()
        # Recover the pairing and the (batch-wide) lam from the labels.
        perm, lam = [], None
        for i in range(N):
            others = [j for j in soft[i].nonzero().flatten().tolist()
                      if j != i]
            assert len(others) <= 1
            perm.append(others[0] if others else i)
            if others:
                if lam is not None:
                    assert abs(float(soft[i, i]) - lam) < 1e-6
                lam = float(soft[i, i])
        if lam is None:  # randperm gave the identity: nothing to mix
            torch.testing.assert_close(out, x)
            continue
        lams.append(lam)
        assert sorted(perm) == list(range(N))
        torch.testing.assert_close(out, lam * x + (1 - lam) * x[perm])
    assert len(lams) >= 25 and 0.3 < np.mean(lams) < 0.7


def build_preprocessor(num_classes):
    return MODELS.build(
        dict(
            type='ActionDataPreprocessor',
            mean=MEAN,
            std=STD,
            format_shape='NCTHW',
            blending=dict(
                type='RandomBatchAugment',
                augments=[
                    dict(type='MixupBlending', alpha=0.8,
                         num_classes=num_classes),
                    dict(type='CutmixBlending', alpha=1.0,
                         num_classes=num_classes),
                ])))


def make_batch(seed):
    g = torch.Generator().manual_seed(seed)
    inputs = [
        torch.randint(0, 256, (1, C, T, H, W), dtype=torch.uint8, generator=g)
        for _ in range(N)
    ]
    samples = [ActionDataSample().set_gt_label(i) for i in range(N)]
    return inputs, samples


def test_action_data_preprocessor_blending():
    k = 6
    pre = build_preprocessor(k)
    assert [type(a) for a in pre.blending.augments] == [
        MixupBlending, CutmixBlending
    ]
    mean = torch.tensor(MEAN).view(1, 1, C, 1, 1, 1)
    std = torch.tensor(STD).view(1, 1, C, 1, 1, 1)
    kinds = set()
    for seed in range(16):
        np.random.seed(seed)
        torch.manual_seed(seed)
        inputs, samples = make_batch(seed)
        ref = (torch.stack(inputs).float() - mean) / std
        out = pre(dict(inputs=inputs, data_samples=samples), training=True)
        x = out['inputs']
        assert x.shape == (N, 1, C, T, H, W) and x.dtype == torch.float32
        for i, ds in enumerate(out['data_samples']):
            soft = ds.gt_label
            assert soft.shape == (k, ) and soft.dtype == torch.float32
            assert abs(float(soft.sum()) - 1) < 1e-5 and (soft >= 0).all()
            if float(soft[i]) == 1.0:  # not mixed with another sample
                torch.testing.assert_close(x[i], ref[i])
            else:
                # mixup changes (nearly) every pixel, cutmix only a box
                frac = float((x[i] != ref[i]).float().mean())
                kinds.add('mixup' if frac > 0.9 else 'cutmix')
    assert kinds == {'mixup', 'cutmix'}  # both branches were taken

    inputs, samples = make_batch(99)
    out = pre(dict(inputs=inputs, data_samples=samples), training=False)
    ref = (torch.stack(inputs).float() - mean) / std
    torch.testing.assert_close(out['inputs'], ref)
    for i, ds in enumerate(out['data_samples']):
        assert ds.gt_label.tolist() == [i]


@pytest.mark.parametrize('batch', [4, 1])
def test_label_smoothing_composes_with_mixup_like_timm(batch):
    """mmaction smooths soft labels in the head, ``(1 - eps) * y + eps / K``,
    which is timm's ``mixup_target`` (used by the official code)."""
    from mmaction.models import TimeSformerHead
    from timm.data.mixup import mixup_target
    from timm.loss import SoftTargetCrossEntropy
    k, d, eps, lam = 6, 16, 0.1, 0.3
    head = TimeSformerHead(num_classes=k, in_channels=d, label_smooth_eps=eps)
    torch.manual_seed(0)
    scores = head(torch.randn(batch, d))
    target = torch.arange(batch) % k
    onehot = F.one_hot(target, k).float()
    mixed = lam * onehot + (1 - lam) * onehot.flip(0)  # timm pairing
    samples = [ActionDataSample().set_gt_label(y) for y in mixed]
    loss = head.loss_by_feat(scores, samples)['loss_cls']

    smoothed = (1 - eps) * mixed + eps / k
    by_hand = -(smoothed * F.log_softmax(scores, 1)).sum(1).mean()
    torch.testing.assert_close(loss, by_hand)
    timm_target = mixup_target(target, k, lam, smoothing=eps)
    torch.testing.assert_close(timm_target, smoothed)
    torch.testing.assert_close(loss,
                               SoftTargetCrossEntropy()(scores, timm_target))

    # Hard labels (blending skipped): the same smoothing, as timm's
    # LabelSmoothingCrossEntropy.
    hard = [ActionDataSample().set_gt_label(int(y)) for y in target]
    loss = head.loss_by_feat(scores, hard)['loss_cls']
    torch.testing.assert_close(
        loss, F.cross_entropy(scores, target, label_smoothing=eps))


def erase(frames, seed, **kwargs):
    from mmaction.registry import TRANSFORMS
    cfg = dict(
        type='RandomErasing',
        erase_prob=1.0,
        mode='rand',
        fill_color=MEAN,
        fill_std=STD)
    cfg.update(kwargs)
    np.random.seed(seed)
    erasing = TRANSFORMS.build(cfg)
    return erasing(dict(imgs=[f.copy() for f in frames]))['imgs']


def test_random_erasing_is_a_cube():
    h, w = 64, 48
    black = [np.zeros((h, w, 3), np.uint8)] * T
    white = [np.full((h, w, 3), 255, np.uint8)] * T
    normed = []
    for seed in range(30):
        # Same seed -> same box and same noise; the two clips agree exactly
        # inside the box and nowhere else.
        out_b, out_w = erase(black, seed), erase(white, seed)
        masks = [(b == wt).all(-1) for b, wt in zip(out_b, out_w)]
        for m in masks[1:]:
            assert np.array_equal(m, masks[0]), 'box moves between frames'
        box = box_of(torch.from_numpy(masks[0]))
        assert box is not None and masks[0].any()
        bh, bw = box[1] - box[0], box[3] - box[2]
        # area = U(0.02, 1/3) * h * w before rounding each side to int
        assert (bh + .5) * (bw + .5) >= 0.02 * h * w
        assert (bh - .5) * (bw - .5) <= h * w / 3
        assert 0.3 - 0.1 <= bh / bw <= 10 / 3 + 0.4 or bh == h or bw == w
        patches = [f[box[0]:box[1], box[2]:box[3]] for f in out_b]
        # fresh noise in every frame, as the official cube mode
        assert not np.array_equal(patches[0], patches[1])
        normed.append(
            ((np.stack(patches).astype(np.float32) - MEAN) / STD).reshape(-1))
    normed = np.concatenate(normed)
    # N(mean, std) in pixels ~ N(0, 1) after normalisation, up to uint8
    # clipping / truncation.
    assert abs(normed.mean()) < 0.05
    assert 0.9 < normed.std() < 1.02


def test_random_erasing_prob():
    frames = [np.zeros((16, 16, 3), np.uint8)] * 2
    hits = sum(
        bool(erase(frames, seed, erase_prob=0.25)[0].any())
        for seed in range(400))
    assert 0.19 < hits / 400 < 0.31
