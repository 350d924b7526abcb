# Copyright (c) mmmae contributors. All rights reserved.
import math

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

import mmmae  # noqa: F401  (compat patches, registries)
from mmmae.models.heads import DPTHead
from mmmae.models.heads.dpt_head import NYU_DEPTH_MEAN_M, NYU_DEPTH_STD_M

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]
TINY = dict(in_channels=32, layer_dims=(8, 16, 32, 64), channels=16)


@pytest.fixture(autouse=True, scope='module')
def one_torch_thread():
    """Tiny tensors: intra-op threads only add overhead (10x on a busy
    2-core machine)."""
    num = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(num)


def _maps(b=2, h=4, w=4, c=32, n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(b, c, h, w, generator=g) for _ in range(n))


def _depth_sample(gt, **meta):
    from mmseg.structures import SegDataSample
    sample = SegDataSample(metainfo=meta)
    sample.gt_depth_map = PixelData(data=torch.as_tensor(gt).float()[None])
    return sample


def test_forward_shapes_and_strides():
    head = DPTHead(**TINY)
    feats = []
    for i, (reassemble, proj) in enumerate(zip(head.reassemble,
                                               head.project)):
        feats.append(proj(reassemble(_maps()[i])))
    # strides 4, 8, 16, 32 of a 64x64 image from the 4x4 patch grid
    assert [tuple(f.shape[1:]) for f in feats] == [(16, 16, 16), (16, 8, 8),
                                                   (16, 4, 4), (16, 2, 2)]
    assert head(_maps()).shape == (2, 1, 64, 64)
    # non-square, odd grid (stride-32 level is 2x3, fused back to 3x5)
    assert head(_maps(h=3, w=5)).shape == (2, 1, 48, 80)
    # pick 4 of 5 backbone outputs with per-level channels
    head = DPTHead(
        in_channels=[32, 32, 16, 32],
        in_index=(0, 1, 3, 4),
        layer_dims=(8, 16, 32, 64),
        channels=16)
    maps = list(_maps(n=5))
    maps[3] = maps[3][:, :16]
    assert head(maps).shape == (2, 1, 64, 64)
    # patch size 8: output still at the input resolution
    head = DPTHead(patch_size=8, **TINY)
    assert head(_maps()).shape == (2, 1, 32, 32)
    with pytest.raises(ValueError, match='exactly 4'):
        DPTHead(in_channels=[32] * 3, in_index=(0, 1, 2), channels=16)


def test_regression_loss_ignores_invalid_and_padding():
    head = DPTHead(**TINY)
    gt = torch.rand(2, 64, 64) * 3 + 0.5
    gt[0, :10] = 0  # missing depth
    gt[1, :, 60:] = 255.  # right border padded by stack_batch (seg_pad_val)
    samples = [
        _depth_sample(gt[0], padding_size=[0, 0, 0, 0]),
        _depth_sample(gt[1], padding_size=[0, 4, 0, 0])
    ]
    pred = torch.randn(2, 1, 64, 64, requires_grad=True)
    losses = head.loss_by_feat(pred, samples)
    assert set(losses) == {'loss_berhu', 'valid_ratio'}
    assert torch.isfinite(losses['loss_berhu'])
    n_valid = 64 * 64 - 10 * 64 + 64 * 60
    assert losses['valid_ratio'].item() == pytest.approx(n_valid / 2 / 4096)
    losses['loss_berhu'].backward()
    assert pred.grad[0, :, :10].abs().sum() == 0
    assert pred.grad[1, :, :, 60:].abs().sum() == 0
    # changing predictions where gt is invalid does not change the loss
    pred2 = pred.detach().clone()
    pred2[0, :, :10] += 100
    pred2[1, :, :, 60:] -= 100
    loss2 = head.loss_by_feat(pred2, samples)['loss_berhu']
    assert loss2.item() == pytest.approx(losses['loss_berhu'].item())
    # the target is normalised depth: a prediction equal to it costs 0
    perfect = head.normalize_depth(gt[:, None])
    assert head.loss_by_feat(perfect, samples)['loss_berhu'].item() == \
        pytest.approx(0, abs=1e-6)
    # a lower-resolution prediction is resized to the gt
    low = head.loss_by_feat(torch.zeros(2, 1, 16, 16), samples)
    assert torch.isfinite(low['loss_berhu'])


def test_loss_without_valid_mask_argument():
    head = DPTHead(
        depth_mean=0.,
        depth_std=1.,
        loss_decode=[
            dict(type='mmmae.BerHuLoss'),
            dict(type='mmseg.SiLogLoss', loss_name='loss_silog')
        ],
        **TINY)
    gt = torch.rand(8, 8) + 1
    gt[0] = 0
    out = head.loss_by_feat(torch.rand(1, 1, 8, 8) + 1, [_depth_sample(gt)])
    assert set(out) == {'loss_berhu', 'loss_silog', 'valid_ratio'}
    assert all(torch.isfinite(v) for v in out.values())


