# Copyright (c) mmmae contributors. All rights reserved.
"""VideoMAE import (official V1/V2, HuggingFace, MMAction2 -> mmmae):
:func:`mmmae.checkpoint.convert_videomae.convert_videomae_file` and its
command line ``tools/model_converters/videomae2mmmae.py`` on the official
parity fixtures, wrapped/prefixed variants, HuggingFace and MMAction2 state
dicts."""
import argparse
import os.path as osp
import re

import pytest
import torch

import mmmae  # noqa: F401
from conftest import REPO_ROOT, load_fixture, run_tool
from mmmae.checkpoint.convert_videomae import convert_videomae_file
from mmmae.checkpoint.videomae import ConversionError
from mmmae.registry import MODELS

TOOL = 'tools/model_converters/videomae2mmmae.py'

ARCH = dict(embed_dims=64, num_layers=2, num_heads=4, feedforward_channels=256)
TOL = dict(atol=1e-5, rtol=1e-5)


def backbone_cfg(num_frames, use_mean_pooling=False):
    return dict(
        type='mmmae.VideoMAEViT',
        arch=ARCH,
        img_size=32,
        patch_size=8,
        num_frames=num_frames,
        tubelet_size=2,
        use_mean_pooling=use_mean_pooling)


def build_algorithm(num_frames, use_mean_pooling=False):
    return MODELS.build(
        dict(
            type='mmmae.VideoMAE',
            backbone=backbone_cfg(num_frames, use_mean_pooling),
            neck=dict(
                type='mmmae.VideoMAEPretrainDecoder',
                embed_dims=64,
                decoder_embed_dims=32,
                decoder_depth=2,
                decoder_num_heads=2,
                patch_size=8,
                tubelet_size=2),
            head=dict(
                type='mmmae.VideoMAEPretrainHead', patch_size=8,
                tubelet_size=2))).eval()


def build_recognizer(num_classes=5):
    """MMAction2 Recognizer3D with an mmmae backbone and a linear head."""
    import mmaction.models  # noqa: F401
    from mmaction.registry import MODELS as MMA_MODELS
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmaction'):
        return MMA_MODELS.build(
            dict(
                type='Recognizer3D',
                backbone=backbone_cfg(4, use_mean_pooling=True),
                cls_head=dict(
                    type='TimeSformerHead',
                    num_classes=num_classes,
                    in_channels=64),
                data_preprocessor=dict(
                    type='ActionDataPreprocessor',
                    format_shape='NCTHW'))).eval()


def _paths(tmp_path, ckpt, name):
    """Save ``ckpt`` as ``name``; (source, destination) paths."""
    src = tmp_path / name
    if name.endswith('.safetensors'):
        from safetensors.torch import save_file
        save_file(ckpt, str(src))
    else:
        torch.save(ckpt, src)
    return src, tmp_path / ('out_' + name.split('.')[0] + '.pth')


def convert(tmp_path, ckpt, name='src.pth', **kwargs):
    """Save ``ckpt`` and convert it with the Python API; (report, the
    written checkpoint or None when the report has errors)."""
    src, dst = _paths(tmp_path, ckpt, name)
    report = convert_videomae_file(str(src), **kwargs)
    if not report.ok:
        with pytest.raises(ConversionError, match='nothing written'):
            report.save(str(dst))
        assert not dst.exists()
        return report, None
    report.save(str(dst))
    out = torch.load(dst, weights_only=False)
    assert set(out) == {'state_dict', 'meta'}
    return report, out


def cli(tmp_path, ckpt, *extra, name='src.pth'):
    """Save ``ckpt``, run the command line; (exit status, the written
    checkpoint or None)."""
    src, dst = _paths(tmp_path, ckpt, name)
    rc = run_tool(TOOL, src, dst, *extra)
    out = None
    if rc == 0:
        out = torch.load(dst, weights_only=False)
        assert set(out) == {'state_dict', 'meta'}
    else:
        assert not dst.exists()
    return rc, out


