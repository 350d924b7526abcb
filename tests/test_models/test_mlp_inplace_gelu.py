# Copyright (c) mmmae contributors. All rights reserved.
"""``Mlp`` applies GELU in place when autograd is off (inference memory)."""
import torch
import torch.nn as nn

from mmmae.models.utils import Mlp, TransformerBlock


def _mlp(act=None):
    torch.manual_seed(0)
    m = Mlp(16, 64)
    if act is not None:
        m.act = act
    return m.eval()


def test_inference_output_is_bit_identical_and_input_untouched():
    m = _mlp()
    x = torch.randn(2, 5, 16)
    x0 = x.clone()
    ref = m.fc2(nn.functional.gelu(m.fc1(x)))
    with torch.inference_mode():
        a = m(x)
    with torch.no_grad():
        b = m(x)
    assert torch.equal(a, ref) and torch.equal(b, ref)
    assert torch.equal(x, x0)


def test_inference_uses_in_place_gelu_and_training_does_not():
    m = _mlp()
    seen = {}

    def hook(_, __, out):
        seen['fc1'] = out

    m.fc1.register_forward_hook(hook)
    x = torch.randn(3, 16)
    with torch.no_grad():
        m(x)
    # the fc1 output itself now holds GELU(fc1 x)
    assert torch.equal(seen['fc1'],
                       nn.functional.gelu(m.fc1(x)).detach())
    y = m(x)  # autograd on: fc1 output kept for backward
    assert not torch.equal(seen['fc1'], nn.functional.gelu(seen['fc1']))
    y.sum().backward()
    assert m.fc1.weight.grad is not None


def test_tanh_gelu_and_other_activations_keep_their_semantics():
    x = torch.randn(4, 16)
    tanh = _mlp(nn.GELU(approximate='tanh'))
    with torch.no_grad():
        out = tanh(x)
    ref = tanh.fc2(nn.functional.gelu(tanh.fc1(x), approximate='tanh'))
    assert torch.equal(out, ref)
    relu = _mlp(nn.ReLU())
    with torch.no_grad():
        assert torch.equal(relu(x), relu.fc2(torch.relu(relu.fc1(x))))


def test_block_inference_matches_grad_mode():
    torch.manual_seed(0)
    blk = TransformerBlock(32, 4, 128).eval()
    x = torch.randn(2, 7, 32)
    with torch.inference_mode():
        a = blk(x)
    b = blk(x)
    assert torch.equal(a, b.detach())
