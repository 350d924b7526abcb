# Copyright (c) mmmae contributors. All rights reserved.
"""Dense (per-patch) probe: patch labels line up with the patch tokens of a
real MultiMAE, and the probe separates a model that sees the classes from
one that cannot."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch

from mmmae.evaluation.probe import (knn_predict, knn_top1, linear_top1,
                                    mean_iou, patch_features,
                                    patch_majority_labels)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCENES_CFG = osp.join(REPO, 'configs', 'multimae',
                      'multimae_vit-tiny-p8_1xb16-60e_scenes.py')


def block_map(classes, block):
    """``(B, gh, gw)`` class grid -> ``(B, gh * bh, gw * bw)`` map."""
    bh, bw = block
    return classes.repeat_interleave(bh, 1).repeat_interleave(bw, 2)


def test_patch_labels_are_the_majority_in_row_major_grid_order():
    gen = torch.Generator().manual_seed(0)
    # a 2x3 grid (not square: a transposed grid would not even fit)
    classes = torch.randint(0, 5, (2, 2, 3), generator=gen)
    labels = block_map(classes, (4, 4))  # (2, 8, 12), 16 pixels a patch
    # a minority of another class in every patch leaves the majority alone
    labels[:, 0::4, 0::4] = (labels[:, 0::4, 0::4] + 1) % 5
    labels[:, 1::4, 1::4] = 7
    out = patch_majority_labels(labels, (2, 3))
    assert out.shape == (2, 6) and out.dtype == torch.int64
    assert out.tolist() == classes.reshape(2, 6).tolist()
    # (B, 1, h, w) maps and the 1/4 map of SemSegDownsample give the same
    assert torch.equal(patch_majority_labels(labels[:, None], (2, 3)), out)
    coarse = block_map(classes, (1, 1))  # one label pixel per patch
    assert torch.equal(patch_majority_labels(coarse, (2, 3)), out)


def test_patch_labels_ties_and_ignored_pixels():
    m = torch.zeros(1, 4, 16, dtype=torch.long)  # 4 patches of 4x4
    m[0, :2, 0:4], m[0, 2:, 0:4] = 3, 1  # 8 vs 8: the smaller id wins
    m[0, :, 4:8] = 255
    m[0, 0, 4:8] = 2  # 12 of 16 ignored: the patch is ignored
    m[0, :2, 8:12], m[0, 2:, 8:12] = 255, 4  # 8 vs 8: the class wins
    m[0, :, 12:16] = 255
    m[0, :3, 12:16] = 5  # 12 of 16 labelled
    assert patch_majority_labels(m, (1, 4)).tolist() == [[1, 255, 4, 5]]
    assert patch_majority_labels(m, (1, 4), ignore_index=None).tolist() == \
        [[1, 255, 4, 5]]
    with pytest.raises(ValueError, match='does not split'):
        patch_majority_labels(m, (3, 4))
    with pytest.raises(ValueError, match='negative'):
        patch_majority_labels(m - 10, (1, 4))


def test_mean_iou_by_hand_and_against_mmseg():
    pred = np.array([0, 0, 1, 1, 2])
    target = np.array([0, 1, 1, 1, 3])
    # IoU: class 0 1/2, class 1 2/3, class 2 0/1 (predicted, never true),
    # class 3 0/1; classes 4 and 5 (absent from both) are left out
    want = (1 / 2 + 2 / 3 + 0 + 0) / 4
    assert mean_iou(pred, target) == pytest.approx(want)
    assert mean_iou(pred, target, num_classes=6) == pytest.approx(want)
    assert mean_iou(target, target) == 1.0

    from mmseg.evaluation.metrics import IoUMetric
    rng = np.random.default_rng(0)
    pred = rng.integers(0, 6, 500)
    target = np.where(rng.random(500) < 0.6, pred, rng.integers(0, 5, 500))
    inter, union, area_pred, area_gt = IoUMetric.intersect_and_union(
        torch.as_tensor(pred), torch.as_tensor(target), 6, 255)
    iou = (inter / union).numpy()
    assert mean_iou(pred, target) == pytest.approx(np.nanmean(iou))


def test_knn_in_chunks_equals_one_matmul():
    rng = np.random.default_rng(0)
    bank = rng.normal(size=(300, 3)).astype(np.float32)
    bank_y = (bank[:, 0] > 0).astype(np.int64) + 2 * (bank[:, 1] > 0)
    query = rng.normal(size=(101, 3)).astype(np.float32)
    query_y = (query[:, 0] > 0).astype(np.int64) + 2 * (query[:, 1] > 0)
    whole = knn_predict(bank, bank_y, query, k=7)
    np.testing.assert_array_equal(
        knn_predict(bank, bank_y, query, k=7, chunk_size=10), whole)
    assert knn_top1(bank, bank_y, query, query_y, k=7, chunk_size=10) == \
        float((whole == query_y).mean())
    assert (whole == query_y).mean() > 0.8  # the labels follow the features


@pytest.fixture(scope='module')
def model():
    """The demo's tiny MultiMAE (4 x 128, patch 8, 64x64), random init."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from mmmae.registry import MODELS
    cfg = Config.fromfile(SCENES_CFG)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmmae'):
        m = MODELS.build(cfg.model)
    m.init_weights()
    return m


