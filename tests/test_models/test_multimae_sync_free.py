# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAE without host syncs: host-side visible counts, a NaN-free masked
loss, and the whole loss in one ``torch.compile`` graph."""
import pytest
import torch
from _compile_helpers import train_step_graphs
from _multimae_helpers import tiny_eval_model, tiny_model
from mmengine.structures import BaseDataElement

from mmmae.models import MaskedMSELoss

MODS = ('rgb', 'depth', 'semseg')


def _batch(B=3, n=16, keep=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = dict(
        rgb=torch.randn(B, 3, 32, 32, generator=g),
        depth=torch.randn(B, 1, 32, 32, generator=g),
        semseg=torch.randint(0, 5, (B, 8, 8), generator=g))
    samples = []
    for _ in range(B):
        masks = {m: torch.ones(n, dtype=torch.bool) for m in MODS}
        for i in torch.randperm(3 * n, generator=g)[:keep].tolist():
            masks[MODS[i // n]][i % n] = False
        samples.append(BaseDataElement(masks=masks))
    return inputs, samples


@pytest.fixture(scope='module')
def model():
    return tiny_eval_model()


def test_host_count_gives_the_same_tokens_and_checks(model):
    inputs, samples = _batch()
    masks, num_visible = model.stack_masks(inputs, samples)
    assert num_visible == 8 and isinstance(num_visible, int)
    assert all(m.dtype == torch.bool for m in masks.values())
    with torch.no_grad():
        t_host, i_host = model.backbone(inputs, masks, num_visible)
        t_dev, i_dev = model.backbone(inputs, masks)
    assert torch.equal(i_host.visible_ids, i_dev.visible_ids)
    assert torch.equal(t_host, t_dev)
    # a present modality without a mask adds its tokens to the count
    no_depth = dict(rgb=torch.ones(3, 16, dtype=torch.bool),
                    semseg=torch.ones(3, 16, dtype=torch.bool))
    no_depth['rgb'][:, :3] = False
    no_depth['semseg'][:, 5:7] = False
    with torch.no_grad():
        tokens, info = model.backbone(inputs, no_depth, 5)
        ref, ref_info = model.backbone(inputs, no_depth)
    assert tokens.shape[1] == 5 + 16 + 1
    assert torch.equal(info.visible_ids, ref_info.visible_ids)
    # a count that does not match the masks is an error, not a bad gather
    with pytest.raises(ValueError, match='expected 9'):
        model.backbone(inputs, masks, 9)
    # samples that disagree: no host count, the backbone reports them
    samples[0].masks['rgb'][:] = False
    masks, num_visible = model.stack_masks(inputs, samples)
    assert num_visible is None
    with pytest.raises(ValueError, match='same number of visible tokens'):
        model.backbone(inputs, masks, num_visible)


def test_masked_loss_without_masked_pixels_in_a_sample():
    """Official value (nanmean over samples with masked pixels), but a
    sample without any gives zero gradient instead of 0/0 = NaN."""
    loss_fn = MaskedMSELoss(patch_size=8)
    pred = torch.randn(3, 3, 16, 16, requires_grad=True)
    target = torch.randn(3, 3, 16, 16)
    mask = torch.zeros(3, 4, dtype=torch.bool)
    mask[0, :2] = True
    mask[2] = True
    loss = loss_fn(pred, target, mask)
    per_pixel = (pred - target).square().mean(1)
    m = mask.view(3, 1, 2, 2).float()
    m = torch.nn.functional.interpolate(m, size=(16, 16)).squeeze(1)
    ref = torch.stack([(per_pixel[b] * m[b]).sum() / m[b].sum()
                       for b in (0, 2)]).mean()
    torch.testing.assert_close(loss, ref)
    loss.backward()
    assert torch.isfinite(pred.grad).all()
    assert pred.grad[1].abs().max() == 0
    # nothing masked anywhere: 0 with a (zero) gradient
    pred.grad = None
    none = loss_fn(pred, target, torch.zeros(3, 4, dtype=torch.bool))
    none.backward()
    assert float(none.detach()) == 0 and pred.grad.abs().max() == 0


def test_compiled_train_step_holds_the_loss_in_one_graph():
    torch.manual_seed(0)
    inputs, samples = _batch()
    graphs = train_step_graphs(tiny_model(),
                               dict(inputs=inputs, data_samples=samples))
    # the visible-token argsort, the encoder (2 blocks), 3 decoders (a
    # cross-attention and a self-attention block each) and the 3 losses
    full = [g for g in graphs if 'argsort' in g
            and g.count('scaled_dot_product_attention') == 8
            and {'cross_entropy', 'l1_loss', 'mse_loss'} <= set(g)]
    assert len(full) == 1, [(g.count('scaled_dot_product_attention'),
                             g.count('argsort')) for g in graphs]
