# Copyright (c) mmmae contributors. All rights reserved.
"""mmmae -> official VideoMAE export (``mmmae.checkpoint.official_export``,
:func:`mmmae.checkpoint.convert_videomae.export_to_official_file` and its
command line ``tools/model_converters/mmmae2videomae.py``): lossless round
trips on the official parity fixtures and on real mmmae models."""
import os.path as osp
import sys

import pytest
import torch

import mmmae  # noqa: F401

try:
    from conftest import load_fixture, run_tool
except ImportError:  # pragma: no cover - run outside the tests rootdir
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    from conftest import load_fixture, run_tool

from mmmae.checkpoint.convert_videomae import export_to_official_file
from mmmae.checkpoint.official_export import (convert_mmmae_to_official,
                                              detect_mmmae_kind,
                                              export_to_official,
                                              wrap_official)
from mmmae.checkpoint.videomae import (ConversionError,
                                       convert_official_videomae,
                                       official_to_backbone)
from mmmae.models import VideoMAEViT
from mmmae.models.utils import get_sinusoid_table
from mmmae.registry import MODELS

FIXTURES = {
    'videomae_v1_pretrain_tiny.pth': 'model',
    'videomae_v2_pretrain_tiny.pth': 'model',
    'videomae_v1_finetune_tiny.pth': 'module',
}
KIND = {'model': 'pretrain', 'module': 'finetune'}
ARCH = dict(embed_dims=64, num_layers=2, num_heads=4, mlp_ratio=4.)
EXPORT = 'tools/model_converters/mmmae2videomae.py'
IMPORT = 'tools/model_converters/videomae2mmmae.py'


@pytest.fixture(scope='module')
def fixtures():
    return {name: load_fixture(name) for name in FIXTURES}


def assert_same(a, b):
    """Same key set, same dtypes, bit-identical tensors."""
    assert set(a) == set(b), (sorted(set(a) ^ set(b)))
    for k, v in a.items():
        assert b[k].dtype == v.dtype, k
        assert b[k].shape == v.shape, k
        assert torch.equal(b[k], v), k


def backbone(use_mean_pooling=True, num_frames=4, **kwargs):
    torch.manual_seed(0)
    return VideoMAEViT(
        arch=dict(ARCH),
        img_size=32,
        patch_size=8,
        num_frames=num_frames,
        tubelet_size=2,
        use_mean_pooling=use_mean_pooling,
        **kwargs)


def algorithm(**backbone_kwargs):
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='mmmae.VideoMAE',
            backbone=dict(
                type='mmmae.VideoMAEViT',
                arch=dict(ARCH),
                img_size=32,
                patch_size=8,
                num_frames=4,
                **backbone_kwargs),
            neck=dict(
                type='mmmae.VideoMAEPretrainDecoder',
                embed_dims=64,
                decoder_embed_dims=32,
                decoder_depth=2,
                decoder_num_heads=2,
                patch_size=8,
                **{
                    k: v
                    for k, v in backbone_kwargs.items()
                    if k in ('layer_scale_init_value', 'qkv_bias')
                }),
            head=dict(type='mmmae.VideoMAEPretrainHead', patch_size=8)))


def recognizer_state_dict(num_classes=5):
    """``backbone.*`` of a random mean-pooling ViT + a linear head."""
    sd = {'backbone.' + k: v for k, v in backbone().state_dict().items()}
    gen = torch.Generator().manual_seed(1)
    sd['cls_head.fc_cls.weight'] = torch.randn(num_classes, 64, generator=gen)
    sd['cls_head.fc_cls.bias'] = torch.randn(num_classes, generator=gen)
    return sd


# --------------------------------------------------------------------------
# official -> mmmae -> official
# --------------------------------------------------------------------------
@pytest.mark.parametrize('name', list(FIXTURES))
def test_official_round_trip(fixtures, name):
    ckpt = fixtures[name]['checkpoint']
    wrapper = FIXTURES[name]
    assert list(ckpt) == [wrapper]
    mm = convert_official_videomae(ckpt)
    res = export_to_official(mm)
    assert res.kind == KIND[wrapper] and res.wrapper_key == wrapper
    assert res.caveats == [] and not res.unknown and not res.left_out
    back = wrap_official(res.state_dict, res.kind)
    assert list(back) == [wrapper]
    assert_same(ckpt[wrapper], back[wrapper])
    assert list(back[wrapper]) == list(ckpt[wrapper])  # order kept too
    # the explicit kind gives the same
    assert_same(ckpt[wrapper],
                convert_mmmae_to_official(mm, kind=KIND[wrapper]))