PALETTE = np.array([[230, 40, 40], [40, 200, 60], [50, 60, 220],
                    [240, 220, 40]])


def coloured_batch(seed, num=4, ignored=()):
    """Images whose 8x8 patches are flat (noisy) colours of their class;
    full-resolution semseg with a minority of a wrong class in every patch.
    ``ignored``: ``(image, row, col)`` patches mostly set to 255."""
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, len(PALETTE), (num, 8, 8))
    rgb = PALETTE[classes].repeat(8, 1).repeat(8, 2).astype(np.float64)
    rgb = np.clip(rgb + rng.normal(0, 12, rgb.shape), 0, 255)
    sem = torch.as_tensor(classes).repeat_interleave(8, 1)
    sem = sem.repeat_interleave(8, 2).clone()
    sem[:, ::8, :] = (sem[:, ::8, :] + 1) % len(PALETTE)  # 8 of 64 pixels
    for b, i, j in ignored:
        sem[b, 8 * i:8 * i + 6, 8 * j:8 * j + 8] = 255
    rgb = torch.as_tensor(rgb.astype(np.uint8)).permute(0, 3, 1, 2)
    depth = torch.rand(num, 1, 64, 64)
    # what pseudo_collate makes of packed samples: a dict of lists
    batch = dict(inputs=dict(rgb=list(rgb), depth=list(depth),
                             semseg=list(sem)))
    return batch, classes


def test_patch_features_line_up_with_the_encoder_tokens(model):
    ignored = ((0, 0, 0), (1, 3, 5), (3, 7, 7))
    batch, classes = coloured_batch(0, ignored=ignored)
    feats, labels = patch_features(model, [batch])
    keep = np.ones((4, 8, 8), bool)
    for b, i, j in ignored:
        keep[b, i, j] = False
    # labels: image, grid row, grid column; ignored patches dropped
    np.testing.assert_array_equal(labels, classes[keep])
    # features: the rgb patch tokens at the same positions, global dropped
    assert model.training  # restored after the probe's eval mode
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(batch, False)
        tokens, info = model.backbone(dict(rgb=data['inputs']['rgb']))
    model.train()
    assert info.num_global_tokens == 1 and tokens.shape[1] == 65
    want = tokens[:, :64].reshape(4, 8, 8, -1)[torch.as_tensor(keep)]
    np.testing.assert_allclose(feats, want.numpy(), rtol=1e-5, atol=1e-5)

    # two modalities: each patch's rgb and depth tokens side by side
    feats2, labels2 = patch_features(model, [batch], inputs=('rgb', 'depth'))
    np.testing.assert_array_equal(labels2, labels)
    assert feats2.shape == (len(labels), 256)
    model.eval()
    with torch.no_grad():
        both, _ = model.backbone(dict(rgb=data['inputs']['rgb'],
                                      depth=data['inputs']['depth']))
    model.train()
    depth_tok = both[:, 64:128].reshape(4, 8, 8, -1)[torch.as_tensor(keep)]
    np.testing.assert_allclose(feats2[:, 128:], depth_tok.numpy(),
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(KeyError, match='normals'):
        patch_features(model, [batch], inputs=('normals', ))


def test_dense_probe_separates_a_seeing_model_from_a_blind_one(model):
    train, _ = coloured_batch(1, num=6)
    val, _ = coloured_batch(2, num=4)
    x_tr, y_tr = patch_features(model, [train])
    x_va, y_va = patch_features(model, [val])
    chance = np.bincount(y_va).max() / len(y_va)
    # even untrained, the encoder keeps each patch's colour = its class
    assert linear_top1(x_tr, y_tr, x_va, y_va) > 0.95
    assert knn_top1(x_tr, y_tr, x_va, y_va) > 0.95
    # shuffled labels carry nothing: the same features score near chance
    perm = np.random.default_rng(0).permutation(len(y_tr))
    assert linear_top1(x_tr, y_tr[perm], x_va, y_va) < chance + 0.15
    # a model blind to the pixels (rgb projection zeroed: only positions
    # reach the tokens) cannot do better than chance either
    blind = copy.deepcopy(model)
    with torch.no_grad():
        blind.backbone.input_adapters.rgb.proj.weight.zero_()
    b_tr, _ = patch_features(blind, [train])
    b_va, _ = patch_features(blind, [val])
    assert linear_top1(b_tr, y_tr, b_va, y_va) < chance + 0.15
    pred = knn_predict(b_tr, y_tr, b_va)
    assert mean_iou(pred, y_va) < 0.35
    assert mean_iou(knn_predict(x_tr, y_tr, x_va), y_va) > 0.9
