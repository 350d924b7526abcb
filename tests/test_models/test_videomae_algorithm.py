# Copyright (c) mmmae contributors. All rights reserved.
import numpy as np
import pytest
import torch
from _videomae_helpers import (running_cell_decoder_masks, tiny_model_cfg,
                               tube_masks)
from mmaction.structures import ActionDataSample
from mmengine.optim import OptimWrapper

from mmmae.models import (VideoMAE, VideoMAEDataPreprocessor,
                          VideoMAEPretrainDecoder, VideoMAEPretrainHead,
                          VideoMAEViT)
from mmmae.registry import MODELS


def make_batch(batch=2, views=1, decoder=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    masks = tube_masks(batch * views, seed=seed).numpy()
    dms = running_cell_decoder_masks(batch * views).numpy()
    for i in range(batch):
        inputs.append(
            torch.randint(0, 256, (views, 3, 4, 32, 32), dtype=torch.uint8,
                          generator=g))
        ds = ActionDataSample()
        sl = slice(i * views, (i + 1) * views)
        ds.mask = masks[sl] if views > 1 else masks[i]
        if decoder:
            ds.decoder_mask = dms[sl] if views > 1 else dms[i]
        samples.append(ds)
    return dict(inputs=inputs, data_samples=samples)


def test_build_from_config_dict():
    model = MODELS.build(tiny_model_cfg())
    assert isinstance(model, VideoMAE)
    assert isinstance(model.backbone, VideoMAEViT)
    assert isinstance(model.neck, VideoMAEPretrainDecoder)
    assert isinstance(model.head, VideoMAEPretrainHead)
    assert isinstance(model.data_preprocessor, VideoMAEDataPreprocessor)
    keys = set(model.state_dict())
    assert {'backbone.patch_embed.proj.weight', 'neck.mask_token',
            'neck.encoder_to_decoder.weight', 'neck.head.bias'} <= keys
    assert not any('pos_embed' in k for k in keys)
    model.init_weights()
    # Built modules are accepted too.
    cfg = tiny_model_cfg()
    built = VideoMAE(
        backbone=MODELS.build(cfg['backbone']),
        neck=MODELS.build(cfg['neck']),
        head=MODELS.build(cfg['head']))
    assert isinstance(built.backbone, VideoMAEViT)


@pytest.mark.parametrize('decoder,views', [(False, 1), (True, 2)])
def test_train_step_on_uint8_samples(decoder, views):
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg())
    model.init_weights()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    data = make_batch(views=views, decoder=decoder)
    before = model.neck.mask_token.detach().clone()
    log_vars = model.train_step(data, optim)
    assert torch.isfinite(log_vars['loss'])
    assert not torch.equal(before, model.neck.mask_token)

    # The same loss from the explicit pieces.
    model.eval()
    processed = model.data_preprocessor(make_batch(views=views,
                                                   decoder=decoder), True)
    x, samples = processed['inputs'], processed['data_samples']
    assert x.shape[0] == 2 * views and len(samples) == 2 * views
    mask = torch.stack([s.mask for s in samples])
    dm = torch.stack([s.decoder_mask for s in samples]) if decoder else None
    with torch.no_grad():
        loss = model(x, samples, mode='loss')['loss']
        pred = model.neck(model.backbone(x, mask), mask, dm)
        ref = model.head.loss(pred, model.data_preprocessor.denormalize(x),
                              mask, dm)
    torch.testing.assert_close(loss, ref)


def test_predict_and_tensor_modes():
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg()).eval()
    data = model.data_preprocessor(make_batch(decoder=True))
    with torch.no_grad():
        out = model(**data, mode='predict')
        feats = model(**data, mode='tensor')
        all_tokens = model.extract_feat(data['inputs'])
    assert len(out) == 2
    assert out[0].pred_video.shape == (3, 4, 32, 32)
    assert out[0].pred_video_gt_stats.shape == (3, 4, 32, 32)
    assert out[0].pred_video.min() >= 0 and out[0].pred_video.max() <= 1
    assert out[0].mask.shape == (32, ) and out[0].mask.dtype == torch.bool
    assert feats.shape == (2, 8, 64)
    assert all_tokens.shape == (2, 32, 64)
    with pytest.raises(RuntimeError, match='invalid mode'):
        model(**data, mode='foo')


def test_missing_masks_raise():
    model = MODELS.build(tiny_model_cfg())
    x = torch.randn(2, 3, 4, 32, 32)
    samples = [ActionDataSample(), ActionDataSample()]
    with pytest.raises(ValueError, match='needs data_samples'):
        model.loss(x, samples)
    with pytest.raises(ValueError, match='needs data_samples'):
        model.predict(x, samples)
    one = ActionDataSample()
    one.mask = np.zeros(32, bool)
    with pytest.raises(ValueError, match='have no'):
        model.loss(x, [one, ActionDataSample()])
    with pytest.raises(ValueError, match='clips'):
        model.loss(x, [one])


@pytest.mark.parametrize('where', ['meta_keys', 'algorithm_keys'])
def test_mmaction_pipeline_output_trains(where):
    """FormatShape('NCTHW') + PackActionInputs output, pseudo-collated."""
    from mmaction.datasets.transforms import FormatShape, PackActionInputs
    from mmengine.dataset import pseudo_collate
    rng = np.random.default_rng(0)
    fmt = FormatShape('NCTHW')
    pack = PackActionInputs(**{where: ('mask', 'decoder_mask')})
    masks = tube_masks(2).numpy()
    dms = running_cell_decoder_masks(2).numpy()
    items = []
    for i in range(2):
        results = dict(
            imgs=[rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                  for _ in range(4)],
            num_clips=1, clip_len=4, label=i, mask=masks[i],
            decoder_mask=dms[i])
        items.append(pack(fmt(results)))
    assert items[0]['inputs'].shape == (1, 3, 4, 32, 32)
    assert items[0]['inputs'].dtype == torch.uint8
    data = pseudo_collate(items)
    model = MODELS.build(tiny_model_cfg())
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    log_vars = model.train_step(data, optim)
    assert torch.isfinite(log_vars['loss'])