# --------------------------------------------------------------------------
# official fixtures
# --------------------------------------------------------------------------
@pytest.mark.parametrize('name,num_frames', [
    ('videomae_v1_pretrain_tiny.pth', 16),
    ('videomae_v2_pretrain_tiny.pth', 4),
])
def test_official_pretrain(tmp_path, name, num_frames):
    fx = load_fixture(name)
    report, out = convert(tmp_path, fx['checkpoint'])
    assert (report.source_format, report.target) == ('official-pretrain',
                                                     'algorithm')
    sd = out['state_dict']
    assert out['meta']['source_format'] == 'official-pretrain'
    assert out['meta']['target'] == 'algorithm'
    assert len(sd) == len(fx['checkpoint']['model']) == 62
    model = build_algorithm(num_frames)
    model.load_state_dict(sd, strict=True)
    with torch.no_grad():
        enc = model.backbone(fx['inputs'], fx['mask'])
        pred = model.neck(enc, fx['mask'], fx.get('decode_mask'))
    torch.testing.assert_close(enc, fx['encoder_output'], **TOL)
    torch.testing.assert_close(pred, fx['outputs'], **TOL)


def _fold_layer_scale(sd):
    """The same function without layer scale: ``g * (W x + b)`` is
    ``(g W) x + g b``, so gamma_1/gamma_2 go into the rows of attn.proj /
    mlp.fc2 (independent of how the model applies them)."""
    out = dict(sd)
    for key in [k for k in sd if k.endswith('.gamma_1')]:
        p = key[:-len('gamma_1')]
        g1, g2 = out.pop(p + 'gamma_1'), out.pop(p + 'gamma_2')
        for name, g in (('attn.proj', g1), ('mlp.fc2', g2)):
            out[f'{p}{name}.weight'] = sd[f'{p}{name}.weight'] * g[:, None]
            out[f'{p}{name}.bias'] = sd[f'{p}{name}.bias'] * g
    return out


@pytest.mark.parametrize('name,num_frames', [
    ('videomae_v1_pretrain_tiny.pth', 16),
    ('videomae_v2_pretrain_tiny.pth', 4),
])
def test_official_pretrain_with_layer_scale(tmp_path, name, num_frames):
    """Official ``init_values > 0``: every encoder AND decoder block has
    gamma_1/gamma_2; the inferred decoder must have layer scale too."""
    fx = load_fixture(name)
    sd = dict(fx['checkpoint']['model'])
    gen = torch.Generator().manual_seed(0)
    for part, dims in (('encoder', 64), ('decoder', 32)):
        for i in range(2):
            for g in ('gamma_1', 'gamma_2'):
                sd[f'{part}.blocks.{i}.{g}'] = 0.05 + torch.rand(
                    dims, generator=gen)
    report, out = convert(tmp_path, {'model': sd})
    assert report.ok, report.errors
    assert report.checked
    assert not (report.missing or report.unexpected or report.mismatch)
    assert '0 missing, 0 unexpected, 0 shape mismatches' in '\n'.join(
        report.summary())
    conv = out['state_dict']
    assert len(conv) == 62 + 8
    cfg = out['meta']['inferred_config']
    assert cfg['backbone']['layer_scale_init_value'] > 0
    assert cfg['neck']['layer_scale_init_value'] > 0

    # the model the CLI describes (heads and clip size are not in weights)
    bcfg = dict(cfg['backbone'], arch=ARCH, img_size=32,
                num_frames=num_frames)
    model = MODELS.build(
        dict(type='mmmae.VideoMAE', backbone=bcfg,
             neck=dict(cfg['neck'], decoder_num_heads=2),
             head=dict(type='mmmae.VideoMAEPretrainHead', patch_size=8,
                       tubelet_size=2))).eval()
    model.load_state_dict(conv, strict=True)
    ref = build_algorithm(num_frames)
    ref.load_state_dict(_fold_layer_scale(conv), strict=True)
    mask, dmask = fx['mask'], fx.get('decode_mask')
    with torch.no_grad():
        enc = model.backbone(fx['inputs'], mask)
        pred = model.neck(enc, mask, dmask)
        ref_enc = ref.backbone(fx['inputs'], mask)
        ref_pred = ref.neck(ref_enc, mask, dmask)
    torch.testing.assert_close(enc, ref_enc, **TOL)
    torch.testing.assert_close(pred, ref_pred, **TOL)
    # the gammas matter: without them the official outputs come back
    assert (pred - fx['outputs']).abs().max() > 1e-2


