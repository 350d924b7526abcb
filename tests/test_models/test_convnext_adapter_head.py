# Copyright (c) mmmae contributors. All rights reserved.
"""ConvNeXtAdapterHead: layout of the per-token projection, shapes, and use
inside a real mmseg ``EncoderDecoder`` and MMEngine ``Runner``."""
import math
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope

import mmmae  # noqa: F401
from mmmae.models.heads import ConvNeXtAdapterHead, tokens_to_map

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]


def tiny_segmentor_cfg(num_classes=4, embed_dims=16, patch=8):
    """mmseg ViT (returns ``(B, C, h, w)`` maps at the patch grid) + head.

    ``ConfigDict`` because ``EncoderDecoder`` reads ``test_cfg.mode``.
    """
    return ConfigDict(
        type='EncoderDecoder',
        data_preprocessor=dict(
            type='SegDataPreProcessor', mean=MEAN, std=STD, bgr_to_rgb=True,
            pad_val=0, seg_pad_val=255, size=(32, 32)),
        backbone=dict(
            type='VisionTransformer', img_size=(32, 32), patch_size=patch,
            embed_dims=embed_dims, num_layers=2, num_heads=2, mlp_ratio=2,
            out_indices=(1, ), final_norm=False, with_cls_token=True,
            output_cls_token=False),
        decode_head=dict(
            type='mmmae.ConvNeXtAdapterHead', in_channels=embed_dims,
            channels=8, preds_per_patch=4, num_blocks=2,
            num_classes=num_classes,
            loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))


def test_tokens_to_map_order():
    s, c = 2, 3
    x = torch.arange(2 * 3 * s * s * c, dtype=torch.float32)
    x = x.reshape(1, 2, 3, s * s * c)
    out = tokens_to_map(x, s)
    assert out.shape == (1, c, 2 * s, 3 * s)
    for i in range(2):
        for j in range(3):
            for a in range(s):
                for b in range(s):
                    for ch in range(c):
                        assert out[0, ch, i * s + a, j * s + b] == \
                            x[0, i, j, (a * s + b) * c + ch]


def test_single_token_lands_under_itself():
    head = ConvNeXtAdapterHead(
        in_channels=6, channels=5, preds_per_patch=16, num_blocks=1,
        num_classes=3)
    with torch.no_grad():
        head.proj_dec.bias.zero_()
    x = torch.zeros(2, 6, 3, 4)
    x[1, :, 2, 1] = torch.randn(6)
    y = head.project(x)
    assert y.shape == (2, 5, 12, 16)
    nz = y.abs().sum(1)
    assert nz[0].eq(0).all()
    mask = torch.zeros(12, 16, dtype=torch.bool)
    mask[8:12, 4:8] = True
    assert nz[1][~mask].eq(0).all()
    # exact values: (a, b, c) order of the Linear's outputs
    full = head.proj_dec(x[1, :, 2, 1])
    block = y[1, :, 8:12, 4:8]
    assert torch.allclose(block, full.view(4, 4, 5).permute(2, 0, 1))


def test_shapes_stride_and_errors():
    head = ConvNeXtAdapterHead(
        in_channels=8, channels=4, preds_per_patch=16, num_blocks=2,
        num_classes=7, in_index=0)
    feats = (torch.randn(2, 8, 4, 5), torch.randn(2, 3, 1, 1))
    out = head(feats)
    # patch 16, 4x4 predictions per token -> stride 4 (1/4 of the image)
    assert out.shape == (2, 7, 16, 20)
    assert head(feats[0]).shape == out.shape
    assert not hasattr(head, 'conv_seg')
    keys = set(head.state_dict())
    assert {'proj_dec.weight', 'blocks.1.dwconv.weight', 'blocks.0.norm.bias',
            'blocks.0.pwconv1.weight', 'blocks.0.pwconv2.weight',
            'final_layer.weight'} <= keys
    assert not any('gamma' in k for k in keys)  # no layer scale
    with pytest.raises(ValueError, match='in_channels'):
        head(torch.randn(2, 9, 4, 5))
    with pytest.raises(ValueError, match='perfect square'):
        ConvNeXtAdapterHead(in_channels=8, preds_per_patch=8, num_classes=3)
    head9 = ConvNeXtAdapterHead(
        in_channels=8, channels=4, preds_per_patch=9, num_blocks=0,
        num_classes=3)
    assert head9(torch.randn(1, 8, 2, 2)).shape == (1, 3, 6, 6)


