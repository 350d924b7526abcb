# Copyright (c) mmmae contributors. All rights reserved.
"""mmmae -> HuggingFace export (``tools/model_converters/mmmae2hf.py``,
:func:`mmmae.checkpoint.hf.export_to_hf`): real MMEngine-built models from
tiny config files, random checkpoints written with ``torch.save``, the
exported folders loaded back with ``from_pretrained``."""
import copy

import pytest
import torch

import mmmae  # noqa: F401
from conftest import run_tool
from mmmae.checkpoint.hf import (HFExportError, convert_hf_videomae,
                                 export_to_hf, load_model_for_export)

transformers = pytest.importorskip('transformers')

TOOL = 'tools/model_converters/mmmae2hf.py'

IMG, PATCH, TUBELET, FRAMES = 32, 8, 2, 4
GRID = (FRAMES // TUBELET, IMG // PATCH, IMG // PATCH)
ARCH = ('dict(embed_dims=64, num_layers=2, num_heads=4, '
        'feedforward_channels=256)')

PRETRAIN_CFG = """
default_scope = 'mmmae'
model = dict(
    type='VideoMAE',
    data_preprocessor=dict(type='VideoMAEDataPreprocessor'),
    backbone=dict(
        type='VideoMAEViT', arch={arch}, img_size={img}, patch_size={patch},
        num_frames={frames}, tubelet_size={tubelet}, {backbone}),
    neck=dict(
        type='VideoMAEPretrainDecoder', embed_dims=64, decoder_embed_dims=32,
        decoder_depth=2, decoder_num_heads=2, patch_size={patch},
        tubelet_size={tubelet}, {neck}),
    head=dict(type='VideoMAEPretrainHead', norm_pix=True,
              patch_size={patch}, tubelet_size={tubelet}, {head}))
"""

RECOGNIZER_CFG = """
default_scope = 'mmaction'
model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='mmmae.VideoMAEViT', arch={arch}, img_size={img},
        patch_size={patch}, num_frames={frames}, tubelet_size={tubelet},
        use_mean_pooling={pooling}, {backbone}),
    cls_head=dict(type='{head_type}', num_classes=5, in_channels=64),
    data_preprocessor=dict(
        type='ActionDataPreprocessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], format_shape='NCTHW'))
"""


def write_config(tmp_path, kind, name='cfg.py', **kw):
    if kind == 'pretrain':
        fields = dict(backbone='', neck='', head='')
        text = PRETRAIN_CFG
    else:
        fields = dict(backbone='', pooling=True, head_type='TimeSformerHead')
        text = RECOGNIZER_CFG
    fields.update(kw)
    path = tmp_path / name
    path.write_text(
        text.format(arch=ARCH, img=IMG, patch=PATCH, frames=FRAMES,
                    tubelet=TUBELET, **fields))
    return str(path)


def build(config):
    """The config's model, as a user's training run would build it."""
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope
    cfg = Config.fromfile(config)
    if cfg.default_scope == 'mmaction':
        import mmaction.models  # noqa: F401
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return MODELS.build(copy.deepcopy(cfg.model))


def random_checkpoint(config, path, seed=0):
    """A model with random weights and its MMEngine checkpoint.

    The official init (what a training run starts from; the scale of the
    features matters for the one thing HF cannot hold, the 1e-5 eps of
    ``fc_norm``/``decoder.norm``), then noise on the 1-D parameters and the
    mask token so that no bias or norm is trivial, and layer scale away
    from its constant init.
    """
    torch.manual_seed(seed)
    model = build(config)
    model.init_weights()
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 or name.endswith('mask_token'):
                p.add_(0.1 * torch.randn(p.shape, generator=gen))
            if 'gamma_' in name:  # layer scale: away from its 0.1 init
                p.uniform_(0.05, 1.0, generator=gen)
    torch.save({'state_dict': model.state_dict(), 'meta': dict(epoch=1)},
               path)
    return model.eval()


def clip(seed=3, batch=2):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, FRAMES, IMG, IMG, generator=gen)


def tube_mask(batch=2, seed=3):
    gen = torch.Generator().manual_seed(seed)
    t, h, w = GRID
    rows = []
    for _ in range(batch):
        frame = torch.zeros(h * w, dtype=torch.bool)
        frame[torch.randperm(h * w, generator=gen)[:12]] = True
        rows.append(frame.repeat(t))
    return torch.stack(rows)


def export_cli(config, ckpt, out, *extra):
    """``mmmae2hf.py CONFIG CKPT OUT ...``; the exit status."""
    return run_tool(TOOL, config, ckpt, out, *extra)