def test_official_finetune_to_recognizer(tmp_path):
    fx = load_fixture('videomae_v1_finetune_tiny.pth')
    report, out = convert(tmp_path, fx['checkpoint'])  # {'module': sd}
    assert report.inferred_config['num_classes'] == 5
    assert out['meta']['target'] == 'recognizer'
    assert out['meta']['inferred_config']['num_classes'] == 5
    model = build_recognizer(5)
    model.load_state_dict(out['state_dict'], strict=True)
    with torch.no_grad():
        feat, _ = model.extract_feat(fx['inputs'][:, None])
        logits = model.cls_head(feat)
    torch.testing.assert_close(feat, fx['features'], **TOL)
    torch.testing.assert_close(logits, fx['logits'], **TOL)


def test_to_backbone_from_pretrain(tmp_path, capsys):
    fx = load_fixture('videomae_v1_pretrain_tiny.pth')
    rc, out = cli(tmp_path, fx['checkpoint'], '--to', 'backbone')
    assert rc == 0
    assert 'discarded on request' in capsys.readouterr().out
    sd = out['state_dict']
    assert not any(k.startswith(('backbone.', 'neck.')) for k in sd)
    backbone = MODELS.build(backbone_cfg(16)).eval()
    backbone.load_state_dict(sd, strict=True)
    with torch.no_grad():
        enc = backbone(fx['inputs'], fx['mask'])
    torch.testing.assert_close(enc, fx['encoder_output'], **TOL)
    assert len(out['meta']['discarded']) == 62 - len(sd)


def _wrap_variants(sd):
    yield 'module+module.', {
        'module': {'module.' + k: v
                   for k, v in sd.items()}
    }
    yield 'model+_orig_mod.', {'model': {'_orig_mod.' + k: v
                                         for k, v in sd.items()}}
    yield 'raw+module._orig_mod.', {'module._orig_mod.' + k: v
                                    for k, v in sd.items()}
    yield 'state_dict+inner _orig_mod', {
        'state_dict': {
            re.sub(r'^(encoder|decoder)\.', r'\1._orig_mod.', k): v
            for k, v in sd.items()
        }
    }


@pytest.mark.parametrize('variant', range(4))
def test_wrapped_and_prefixed(tmp_path, variant):
    fx = load_fixture('videomae_v2_pretrain_tiny.pth')
    sd = fx['checkpoint']['model']
    label, ckpt = list(_wrap_variants(sd))[variant]
    report, out = convert(tmp_path, ckpt)
    assert report.ok, label
    model = build_algorithm(4)
    model.load_state_dict(out['state_dict'], strict=True)
    ref = convert(tmp_path, fx['checkpoint'], name='ref.pth')[1]
    for k, v in ref['state_dict'].items():
        assert torch.equal(out['state_dict'][k], v), (label, k)


def test_encoder_only_checkpoint(tmp_path):
    fx = load_fixture('videomae_v2_pretrain_tiny.pth')
    enc = {k: v for k, v in fx['checkpoint']['model'].items()
           if k.startswith('encoder.')}
    report, out = convert(tmp_path, {'model': enc})
    assert out['meta']['source_format'] == 'official-encoder'
    assert out['meta']['target'] == 'backbone'
    backbone = MODELS.build(backbone_cfg(4)).eval()
    backbone.load_state_dict(out['state_dict'], strict=True)
    # --to algorithm needs a decoder
    with pytest.raises(ConversionError, match='needs a pretraining'):
        convert(tmp_path, {'model': enc}, to='algorithm', name='enc2.pth')
    assert not (tmp_path / 'out_enc2.pth').exists()


def test_pickled_training_checkpoint(tmp_path):
    """Official training pickles argparse args: allow-listed, still safe."""
    fx = load_fixture('videomae_v2_pretrain_tiny.pth')
    ckpt = dict(
        model=fx['checkpoint']['model'],
        epoch=799,
        args=argparse.Namespace(model='pretrain_videomae_base_patch16_224'))
    report, out = convert(tmp_path, ckpt)
    assert not any('full pickle' in n for n in report.notes)
    build_algorithm(4).load_state_dict(out['state_dict'], strict=True)


