# Copyright (c) mmmae contributors. All rights reserved.
"""RGB-D clips in MMAction2: channel-stacked inputs, normalised per group by
``MultiModalActionDataPreprocessor``, split again by ``MultiModalViT`` and
classified by MMAction2's own ``Recognizer3D`` + ``I3DHead``."""
import pytest
import torch
from mmaction.structures import ActionDataSample
from mmengine.registry import DefaultScope

import mmmae  # noqa: F401
from mmmae.models import (MultiModalActionDataPreprocessor,
                          masked_truncated_standardize)

T, S = 4, 32


def recognizer_cfg(main_tasks=('rgb', 'depth')):
    channels = dict(rgb=3, depth=1)
    return dict(
        type='Recognizer3D',
        backbone=dict(
            type='mmmae.MultiModalViT',
            input_adapters=dict(
                rgb=dict(type='mmmae.TubeletInputAdapter', in_channels=3),
                depth=dict(type='mmmae.TubeletInputAdapter', in_channels=1)),
            arch=dict(embed_dims=32, num_layers=2, num_heads=2, mlp_ratio=2.),
            img_size=S,
            patch_size=8,
            num_frames=T,
            tubelet_size=2,
            out_indices=(-1, ),
            main_tasks=main_tasks,
            as_tuple=False,
            input_channels=channels),
        cls_head=dict(
            type='I3DHead',
            num_classes=6,
            in_channels=32 * len(main_tasks),
            average_clips='prob'),
        data_preprocessor=dict(
            type='mmmae.MultiModalActionDataPreprocessor', channels=channels))


def _batch(B=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = []
    for _ in range(B):
        rgb = torch.randint(0, 256, (1, 3, T, S, S), generator=g).float()
        depth = torch.rand(1, 1, T, S, S, generator=g) * 4 + 0.5
        depth[..., :4, :] = 0  # no depth on the top rows
        inputs.append(torch.cat([rgb, depth], dim=1))
    samples = [ActionDataSample().set_gt_label(i % 6) for i in range(B)]
    return dict(inputs=inputs, data_samples=samples)


def test_groups_are_normalised_like_pretraining():
    pre = MultiModalActionDataPreprocessor(channels=dict(rgb=3, depth=1))
    data = _batch()
    out = pre(data, False)['inputs']
    assert out.shape == (2, 1, 4, T, S, S)
    raw = torch.stack(data['inputs'])
    mean = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1, 1)
    torch.testing.assert_close(out[:, :, :3], (raw[:, :, :3] - mean) / std)
    depth = masked_truncated_standardize(raw[:, 0, 3:])
    torch.testing.assert_close(out[:, 0, 3:], depth)
    assert (out[..., 3, :, :4, :] == 0).all()  # invalid depth stays 0
    with pytest.raises(ValueError, match='channels'):
        MultiModalActionDataPreprocessor(channels=dict(rgb=4))
    bad = dict(inputs=[x[:, :3] for x in data['inputs']],
               data_samples=data['data_samples'])
    with pytest.raises(ValueError, match=r'\(B, V, 4, T, H, W\)'):
        pre(bad, False)


@pytest.mark.parametrize('main_tasks', [('rgb', ), ('rgb', 'depth')])
def test_recognizer3d_trains_and_predicts_on_rgbd(main_tasks):
    from mmaction.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmaction'):
        model = MODELS.build(recognizer_cfg(main_tasks))
    data = model.data_preprocessor(_batch(), True)
    losses = model(**data, mode='loss')
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    loss.backward()
    depth_grad = model.backbone.input_adapters['depth'].proj.weight.grad
    # the depth tokens reach the head through attention either way
    assert depth_grad is not None and depth_grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        out = model(**model.data_preprocessor(_batch(), False),
                    mode='predict')
    assert out[0].pred_score.shape == (6, )
    assert torch.allclose(out[0].pred_score.sum(), torch.tensor(1.))
