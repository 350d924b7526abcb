# Copyright (c) mmmae contributors. All rights reserved.
"""Backbone pretrained loading (``init_cfg=dict(type='Pretrained')``) goes
through the safe loader and reports every mismatched key with both shapes."""
import os

import pytest
import torch

import mmmae  # noqa: F401
from mmmae.registry import MODELS
from mmmae.utils.checkpoint_io import TRUST_ENV, UntrustedCheckpointError

ARCH = dict(embed_dims=64, num_layers=2, num_heads=4, feedforward_channels=256)


def _videomae(init_cfg=None):
    return MODELS.build(
        dict(type='mmmae.VideoMAEViT', arch=ARCH, img_size=32, patch_size=8,
             num_frames=4, tubelet_size=2, init_cfg=init_cfg))


def _multimae(init_cfg=None):
    return MODELS.build(
        dict(type='mmmae.MultiMAEViT', arch=ARCH, img_size=32, patch_size=8,
             input_adapters=dict(
                 rgb=dict(type='mmmae.PatchedInputAdapter', in_channels=3)),
             init_cfg=init_cfg))


def _save_with_two_wrong_shapes(model, path, wrong):
    sd = {'backbone.' + k: v.clone() for k, v in model.state_dict().items()}
    for key, shape in wrong.items():
        sd['backbone.' + key] = torch.zeros(shape)
    torch.save(dict(state_dict=sd), path)


def test_videomae_init_cfg_lists_every_mismatch(tmp_path):
    path = str(tmp_path / 'vm.pth')
    _save_with_two_wrong_shapes(
        _videomae(), path, {
            'patch_embed.proj.weight': (64, 3, 2, 4, 4),
            'blocks.1.mlp.fc1.weight': (100, 64)
        })
    model = _videomae(dict(type='Pretrained', checkpoint=path))
    with pytest.raises(RuntimeError) as info:
        model.init_weights()
    msg = str(info.value)
    assert path in msg and '2 mismatched key(s)' in msg
    assert ('patch_embed.proj.weight: checkpoint (64, 3, 2, 4, 4) vs model '
            '(64, 3, 2, 8, 8)') in msg
    assert 'blocks.1.mlp.fc1.weight: checkpoint (100, 64) vs model ' \
        '(256, 64)' in msg


def test_multimae_init_cfg_lists_every_mismatch(tmp_path):
    path = str(tmp_path / 'mm.pth')
    _save_with_two_wrong_shapes(
        _multimae(), path, {
            'input_adapters.rgb.proj.weight': (64, 3, 4, 4),
            'encoder.1.mlp.fc1.weight': (100, 64)
        })
    model = _multimae(dict(type='Pretrained', checkpoint=path))
    with pytest.raises(RuntimeError) as info:
        model.init_weights()
    msg = str(info.value)
    assert path in msg and '2 mismatched key(s)' in msg
    assert ('input_adapters.rgb.proj.weight: checkpoint (64, 3, 4, 4) vs '
            'model (64, 3, 8, 8)') in msg
    assert 'encoder.1.mlp.fc1.weight: checkpoint (100, 64) vs model ' \
        '(256, 64)' in msg


class _Touch:

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f'touch {self.path}', ))


def test_pretrained_untrusted_pickle_refused(tmp_path, monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    source = _videomae()
    marker = tmp_path / 'ran'
    path = str(tmp_path / 'evil.pth')
    torch.save(
        dict(state_dict={'backbone.' + k: v
                         for k, v in source.state_dict().items()},
             meta=_Touch(marker)), path)
    model = _videomae(dict(type='Pretrained', checkpoint=path))
    with pytest.raises(UntrustedCheckpointError, match=TRUST_ENV):
        model.init_weights()
    assert not marker.exists()
    # the clean weights of a trusted file load
    monkeypatch.setenv(TRUST_ENV, path)
    model.init_weights()
    assert marker.exists()
    assert torch.equal(model.blocks[1].mlp.fc1.weight,
                       source.blocks[1].mlp.fc1.weight)


@pytest.mark.parametrize('build', [_videomae, _multimae])
@pytest.mark.parametrize('kind', ['empty', 'half', 'html'])
def test_pretrained_damaged_file_names_file_and_fault(tmp_path, build, kind):
    """init_cfg=Pretrained on a damaged file: the error names the file and
    the fault (torch alone says EOFError / "failed finding central
    directory" / "Weights only load failed")."""
    from mmmae.utils.checkpoint_io import CorruptCheckpointError
    path = tmp_path / f'{kind}.pth'
    if kind == 'empty':
        path.write_bytes(b'')
        fault = '0 bytes'
    elif kind == 'half':
        good = tmp_path / 'good.pth'
        torch.save(dict(state_dict={
            'backbone.' + k: v
            for k, v in build().state_dict().items()
        }), good)
        data = good.read_bytes()
        path.write_bytes(data[:len(data) // 2])
        fault = 'truncated: '
    else:
        path.write_text('<!DOCTYPE html><html><body>403 Forbidden</body>'
                        '</html>')
        fault = 'not a PyTorch checkpoint'
    model = build(dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(CorruptCheckpointError) as info:
        model.init_weights()
    assert str(path) in str(info.value) and fault in str(info.value)