class _Payload:
    """Pickles as a call that would create ``self.path`` when unpickled."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, 'w'))


def test_untrusted_pickle_refused_then_trusted(tmp_path, capsys):
    fx = load_fixture('videomae_v2_pretrain_tiny.pth')
    marker = tmp_path / 'side_effect'
    ckpt = dict(model=fx['checkpoint']['model'], extra=_Payload(marker))
    rc, out = cli(tmp_path, ckpt)
    err = capsys.readouterr().err
    assert rc == 1 and out is None
    assert not marker.exists()  # nothing of the pickle ran
    assert 'src.pth' in err and 'io.open' in err
    assert '--trust-pickle' in err and 'nothing written' in err
    with pytest.raises(ConversionError, match='--trust-pickle'):
        convert(tmp_path, ckpt, name='api.pth')
    assert not marker.exists()
    rc, out = cli(tmp_path, ckpt, '--trust-pickle')
    assert rc == 0 and marker.exists()
    assert 'full pickle' in capsys.readouterr().out


# --------------------------------------------------------------------------
# weights that would be dropped -> non-zero exit naming them
# --------------------------------------------------------------------------
def test_unknown_tensor_fails(tmp_path, capsys):
    fx = load_fixture('videomae_v1_pretrain_tiny.pth')
    sd = dict(fx['checkpoint']['model'])
    sd['encoder.blocks.0.attn.rel_pos_bias'] = torch.zeros(4)
    rc, _ = cli(tmp_path, {'model': sd})
    assert rc == 1
    err = capsys.readouterr().err
    assert 'encoder.blocks.0.attn.rel_pos_bias' in err
    assert 'nothing written' in err


def test_unknown_tensor_fails_finetune_and_hf(tmp_path):
    fx = load_fixture('videomae_v1_finetune_tiny.pth')
    sd = dict(fx['checkpoint']['module'])
    sd['cls_token'] = torch.zeros(1, 1, 64)
    with pytest.raises(ConversionError, match='cls_token'):
        convert(tmp_path, {'module': sd})

    hf_sd = _hf_pretrain_state_dict()
    hf_sd['videomae.pooler.dense.weight'] = torch.zeros(64, 64)
    with pytest.raises(ConversionError,
                       match=re.escape('videomae.pooler.dense.weight')):
        convert(tmp_path, hf_sd, name='hf_bad.pth')


def test_algorithm_target_would_drop_classifier(tmp_path):
    fx = load_fixture('videomae_v1_finetune_tiny.pth')
    with pytest.raises(ConversionError, match='decoder'):
        convert(tmp_path, fx['checkpoint'], to='algorithm')


def test_shape_mismatch_with_inferred_model_fails(tmp_path):
    """Every tensor the inferred model cannot hold is reported, not just
    the first, with both shapes."""
    fx = load_fixture('videomae_v1_pretrain_tiny.pth')
    sd = dict(fx['checkpoint']['model'])
    sd['encoder.blocks.1.attn.q_bias'] = torch.zeros(65)
    sd['encoder.blocks.1.mlp.fc1.weight'] = torch.zeros(100, 64)
    report, out = convert(tmp_path, {'model': sd})
    assert out is None and len(report.mismatch) == 2
    err = '\n'.join(report.errors)
    assert '2 shape mismatches' in err
    assert 'backbone.blocks.1.attn.q_bias: checkpoint (65,) vs model (64,)' \
        in err
    assert ('backbone.blocks.1.mlp.fc1.weight: checkpoint (100, 64) vs '
            'model (256, 64)') in err


# --------------------------------------------------------------------------
# HuggingFace and MMAction2 sources
# --------------------------------------------------------------------------
def _hf_config(**kwargs):
    from transformers import VideoMAEConfig
    cfg = dict(
        image_size=32, patch_size=8, num_frames=4, tubelet_size=2,
        hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=256, decoder_hidden_size=32,
        decoder_num_hidden_layers=2, decoder_num_attention_heads=2,
        decoder_intermediate_size=128, norm_pix_loss=True,
        use_mean_pooling=False, qkv_bias=True, layer_norm_eps=1e-6)
    cfg.update(kwargs)
    return VideoMAEConfig(**cfg)


def _hf_pretrain_state_dict(**kwargs):
    pytest.importorskip('transformers')
    from transformers import VideoMAEForPreTraining
    torch.manual_seed(0)
    model = VideoMAEForPreTraining(_hf_config(**kwargs))
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 1:
                p.add_(0.1 * torch.randn(p.shape, generator=gen))
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize('name', ['pytorch_model.bin', 'model.safetensors'])
def test_hf_pretrain(tmp_path, name):
    hf_sd = _hf_pretrain_state_dict()
    report, out = convert(tmp_path, hf_sd, name=name)
    assert report.ok and report.hf_config is None
    assert out['meta']['source_format'] == 'hf'
    assert out['meta']['target'] == 'algorithm'
    model = build_algorithm(4)
    model.load_state_dict(out['state_dict'], strict=True)
    q = out['state_dict']['backbone.blocks.1.attn.q_bias']
    assert torch.equal(
        q, hf_sd['videomae.encoder.layer.1.attention.attention.query.bias'])


def test_hf_folder_config_gives_eps_and_heads(tmp_path, capsys):
    """A ``save_pretrained`` folder: config.json next to the weights gives
    layer_norm_eps (HF default 1e-12), the heads and the clip size; the
    model of the inferred config reproduces HF within 1e-6."""
    pytest.importorskip('transformers')
    from transformers import VideoMAEForPreTraining
    torch.manual_seed(0)
    hf = VideoMAEForPreTraining(_hf_config(layer_norm_eps=1e-12)).eval()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in hf.parameters():
            if p.dim() == 1:
                p.add_(0.1 * torch.randn(p.shape, generator=gen))
    folder = tmp_path / 'hf'
    hf.save_pretrained(str(folder))
    dst = tmp_path / 'out.pth'
    assert run_tool(TOOL, folder / 'model.safetensors', dst) == 0
    assert 'config.json' in capsys.readouterr().out
    cfg = torch.load(dst, weights_only=False)['meta']['inferred_config']
    bb, neck = cfg['backbone'], cfg['neck']
    assert (bb['norm_eps'], neck['norm_eps'], neck['final_norm_eps']) == (
        1e-12, 1e-12, 1e-5)
    assert (bb['arch']['num_heads'], neck['decoder_num_heads']) == (4, 2)
    assert (bb['img_size'], bb['num_frames']) == (32, 4)
    model = MODELS.build(
        dict(type='mmmae.VideoMAE', backbone=bb, neck=neck,
             head=dict(type='mmmae.VideoMAEPretrainHead', patch_size=8,
                       tubelet_size=2))).eval()
    model.load_state_dict(torch.load(dst)['state_dict'], strict=True)
    x = torch.randn(2, 3, 4, 32, 32)
    mask = torch.zeros(2, 32, dtype=torch.bool)
    mask[0, ::2] = True
    mask[1, 1::2] = True
    with torch.no_grad():
        ref = hf(pixel_values=x.permute(0, 2, 1, 3, 4),
                 bool_masked_pos=mask).logits
        pred = model.neck(model.backbone(x, mask), mask)
    assert (pred - ref).abs().max() <= 1e-6

    # without a config.json: HF's default eps is assumed, and said so
    bare = tmp_path / 'bare' / 'model.safetensors'
    bare.parent.mkdir()
    bare.write_bytes((folder / 'model.safetensors').read_bytes())
    report = convert_videomae_file(str(bare), str(tmp_path / 'bare.pth'))
    assert report.hf_config is None
    assert any('no HF config given' in n for n in report.notes)
    meta = torch.load(tmp_path / 'bare.pth', weights_only=False)['meta']
    assert meta['inferred_config']['backbone']['norm_eps'] == 1e-12
    # the config.json found next to the weights is the one given
    report = convert_videomae_file(str(folder / 'model.safetensors'))
    assert report.hf_config == str(folder / 'config.json')
    assert report.inferred_config == cfg


def test_hf_without_final_norm_strict(tmp_path, capsys):
    """use_mean_pooling=True HF pretraining: fc_norm missing in the target;
    reported (exit 0), an error under --strict."""
    hf_sd = _hf_pretrain_state_dict(use_mean_pooling=True)
    rc, out = cli(tmp_path, hf_sd)
    assert rc == 0
    text = capsys.readouterr().out
    assert 'backbone.fc_norm.weight' in text and 'use_mean_pooling' in text
    assert out['meta']['inferred_config']['backbone']['use_mean_pooling']
    report, out = convert(tmp_path, hf_sd, strict=True, name='strict.pth')
    assert out is None
    assert report.missing == ['backbone.fc_norm.weight',
                              'backbone.fc_norm.bias']
    assert report.errors == [f'--strict: missing keys {report.missing}']
    rc, _ = cli(tmp_path, hf_sd, '--strict', name='strict.pth')
    assert rc == 1


def test_mmaction2_recognizer(tmp_path):
    """An MMAction2 vit_mae recognizer checkpoint converts back losslessly."""
    fx = load_fixture('videomae_v1_finetune_tiny.pth')
    _, ref = convert(tmp_path, fx['checkpoint'], name='ref.pth')
    from mmmae.models.utils import get_sinusoid_table
    mma = {}
    for k, v in ref['state_dict'].items():
        k = k.replace('patch_embed.proj.', 'patch_embed.projection.')
        k = re.sub(r'mlp\.fc1\.', 'mlp.layers.0.0.', k)
        k = re.sub(r'mlp\.fc2\.', 'mlp.layers.1.', k)
        mma[k] = v
    mma['backbone.pos_embed'] = get_sinusoid_table(32, 64)[None]
    mma['data_preprocessor.mean'] = torch.tensor([123.675, 116.28, 103.53])
    mma['data_preprocessor.std'] = torch.tensor([58.395, 57.12, 57.375])
    report, out = convert(tmp_path, {'state_dict': mma, 'meta': {}},
                          name='mma.pth')
    assert any('data_preprocessor.mean' in n for n in report.notes)
    assert out['meta']['source_format'] == 'mmaction2'
    assert list(out['state_dict']) == list(ref['state_dict'])
    for k, v in ref['state_dict'].items():
        assert torch.equal(out['state_dict'][k], v), k


def test_mmmae_checkpoint_retarget(tmp_path):
    fx = load_fixture('videomae_v1_pretrain_tiny.pth')
    _, ref = convert(tmp_path, fx['checkpoint'], name='ref.pth')
    report, out = convert(tmp_path, ref, to='backbone', name='again.pth')
    assert report.target == 'backbone'
    assert out['meta']['source_format'] == 'mmmae'
    MODELS.build(backbone_cfg(16)).load_state_dict(out['state_dict'],
                                                   strict=True)


def test_unrecognized_file(tmp_path, capsys):
    with pytest.raises(ConversionError, match='unrecognized'):
        convert(tmp_path, {'foo.weight': torch.zeros(2)})
    rc, _ = cli(tmp_path, {'foo.weight': torch.zeros(2)})
    assert rc == 1
    assert 'unrecognized' in capsys.readouterr().err


# --------------------------------------------------------------------------
# damaged files and exactly-named wrong tensors
# --------------------------------------------------------------------------
def _damaged_file(tmp_path, kind):
    """A real damaged source file of ``kind`` and the fault it must name."""
    path = tmp_path / f'{kind}.pth'
    if kind == 'empty':
        path.write_bytes(b'')
        return path, '0 bytes'
    if kind == 'half':
        good = tmp_path / 'good.pth'
        torch.save(load_fixture('videomae_v1_pretrain_tiny.pth')['checkpoint'],
                   good)
        data = good.read_bytes()
        path.write_bytes(data[:len(data) // 2])
        return path, 'truncated: '
    if kind == 'random':
        path.write_bytes(bytes(range(256)) * 8)
        return path, "not a PyTorch checkpoint (starts with b'\\x00\\x01"
    path.write_text('<!DOCTYPE html><html><head><title>Sign in - Google '
                    'Accounts</title></head></html>')
    return path, "not a PyTorch checkpoint (starts with b'<!DOCTYPE html>"


@pytest.mark.parametrize('kind', ['empty', 'half', 'random', 'html'])
def test_damaged_source_one_line_error(tmp_path, capsys, kind):
    src, fault = _damaged_file(tmp_path, kind)
    dst = tmp_path / 'out.pth'
    assert run_tool(TOOL, src, dst) == 1
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.count('\n') == 0, err  # one line
    assert err.startswith(f'ERROR: cannot load checkpoint {src}: {fault}')
    assert 'Fix: ' in err and err.endswith('(nothing written)')
    assert not dst.exists()


@pytest.mark.slow
def test_truncated_source_cli_subprocess_has_no_traceback(tmp_path):
    import subprocess
    import sys
    src, _ = _damaged_file(tmp_path, 'half')
    dst = tmp_path / 'out.pth'
    proc = subprocess.run(
        [sys.executable,
         osp.join(REPO_ROOT, 'tools', 'model_converters',
                  'videomae2mmmae.py'),
         str(src), str(dst)],
        capture_output=True, text=True, timeout=300,
        env={**__import__('os').environ, 'OMP_NUM_THREADS': '1'})
    assert proc.returncode == 1
    assert 'Traceback' not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if 'ERROR' in ln]
    assert errors == [ln for ln in errors if str(src) in ln] and \
        len(errors) == 1
    assert 'truncated: ' in errors[0] and not dst.exists()


def test_missing_block_0_is_reported_as_missing(tmp_path, capsys):
    """Depth and biases come from every block, not block 0: the keys of
    the missing block are named (and blocks 1.. are not 'unexpected')."""
    sd = dict(load_fixture('videomae_v1_pretrain_tiny.pth')['checkpoint']
              ['model'])
    gone = [k for k in sd if k.startswith('encoder.blocks.0.')]
    for k in gone:
        del sd[k]
    rc, out = cli(tmp_path, {'model': sd})
    text = capsys.readouterr().out
    assert rc == 0  # missing keys are reported; --strict refuses them
    assert f'{len(gone)} missing, 0 unexpected, 0 shape mismatches' in text
    assert 'missing (left at their init): backbone.blocks.0.norm1.weight' \
        in text
    assert out['meta']['missing'] == ['backbone.' + k[len('encoder.'):]
                                      for k in gone]
    arch = out['meta']['inferred_config']['backbone']
    assert arch['arch']['num_layers'] == 2 and arch['qkv_bias']
    rc, _ = cli(tmp_path, {'model': sd}, '--strict', name='s.pth')
    err = capsys.readouterr().err
    assert rc == 1 and 'backbone.blocks.0.attn.q_bias' in err


@pytest.mark.parametrize('key,shape,model_shape', [
    ('encoder.patch_embed.proj.weight', (64, 3, 2, 4, 4), (64, 3, 2, 8, 8)),
    ('encoder.patch_embed.proj.weight', (48, 3, 2, 8, 8), (64, 3, 2, 8, 8)),
    ('encoder.blocks.0.mlp.fc1.weight', (100, 64), (256, 64)),
    ('encoder.norm.weight', (65, ), (64, )),
    ('mask_token', (1, 1, 48), (1, 1, 32)),
    ('decoder.head.weight', (96, 32), (384, 32)),
])
def test_one_wrong_shape_is_named_exactly(tmp_path, capsys, key, shape,
                                          model_shape):
    """Sizes are majority votes: the one broken tensor is reported, with
    both shapes, instead of the whole model looking wrong."""
    sd = dict(load_fixture('videomae_v1_pretrain_tiny.pth')['checkpoint']
              ['model'])
    sd[key] = torch.zeros(shape)
    name = {'mask_token': 'neck.mask_token'}.get(
        key, re.sub(r'^encoder\.', 'backbone.',
                    re.sub(r'^decoder\.', 'neck.', key)))
    report, _ = convert(tmp_path, {'model': sd})
    assert report.errors == [
        '1 shape mismatch (key: checkpoint shape vs model shape):\n    '
        f'{name}: checkpoint {shape} vs model {model_shape}'
    ]  # only that tensor
    rc, _ = cli(tmp_path, {'model': sd}, name='cli.pth')
    err = capsys.readouterr().err
    assert rc == 1
    assert 'ERROR: 1 shape mismatch (key: checkpoint shape vs model shape):' \
        in err
    assert f'{name}: checkpoint {shape} vs model {model_shape}' in err
    assert err.count(': checkpoint (') == 1  # only that tensor
