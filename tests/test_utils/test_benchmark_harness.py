# Copyright (c) mmmae contributors. All rights reserved.
"""The shared benchmark harness :mod:`mmmae.utils.benchmark` on tiny CPU
work (the benchmarks themselves are run by their own tests)."""
import argparse
import json
import time

import pytest
import torch

from mmmae.utils import benchmark as bm

CPU = torch.device('cpu')


class _Zeroer:
    """Counts the ``zero_grad`` calls :func:`measure_memory` makes."""

    def __init__(self):
        self.calls = 0

    def zero_grad(self, set_to_none=True):
        self.calls += 1


def test_run_interleaved_alternates_and_times_each_impl():
    order = []

    def make(name, seconds):
        def step():
            order.append(name)
            time.sleep(seconds)
            return name.upper()
        return step

    zeroers = {'a': _Zeroer(), 'b': _Zeroer()}
    res = bm.run_interleaved({'a': make('a', 0.01), 'b': make('b', 0.0)},
                             zeroers, CPU, warmup=2, iters=3)
    # warmup per impl, then the timed calls alternate, then one memory call
    assert order == ['a', 'a', 'b', 'b'] + ['a', 'b'] * 3 + ['a', 'b']
    assert list(res) == ['a', 'b']
    for name, (wall, cpu, mem, last) in res.items():
        assert len(wall) == len(cpu) == 3
        assert all(t >= 0 for t in wall + cpu)
        assert isinstance(mem, int)
        assert last == name.upper()
        assert zeroers[name].calls == 2  # before and after the memory call
    # sleeping is wall time, not process CPU time
    assert min(res['a'][0]) >= 0.01
    assert sum(res['a'][1]) < sum(res['a'][0])


def test_time_training_steps_the_optimizers_and_returns_float_loss():
    torch.manual_seed(0)
    models = {'x': torch.nn.Linear(4, 1), 'y': torch.nn.Linear(4, 1)}
    data = torch.randn(8, 4)
    fns = {k: (lambda m=m: m(data).pow(2).mean()) for k, m in models.items()}
    before = {k: m.weight.detach().clone() for k, m in models.items()}
    res = bm.time_training(
        fns, {k: bm.adamw(m) for k, m in models.items()}, CPU, 'fp32',
        warmup=1, iters=2, sdpa='math')
    for k, (wall, cpu, mem, loss) in res.items():
        assert len(wall) == 2 and isinstance(loss, float)
        # warmup + 2 timed + 1 memory step of AdamW moved the weights
        assert not torch.equal(models[k].weight, before[k])


def test_adamw_settings():
    opt = bm.adamw(torch.nn.Linear(2, 2), lr=1e-3, betas=(0.9, 0.999))
    group = opt.param_groups[0]
    assert (group['lr'], group['betas'], group['weight_decay']) == (
        1e-3, (0.9, 0.999), 0.05)
    default = bm.adamw(torch.nn.Linear(2, 2)).param_groups[0]
    assert default['betas'] == (0.9, 0.95)


def test_sdpa_choice_and_context_on_cpu():
    choice = bm.sdpa_choice(CPU, 'default', heads=2, tokens=8)
    bf16, fp32 = choice.split(', ')
    assert bf16.startswith('bf16 ') and fp32.startswith('fp32 ')
    q = torch.randn(1, 2, 8, 16)
    ref = torch.nn.functional.scaled_dot_product_attention(q, q, q)
    for name in bm.SDPA_BACKENDS:
        with bm.sdpa_context(name):
            out = torch.nn.functional.scaled_dot_product_attention(q, q, q)
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


def test_peak_rss_sees_a_temporary_allocation():
    bm.set_mmap_threshold(64 * 1024)
    try:
        bm.release_memory()
        base = bm.rss_bytes()
        with bm.PeakRSS() as mon:
            x = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
            del x
        assert mon.peak - base > 32 * 2**20
    finally:
        bm.set_mmap_threshold(32 * 2**20)


def test_print_ratio_lines_and_report(capsys):
    results = {('mmmae', 'fp32'): ([1.0, 1.0], [2.0, 2.0], 2**20, 0.5),
               ('hf', 'fp32'): ([2.0, 2.0], [4.0, 4.0], 2**21, 0.5)}
    rows = bm.print_report(results, CPU, 2, 'clip', 2, 'clips',
                           extra=('loss', lambda loss: f'{loss:.4f}'))
    out = capsys.readouterr().out
    assert ('ratio mmmae/hf fp32: wall time 0.500 (mean), 0.500 (min); '
            'CPU time 0.500; working memory 0.500') in out
    assert 'speed-up mmmae fp32 vs hf fp32 (CPU time): 2.00x (wall 2.00x)' \
        in out
    assert rows[0]['ms_per_unit'] == pytest.approx(500.)
    assert rows[0]['loss'] == '0.5000' and rows[1]['work_mem_mib'] == 2.
    # against another peer: the roles swap
    (impl, prec, ref_p, sp, _, _), = bm.speed_ups(results, CPU, 'mmmae')
    assert (impl, prec, ref_p, sp) == ('hf', 'fp32', 'fp32', 0.5)


def test_common_args_and_write_json(tmp_path):
    p = argparse.ArgumentParser()
    bm.add_common_args(p)
    args = p.parse_args(['--arch', 'tiny', '--json',
                         str(tmp_path / 'o.json')])
    assert (args.impl, args.precision, args.num_classes) == (
        ['mmmae', 'hf'], ['fp32', 'bf16'], 400)
    bm.write_json(args, CPU, rows=[1], extra=2)
    with open(tmp_path / 'o.json') as f:
        data = json.load(f)
    assert list(data) == ['args', 'device', 'threads', 'rows', 'extra']
    args.json = None
    bm.write_json(args, CPU, rows=[])  # no --json: writes nothing


def test_model_configs_agree():
    args = argparse.Namespace(arch='tiny', img_size=32, patch_size=16,
                              frames=4, tubelet_size=2)
    hf = bm.hf_encoder_kwargs(args)
    ours = bm.ours_backbone_cfg(args, drop_path_rate=0.)
    assert hf['hidden_size'] == ours['arch']['embed_dims'] == 192
    assert hf['num_hidden_layers'] == ours['arch']['num_layers']
    assert ours['drop_path_rate'] == 0.
    norm = torch.nn.LayerNorm(4)
    bm.set_layer_norm_eps_(torch.nn.Sequential(norm))
    assert norm.eps == 1e-6