def test_official_encoder_only_round_trip(fixtures):
    """``encoder.*`` dumps -> backbone.* -> ``encoder.*`` (auto)."""
    sd = fixtures['videomae_v1_pretrain_tiny.pth']['checkpoint']['model']
    enc = {k: v for k, v in sd.items() if k.startswith('encoder.')}
    mm = convert_official_videomae({'model': enc})
    assert all(k.startswith('backbone.') for k in mm)
    res = export_to_official(mm)
    assert (res.kind, res.layout) == ('pretrain', 'pretrain-encoder')
    assert_same(enc, res.state_dict)
    # a bare backbone (no prefix) goes the same way
    res = export_to_official(official_to_backbone({'model': enc}))
    assert res.layout == 'pretrain-encoder'
    assert_same(enc, res.state_dict)


# --------------------------------------------------------------------------
# mmmae -> official -> mmmae
# --------------------------------------------------------------------------
@pytest.mark.parametrize('name', list(FIXTURES))
def test_mmmae_round_trip_from_converted(fixtures, name):
    mm = convert_official_videomae(fixtures[name]['checkpoint'])
    back = convert_official_videomae(
        wrap_official(*_sd_kind(export_to_official(mm))))
    assert_same(mm, back)


def _sd_kind(res):
    return res.state_dict, res.kind


@pytest.mark.parametrize('kwargs', [
    dict(),
    dict(layer_scale_init_value=0.1, qkv_bias=False),
])
def test_mmmae_round_trip_algorithm(kwargs):
    model = algorithm(**kwargs)
    sd = model.state_dict()
    assert any(k.startswith('neck.') for k in sd)
    if kwargs:
        assert 'backbone.blocks.0.gamma_1' in sd
        assert 'backbone.blocks.0.attn.q_bias' not in sd
    official = convert_mmmae_to_official(sd)
    assert 'encoder_to_decoder.weight' in official
    assert 'mask_token' in official and 'decoder.head.weight' in official
    back = convert_official_videomae(wrap_official(official, 'pretrain'))
    assert_same(sd, back)
    model.load_state_dict(back, strict=True)


@pytest.mark.parametrize('use_mean_pooling', [True, False])
def test_mmmae_round_trip_bare_backbone(use_mean_pooling):
    sd = backbone(use_mean_pooling).state_dict()
    assert detect_mmmae_kind(sd) == ('finetune'
                                     if use_mean_pooling else 'pretrain')
    with pytest.warns(UserWarning):  # no classifier / no decoder caveat
        official = convert_mmmae_to_official(sd)
    if use_mean_pooling:
        assert 'fc_norm.weight' in official and 'head.weight' not in official
    else:
        assert all(k.startswith('encoder.') for k in official)
    assert_same(sd, official_to_backbone(official))


def test_mmmae_round_trip_recognizer():
    sd = recognizer_state_dict()
    res = export_to_official({'state_dict': sd, 'meta': {}})
    assert res.kind == 'finetune' and res.caveats == []
    assert res.wrapper_key == 'module'
    assert_same(sd, convert_official_videomae(
        wrap_official(res.state_dict, res.kind)))


def test_fp16_dtype_kept(fixtures):
    mm = convert_official_videomae(
        fixtures['videomae_v1_finetune_tiny.pth']['checkpoint'])
    half = {k: v.half() for k, v in mm.items()}
    official = convert_mmmae_to_official(half)
    assert all(v.dtype == torch.float16 for v in official.values())
    assert_same(half, convert_official_videomae(official))


# --------------------------------------------------------------------------
# functional: a fresh mmmae classifier exports to the official layout
# --------------------------------------------------------------------------
def test_export_matches_official_finetune_layout(fixtures):
    fx = fixtures['videomae_v1_finetune_tiny.pth']
    cfg = fx['config']
    assert (cfg['embed_dim'], cfg['depth'], cfg['patch_size'],
            cfg['img_size'], cfg['all_frames'],
            cfg['num_classes']) == (64, 2, 8, 32, 4, 5)
    assert cfg['use_mean_pooling']
    ref = fx['checkpoint']['module']
    sd = recognizer_state_dict(cfg['num_classes'])
    ckpt = wrap_official(*_sd_kind(export_to_official(sd)))
    assert list(ckpt) == ['module']
    official = ckpt['module']
    assert set(official) == set(ref)
    for k, v in ref.items():
        assert official[k].shape == v.shape, k
        assert official[k].dtype == v.dtype, k
    # the exported weights behave like the source model once re-imported
    src = backbone().eval()
    dst = VideoMAEViT(
        arch=dict(
            embed_dims=cfg['embed_dim'],
            num_layers=cfg['depth'],
            num_heads=cfg['num_heads'],
            mlp_ratio=cfg['mlp_ratio']),
        img_size=cfg['img_size'],
        patch_size=cfg['patch_size'],
        num_frames=cfg['all_frames'],
        tubelet_size=cfg['tubelet_size'],
        use_mean_pooling=True).eval()
    dst.load_state_dict(official_to_backbone(ckpt), strict=True)
    with torch.no_grad():
        assert torch.equal(src(fx['inputs']), dst(fx['inputs']))