def pretrain_diff(ours, out_dir):
    """max |mmmae - HF from_pretrained| of the decoder predictions."""
    hf = transformers.VideoMAEForPreTraining.from_pretrained(
        str(out_dir)).eval()
    x, mask = clip(), tube_mask()
    assert not torch.equal(mask[0], mask[1])
    with torch.no_grad():
        ref = ours.neck(ours.backbone(x, mask), mask)
        got = hf(pixel_values=x.permute(0, 2, 1, 3, 4),
                 bool_masked_pos=mask).logits
    assert got.shape == ref.shape == (2, 12 * GRID[0], 3 * 2 * 8 * 8)
    return (got - ref).abs().max().item(), hf


def classify_diff(ours, out_dir):
    """max |mmmae - HF from_pretrained| of the class logits; the mmmae
    logits come from the recognizer's own forward."""
    hf = transformers.VideoMAEForVideoClassification.from_pretrained(
        str(out_dir)).eval()
    x = clip()
    with torch.no_grad():
        ref = ours(x[:, None], mode='tensor', stage='head')  # 1 view
        got = hf(pixel_values=x.permute(0, 2, 1, 3, 4)).logits
    assert got.shape == ref.shape == (2, 5)
    return (got - ref).abs().max().item(), hf


# --------------------------------------------------------------------------
# pretraining -> VideoMAEForPreTraining
# --------------------------------------------------------------------------
@pytest.mark.parametrize('matched_eps', [False, True])
def test_pretrain_cli_roundtrip(tmp_path, capsys, matched_eps):
    """With final_norm_eps=1e-5 (HF's fixed decoder.norm eps) the export is
    exact up to float rounding (< 1e-6). With the mmmae default 1e-6 the HF
    model cannot hold that eps; on this model it stays within 1e-5 (the
    difference shrinks as the normalised features grow)."""
    neck = 'final_norm_eps=1e-5' if matched_eps else ''
    config = write_config(tmp_path, 'pretrain', neck=neck)
    ckpt = tmp_path / 'epoch_1.pth'
    ours = random_checkpoint(config, ckpt)
    out = tmp_path / 'hf'
    assert export_cli(config, ckpt, out) == 0
    report = capsys.readouterr().out
    assert 'target: VideoMAEForPreTraining' in report
    assert 'max |mmmae - HF| on a random clip' in report
    assert ('neck.norm: mmmae eps 1e-06' in report) != matched_eps
    assert {'config.json', 'model.safetensors'} <= {
        p.name for p in out.iterdir()}
    diff, hf = pretrain_diff(ours, out)
    print(f'pretrain export, matched_eps={matched_eps}: max diff {diff:.3g}')
    assert diff <= (1e-6 if matched_eps else 1e-5)
    cfg = hf.config
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads,
            cfg.intermediate_size) == (64, 2, 4, 256)
    assert (cfg.decoder_hidden_size, cfg.decoder_num_hidden_layers,
            cfg.decoder_num_attention_heads,
            cfg.decoder_intermediate_size) == (32, 2, 2, 128)
    assert (cfg.image_size, cfg.patch_size, cfg.num_frames,
            cfg.tubelet_size) == (IMG, PATCH, FRAMES, TUBELET)
    assert cfg.layer_norm_eps == 1e-6 and cfg.use_mean_pooling is False
    assert cfg.norm_pix_loss is True

    # the HF weights convert back to exactly the mmmae ones (no folds here)
    back = convert_hf_videomae(hf.state_dict(), warn=False)
    sd = ours.state_dict()
    assert set(back) == {k for k in sd if not k.startswith('data_')}
    for k, v in back.items():
        assert torch.equal(v, sd[k]), k


def test_pretrain_loss_matches_hf(tmp_path):
    """ImageNet mean/std, norm_pix, no std floor: HF's built-in loss is the
    mmmae loss too."""
    from mmengine.structures import BaseDataElement
    config = write_config(tmp_path, 'pretrain', neck='final_norm_eps=1e-5')
    ours = random_checkpoint(config, tmp_path / 'c.pth')
    res = export_to_hf(ours)
    x, mask = clip(), tube_mask()
    with torch.no_grad():
        loss = ours.loss(x, [BaseDataElement(mask=m) for m in mask])['loss']
        hf_loss = res.model(pixel_values=x.permute(0, 2, 1, 3, 4),
                            bool_masked_pos=mask).loss
    torch.testing.assert_close(loss, hf_loss, atol=1e-6, rtol=1e-6)


