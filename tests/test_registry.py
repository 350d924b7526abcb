# Copyright (c) mmmae contributors. All rights reserved.
import mmengine.registry as mmengine_registry
from mmengine.registry import DefaultScope

import mmmae.registry as R


def test_registries_are_children_of_mmengine_roots():
    pairs = [(R.MODELS, mmengine_registry.MODELS),
             (R.TRANSFORMS, mmengine_registry.TRANSFORMS),
             (R.DATASETS, mmengine_registry.DATASETS),
             (R.HOOKS, mmengine_registry.HOOKS),
             (R.MODEL_WRAPPERS, mmengine_registry.MODEL_WRAPPERS)]
    for ours, root in pairs:
        assert ours.scope == 'mmmae'
        assert ours.parent is root
        assert root._children['mmmae'] is ours


def _tiny_backbone_cfg():
    return dict(
        type='mmmae.VideoMAEViT',
        arch=dict(
            embed_dims=32, num_layers=1, num_heads=2,
            feedforward_channels=64),
        img_size=32,
        patch_size=8,
        num_frames=4)


def test_backbone_builds_from_mmaction_and_mmseg_scopes():
    """Downstream configs keep their host scope and name our parts
    ``mmmae.X``; the lookup imports mmmae.models lazily."""
    import mmaction.registry
    import mmseg.registry
    for name, host in (('mmaction', mmaction.registry.MODELS),
                       ('mmseg', mmseg.registry.MODELS)):
        with DefaultScope.overwrite_default_scope(name):
            model = host.build(_tiny_backbone_cfg())
        assert type(model).__name__ == 'VideoMAEViT'