def test_predict_denormalises_and_clamps():
    head = DPTHead(**TINY)
    assert head.depth_mean == NYU_DEPTH_MEAN_M
    assert head.depth_std == NYU_DEPTH_STD_M
    metas = [dict(img_shape=(64, 64), pad_shape=(64, 64))]
    logits = torch.tensor([0., 1., -2., 10.]).view(1, 1, 2, 2)
    depth = head.predict_by_feat(logits, metas)
    assert depth.shape == (1, 1, 64, 64)
    # pred * std + mean; bilinear upsampling (align_corners=False) keeps
    # the 4 input values exactly at the output corners
    corners = depth[0, 0, [0, 0, -1, -1], [0, -1, 0, -1]]
    expected = torch.tensor([0., 1., -2., 10.]) * NYU_DEPTH_STD_M + \
        NYU_DEPTH_MEAN_M
    assert torch.allclose(corners, expected, atol=1e-5)
    head = DPTHead(depth_mean=3., depth_std=2., min_depth=1e-3,
                   max_depth=10., **TINY)
    depth = head.predict_by_feat(logits, metas)
    assert depth.min().item() == pytest.approx(1e-3)  # 3 - 2 * 2 < 0
    assert depth.max().item() == pytest.approx(10.)  # 3 + 2 * 10 > 10
    # a zero-initialised classifier predicts the mean depth
    with torch.no_grad():
        head.conv_seg.weight.zero_()
        head.conv_seg.bias.zero_()
    pred = head.predict(_maps(b=1), metas, None)
    assert torch.allclose(pred, torch.full_like(pred, 3.))


def test_semseg_mode():
    from mmseg.structures import SegDataSample
    head = DPTHead(head_type='semseg', num_classes=5, **TINY)
    assert head.dropout is not None and head.dropout.p == 0.1
    logits = head(_maps())
    assert logits.shape == (2, 5, 64, 64)
    samples = []
    for _ in range(2):
        s = SegDataSample()
        label = torch.randint(0, 5, (1, 64, 64))
        label[:, :4] = 255
        s.gt_sem_seg = PixelData(data=label)
        samples.append(s)
    losses = head.loss_by_feat(logits, samples)
    assert set(losses) == {'loss_ce', 'acc_seg'}
    assert torch.isfinite(losses['loss_ce'])
    metas = [dict(img_shape=(64, 64), pad_shape=(64, 64))]
    assert head.predict(_maps(), metas, None).shape == (2, 5, 64, 64)


def test_vit_b_parameter_count():
    """The ViT-B setting used for NYUv2 (documented in the docstring)."""
    head = DPTHead(in_channels=768)
    count = {
        name: sum(p.numel() for p in m.parameters())
        for name, m in head.named_children()
    }
    assert count['reassemble'] == 6_711_744
    assert count['project'] == 3_317_760
    assert count['fusion'] == 8_524_288
    assert count['head'] == 331_936 and count['conv_seg'] == 33
    assert sum(p.numel() for p in head.parameters()) == 18_885_761
    assert head(_maps(b=1, c=768)).shape == (1, 1, 64, 64)


# --------------------------------------------------------- mmseg models ----
def _vit(img_size=(48, 64)):
    return dict(
        type='VisionTransformer',
        img_size=img_size,
        patch_size=16,
        embed_dims=32,
        num_layers=4,
        num_heads=2,
        mlp_ratio=2,
        out_indices=(0, 1, 2, 3),
        final_norm=False,
        interpolate_mode='bilinear')


def depth_model_cfg():
    # ConfigDict as from a config file: mmseg reads ``test_cfg.mode``
    return ConfigDict(
        type='DepthEstimator',
        data_preprocessor=dict(
            type='SegDataPreProcessor',
            mean=MEAN,
            std=STD,
            bgr_to_rgb=True,
            pad_val=0,
            seg_pad_val=0,
            size_divisor=16,
            test_cfg=dict(size_divisor=16)),
        backbone=_vit(),
        decode_head=dict(
            type='mmmae.DPTHead',
            min_depth=1e-3,
            max_depth=10.,
            loss_decode=dict(type='mmmae.BerHuLoss'),
            **TINY),
        test_cfg=dict(mode='whole'))


def _packed(img, depth=None, flip=False):
    from mmseg.datasets.transforms import PackSegInputs
    results = dict(
        img=img,
        img_path='x.jpg',
        ori_shape=img.shape[:2],
        img_shape=img.shape[:2],
        scale_factor=(1., 1.),
        flip=flip,
        flip_direction='horizontal' if flip else None,
        seg_fields=[])
    if depth is not None:
        results['gt_depth_map'] = depth
        results['seg_fields'].append('gt_depth_map')
    return PackSegInputs().transform(results)


def _batch(items):
    return dict(
        inputs=[it['inputs'] for it in items],
        data_samples=[it['data_samples'] for it in items])