def test_layer_scale_and_qk_scale_are_folded(tmp_path):
    """HF has neither: both fold into the weights, same function."""
    extra = 'layer_scale_init_value=0.1, qk_scale=0.2, final_norm_eps=1e-5'
    config = write_config(
        tmp_path, 'pretrain',
        backbone='layer_scale_init_value=0.1, qk_scale=0.2',
        neck=extra)
    ckpt = tmp_path / 'ls.pth'
    ours = random_checkpoint(config, ckpt)
    assert 'backbone.blocks.1.gamma_2' in torch.load(ckpt)['state_dict']
    res = export_to_hf(ours, out_dir=str(tmp_path / 'hf'))
    assert any('layer scale' in n for n in res.notes)
    assert any('qk_scale folded' in n for n in res.notes)
    assert res.max_abs_diff < 1e-6
    diff, _ = pretrain_diff(ours, tmp_path / 'hf')
    assert diff < 1e-6


def test_pretrain_without_final_norm(tmp_path):
    """A mean-pooling backbone in pretraining has no final norm (HF:
    use_mean_pooling=True, no videomae.layernorm); its unused fc_norm is
    left out and said so."""
    config = write_config(tmp_path, 'pretrain',
                          backbone='use_mean_pooling=True',
                          neck='final_norm_eps=1e-5')
    ours = random_checkpoint(config, tmp_path / 'c.pth')
    res = export_to_hf(ours, out_dir=str(tmp_path / 'hf'))
    assert res.left_out == ['backbone.fc_norm.weight',
                            'backbone.fc_norm.bias']
    assert res.model.config.use_mean_pooling is True
    assert not any(k.startswith('videomae.layernorm')
                   for k in res.model.state_dict())
    diff, _ = pretrain_diff(ours, tmp_path / 'hf')
    assert diff < 1e-6


def test_loss_only_settings_are_reported(tmp_path):
    config = write_config(tmp_path, 'pretrain', head='std_floor=0.03')
    ours = random_checkpoint(config, tmp_path / 'c.pth')
    res = export_to_hf(ours, verify=False)
    assert res.max_abs_diff is None
    assert any('std_floor=0.03' in n for n in res.notes)


# --------------------------------------------------------------------------
# recognizer -> VideoMAEForVideoClassification
# --------------------------------------------------------------------------
@pytest.mark.parametrize('matched_eps', [False, True])
def test_recognizer_cli_roundtrip(tmp_path, capsys, matched_eps):
    config = write_config(
        tmp_path, 'recognizer',
        backbone='fc_norm_eps=1e-5' if matched_eps else '')
    ckpt = tmp_path / 'best.pth'
    ours = random_checkpoint(config, ckpt)
    labels = tmp_path / 'labels.txt'
    labels.write_text('zero\none\ntwo\nthree\nfour\n')
    out = tmp_path / 'hf'
    assert export_cli(config, ckpt, out, '--labels', str(labels)) == 0
    report = capsys.readouterr().out
    assert 'target: VideoMAEForVideoClassification' in report
    diff, hf = classify_diff(ours, out)
    print(f'classifier export, matched_eps={matched_eps}: max diff '
          f'{diff:.3g}')
    assert diff <= (1e-6 if matched_eps else 1e-5)
    assert hf.config.use_mean_pooling is True
    assert hf.config.id2label[3] == 'three' and hf.config.num_labels == 5
    back = convert_hf_videomae(hf.state_dict(), warn=False)
    sd = ours.state_dict()
    for k, v in back.items():
        assert torch.equal(v, sd[k]), k
    assert set(back) == {k for k in sd if not k.startswith('data_')}


# --------------------------------------------------------------------------
# refusals: nothing written, the reason given
# --------------------------------------------------------------------------
def _refused(tmp_path, capsys, config, ckpt, *extra):
    out = tmp_path / 'hf_refused'
    assert export_cli(config, ckpt, out, *extra) == 1
    assert not out.exists()
    return capsys.readouterr().err


def test_first_token_classifier_is_refused(tmp_path, capsys):
    config = write_config(tmp_path, 'recognizer', pooling=False)
    ckpt = tmp_path / 'c.pth'
    random_checkpoint(config, ckpt)
    err = _refused(tmp_path, capsys, config, ckpt)
    assert 'use_mean_pooling=False' in err and 'FIRST PATCH TOKEN' in err


