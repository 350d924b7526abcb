# Copyright (c) mmmae contributors. All rights reserved.
"""Fixed-size token gathers: same result as boolean indexing, checked
counts, and one ``torch.compile`` graph when the count is known."""
import pytest
import torch
from _compile_helpers import train_step_graphs
from _videomae_helpers import (running_cell_decoder_masks, tiny_model_cfg,
                               tube_masks)

from mmmae.models.utils import common_count, gather_tokens, kept_indices
from mmmae.registry import MODELS


def _keep(batch=3, n=20, k=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    keep = torch.zeros(batch, n, dtype=torch.bool)
    for b in range(batch):
        keep[b, torch.randperm(n, generator=g)[:k]] = True
    return keep


@pytest.mark.parametrize('known', [True, False])
def test_gather_matches_boolean_indexing_with_grads(known):
    keep = _keep()
    x = torch.randn(3, 20, 5, requires_grad=True)
    ref_x = x.detach().clone().requires_grad_()
    out = gather_tokens(x, keep, 6 if known else None)
    ref = ref_x[keep].reshape(3, -1, 5)
    assert torch.equal(out, ref)
    w = torch.randn_like(ref)
    (out * w).sum().backward()
    (ref * w).sum().backward()
    assert torch.equal(x.grad, ref_x.grad)
    # a (1, N, C) table broadcasts over the batch
    table = torch.randn(1, 20, 4)
    assert torch.equal(
        gather_tokens(table, keep, 6),
        table.expand(3, -1, -1)[keep].reshape(3, -1, 4))
    assert torch.equal(kept_indices(keep, 6), keep.nonzero()[:, 1].view(3, 6))


def test_count_errors_name_the_source():
    keep = _keep()
    keep[1, (~keep[1]).nonzero()[0]] = True  # sample 1 keeps 7
    with pytest.raises(ValueError, match=r'same number .*\[6, 7, 6\]'):
        common_count(keep)
    with pytest.raises(ValueError, match=r'same number'):
        gather_tokens(torch.randn(3, 20, 2), keep)
    with pytest.raises(ValueError, match=r'\[6, 7, 6\].*expected 6 \(x\)'):
        gather_tokens(torch.randn(3, 20, 2), keep, 6, 'x')


def test_compiled_gather_is_one_graph_and_still_checks():
    torch._dynamo.reset()
    fn = torch.compile(gather_tokens, fullgraph=True, backend='eager')
    keep, x = _keep(), torch.randn(3, 20, 5)
    assert torch.equal(fn(x, keep, 6), x[keep].reshape(3, -1, 5))
    # inside a graph the check is a device-side assertion (on CPU it
    # raises when the graph runs)
    with pytest.raises(RuntimeError, match='do not keep 5 tokens'):
        fn(x, keep, 5)


def _samples_and_inputs(decoder: bool):
    from mmaction.structures import ActionDataSample
    g = torch.Generator().manual_seed(0)
    samples = []
    masks = tube_masks(2).numpy()
    dms = running_cell_decoder_masks(2).numpy()
    for i in range(2):
        ds = ActionDataSample()
        ds.mask = masks[i]
        if decoder:
            ds.decoder_mask = dms[i]
        samples.append(ds)
    inputs = [torch.randint(0, 256, (1, 3, 4, 32, 32), dtype=torch.uint8,
                            generator=g) for _ in range(2)]
    return dict(inputs=inputs, data_samples=samples)


@pytest.mark.parametrize('decoder', [False, True])
def test_preprocessor_counts_make_the_loss_one_graph(decoder):
    """Counts recorded on the host let dynamo capture encoder, decoder,
    targets and loss without a break; without them it cannot."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg()).eval()
    data = model.data_preprocessor(_samples_and_inputs(decoder))
    x, samples = data['inputs'], data['data_samples']
    assert [s.num_visible for s in samples] == [8, 8]
    if decoder:
        assert [s.num_decoded for s in samples] == [16, 16]
    else:
        assert 'num_decoded' not in samples[0]
    mask, dm = model.get_masks(x, samples)
    counts = model._known_counts(samples, decoder)
    with torch.no_grad():
        eager = model.loss(x, samples)['loss']
        # the sync path (counted on the device) gives the same loss
        torch.testing.assert_close(model.loss_from_masks(x, mask, dm), eager,
                                   rtol=0, atol=0)
        torch._dynamo.reset()
        graph = torch.compile(
            model.loss_from_masks, fullgraph=True, backend='eager')
        torch.testing.assert_close(graph(x, mask, dm, **counts), eager)
        torch._dynamo.reset()
        with pytest.raises(Exception, match='(?i)data-dependent|graph break'):
            torch.compile(model.loss_from_masks, fullgraph=True,
                          backend='eager')(x, mask, dm)
    torch._dynamo.reset()


def test_preprocessor_drops_a_count_the_masks_no_longer_share():
    pre = MODELS.build(dict(type='mmmae.VideoMAEDataPreprocessor'))
    data = _samples_and_inputs(False)
    assert [s.num_visible for s in pre(data)['data_samples']] == [8, 8]
    # the same samples again, now with sample 1 showing one token more
    mask = data['data_samples'][1].mask.copy()
    mask[mask.argmax()] = False
    data['data_samples'][1].mask = mask
    out = pre(data)
    assert [s.get('num_visible') for s in out['data_samples']] == [None] * 2
    model = MODELS.build(tiny_model_cfg())
    with pytest.raises(ValueError, match=r'same number .*\[8, 9\]'):
        model.loss(out['inputs'], out['data_samples'])


def test_mmengine_compiled_train_step_holds_the_loss_in_one_graph():
    """``compile=True`` compiles ``train_step``: the whole V2 loss (4
    attention calls, 4 mask gathers) must land in a single graph."""
    torch.manual_seed(0)
    graphs = train_step_graphs(
        MODELS.build(tiny_model_cfg()), _samples_and_inputs(True))
    full = [
        g for g in graphs if g.count('scaled_dot_product_attention') == 4
        and g.count('argsort') == 4
    ]
    assert len(full) == 1, [(g.count('scaled_dot_product_attention'),
                             g.count('argsort')) for g in graphs]