# --------------------------------------------------------------------------
# error paths and reports
# --------------------------------------------------------------------------
def test_unknown_key_raises_naming_it():
    sd = recognizer_state_dict()
    sd['backbone.blocks.0.attn.rel_pos_bias'] = torch.zeros(4)
    sd['cls_token'] = torch.zeros(1, 1, 64)
    with pytest.raises(KeyError) as err:
        convert_mmmae_to_official(sd)
    assert 'backbone.blocks.0.attn.rel_pos_bias' in str(err.value)
    assert 'cls_token' in str(err.value)
    with pytest.warns(UserWarning, match='rel_pos_bias'):
        out, unknown = convert_mmmae_to_official(
            sd, strict=False, return_unknown=True)
    assert set(unknown) == {'backbone.blocks.0.attn.rel_pos_bias',
                            'cls_token'}
    assert set(out) == set(convert_mmmae_to_official(
        recognizer_state_dict()))


def test_kind_mismatch_raises():
    sd = algorithm().state_dict()
    with pytest.raises(KeyError, match="kind='pretrain'"):
        convert_mmmae_to_official(sd, kind='finetune')
    both = dict(sd)
    both['cls_head.fc_cls.weight'] = torch.zeros(5, 64)
    with pytest.raises(KeyError, match='cls_head.fc_cls.weight'):
        convert_mmmae_to_official(both)  # auto -> pretrain: no classifier
    with pytest.raises(ValueError):
        convert_mmmae_to_official(sd, kind='encoder')
    bad_head = recognizer_state_dict()
    bad_head['cls_head.fc1.weight'] = torch.zeros(3, 3)
    with pytest.raises(KeyError, match='cls_head.fc1.weight'):
        convert_mmmae_to_official(bad_head)


def test_official_input_is_rejected(fixtures):
    ckpt = fixtures['videomae_v1_pretrain_tiny.pth']['checkpoint']
    with pytest.raises(KeyError, match='official checkpoint already'):
        convert_mmmae_to_official(ckpt)


def test_data_preprocessor_reported_not_silently_dropped():
    sd = recognizer_state_dict()
    sd['data_preprocessor.mean'] = torch.tensor([123.675, 116.28, 103.53])
    sd['data_preprocessor.std'] = torch.tensor([58.395, 57.12, 57.375])
    res = export_to_official({'state_dict': sd, 'meta': {}})
    assert set(res.left_out) == {'data_preprocessor.mean',
                                 'data_preprocessor.std'}
    assert any('data_preprocessor.mean' in n and '123.675' in n
               for n in res.notes)
    with pytest.warns(UserWarning, match='data_preprocessor.mean'):
        out = convert_mmmae_to_official(sd)
    assert not any('data_preprocessor' in k for k in out)
    assert set(out) == set(res.state_dict)


def test_pos_embed(monkeypatch):
    sd = recognizer_state_dict()
    sd['backbone.pos_embed'] = get_sinusoid_table(32, 64)[None]
    logged = []
    import mmengine.logging
    monkeypatch.setattr(mmengine.logging, 'print_log',
                        lambda msg, **kwargs: logged.append(msg))
    out = convert_mmmae_to_official(sd)
    assert 'pos_embed' not in out and 'backbone.pos_embed' not in out
    assert len(logged) == 1 and 'backbone.pos_embed' in logged[0]
    res = export_to_official(sd)
    assert res.dropped == ['backbone.pos_embed']
    sd['backbone.pos_embed'] = sd['backbone.pos_embed'] + 1
    with pytest.raises(KeyError, match='backbone.pos_embed'):
        convert_mmmae_to_official(sd)