def test_head_that_is_not_a_linear_classifier_is_refused(tmp_path, capsys):
    # I3DHead has only fc_cls, but pools a 5-D feature map first: the
    # verification run fails on the (B, D) features and says so.
    config = write_config(tmp_path, 'recognizer', head_type='I3DHead')
    ckpt = tmp_path / 'c.pth'
    random_checkpoint(config, ckpt)
    err = _refused(tmp_path, capsys, config, ckpt)
    assert 'I3DHead' in err


def test_feature_map_backbone_is_refused(tmp_path):
    from mmmae.models.backbones.videomae_vit import VideoMAEViT
    if 'return_feat_map' not in VideoMAEViT.__init__.__code__.co_varnames:
        pytest.skip('VideoMAEViT has no return_feat_map option')
    config = write_config(tmp_path, 'recognizer', head_type='I3DHead',
                          backbone='return_feat_map=True')
    with pytest.raises(HFExportError, match='return_feat_map=True'):
        export_to_hf(build(config))


def test_difference_above_atol_writes_nothing(tmp_path, capsys):
    config = write_config(tmp_path, 'pretrain')
    ckpt = tmp_path / 'c.pth'
    random_checkpoint(config, ckpt)
    err = _refused(tmp_path, capsys, config, ckpt, '--atol', '1e-9')
    assert 'differs from the mmmae model by up to' in err
    assert 'neck.norm: mmmae eps 1e-06' in err  # the likely reason


def test_checkpoint_that_does_not_fit_is_refused(tmp_path, capsys):
    config = write_config(tmp_path, 'pretrain')
    ckpt = tmp_path / 'c.pth'
    random_checkpoint(config, ckpt)
    sd = torch.load(ckpt)['state_dict']
    del sd['neck.head.bias']
    torch.save({'state_dict': sd}, ckpt)
    err = _refused(tmp_path, capsys, config, ckpt)
    assert "missing ['neck.head.bias']" in err

    official = {'encoder.' + k[len('backbone.'):]: v
                for k, v in sd.items() if k.startswith('backbone.')}
    torch.save({'model': official}, ckpt)
    err = _refused(tmp_path, capsys, config, ckpt)
    assert 'videomae2mmmae.py' in err


def test_other_models_are_refused(tmp_path):
    from mmmae.registry import MODELS
    multimae = MODELS.build(
        dict(type='mmmae.MultiMAE',
             backbone=dict(
                 type='mmmae.MultiMAEViT',
                 input_adapters=dict(
                     rgb=dict(type='mmmae.PatchedInputAdapter',
                              in_channels=3)),
                 arch=dict(embed_dims=64, num_layers=1, num_heads=4,
                           feedforward_channels=128),
                 img_size=32, patch_size=8),
             neck=dict(type='mmmae.MultiMAEDecoder',
                       output_adapters=dict(rgb=dict(num_channels=3)),
                       common=dict(encoder_dims=64, embed_dims=32,
                                   num_layers=1, num_heads=2, img_size=32,
                                   patch_size=8, context_tasks=['rgb']))))
    with pytest.raises(HFExportError, match='not mmmae.VideoMAEViT'):
        export_to_hf(multimae)

    config = write_config(tmp_path, 'recognizer')
    model = build(config)
    model.neck = torch.nn.Identity()
    with pytest.raises(HFExportError, match='has a neck'):
        export_to_hf(model)
    with pytest.raises(HFExportError, match='2 labels for 5 classes'):
        export_to_hf(build(config), labels=['a', 'b'])


def test_load_model_for_export_reports_ema(tmp_path):
    config = write_config(tmp_path, 'pretrain')
    ckpt = tmp_path / 'c.pth'
    ours = random_checkpoint(config, ckpt)
    obj = torch.load(ckpt)
    obj['ema_state_dict'] = {'steps': torch.tensor(3)}
    torch.save(obj, ckpt)
    model, notes = load_model_for_export(config, str(ckpt))
    assert any('ema_state_dict' in n for n in notes)
    for k, v in ours.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k


def test_cli_without_transformers_says_what_to_install(
        tmp_path, capsys, monkeypatch):
    """An ImportError (no transformers) is one line naming the fix."""
    import mmmae.checkpoint.hf as hf

    def no_transformers(*args, **kwargs):
        raise ImportError("No module named 'transformers'")

    monkeypatch.setattr(hf, 'load_model_for_export', no_transformers)
    config = write_config(tmp_path, 'pretrain')
    out = tmp_path / 'hf'
    assert export_cli(config, tmp_path / 'c.pth', out) == 1
    assert capsys.readouterr().err == (
        "ERROR: No module named 'transformers': the export needs "
        'HuggingFace transformers (pip install transformers) (nothing '
        'written)\n')
    assert not out.exists()
