# Copyright (c) mmmae contributors. All rights reserved.
"""Wrong configs fail when built, with a message naming the field, the bad
value and the allowed values (issue 7 item 4)."""
import re

import pytest

import mmmae  # noqa: F401
from mmmae.models.utils.config_checks import (check_divisible,
                                              suggest_registered)
from mmmae.registry import MODELS, TRANSFORMS

ARCH = dict(embed_dims=64, num_layers=2, num_heads=4, feedforward_channels=256)


def videomae_vit(**kw):
    cfg = dict(type='mmmae.VideoMAEViT', arch=ARCH, img_size=32,
               patch_size=8, num_frames=4, tubelet_size=2)
    cfg.update(kw)
    return cfg


def multimae_vit(**kw):
    cfg = dict(
        type='mmmae.MultiMAEViT',
        arch=ARCH,
        img_size=32,
        patch_size=8,
        input_adapters=dict(
            rgb=dict(type='mmmae.PatchedInputAdapter', in_channels=3)))
    cfg.update(kw)
    return cfg


def videomae_algo(**kw):
    cfg = dict(
        type='mmmae.VideoMAE',
        backbone=videomae_vit(),
        neck=dict(type='mmmae.VideoMAEPretrainDecoder', embed_dims=64,
                  decoder_embed_dims=32, decoder_depth=1,
                  decoder_num_heads=2, patch_size=8, tubelet_size=2),
        head=dict(type='mmmae.VideoMAEPretrainHead', patch_size=8,
                  tubelet_size=2))
    cfg.update(kw)
    return cfg


# --------------------------------------------------------------------------
# sizes
# --------------------------------------------------------------------------
def test_videomae_frames_not_divisible_by_tubelet():
    with pytest.raises(
            ValueError,
            match=re.escape('VideoMAEViT: num_frames=5 is not divisible by '
                            'tubelet_size=2; allowed num_frames: positive '
                            'multiples of 2 (e.g. 4 or 6)')):
        MODELS.build(videomae_vit(num_frames=5))


def test_videomae_img_size_not_divisible_by_patch():
    with pytest.raises(ValueError) as info:
        MODELS.build(videomae_vit(img_size=(32, 30)))
    msg = str(info.value)
    assert 'VideoMAEViT: img_size=(32, 30)' in msg
    assert 'patch_size=(8, 8)' in msg
    assert 'multiples of (8, 8) per axis (e.g. (32, 24) or (32, 32))' in msg


def test_videomae_divisible_sizes_build():
    backbone = MODELS.build(videomae_vit(img_size=(32, 24), num_frames=6))
    assert backbone.grid_size == (3, 4, 3)


def test_multimae_img_size_not_divisible_by_patch():
    with pytest.raises(ValueError,
                       match=r'MultiMAEViT: img_size=\(30, 30\) is not '
                       r'divisible by patch_size=\(8, 8\).*\(24, 24\) or '
                       r'\(32, 32\)'):
        MODELS.build(multimae_vit(img_size=30))
    # an adapter built on its own checks too
    with pytest.raises(ValueError,
                       match=r'PatchedInputAdapter: img_size=\(40, 36\)'):
        MODELS.build(
            dict(type='mmmae.PatchedInputAdapter', in_channels=3,
                 embed_dims=64, patch_size=8, img_size=(40, 36)))


def test_multimae_decoder_sizes():
    base = dict(type='mmmae.MultiMAESpatialDecoder', num_channels=3,
                task='rgb', context_tasks=('rgb', ), encoder_dims=64,
                embed_dims=32, num_heads=2, patch_size=8, img_size=32)
    MODELS.build(base)
    with pytest.raises(ValueError,
                       match=r"MultiMAESpatialDecoder\('rgb'\): img_size="
                       r'\(36, 36\) is not divisible by patch_size'):
        MODELS.build(dict(base, img_size=36))
    with pytest.raises(ValueError,
                       match=r'patch_size=\(8, 8\) is not divisible by '
                       r'stride_level=3'):
        MODELS.build(dict(base, stride_level=3))


def test_check_divisible_bad_unit():
    with pytest.raises(ValueError, match='X: tubelet_size must be a '
                       'positive int'):
        check_divisible('X', 'num_frames', 16, 'tubelet_size', 0)
    with pytest.raises(ValueError, match='num_frames=0 is not divisible'):
        check_divisible('X', 'num_frames', 0, 'tubelet_size', 2)


# --------------------------------------------------------------------------
# arch names
# --------------------------------------------------------------------------
@pytest.mark.parametrize('make', [videomae_vit, multimae_vit])
def test_unknown_arch_lists_presets(make):
    with pytest.raises(KeyError) as info:
        MODELS.build(make(arch='bsae'))
    msg = str(info.value)
    assert "unknown arch 'bsae'" in msg
    for name in ('base', 'small', 'large', 'huge', 'giant', 'tiny'):
        assert f"'{name}'" in msg


