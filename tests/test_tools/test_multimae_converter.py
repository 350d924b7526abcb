# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAE import (:func:`mmmae.checkpoint.convert_multimae.
convert_multimae_file`, its command line
``tools/model_converters/multimae2mmmae.py``) and the MultiViT <-> timm
converters on the official parity fixtures and timm ViTs."""
import copy
import os.path as osp

import pytest
import torch
import torch.nn as nn

import mmmae  # noqa: F401
from conftest import load_fixture, run_tool
from mmmae.checkpoint.convert_multimae import convert_multimae_file
from mmmae.checkpoint.multimae import (convert_official_multimae,
                                       multimae_to_timm, timm_to_multimae)
from mmmae.checkpoint.videomae import ConversionError
from mmmae.registry import MODELS

TOOL = 'tools/model_converters/multimae2mmmae.py'

TOL = dict(rtol=1e-5, atol=1e-5)
# The fixtures' heads (4 encoder, 2 decoder) are not standard-table values.
HEADS = ['--num-heads', '4', '--decoder-num-heads', '2']


@pytest.fixture(scope='module')
def pretrain():
    return load_fixture('multimae_pretrain_tiny.pth')


@pytest.fixture(scope='module')
def multivit():
    return load_fixture('multimae_multivit_tiny.pth')


def _save(obj, tmp_path, name='src.pth'):
    path = str(tmp_path / name)
    torch.save(obj, path)
    return path


def _convert(tmp_path, obj, *extra, name='src.pth'):
    """Save ``obj``, run the command line; (exit status, output path)."""
    src = _save(obj, tmp_path, name)
    dst = str(tmp_path / ('out_' + name))
    rc = run_tool(TOOL, src, dst, *extra)
    return rc, dst


def _report(tmp_path, obj, name='src.pth', **kwargs):
    """Save ``obj`` and convert it with the Python API; (report, output
    path, written only when the report has no errors)."""
    src = _save(obj, tmp_path, name)
    dst = str(tmp_path / ('out_' + name))
    report = convert_multimae_file(src, **kwargs)
    if report.ok:
        report.save(dst)
    else:
        with pytest.raises(ConversionError, match='nothing written'):
            report.save(dst)
    return report, dst


def _load(dst):
    return torch.load(dst, map_location='cpu', weights_only=True)


def _masks(fx):
    return {k: v.bool() for k, v in fx['task_masks'].items()}


# --------------------------------------------------------------------------
# official fixtures
# --------------------------------------------------------------------------
def test_pretrain_fixture_roundtrips_through_inferred_config(
        pretrain, tmp_path, capsys):
    rc, dst = _convert(tmp_path, pretrain['checkpoint'], *HEADS)
    assert rc == 0
    report = capsys.readouterr().out
    assert 'format: official-multimae, 146 tensors' in report
    assert 'target: algorithm, 146 tensors' in report
    assert '0 missing, 0 unexpected, 0 shape mismatches' in report
    ckpt = _load(dst)
    meta = ckpt['meta']
    assert meta['source_format'] == 'official-multimae'
    assert meta['target'] == 'algorithm' and meta['guessed'] == []
    cfg = meta['inferred_config']
    bb = cfg['backbone']
    assert list(bb['input_adapters']) == ['rgb', 'depth', 'semseg']
    assert bb['input_adapters']['semseg'] == dict(
        type='mmmae.SemSegInputAdapter',
        num_classes=5,
        dim_class_emb=16,
        stride_level=4)
    assert bb['arch'] == dict(embed_dims=64,
                              num_layers=2,
                              num_heads=4,
                              feedforward_channels=256)
    assert (bb['img_size'], bb['patch_size']) == (32, 8)
    assert cfg['neck']['common']['context_tasks'] == ['rgb', 'depth', 'semseg']
    assert cfg['neck']['output_adapters']['semseg'] == dict(num_channels=5,
                                                            stride_level=4)

    model = MODELS.build(
        dict(type='mmmae.MultiMAE', backbone=bb, neck=cfg['neck'])).eval()
    model.load_state_dict(ckpt['state_dict'], strict=True)
    with torch.no_grad():
        tokens, info = model.backbone(pretrain['inputs'], _masks(pretrain))
        torch.testing.assert_close(tokens, pretrain['encoder_tokens'], **TOL)
        preds = model.neck(tokens, info)
    for task, ref in pretrain['outputs'].items():
        torch.testing.assert_close(preds[task], ref, **TOL)


def test_heads_are_guessed_and_reported(pretrain, tmp_path):
    report, dst = _report(tmp_path, pretrain['checkpoint'])
    assert report.ok
    assert report.guessed[0] == 'num_heads=1 (width 64)'
    assert any('guessed num_heads=1 (width 64)' in n for n in report.notes)
    meta = _load(dst)['meta']
    assert meta['inferred_config']['backbone']['arch']['num_heads'] == 1
    assert len(meta['guessed']) == 2


def test_pretrain_to_backbone_and_mmmae_retarget(pretrain, tmp_path, capsys):
    # DDP prefix + MMEngine wrapper.
    sd = {'module.' + k: v for k, v in pretrain['checkpoint']['model'].items()}
    rc, dst = _convert(tmp_path, {'state_dict': sd}, '--to', 'backbone',
                       *HEADS)
    assert rc == 0
    report = capsys.readouterr().out
    assert 'discarded on request (--to backbone): 111 tensors' in report
    ckpt = _load(dst)
    bb = MODELS.build(ckpt['meta']['inferred_config']['backbone']).eval()
    bb.load_state_dict(ckpt['state_dict'], strict=True)
    with torch.no_grad():
        tokens, _ = bb(pretrain['inputs'], _masks(pretrain))
    torch.testing.assert_close(tokens, pretrain['encoder_tokens'], **TOL)

    # an mmmae algorithm checkpoint is only re-targeted
    mm = {'state_dict': convert_official_multimae(pretrain['checkpoint'])}
    report, dst2 = _report(tmp_path,
                           mm,
                           to='backbone',
                           num_heads=4,
                           decoder_num_heads=2,
                           name='mm.pth')
    assert report.ok and report.source_format == 'mmmae'
    assert '  format: mmmae, 146 tensors' in report.summary()
    out2 = _load(dst2)['state_dict']
    assert list(out2) == list(ckpt['state_dict'])
    assert all(torch.equal(out2[k], v) for k, v in ckpt['state_dict'].items())


def test_multivit_fixture_classifier(multivit, tmp_path):
    report, dst = _report(tmp_path, multivit['checkpoint'], num_heads=4,
                          decoder_num_heads=2)
    assert report.ok and report.source_format == 'official-multivit'
    assert (report.target, report.num_tensors) == ('classifier', 39)
    assert report.inferred_config['head'] == dict(
        type='mmmae.MultiMAELinearHead', in_channels=64, num_classes=5)
    ckpt = _load(dst)
    cfg = ckpt['meta']['inferred_config']
    assert cfg['head'] == dict(type='mmmae.MultiMAELinearHead',
                               in_channels=64,
                               num_classes=5)
    bb = MODELS.build(cfg['backbone']).eval()
    head = MODELS.build(cfg['head']).eval()
    sd = ckpt['state_dict']
    bb.load_state_dict(
        {
            k[9:]: v
            for k, v in sd.items() if k.startswith('backbone.')
        },
        strict=True)
    head.load_state_dict(
        {
            k[5:]: v
            for k, v in sd.items() if k.startswith('head.')
        },
        strict=True)
    inputs = {m: multivit['inputs'][m] for m in ('rgb', 'depth')}
    with torch.no_grad():
        tokens, _ = bb(inputs)
        torch.testing.assert_close(tokens,
                                   multivit['encoder_tokens']['rgb-depth'],
                                   **TOL)
        torch.testing.assert_close(head(tokens),
                                   multivit['logits']['rgb-depth'], **TOL)


def test_multivit_errors(multivit, tmp_path, capsys):
    sd = dict(multivit['checkpoint']['model'])
    # no decoders: --to algorithm is refused
    rc, dst = _convert(tmp_path, sd, '--to', 'algorithm')
    assert rc == 1 and not osp.exists(dst)
    assert 'needs a pre-training checkpoint' in capsys.readouterr().err
    with pytest.raises(ConversionError, match='needs a pre-training'):
        _report(tmp_path, sd, to='algorithm', name='api.pth')

    # unknown key: exit 1 naming it, nothing written
    bad = dict(sd)
    bad['output_adapters.semseg.proj_dec.weight'] = torch.zeros(1)
    rc, dst = _convert(tmp_path, bad, name='bad.pth')
    assert rc == 1 and not osp.exists(dst)
    assert 'output_adapters.semseg.proj_dec.weight' in capsys.readouterr().err

    # shape mismatch: depth pos_emb on another grid than rgb
    bad = dict(sd)
    bad['input_adapters.depth.pos_emb'] = torch.zeros(1, 64, 5, 5)
    report, dst = _report(tmp_path, bad, name='shape.pth')
    assert not osp.exists(dst)
    assert report.mismatch == [
        'backbone.input_adapters.depth.pos_emb: checkpoint (1, 64, 5, 5) vs '
        'model (1, 64, 4, 4)'
    ]
    assert report.errors[0].startswith('1 shape mismatch')

    # missing key: reported; an error only with --strict
    part = dict(sd)
    del part['encoder.1.norm1.weight']
    rc, dst = _convert(tmp_path, part, name='part.pth')
    assert rc == 0
    assert 'missing (left at their init): backbone.encoder.1.norm1.weight' \
        in capsys.readouterr().out
    rc, dst = _convert(tmp_path, part, '--strict', name='part2.pth')
    assert rc == 1 and not osp.exists(dst)
    assert '--strict: missing keys' in capsys.readouterr().err
    report, dst = _report(tmp_path, part, strict=True, name='part3.pth')
    assert report.errors == [
        "--strict: missing keys ['backbone.encoder.1.norm1.weight']"
    ] and not osp.exists(dst)


# --------------------------------------------------------------------------
# MultiViT <-> timm
# --------------------------------------------------------------------------
def _small_timm(**kwargs):
    from timm.models.vision_transformer import VisionTransformer
    cfg = dict(img_size=32,
               patch_size=8,
               embed_dim=64,
               depth=2,
               num_heads=4,
               num_classes=0)
    cfg.update(kwargs)
    return VisionTransformer(**cfg).eval()


def _timm_tokens(model, x):
    """timm block outputs before the final norm (cls first)."""
    model = copy.deepcopy(model)
    model.norm = nn.Identity()
    with torch.no_grad():
        return model.forward_features(x)


def test_multivit_timm_roundtrip(multivit):
    official = multivit['checkpoint']['model']
    timm_sd, dropped = multimae_to_timm(official, return_dropped=True)
    assert set(timm_sd) >= {
        'cls_token', 'pos_embed', 'patch_embed.proj.weight',
        'blocks.1.mlp.fc2.bias'
    }
    assert timm_sd['pos_embed'].shape == (1, 17, 64)
    assert not timm_sd['pos_embed'][:, 0].any()  # zero cls row
    assert 'input_adapters.depth.proj.weight' in dropped
    assert 'output_adapters.cls.head.weight' in dropped

    back, dropped_back = timm_to_multimae(timm_sd, return_dropped=True)
    assert dropped_back == []
    encoder_keys = [
        k for k in official
        if k == 'global_tokens' or k.startswith(('input_adapters.rgb.',
                                                 'encoder.'))
    ]
    assert sorted(back) == sorted(encoder_keys)
    for k in encoder_keys:
        assert torch.equal(back[k], official[k]), k

    # the mmmae layout (backbone.*) exports the same
    mm = multimae_to_timm(convert_official_multimae(official))
    assert all(torch.equal(mm[k], v) for k, v in timm_sd.items())

    # numerically: the timm model computes the fixture's MultiViT tokens
    model = _small_timm()
    missing, unexpected = model.load_state_dict(timm_sd, strict=False)
    assert sorted(missing) == ['norm.bias', 'norm.weight'] and not unexpected
    out = _timm_tokens(model, multivit['inputs']['rgb'])
    ref = multivit['encoder_tokens']['rgb']
    torch.testing.assert_close(out[:, 1:], ref[:, :-1], **TOL)
    torch.testing.assert_close(out[:, 0], ref[:, -1], **TOL)

    with pytest.raises(ValueError, match='num_global_tokens=1'):
        two = dict(official)
        two['global_tokens'] = torch.zeros(1, 2, 64)
        multimae_to_timm(two)


def _check_timm_conversion(model, dst, size, batch=2):
    ckpt = _load(dst)
    cfg = ckpt['meta']['inferred_config']['backbone']
    assert list(cfg['input_adapters']) == ['rgb']
    bb = MODELS.build(cfg).eval()
    bb.load_state_dict(ckpt['state_dict'], strict=True)
    x = torch.randn(batch,
                    3,
                    size,
                    size,
                    generator=torch.Generator().manual_seed(0))
    ref = _timm_tokens(model, x)
    with torch.no_grad():
        tokens, _ = bb({'rgb': x})
    assert tokens.shape == ref.shape
    # timm: cls first; MultiMAE: global token last
    torch.testing.assert_close(tokens[:, :-1], ref[:, 1:], **TOL)
    torch.testing.assert_close(tokens[:, -1], ref[:, 0], **TOL)


def test_timm_vit_tiny_to_multimae(tmp_path, capsys):
    import timm
    torch.manual_seed(0)
    model = timm.create_model('vit_tiny_patch16_224',
                              pretrained=False,
                              num_classes=0).eval()
    # a learned pos_embed with a non-zero cls row (absorbed by the global
    # token)
    with torch.no_grad():
        model.pos_embed.normal_(std=.02)
    rc, dst = _convert(tmp_path, {'model': model.state_dict()})
    assert rc == 0
    report = capsys.readouterr().out
    assert 'format: timm' in report and 'target: backbone' in report
    assert 'inferred config:\n  backbone=' in report
    assert 'dropped (no mmmae MultiMAE counterpart): 2 tensors: ' \
        'norm.weight, norm.bias' in report
    assert 'MultiMAE has no final encoder norm' in report
    meta = _load(dst)['meta']
    assert meta['dropped'] == ['norm.weight', 'norm.bias']
    assert meta['guessed'] == ['num_heads=3 (width 192)']
    arch = meta['inferred_config']['backbone']['arch']
    assert arch == dict(embed_dims=192,
                        num_layers=12,
                        num_heads=3,
                        feedforward_channels=768)
    _check_timm_conversion(model, dst, 224, batch=1)


def test_timm_small_with_head(tmp_path):
    torch.manual_seed(0)
    model = _small_timm(num_classes=7)
    with torch.no_grad():
        model.pos_embed.normal_(std=.02)
        model.cls_token.normal_(std=.02)
    report, dst = _report(tmp_path, model.state_dict(), num_heads=4)
    assert report.dropped == ['norm.weight', 'norm.bias', 'head.weight',
                              'head.bias']
    assert ('  dropped (no mmmae MultiMAE counterpart): 4 tensors: '
            'norm.weight, norm.bias, head.weight, head.bias'
            ) in report.summary()
    _check_timm_conversion(model, dst, 32)


def test_timm_unknown_key(tmp_path, capsys):
    sd = _small_timm().state_dict()
    sd['blocks.0.ls1.gamma'] = torch.ones(64)
    rc, dst = _convert(tmp_path, sd)
    assert rc == 1 and not osp.exists(dst)
    assert 'blocks.0.ls1.gamma' in capsys.readouterr().err
    with pytest.raises(ConversionError, match='ls1.gamma'):
        _report(tmp_path, sd, name='api.pth')
    with pytest.raises(KeyError, match='ls1.gamma'):
        timm_to_multimae(sd)
    with pytest.warns(UserWarning, match='ls1.gamma'):
        out, dropped = timm_to_multimae(sd, strict=False, return_dropped=True)
    assert 'blocks.0.ls1.gamma' in dropped and 'encoder.0.ls1.gamma' not in out


def test_unrecognized_layout(tmp_path, capsys):
    rc, dst = _convert(tmp_path, {'foo.weight': torch.zeros(2)})
    assert rc == 1 and not osp.exists(dst)
    assert 'unrecognized checkpoint layout' in capsys.readouterr().err
    with pytest.raises(ConversionError, match='unrecognized'):
        _report(tmp_path, {'foo.weight': torch.zeros(2)}, name='api.pth')


# --------------------------------------------------------------------------
# damaged files and exactly-named wrong tensors
# --------------------------------------------------------------------------
@pytest.mark.parametrize('kind', ['empty', 'half', 'html'])
def test_damaged_source_one_line_error(pretrain, tmp_path, capsys, kind):
    src = tmp_path / f'{kind}.pth'
    if kind == 'empty':
        src.write_bytes(b'')
        fault = '0 bytes'
    elif kind == 'half':
        good = _save(pretrain['checkpoint'], tmp_path, 'good.pth')
        data = open(good, 'rb').read()
        src.write_bytes(data[:len(data) // 2])
        fault = 'truncated: '
    else:
        src.write_text('<html><body>Rate limit exceeded</body></html>')
        fault = "not a PyTorch checkpoint (starts with b'<html>"
    dst = tmp_path / 'out.pth'
    assert run_tool(TOOL, src, dst) == 1
    err = capsys.readouterr().err.strip()
    assert '\n' not in err
    assert err.startswith(f'ERROR: cannot load checkpoint {src}: {fault}')
    assert err.endswith('(nothing written)') and not dst.exists()


def test_missing_encoder_block_0_is_reported_as_missing(pretrain, tmp_path):
    sd = dict(pretrain['checkpoint']['model'])
    gone = [k for k in sd if k.startswith('encoder.0.')]
    for k in gone:
        del sd[k]
    report, dst = _report(tmp_path, {'model': sd}, num_heads=4,
                          decoder_num_heads=2)
    assert report.ok
    assert report.missing == ['backbone.' + k for k in gone]
    assert (f'  vs the target model: {len(gone)} missing, 0 unexpected, 0 '
            'shape mismatches') in report.summary()
    meta = _load(dst)['meta']
    assert meta['missing'] == ['backbone.' + k for k in gone]
    bb = meta['inferred_config']['backbone']
    assert bb['qkv_bias'] == 'qkv' and bb['arch']['num_layers'] == 2


@pytest.mark.parametrize('key,shape,model_shape', [
    ('global_tokens', (1, 1, 48), (1, 1, 64)),
    ('input_adapters.rgb.proj.weight', (64, 3, 4, 4), (64, 3, 8, 8)),
    ('encoder.0.mlp.fc1.weight', (100, 64), (256, 64)),
    ('output_adapters.rgb.mask_token', (1, 1, 48), (1, 1, 32)),
    ('output_adapters.depth.out_proj.weight', (128, 32), (64, 32)),
])
def test_one_wrong_shape_is_named_exactly(pretrain, tmp_path, capsys, key,
                                          shape, model_shape):
    sd = dict(pretrain['checkpoint']['model'])
    sd[key] = torch.zeros(shape)
    name = ('neck.' if key.startswith('output_adapters.') else
            'backbone.') + key
    report, dst = _report(tmp_path, {'model': sd}, num_heads=4,
                          decoder_num_heads=2)
    assert not osp.exists(dst)
    assert report.errors == [
        '1 shape mismatch (key: checkpoint shape vs model shape):\n    '
        f'{name}: checkpoint {shape} vs model {model_shape}'
    ]
    rc, dst = _convert(tmp_path, {'model': sd}, *HEADS, name='cli.pth')
    err = capsys.readouterr().err
    assert rc == 1 and not osp.exists(dst)
    assert 'ERROR: 1 shape mismatch (key: checkpoint shape vs model shape):' \
        in err
    assert f'{name}: checkpoint {shape} vs model {model_shape}' in err
    assert err.count(': checkpoint (') == 1


# --------------------------------------------------------------------------
# output-only tasks: a decoder without an input adapter
# --------------------------------------------------------------------------
def _without_semseg_input(pretrain, keep_task_embedding):
    """rgb-depth in, rgb-depth-semseg out (official layout): no
    ``input_adapters.semseg.*``; the official decoders' context tasks are
    the input domains, so no ``task_embeddings.semseg`` either unless
    ``keep_task_embedding``."""
    return {
        k: v
        for k, v in pretrain['checkpoint']['model'].items()
        if not k.startswith('input_adapters.semseg.') and (
            keep_task_embedding or not k.endswith('task_embeddings.semseg'))
    }


def _rgb_depth_masks(batch=2, seed=0):
    """4 rgb + 2 depth visible tokens per sample, different positions."""
    gen = torch.Generator().manual_seed(seed)
    masks = {}
    for task, keep in (('rgb', 4), ('depth', 2)):
        rows = []
        for _ in range(batch):
            m = torch.ones(16, dtype=torch.bool)
            m[torch.randperm(16, generator=gen)[:keep]] = False
            rows.append(m)
        masks[task] = torch.stack(rows)
    return masks


@pytest.mark.parametrize('keep_task_embedding', [True, False])
def test_output_only_semseg_decoder(pretrain, tmp_path, capsys,
                                    keep_task_embedding):
    """The semseg decoder's stride is in no weight: the official value (4)
    is taken, reported as guessed, and the converted model predicts what
    the full model predicts from rgb-depth."""
    sd = _without_semseg_input(pretrain, keep_task_embedding)
    rc, dst = _convert(tmp_path, {'model': sd}, *HEADS)
    out = capsys.readouterr().out
    assert rc == 0, out
    assert '0 missing, 0 unexpected, 0 shape mismatches' in out
    assert 'guessed semseg: stride_level=4 (5 channels' in out
    report, _ = _report(tmp_path, {'model': sd}, num_heads=4,
                        decoder_num_heads=2, name='api.pth')
    assert report.guessed[0].startswith('semseg: stride_level=4 (5 channels')
    ckpt = _load(dst)
    cfg = ckpt['meta']['inferred_config']
    assert list(cfg['backbone']['input_adapters']) == ['rgb', 'depth']
    assert cfg['neck']['output_adapters']['semseg'] == dict(num_channels=5,
                                                            stride_level=4)
    context = ['rgb', 'depth'] + (['semseg'] if keep_task_embedding else [])
    assert cfg['neck']['common']['context_tasks'] == context
    model = MODELS.build(
        dict(type='mmmae.MultiMAE', backbone=cfg['backbone'],
             neck=cfg['neck'])).eval()
    model.load_state_dict(ckpt['state_dict'], strict=True)

    # reference: the full official model, given rgb-depth only
    report, full_dst = _report(tmp_path, pretrain['checkpoint'],
                               num_heads=4, decoder_num_heads=2,
                               name='full.pth')
    assert report.ok
    full_ckpt = _load(full_dst)
    fcfg = full_ckpt['meta']['inferred_config']
    full = MODELS.build(
        dict(type='mmmae.MultiMAE', backbone=fcfg['backbone'],
             neck=fcfg['neck'])).eval()
    full.load_state_dict(full_ckpt['state_dict'], strict=True)
    inputs = {k: pretrain['inputs'][k] for k in ('rgb', 'depth')}
    masks = _rgb_depth_masks()
    with torch.no_grad():
        preds = model.neck(*model.backbone(inputs, masks))
        ref = full.neck(*full.backbone(inputs, masks))
    assert preds['semseg'].shape == (2, 5, 8, 8)
    for task in ('rgb', 'depth', 'semseg'):
        if task == 'semseg' and not keep_task_embedding:
            # its queries lack the (dropped) semseg task embedding
            assert (preds[task] - ref[task]).abs().max() > 1e-3
        else:
            torch.testing.assert_close(preds[task], ref[task], **TOL)


def test_output_only_stride_option(pretrain, tmp_path, capsys):
    """--stride-level picks another reading of the same out_proj rows
    (20 = 5 x 2 x 2 = 20 x 1 x 1); one the weights cannot have fails."""
    sd = _without_semseg_input(pretrain, False)
    rc, dst = _convert(tmp_path, {'model': sd}, *HEADS, '--stride-level',
                       'semseg=8', '--stride-level', 'depth=1')
    assert rc == 0
    out = capsys.readouterr().out
    assert 'guessed semseg' not in out
    report, _ = _report(tmp_path, {'model': sd}, num_heads=4,
                        decoder_num_heads=2, stride_levels={'semseg': 8},
                        name='api.pth')
    assert report.ok and report.guessed == []
    assert report.inferred_config == _load(dst)['meta']['inferred_config']
    cfg = _load(dst)['meta']['inferred_config']
    assert cfg['neck']['output_adapters']['semseg'] == dict(num_channels=20,
                                                            stride_level=8)
    rc, _ = _convert(tmp_path, {'model': sd}, *HEADS, '--stride-level',
                     'semseg=2', name='bad.pth')
    assert rc == 1
    err = capsys.readouterr().err
    assert '--stride-level semseg=2 does not fit' in err
    assert 'allow strides [4, 8]' in err
    with pytest.raises(ConversionError, match='allow strides'):
        _report(tmp_path, {'model': sd}, stride_levels={'semseg': 2},
                name='bad_api.pth')
    # not TASK=S: an argparse error (exit status 2)
    assert run_tool(TOOL, 'a', 'b', '--stride-level', 'semseg') == 2
    assert 'expected TASK=S' in capsys.readouterr().err


def test_output_only_task_with_unofficial_name(pretrain, tmp_path):
    """No official stride for the name: the smallest the weights allow."""
    sd = {
        k.replace('output_adapters.semseg.', 'output_adapters.seg.'): v
        for k, v in _without_semseg_input(pretrain, False).items()
    }
    report, dst = _report(tmp_path, {'model': sd}, num_heads=4,
                          decoder_num_heads=2)
    assert report.ok
    assert 'the smallest the weights allow' in report.guessed[0]
    assert any('the smallest the weights allow' in n for n in report.notes)
    cfg = _load(dst)['meta']['inferred_config']
    assert cfg['neck']['output_adapters']['seg'] == dict(num_channels=5,
                                                         stride_level=4)
