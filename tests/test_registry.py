# Copyright (c) mmmae contributors. All rights reserved.
import copy
import re

import mmengine.registry as mmengine_registry
import pytest
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


# --------------------------------------------------------------------------
# unknown types: the field and the closest registered names
# --------------------------------------------------------------------------
DEMO_CONFIG = 'configs/videomae/videomae_vit-tiny-p8_1xb8-30e_moving-digits.py'


def _demo_cfg(video_dir, tmp_path):
    """The shipped demo config on the real test videos."""
    import os.path as osp

    from mmengine.config import Config

    from conftest import REPO_ROOT
    cfg = Config.fromfile(osp.join(REPO_ROOT, DEMO_CONFIG))
    cfg.work_dir = str(tmp_path)
    cfg.custom_hooks = []  # the probe loaders read data/demo
    loader = cfg.train_dataloader
    loader.update(num_workers=0, persistent_workers=False, batch_size=2)
    loader.dataset.update(ann_file=str(video_dir / 'ann.txt'),
                          data_prefix=dict(video=str(video_dir)))
    return cfg


def _index(pipeline, type_name):
    """Position of the transform ``type_name`` (prefix optional)."""
    names = [t['type'].split('.')[-1] for t in pipeline]
    return names.index(type_name)


@pytest.mark.parametrize('good,bad,suggestion', [
    ('TubeMaskGenerator', 'mmmae.TubeMaskGenrator',
     'mmmae.TubeMaskGenerator'),
    ('SampleFrames', 'SampleFrame', 'mmaction.SampleFrames'),
    ('MultiScaleCrop', 'mmaction.MultiScaleCorp', 'mmaction.MultiScaleCrop'),
])
def test_misspelled_transform_in_shipped_config_dataset(
        video_dir, tmp_path, good, bad, suggestion):
    """A real VideoMAEDataset of the shipped config, built as the Runner
    builds it (MMEngine's root DATASETS under the config's scope)."""
    from mmengine.registry import DATASETS
    cfg = _demo_cfg(video_dir, tmp_path)
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    index = _index(dataset_cfg.pipeline, good)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        assert len(DATASETS.build(copy.deepcopy(dataset_cfg))) == 4
        dataset_cfg.pipeline[index]['type'] = bad
        with pytest.raises(KeyError) as info:
            DATASETS.build(dataset_cfg)
    assert isinstance(info.value, R.UnknownTypeError)
    msg = str(info.value)
    assert msg.startswith(f'VideoMAEDataset: config field `pipeline[{index}]'
                          f'`: type {bad!r} is not in the ')
    assert msg.endswith(f'did you mean {suggestion!r}?')


def test_misspelled_transform_fails_runner_train(video_dir, tmp_path):
    """tools/train.py's path: Runner.from_cfg(cfg).train()."""
    from mmengine.runner import Runner
    cfg = _demo_cfg(video_dir, tmp_path)
    pipeline = cfg.train_dataloader.dataset.pipeline
    index = _index(pipeline, 'TubeMaskGenerator')
    pipeline[index]['type'] = 'mmmae.TubeMaskGenrator'
    runner = Runner.from_cfg(cfg)
    with pytest.raises(R.UnknownTypeError,
                       match=re.escape(
                           f'VideoMAEDataset: config field `pipeline[{index}]'
                           "`: type 'mmmae.TubeMaskGenrator' is not in the "
                           'mmmae::transform registry; did you mean '
                           "'mmmae.TubeMaskGenerator'?")):
        runner.train()


def test_misspelled_model_parts_get_suggestions():
    import mmaction.registry
    cfg = dict(_tiny_backbone_cfg(), type='mmmae.VideoMAEVit')
    with pytest.raises(R.UnknownTypeError,
                       match=re.escape("type 'mmmae.VideoMAEVit' is not in "
                                       'the mmmae::model registry; did you '
                                       "mean 'mmmae.VideoMAEViT'?")):
        R.MODELS.build(cfg)
    # the lazy `mmmae.X` lookup from a host scope, nested in a recognizer
    with DefaultScope.overwrite_default_scope('mmaction'):
        with pytest.raises(R.UnknownTypeError) as info:
            mmaction.registry.MODELS.build(
                dict(type='Recognizer3D', backbone=cfg,
                     cls_head=dict(type='TimeSformerHead', num_classes=2,
                                   in_channels=32)))
    msg = str(info.value)
    assert msg.startswith('Recognizer3D: config field `backbone`: type '
                          "'mmmae.VideoMAEVit'")
    assert msg.endswith("did you mean 'mmmae.VideoMAEViT'?")