def test_arch_dict_missing_keys():
    with pytest.raises(KeyError, match=r"arch dict lacks \['num_heads', "
                       r"'num_layers'\]"):
        MODELS.build(videomae_vit(arch=dict(embed_dims=64)))


# --------------------------------------------------------------------------
# mask generators
# --------------------------------------------------------------------------
@pytest.mark.parametrize('gen', ['TubeMaskGenerator', 'RandomMaskGenerator'])
@pytest.mark.parametrize('ratio', [0.0, 1.0, -0.1, 1.5, '0.9', True])
def test_encoder_mask_ratio_outside_open_interval(gen, ratio):
    with pytest.raises(ValueError,
                       match=rf'{gen}: mask_ratio must be a float in '
                       r'\(0, 1\).*got ' + re.escape(repr(ratio))):
        TRANSFORMS.build(dict(type=f'mmmae.{gen}', input_size=(2, 4, 4),
                              mask_ratio=ratio))


def test_mask_ratio_that_masks_nothing_on_this_grid():
    # int(0.05 * 16) == 0 tokens per frame: the loss would have no target
    with pytest.raises(ValueError,
                       match=r"TubeMaskGenerator: mask_ratio=0.05 masks "
                       r"int\(0.05 \* 16\) = 0 of the 16 tokens per frame.*"
                       r'allowed: mask_ratio in \[0.0625, 1\)'):
        TRANSFORMS.build(dict(type='mmmae.TubeMaskGenerator',
                              input_size=(2, 4, 4), mask_ratio=0.05))
    gen = TRANSFORMS.build(dict(type='mmmae.TubeMaskGenerator',
                                input_size=(2, 4, 4), mask_ratio=0.0625))
    assert gen.num_masks_per_frame == 1


@pytest.mark.parametrize('ratio', [0.2, 1.0, -0.5])
def test_running_cell_mask_ratio(ratio):
    with pytest.raises(ValueError,
                       match=r'RunningCellMaskGenerator: mask_ratio must '
                       r'give 1 to 3 .*allowed: 0 .* or a value in '
                       r'\[0.25, 1\)'):
        TRANSFORMS.build(dict(type='mmmae.RunningCellMaskGenerator',
                              input_size=(2, 4, 4), mask_ratio=ratio))


def test_multimodal_mask_counts():
    base = dict(type='mmmae.MultiModalMaskGenerator',
                modalities=('rgb', 'depth'), grid=(4, 4))
    for n in (0, 33):
        with pytest.raises(ValueError,
                           match=rf'num_visible={n} cannot be met.*'
                           r'num_visible must be in \[1, 32\]'):
            TRANSFORMS.build(dict(base, num_visible=n))
    with pytest.raises(ValueError, match='alpha must be positive'):
        TRANSFORMS.build(dict(base, num_visible=8, alpha=0))
    with pytest.raises(ValueError,
                       match=r"fixed_masks names 'semseg', which is not one "
                       r"of the modalities \('rgb', 'depth'\)"):
        TRANSFORMS.build(dict(base, num_visible=8,
                              fixed_masks=dict(semseg='all')))


# --------------------------------------------------------------------------
# registered names and required fields
# --------------------------------------------------------------------------
def test_misspelled_component_type_suggests_close_names():
    with pytest.raises(KeyError) as info:
        MODELS.build(videomae_algo(backbone=dict(type='mmmae.VideoMAEVit')))
    msg = str(info.value)
    assert ("VideoMAE: config field `backbone`: type 'mmmae.VideoMAEVit' "
            'is not in the mmmae::model registry') in msg
    assert "did you mean 'mmmae.VideoMAEViT'" in msg


def test_misspelled_nested_type_suggests_close_names():
    cfg = dict(
        type='mmmae.MultiMAE',
        backbone=multimae_vit(input_adapters=dict(
            rgb=dict(type='mmmae.PatchedInputAdaptr', in_channels=3))),
        neck=dict(type='mmmae.MultiMAEDecoder', output_adapters={}))
    with pytest.raises(KeyError) as info:
        MODELS.build(cfg)
    msg = str(info.value)
    # the full path of the nested field, not just the top-level part
    assert 'MultiMAE: config field `backbone.input_adapters.rgb`' in msg
    assert "did you mean 'mmmae.PatchedInputAdapter'" in msg


def test_suggestions_cover_other_scopes():
    import mmaction.models  # noqa: F401
    close = suggest_registered('mmaction.VisionTransformr', MODELS)
    assert 'mmaction.VisionTransformer' in close
    assert suggest_registered('mmmae.Zzzzqqq', MODELS) == []


def test_missing_required_field():
    cfg = videomae_algo()
    cfg.pop('backbone')
    with pytest.raises(TypeError, match="required positional argument: "
                       "'backbone'"):
        MODELS.build(cfg)
    with pytest.raises(TypeError,
                       match=r"VideoMAE: config field `backbone` is required "
                       r"and must be a dict with a registered `type` "
                       r"\(e.g. dict\(type='mmmae.VideoMAEViT', ...\)\)"):
        MODELS.build(videomae_algo(backbone=None))
    with pytest.raises(TypeError, match='config field `neck` is required'):
        MODELS.build(videomae_algo(neck=dict(embed_dims=64)))