def test_ema_and_extra_entries_noted():
    sd = recognizer_state_dict()
    res = export_to_official({
        'state_dict': sd,
        'ema_state_dict': {'steps': torch.tensor(3)},
        'meta': {},
        'optimizer': {},
    })
    text = ' '.join(res.notes)
    assert 'EMA' in text and 'optimizer' in text


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------
@pytest.mark.parametrize('which', ['recognizer', 'algorithm'])
def test_cli_round_trip_with_import_tool(tmp_path, capsys, which):
    sd = recognizer_state_dict() if which == 'recognizer' else \
        algorithm().state_dict()
    full = dict(sd)
    full['data_preprocessor.mean'] = torch.tensor([123.675, 116.28, 103.53])
    src, dst, back = (str(tmp_path / n)
                      for n in ('mm.pth', 'official.pth', 'back.pth'))
    torch.save({'state_dict': full, 'meta': {}}, src)
    assert run_tool(EXPORT, src, dst) == 0
    text = capsys.readouterr().out
    assert 'data_preprocessor.mean' in text
    wrapper = 'module' if which == 'recognizer' else 'model'
    assert f'{len(sd)} tensors' in text and f'wrapper {wrapper}' in text
    official = torch.load(dst, weights_only=True)
    assert list(official) == [wrapper]
    assert run_tool(IMPORT, dst, back) == 0
    again = torch.load(back, weights_only=True)['state_dict']
    assert_same(sd, again)


def test_cli_errors_and_options(tmp_path, capsys):
    sd = recognizer_state_dict()
    sd['backbone.blocks.0.attn.rel_pos_bias'] = torch.zeros(4)
    src, dst = str(tmp_path / 'bad.pth'), str(tmp_path / 'out.pth')
    torch.save({'state_dict': sd, 'meta': {}}, src)
    assert run_tool(EXPORT, src, dst) == 1
    err = capsys.readouterr().err
    assert 'backbone.blocks.0.attn.rel_pos_bias' in err
    assert 'nothing written' in err and not osp.exists(dst)
    report = export_to_official_file(src)
    assert report.result is None and report.summary() == []
    assert 'backbone.blocks.0.attn.rel_pos_bias' in report.errors[0]
    with pytest.raises(ConversionError, match='nothing written'):
        export_to_official_file(src, dst)
    assert not osp.exists(dst)

    # a bare backbone: exported (encoder only), but --strict refuses
    src = str(tmp_path / 'bb.pth')
    torch.save(backbone(False).state_dict(), src)
    assert run_tool(EXPORT, src, dst, '--strict') == 1
    assert 'encoder only' in capsys.readouterr().err
    report = export_to_official_file(src, strict=True)
    assert report.result.layout == 'pretrain-encoder'
    assert report.errors[0].startswith('--strict: encoder only')
    assert run_tool(EXPORT, src, dst, '--wrapper', 'none') == 0
    out = torch.load(dst, weights_only=True)
    assert all(k.startswith('encoder.') for k in out)
    report = export_to_official_file(src, wrapper='module')
    assert report.ok and list(report.checkpoint()) == ['module']
    assert any("pass --model_key module" in n for n in report.notes)

    # --kind forces the layout
    src = str(tmp_path / 'rec.pth')
    torch.save({'state_dict': recognizer_state_dict()}, src)
    assert run_tool(EXPORT, src, dst, '--kind', 'pretrain') == 1
    assert 'cls_head.fc_cls.weight' in capsys.readouterr().err


# --------------------------------------------------------------------------
# the exporter refuses incomplete or mis-shaped input
# --------------------------------------------------------------------------
def _export(tmp_path, sd, *extra, name='mm.pth'):
    """Save ``sd``, run the command line; (exit status, output path)."""
    src, dst = str(tmp_path / name), str(tmp_path / ('official_' + name))
    torch.save({'state_dict': sd, 'meta': {}}, src)
    return run_tool(EXPORT, src, dst, *extra), dst


def _refusal(tmp_path, sd, name='api.pth', **kwargs):
    """Save ``sd`` and export it with the Python API; the report, which
    must refuse the input."""
    src, dst = str(tmp_path / name), str(tmp_path / ('official_' + name))
    torch.save({'state_dict': sd, 'meta': {}}, src)
    with pytest.raises(ConversionError, match='nothing written'):
        export_to_official_file(src, dst, **kwargs)
    assert not osp.exists(dst)
    report = export_to_official_file(src, **kwargs)
    assert report.result is None and report.errors
    return report