def test_depth_estimator_loss_and_predict():
    from mmengine.registry import MODELS
    init_default_scope('mmseg')
    model = MODELS.build(depth_model_cfg())
    rng = np.random.default_rng(0)
    # 40x56 is padded to 48x64 by the preprocessor (size_divisor 16)
    imgs = [rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)
            for _ in range(2)]
    depths = [rng.uniform(0.5, 5, (40, 56)).astype(np.float32)
              for _ in range(2)]
    depths[0][:5] = 0
    data = model.data_preprocessor(
        _batch([_packed(i, d) for i, d in zip(imgs, depths)]), True)
    assert data['inputs'].shape == (2, 3, 48, 64)
    losses = model(**data, mode='loss')
    assert set(losses) == {'decode.loss_berhu', 'decode.valid_ratio'}
    # the padded border (value seg_pad_val=0 here) is not supervised
    expected_ratio = (40 * 56 * 2 - 5 * 56) / (2 * 48 * 64)
    assert losses['decode.valid_ratio'].item() == pytest.approx(
        expected_ratio)
    losses['decode.loss_berhu'].backward()
    assert model.backbone.patch_embed.projection.weight.grad is not None

    model.eval()
    with torch.no_grad():
        plain = model.test_step(_batch([_packed(imgs[0], depths[0])]))[0]
        flipped = model.test_step(
            _batch([_packed(imgs[0], depths[0], flip=True)]))[0]
    pred = plain.pred_depth_map.data
    assert pred.shape == (1, 40, 56)  # padding removed, ori_shape
    assert pred.min() >= 1e-3 and pred.max() <= 10.
    # metainfo flip=True: the prediction is flipped back
    assert torch.allclose(flipped.pred_depth_map.data, pred.flip(-1))
    assert plain.gt_depth_map.data.shape == (1, 40, 56)


def test_semseg_head_in_encoder_decoder():
    from mmengine.registry import MODELS
    init_default_scope('mmseg')
    cfg = depth_model_cfg()
    cfg['type'] = 'EncoderDecoder'
    cfg['data_preprocessor']['seg_pad_val'] = 255
    cfg['decode_head'] = dict(
        type='mmmae.DPTHead', head_type='semseg', num_classes=4, **TINY)
    model = MODELS.build(cfg)
    from mmseg.datasets.transforms import PackSegInputs
    img = np.zeros((48, 64, 3), np.uint8)
    results = dict(img=img, gt_seg_map=np.ones((48, 64), np.uint8),
                   img_path='x.jpg', ori_shape=(48, 64), img_shape=(48, 64),
                   seg_fields=['gt_seg_map'])
    data = model.data_preprocessor(
        _batch([PackSegInputs().transform(results)]), True)
    losses = model(**data, mode='loss')
    assert torch.isfinite(losses['decode.loss_ce'])
    model.eval()
    with torch.no_grad():
        out = model.test_step(_batch([PackSegInputs().transform(results)]))
    assert out[0].seg_logits.data.shape == (4, 48, 64)
    assert out[0].pred_sem_seg.data.shape == (1, 48, 64)


@pytest.mark.slow
def test_runner_trains_and_evaluates(tmp_path):
    """A few iterations of the real MMEngine Runner on generated PNGs."""
    from mmengine.runner import Runner
    root = tmp_path / 'nyu'
    (root / 'images').mkdir(parents=True)
    (root / 'annotations').mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        img = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
        depth_mm = rng.integers(500, 5000, (48, 64)).astype(np.uint16)
        depth_mm[:6 * (i + 1)] = 0  # missing depth, no mask file
        cv2.imwrite(str(root / 'images' / f'bedroom_{i:04d}.jpg'), img)
        cv2.imwrite(str(root / 'annotations' / f'bedroom_{i:04d}.png'),
                    depth_mm)
    load = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3),
    ]
    dataset = dict(
        type='NYUDataset',
        data_root=str(root),
        data_prefix=dict(img_path='images', depth_map_path='annotations'))
    runner = Runner(
        model=depth_model_cfg(),
        work_dir=str(tmp_path / 'work'),
        train_dataloader=dict(
            batch_size=2,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            dataset=dict(
                pipeline=load + [
                    dict(type='RandomFlip', prob=0.5),
                    dict(type='PackSegInputs')
                ],
                **dataset)),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=3,
                       val_interval=100),
        optim_wrapper=dict(
            type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3)),
        val_dataloader=dict(
            batch_size=1,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(
                pipeline=load + [dict(type='PackSegInputs')], **dataset)),
        val_cfg=dict(type='ValLoop'),
        val_evaluator=dict(type='mmmae.DepthMetric', max_depth_eval=10.),
        default_hooks=dict(checkpoint=None,
                           logger=dict(type='LoggerHook', interval=1)),
        default_scope='mmseg',
        log_level='WARNING')
    runner.train()
    metrics = runner.val()
    for key in ('d1', 'd2', 'd3', 'abs_rel', 'sq_rel', 'rmse', 'rmse_log',
                'log10', 'silog'):
        assert math.isfinite(metrics[key]), key
    assert metrics['num_images'] == 4
    assert metrics['num_empty_images'] == 0
    assert 0 <= metrics['d1'] <= 1