def test_vit_base_parameter_count():
    head = ConvNeXtAdapterHead(in_channels=768, num_classes=150)
    n = sum(p.numel() for p in head.parameters())
    proj = 768 * 6144 + 6144
    block = (384 * 49 + 384) + 2 * 384 + (384 * 1536 + 1536) + \
        (1536 * 384 + 384)
    assert n == proj + 4 * block + 384 * 150 + 150 == 9_588_630


def _seg_samples(n, size, num_classes):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for i in range(n):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(
            data=torch.randint(0, num_classes, (1, ) + size))
        s.set_metainfo(dict(img_shape=size, ori_shape=size, pad_shape=size))
        samples.append(s)
    return samples


def test_in_encoder_decoder_loss_and_predict():
    init_default_scope('mmseg')
    from mmseg.registry import MODELS as SEG_MODELS
    model = SEG_MODELS.build(tiny_segmentor_cfg())
    model.init_weights()
    assert isinstance(model.decode_head, ConvNeXtAdapterHead)
    inputs = torch.randn(2, 3, 32, 32)
    samples = _seg_samples(2, (32, 32), 4)
    feats = model.extract_feat(inputs)
    assert feats[-1].shape == (2, 16, 4, 4)
    # patch 8, 2x2 per token -> stride 4
    assert model.decode_head(feats).shape == (2, 4, 8, 8)
    losses = model.loss(inputs, samples)
    assert torch.isfinite(losses['decode.loss_ce'])
    losses['decode.loss_ce'].backward()
    assert model.decode_head.proj_dec.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        preds = model.predict(inputs, samples)
    assert preds[0].seg_logits.data.shape == (4, 32, 32)
    assert preds[0].pred_sem_seg.data.shape == (1, 32, 32)


@pytest.mark.slow
def test_runner_train_and_val(tmp_path):
    """A few iterations with real mmseg loading, packing and IoUMetric."""
    from mmengine.runner import Runner
    rng = np.random.default_rng(0)
    for split in ('img', 'ann'):
        (tmp_path / split).mkdir()
    for i in range(4):
        img = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
        label = np.zeros((32, 32), np.uint8)
        label[:, 16:] = 1
        label[16:, :8] = 2
        mmcv.imwrite(img, str(tmp_path / 'img' / f'{i}.png'))
        mmcv.imwrite(label, str(tmp_path / 'ann' / f'{i}.png'))
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='PackSegInputs')
    ]
    dataset = dict(
        type='BaseSegDataset', data_root=str(tmp_path),
        data_prefix=dict(img_path='img', seg_map_path='ann'),
        img_suffix='.png', seg_map_suffix='.png',
        metainfo=dict(classes=('a', 'b', 'c', 'd'),
                      palette=[[0, 0, 0], [255, 0, 0], [0, 255, 0],
                               [0, 0, 255]]),
        pipeline=pipeline)
    loader = dict(batch_size=2, num_workers=0,
                  sampler=dict(type='DefaultSampler', shuffle=False),
                  dataset=dataset)
    runner = Runner(
        model=tiny_segmentor_cfg(),
        work_dir=str(tmp_path / 'work'),
        train_dataloader=loader,
        val_dataloader=loader,
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=4,
                       val_interval=4),
        val_cfg=dict(type='ValLoop'),
        val_evaluator=dict(type='IoUMetric', iou_metrics=['mIoU']),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-3)),
        default_hooks=dict(checkpoint=None,
                           logger=dict(type='LoggerHook', interval=1)),
        default_scope='mmseg',
        randomness=dict(seed=0),
        log_level='WARNING')
    runner.train()
    miou = runner.message_hub.get_scalar('val/mIoU').current()
    assert math.isfinite(miou) and 0 <= miou <= 100
    assert osp.isdir(str(tmp_path / 'work'))
