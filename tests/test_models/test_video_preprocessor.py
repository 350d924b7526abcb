# Copyright (c) mmmae contributors. All rights reserved.
import numpy as np
import pytest
import torch
from mmaction.structures import ActionDataSample

from mmmae.models import VideoMAEDataPreprocessor
from mmmae.registry import MODELS

MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1, 1)


def test_uint8_multiview_batch_and_masks():
    pre = MODELS.build(dict(type='mmmae.VideoMAEDataPreprocessor'))
    g = torch.Generator().manual_seed(0)
    inputs = [
        torch.randint(0, 256, (2, 3, 4, 16, 16), dtype=torch.uint8,
                      generator=g) for _ in range(3)
    ]
    samples = []
    for i in range(3):
        ds = ActionDataSample()
        ds.mask = np.stack([np.arange(8) % 2 == 0, np.arange(8) % 2 == 1])
        ds.decoder_mask = np.arange(8) < 4  # (N,) shared by both views
        ds.set_gt_label(i)
        samples.append(ds)
    out = pre(dict(inputs=inputs, data_samples=samples))
    x = out['inputs']
    assert x.shape == (6, 3, 4, 16, 16) and x.dtype == torch.float32
    ref = (torch.stack(inputs).flatten(0, 1).float() - MEAN) / STD
    torch.testing.assert_close(x, ref)
    ds_out = out['data_samples']
    assert len(ds_out) == 6
    assert ds_out[0] is not ds_out[1]
    assert ds_out[3].gt_label.item() == 1
    assert ds_out[0].mask.dtype == torch.bool
    assert torch.equal(ds_out[0].mask, torch.arange(8) % 2 == 0)
    assert torch.equal(ds_out[1].mask, torch.arange(8) % 2 == 1)
    assert torch.equal(ds_out[5].decoder_mask, torch.arange(8) < 4)
    # denormalize maps back to [0, 1] pixels.
    torch.testing.assert_close(
        pre.denormalize(x), torch.stack(inputs).flatten(0, 1).float() / 255)
    torch.testing.assert_close(pre.denormalize(x[0]), pre.denormalize(x)[0])


def test_single_view_float_inputs_and_metainfo_mask():
    pre = VideoMAEDataPreprocessor()
    raw = torch.rand(2, 3, 4, 8, 8) * 255
    keep = raw.clone()
    samples = [ActionDataSample(metainfo=dict(mask=np.zeros(4, bool)))
               for _ in range(2)]
    out = pre(dict(inputs=raw, data_samples=samples))
    assert torch.equal(raw, keep)  # the caller's tensor is not modified
    torch.testing.assert_close(out['inputs'], (raw - MEAN) / STD)
    assert out['data_samples'][0].mask.dtype == torch.bool
    assert 'mask' in out['data_samples'][0].metainfo_keys()
    out = pre(dict(inputs=[r for r in raw.to(torch.uint8)]))
    assert out['inputs'].shape == (2, 3, 4, 8, 8)
    assert out['data_samples'] is None


def test_errors():
    pre = VideoMAEDataPreprocessor()
    inputs = [torch.zeros(1, 3, 2, 8, 8, dtype=torch.uint8)] * 2
    a, b = ActionDataSample(), ActionDataSample()
    a.mask = np.zeros(4, bool)
    with pytest.raises(ValueError, match='have no'):
        pre(dict(inputs=inputs, data_samples=[a, b]))
    b.mask = np.zeros((3, 4), bool)
    with pytest.raises(ValueError, match='view'):
        pre(dict(inputs=inputs, data_samples=[a, b]))
    with pytest.raises(ValueError, match='channels'):
        pre(dict(inputs=[torch.zeros(1, 1, 2, 8, 8, dtype=torch.uint8)]))
