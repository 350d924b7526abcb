# Copyright (c) mmmae contributors. All rights reserved.
"""One encoder class for both methods: ``MultiModalViT`` reproduces the
official VideoMAE V1/V2 encoders (one rgb video adapter) and the official
MultiMAE encoder (image adapters) on the parity fixtures, and encodes
rgb + depth + semseg *videos*."""
import pytest
import torch
from _multimae_helpers import tiny_backbone_cfg
from _multimodal_video_helpers import video_backbone_cfg
from _videomae_helpers import TINY_ARCH
from conftest import load_fixture

from mmmae.checkpoint import convert_official_multimae, official_to_backbone
from mmmae.models import MultiMAEViT, MultiModalViT, VideoMAEViT
from mmmae.registry import MODELS

ATOL = 1e-5


def _videomae_as_core(num_frames):
    """The VideoMAE encoder written as a plain ``MultiModalViT`` config."""
    return MODELS.build(
        dict(
            type='mmmae.MultiModalViT',
            input_adapters=dict(
                rgb=dict(type='mmmae.TubeletInputAdapter', in_channels=3)),
            arch=dict(TINY_ARCH),
            img_size=32,
            patch_size=8,
            num_frames=num_frames,
            tubelet_size=2,
            num_global_tokens=0,
            qkv_bias=True,
            final_norm=True))


def test_subclasses_are_the_core():
    assert issubclass(VideoMAEViT, MultiModalViT)
    assert issubclass(MultiMAEViT, MultiModalViT)


@pytest.mark.parametrize('name', ['videomae_v1_pretrain_tiny.pth',
                                  'videomae_v2_pretrain_tiny.pth'])
def test_core_reproduces_videomae_encoder(name):
    fx = load_fixture(name)
    weights = official_to_backbone(fx['checkpoint'])
    # the same tensors under the core's generic names
    renamed = {
        k.replace('patch_embed.', 'input_adapters.rgb.', 1).replace(
            'blocks.', 'encoder.', 1): v
        for k, v in weights.items()
    }
    core = _videomae_as_core(fx['config'].get('all_frames', 16))
    core.load_state_dict(renamed, strict=True)
    core.eval()
    x, mask = fx['inputs'], fx['mask']
    with torch.no_grad():
        tokens, info = core({'rgb': x}, {'rgb': mask})
    assert info.grid == (x.shape[2] // 2, 4, 4)
    torch.testing.assert_close(
        tokens, fx['encoder_output'], rtol=0, atol=ATOL)


def test_core_reproduces_multimae_encoder():
    fx = load_fixture('multimae_pretrain_tiny.pth')
    cfg = tiny_backbone_cfg(type='mmmae.MultiModalViT')
    core = MODELS.build(cfg)
    sd = {
        k[len('backbone.'):]: v
        for k, v in convert_official_multimae(fx['checkpoint']).items()
        if k.startswith('backbone.')
    }
    core.load_state_dict(sd, strict=True)
    core.eval()
    masks = {k: v.bool() for k, v in fx['task_masks'].items()}
    with torch.no_grad():
        tokens, info = core(fx['inputs'], masks)
    assert torch.equal(info.visible_ids, fx['visible_ids'])
    torch.testing.assert_close(
        tokens, fx['encoder_tokens'], rtol=1e-5, atol=ATOL)


def _video_core(**kwargs):
    return MODELS.build(video_backbone_cfg(**kwargs)).eval()


def _video_inputs(B=2, T=4, S=32):
    g = torch.Generator().manual_seed(0)
    return dict(
        rgb=torch.randn(B, 3, T, S, S, generator=g),
        depth=torch.randn(B, 1, T, S, S, generator=g),
        semseg=torch.randint(6, (B, T, S // 4, S // 4), generator=g))


def test_multimodal_video_tokens_and_masks():
    core = _video_core()
    inputs = _video_inputs()
    # 2 x 4 x 4 = 32 tokens per modality; tube masks, 20 visible in all
    masks = {}
    for name, keep in (('rgb', 4), ('depth', 4), ('semseg', 2)):
        cell = torch.ones(16, dtype=torch.bool)
        cell[:keep] = False
        masks[name] = cell.repeat(2)[None].expand(2, -1)
    with torch.no_grad():
        tokens, info = core(inputs, masks)
        full, full_info = core(inputs)
    assert info.grid == (2, 4, 4)
    assert tokens.shape == (2, 20 + 1, 32)  # visible + the global token
    assert list(info.tasks.items()) == [('rgb', (0, 32)), ('depth', (32, 64)),
                                        ('semseg', (64, 96))]
    assert full.shape == (2, 96 + 1, 32) and full_info.visible_ids is None
    # the same tokens in the visible ids' order when nothing is hidden
    with torch.no_grad():
        none = {k: torch.zeros_like(v) for k, v in masks.items()}
        all_vis, _ = core(inputs, none)
    torch.testing.assert_close(all_vis, full)


def test_video_position_tables_follow_the_grid():
    core = _video_core()
    adapter = core.input_adapters['rgb']
    assert adapter.get_pos_embed((2, 4, 4)) is adapter.pos_embed
    longer = _video_inputs(T=8)
    with torch.no_grad():
        tokens, info = core(longer)
    assert info.grid == (4, 4, 4) and tokens.shape[1] == 3 * 64 + 1
    # resampled in time, cached per grid
    assert adapter.get_pos_embed((4, 4, 4)) is adapter.get_pos_embed(
        (4, 4, 4))


def test_stacked_rgbd_clip_and_feature_maps():
    """MMAction2 passes one (B, C, T, H, W) tensor: rgb and depth channels
    are split by the backbone; feature maps keep the time axis."""
    core = _video_core(
        input_adapters=dict(
            rgb=dict(type='mmmae.TubeletInputAdapter', in_channels=3),
            depth=dict(type='mmmae.TubeletInputAdapter', in_channels=1)),
        out_indices=(-1, ),
        main_tasks=('rgb', 'depth'))
    x = torch.randn(2, 4, 4, 32, 32)
    with torch.no_grad():
        (fmap, ) = core(x)
        split = core(dict(rgb=x[:, :3], depth=x[:, 3:]))[0]
    assert fmap.shape == (2, 2 * 32, 2, 4, 4)
    torch.testing.assert_close(fmap, split)


def test_modalities_must_share_the_grid():
    core = _video_core()
    inputs = _video_inputs()
    inputs['depth'] = torch.randn(2, 1, 6, 32, 32)
    with pytest.raises(ValueError, match='token grid'):
        core(inputs)