def test_other_key_errors_are_left_alone():
    """Only unknown types are rewritten: a KeyError a constructor raises
    for its own reasons keeps its type and message."""
    with pytest.raises(KeyError) as info:
        R.MODELS.build(
            dict(type='mmmae.MultiMAEHead',
                 tasks=dict(rgb=dict(loss=dict(type='mmmae.MaskedMSELoss'))),
                 loss_weights=dict(depth=1.)))
    assert not isinstance(info.value, R.UnknownTypeError)
    assert info.value.args == ("loss_weights for unknown tasks ['depth']", )


def test_suggest_type_and_find_type_field():
    assert R.suggest_type(R.TRANSFORMS, 'mmmae.TubeMaskGenrator') == [
        'mmmae.TubeMaskGenerator'
    ]
    assert R.suggest_type(R.MODELS, 'mmmae.Zzzzqqq') == []
    cfg = dict(type='A', pipeline=[dict(type='B'),
                                   dict(type='C', transforms=[dict(
                                       type='D')])])
    assert R.find_type_field(cfg, 'D') == 'pipeline[1].transforms[0]'
    assert R.find_type_field(cfg, 'A') == ''
    assert R.find_type_field(cfg, 'E') is None


@pytest.mark.parametrize('scope', ['mmseg', 'mmaction', 'mmpretrain'])
def test_nested_parts_resolve_in_mmmae_scope(scope, monkeypatch):
    """``type='PatchedInputAdapter'`` inside ``mmmae.MultiMAEViT`` under
    another library's default scope: built from mmmae's registry."""
    import importlib

    from mmengine.registry import MODELS as ROOT_MODELS
    from mmengine.registry import DefaultScope

    import mmmae.registry as reg
    importlib.import_module(f'{scope}.models')
    cfg = dict(
        type='mmmae.MultiMAEViT',
        arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                  feedforward_channels=64),
        input_adapters=dict(
            rgb=dict(type='PatchedInputAdapter', in_channels=3)))
    with DefaultScope.overwrite_default_scope(scope):
        model = ROOT_MODELS.build(cfg)
        assert type(model.input_adapters['rgb']).__name__ == \
            'PatchedInputAdapter'
        # the control: MMEngine's own lookup searches the default scope
        inner = reg.MODELS.build_func
        while getattr(inner, '__wrapped__', None) is not None:
            inner = inner.__wrapped__
        monkeypatch.setattr(reg.MODELS, 'build_func', inner)
        with pytest.raises(KeyError, match='PatchedInputAdapter'):
            ROOT_MODELS.build(cfg)


_NO_IMPORT_SCRIPTS = {
    'mmaction': '''
from mmengine.registry import MODELS, init_default_scope
init_default_scope('mmaction')
model = MODELS.build(dict(
    type='Recognizer3D',
    backbone=dict(type='mmmae.VideoMAEViT', arch='small', img_size=32,
                  patch_size=16, num_frames=4),
    cls_head=dict(type='TimeSformerHead', num_classes=5, in_channels=384),
    data_preprocessor=dict(type='ActionDataPreprocessor',
                           format_shape='NCTHW')))
print('BUILT', type(model.backbone).__name__)
''',
    'mmseg': '''
from mmengine.registry import MODELS, init_default_scope
init_default_scope('mmseg')
model = MODELS.build(dict(
    type='EncoderDecoder',
    backbone=dict(type='mmmae.MultiMAEViT',
                  arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                            feedforward_channels=64),
                  input_adapters=dict(rgb=dict(type='PatchedInputAdapter',
                                               in_channels=3))),
    decode_head=dict(type='FCNHead', in_channels=32, channels=16,
                     num_convs=1, num_classes=3)))
print('BUILT', type(model.backbone).__name__)
''',
}


@pytest.mark.slow
@pytest.mark.parametrize('scope', sorted(_NO_IMPORT_SCRIPTS))
def test_other_library_config_needs_no_custom_imports(scope, tmp_path):
    """A fresh process that never imports mmmae builds an MMAction2 /
    MMSegmentation model naming ``mmmae.X`` (the start-up hook that
    tools/setup_env.sh installs imports mmmae before the library's models,
    so its compatibility patches apply)."""
    import os
    import subprocess
    import sys
    import sysconfig
    pth = os.path.join(sysconfig.get_paths()['purelib'], 'mmmae-startup.pth')
    assert os.path.isfile(pth), (
        f'{pth} is missing: run `bash tools/setup_env.sh` (it installs the '
        'hook that lets configs name mmmae.X without custom_imports)')
    script = tmp_path / 'build.py'
    script.write_text(_NO_IMPORT_SCRIPTS[scope])
    proc = subprocess.run([sys.executable, str(script)], cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'BUILT' in proc.stdout and 'import mmmae failed' not in \
        proc.stderr
