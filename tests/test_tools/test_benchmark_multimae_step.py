# Copyright (c) mmmae contributors. All rights reserved.
"""``tools/benchmark/multimae_step.py``: the written-out reference of the
official MultiMAE math (:mod:`mmmae.utils.multimae_reference`) agrees with
mmmae, and the benchmark runs."""
import pytest
import torch
from conftest import run_tool

from mmmae.utils import multimae_reference as reference

SCRIPT = 'tools/benchmark/multimae_step.py'
# 64 px, patch 16: a 4 x 4 grid per modality, semseg ids at 16 x 16
TINY = ['--arch', 'tiny', '--img-size', '64', '--num-visible', '10',
        '--batch-size', '3', '--num-classes', '7', '--dim-class-emb', '8']


@pytest.fixture(scope='module')
def setup():
    # the model and batch of the benchmark's TINY options
    args = reference.ReferenceSettings(
        arch='tiny', img_size=64, num_visible=10, batch_size=3,
        num_classes=7, dim_class_emb=8)
    ours, ref = reference.build_models(args, torch.device('cpu'))
    inputs, samples, masks = reference.make_batch(args, torch.device('cpu'))
    return args, ours, ref, inputs, samples, masks


def test_reference_loss_and_grads_match_mmmae(setup):
    _, ours, ref, inputs, samples, masks = setup
    # 10 visible of 3 x 16 tokens, split across the modalities
    total = sum(m.sum(1) for m in masks.values())
    assert total.tolist() == [38, 38, 38]
    fns = reference.loss_fns(ours, ref, inputs, samples, masks)
    ours.zero_grad()
    ref.zero_grad()
    a, b = fns['mmmae'](), fns['ref']()
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    a.backward()
    b.backward()
    g_ours = dict(ours.named_parameters())
    checked = 0
    for name, p in ref.named_parameters():
        if p.grad is None:
            continue
        mine = 'backbone.' + name if not name.startswith(
            'output_adapters') else 'neck.' + name
        torch.testing.assert_close(
            g_ours[mine].grad, p.grad, rtol=1e-4, atol=1e-6, msg=name)
        checked += 1
    assert checked > 50


def test_reference_detects_a_wrong_weight(setup):
    _, ours, ref, inputs, samples, masks = setup
    fns = reference.loss_fns(ours, ref, inputs, samples, masks)
    with torch.no_grad():
        before = float(fns['ref']())
        bias = ref.output_adapters['depth'].decoder.kv.bias
        saved = bias.clone()
        bias.add_(0.5)
        after = float(fns['ref']())
        bias.copy_(saved)
        assert abs(after - before) > 1e-3
        assert float(fns['ref']()) == pytest.approx(before, abs=1e-6)


def test_main_prints_speed_and_memory(capsys):
    threads = torch.get_num_threads()
    try:
        assert run_tool(SCRIPT, *TINY, '--iters', '1', '--warmup', '0',
                        '--precision', 'fp32', '--threads', '1') == 0
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert 'loss mmmae' in out and '|diff|' in out
    assert 'speed-up mmmae fp32 vs ref fp32 (CPU time)' in out
    assert '| work mem MiB |' in out
    rows = [line for line in out.splitlines()
            if line.startswith(('| mmmae', '| ref'))]
    assert len(rows) == 2