def test_dpt_head_type_lists_allowed():
    with pytest.raises(ValueError,
                       match=r"DPTHead: head_type must be one of "
                       r"\('regression', 'semseg'\), got 'depth'"):
        MODELS.build(dict(type='mmmae.DPTHead', in_channels=64,
                          head_type='depth'))


# --------------------------------------------------------------------------
# parts that must agree on the token geometry
# --------------------------------------------------------------------------
@pytest.mark.parametrize('part,field,value,expected', [
    ('neck', 'patch_size', 16,
     'VideoMAE: neck.patch_size=16 but backbone.patch_size=8'),
    ('neck', 'tubelet_size', 4,
     'VideoMAE: neck.tubelet_size=4 but backbone.tubelet_size=2'),
    ('neck', 'embed_dims', 96,
     'VideoMAE: neck.embed_dims=96 but backbone.embed_dims=64'),
    ('neck', 'in_channels', 1,
     'VideoMAE: neck.in_channels=1 but backbone.in_channels=3'),
    ('head', 'patch_size', 4,
     'VideoMAE: head.patch_size=4 but backbone.patch_size=8'),
    ('head', 'tubelet_size', 1,
     'VideoMAE: head.tubelet_size=1 but backbone.tubelet_size=2'),
])
def test_videomae_geometry_mismatch_fails_at_build(part, field, value,
                                                   expected):
    cfg = videomae_algo()
    cfg[part] = dict(cfg[part], **{field: value})
    with pytest.raises(ValueError) as info:
        MODELS.build(cfg)
    assert expected in str(info.value)
    assert "set them to the backbone's values" in str(info.value)


def test_videomae_geometry_lists_every_disagreement_and_accepts_tuples():
    cfg = videomae_algo(backbone=videomae_vit(patch_size=16))
    with pytest.raises(ValueError) as info:
        MODELS.build(cfg)
    msg = str(info.value)
    assert ('neck.patch_size=8 but backbone.patch_size=16; '
            'head.patch_size=8 but backbone.patch_size=16') in msg
    # (8, 8) and 8 are the same patch size
    model = MODELS.build(videomae_algo(backbone=videomae_vit(
        patch_size=(8, 8))))
    assert model.neck.patch_size == 8


def _multimae_algo(**neck_kw):
    extra = neck_kw.pop('extra', {})
    common = dict(encoder_dims=64, embed_dims=32, num_layers=1, num_heads=2,
                  img_size=32, patch_size=8, context_tasks=['rgb', 'depth'])
    common.update(neck_kw)
    return dict(
        type='mmmae.MultiMAE',
        backbone=multimae_vit(input_adapters=dict(
            rgb=dict(type='mmmae.PatchedInputAdapter', in_channels=3),
            depth=dict(type='mmmae.PatchedInputAdapter', in_channels=1))),
        neck=dict(
            type='mmmae.MultiMAEDecoder',
            output_adapters=dict(
                rgb=dict(num_channels=3), depth=dict(num_channels=1),
                **extra),
            common=common),
        head=dict(
            type='mmmae.MultiMAEHead',
            tasks=dict(rgb=dict(loss=dict(type='mmmae.MaskedMSELoss')),
                       depth=dict(loss=dict(type='mmmae.MaskedL1Loss')))))


@pytest.mark.parametrize('change,expected', [
    (dict(encoder_dims=96),
     'MultiMAE: neck.output_adapters.rgb.encoder_dims=96 but '
     'backbone.embed_dims=64'),
    (dict(patch_size=16, img_size=32),
     'MultiMAE: neck.output_adapters.rgb.patch_size=(16, 16) but '
     'backbone.input_adapters.rgb.patch_size=(8, 8)'),
    (dict(extra=dict(norm_rgb=dict(num_channels=1, task='rgb'))),
     'MultiMAE: neck.output_adapters.norm_rgb.num_channels=1 but '
     'backbone.input_adapters.rgb.in_channels=3'),
    (dict(extra=dict(semseg=dict(num_channels=5, stride_level=4))), None),
])
def test_multimae_geometry_mismatch_fails_at_build(change, expected):
    cfg = _multimae_algo(**change)
    if expected is None:  # a decoder for a task that is not an input
        MODELS.build(cfg)
        return
    with pytest.raises(ValueError) as info:
        MODELS.build(cfg)
    assert expected in str(info.value)


def test_multimae_head_task_without_decoder_fails_at_build():
    cfg = _multimae_algo()
    cfg['head']['tasks']['detph'] = dict(loss=dict(type='mmmae.MaskedL1Loss'),
                                         target='depth')
    with pytest.raises(ValueError,
                       match=re.escape("MultiMAE: head.tasks ['detph'] have "
                                       'no decoder in neck.output_adapters '
                                       "['rgb', 'depth']")):
        MODELS.build(cfg)