@pytest.mark.parametrize('which', ['algorithm', 'recognizer', 'bare'])
def test_cli_refuses_missing_keys(tmp_path, capsys, which):
    sd = dict(algorithm().state_dict() if which == 'algorithm' else
              recognizer_state_dict() if which == 'recognizer' else
              backbone(False).state_dict())
    gone = {
        'algorithm': ['neck.blocks.1.mlp.fc2.bias', 'neck.norm.weight'],
        'recognizer': ['backbone.blocks.0.attn.proj.weight'],
        'bare': ['blocks.1.norm2.bias'],
    }[which]
    for k in gone:
        del sd[k]
    rc, dst = _export(tmp_path, sd)
    err = capsys.readouterr().err
    assert rc == 1 and not osp.exists(dst)
    assert f'ERROR: {len(gone)} missing key(s)' in err
    assert str(gone) in err and 'nothing written' in err
    report = _refusal(tmp_path, sd)
    assert len(report.errors) == 1
    assert report.errors[0].startswith(f'{len(gone)} missing key(s)')


def test_refuses_wrong_shapes_naming_each(tmp_path):
    sd = dict(algorithm().state_dict())
    sd['backbone.blocks.1.mlp.fc1.weight'] = torch.zeros(100, 64)
    sd['neck.encoder_to_decoder.weight'] = torch.zeros(32, 48)
    report = _refusal(tmp_path, sd)
    assert len(report.errors) == 1
    err = report.errors[0]
    assert '2 shape mismatches with the VideoMAE algorithm its ' \
        'weights imply (embed_dims=64, 2 blocks, patch_size=8' in err
    assert ('backbone.blocks.1.mlp.fc1.weight: checkpoint (100, 64) vs '
            'model (256, 64)') in err
    assert ('neck.encoder_to_decoder.weight: checkpoint (32, 48) vs model '
            '(32, 64)') in err
    assert err.count(': checkpoint (') == 2


def test_refuses_unexpected_keys(tmp_path):
    """Both final norms: no mmmae backbone has them together."""
    sd = recognizer_state_dict()  # mean pooling: fc_norm
    sd['backbone.norm.weight'] = torch.ones(64)
    sd['backbone.norm.bias'] = torch.zeros(64)
    err = '\n'.join(_refusal(tmp_path, sd).errors)
    assert "2 unexpected key(s)" in err
    assert "['backbone.norm.weight', 'backbone.norm.bias']" in err


def test_cli_checks_against_a_config(tmp_path, capsys):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(
        "default_scope = 'mmmae'\n"
        'model = dict(type=\'mmmae.VideoMAE\',\n'
        "    backbone=dict(type='mmmae.VideoMAEViT', arch=dict(embed_dims=64,"
        ' num_layers=3, num_heads=4, feedforward_channels=256), '
        'img_size=32, patch_size=8, num_frames=4),\n'
        "    neck=dict(type='mmmae.VideoMAEPretrainDecoder', embed_dims=64, "
        'decoder_embed_dims=32, decoder_depth=2, decoder_num_heads=2, '
        'patch_size=8),\n'
        "    head=dict(type='mmmae.VideoMAEPretrainHead', patch_size=8))\n")
    sd = algorithm().state_dict()  # 2 encoder blocks, the config has 3
    rc, dst = _export(tmp_path, sd)
    assert rc == 0  # consistent with itself
    capsys.readouterr()
    report = _refusal(tmp_path, sd, config=str(cfg))
    assert "'backbone.blocks.2.norm1.weight'" in report.errors[0]
    rc, dst = _export(tmp_path, sd, '--config', str(cfg), name='c.pth')
    err = capsys.readouterr().err
    assert rc == 1 and not osp.exists(dst)
    assert f'missing key(s) (the checkpoint is incomplete for the model ' \
        f'of {cfg})' in err
    assert "'backbone.blocks.2.norm1.weight'" in err


@pytest.mark.parametrize('kind', ['empty', 'half'])
def test_cli_damaged_source_one_line_error(tmp_path, capsys, kind):
    src, dst = tmp_path / f'{kind}.pth', tmp_path / 'out.pth'
    if kind == 'empty':
        src.write_bytes(b'')
    else:
        torch.save({'state_dict': algorithm().state_dict()}, dst)
        data = dst.read_bytes()
        dst.unlink()
        src.write_bytes(data[:len(data) // 2])
    assert run_tool(EXPORT, src, dst) == 1
    err = capsys.readouterr().err.strip()
    assert '\n' not in err and not dst.exists()
    assert err.startswith(f'ERROR: cannot load checkpoint {src}: ' + (
        '0 bytes' if kind == 'empty' else 'truncated: '))
