# Copyright (c) mmmae contributors. All rights reserved.
"""Every ``-devaug-`` recipe is its parent recipe with the augmentation
moved to the data preprocessor, and nothing else changed: the same model,
schedule and loaders, the same transforms in the same order (eager
geometry made lazy, ``FormatShape`` + ``PackActionInputs`` replaced by
``PackLazyActionInputs``, ``RandomErasing`` by ``LazyRandomErasing``)."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEVAUG = sorted(
    glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*-devaug-*.py'),
              recursive=True))
LAZY = ('MultiScaleCrop', 'RandomResizedCrop', 'Flip')


def _name(t):
    return t['type'].split('.')[-1]


def _expected(parent_pipeline):
    """The parent's train pipeline, made lazy the documented way."""
    out = []
    for t in parent_pipeline:
        name = _name(t)
        if name == 'FormatShape':
            continue
        if name in LAZY or (name == 'Resize' and t.get('keep_ratio') is
                            False):
            out.append(dict(t, lazy=True))
        elif name == 'RandomErasing':
            out.append(dict(t, type='mmmae.LazyRandomErasing'))
        elif name == 'PackActionInputs':
            keys = tuple(t.get('algorithm_keys', ()))
            out.append(dict(type='mmmae.PackLazyActionInputs',
                            **({'algorithm_keys': keys} if keys else {})))
        else:
            out.append(dict(t))
    return out


def test_variants_found():
    names = {osp.basename(p) for p in DEVAUG}
    assert 'videomae_vit-base-p16_64xb32-devaug-800e_kinetics400.py' in names
    assert any(n.startswith('vit-base-p16_videomae-k400') for n in names)
    assert len(DEVAUG) == 3


@pytest.mark.parametrize('path', DEVAUG,
                         ids=[osp.basename(p) for p in DEVAUG])
def test_devaug_is_the_parent_with_lazy_augmentation(path):
    cfg = Config.fromfile(path)
    parent = Config.fromfile(path.replace('-devaug', ''))
    got = [dict(t) for t in cfg.train_dataloader.dataset.pipeline]
    want = _expected(parent.train_dataloader.dataset.pipeline)
    # the K400 pretraining recipe also bounds the decoded short side, so
    # raw (not pre-resized) videos do not flood the GPU feed
    bounds = [t.pop('max_short_side', None) for t in got
              if _name(t) == 'VideoDecode']
    k400_pretrain = osp.basename(path).startswith('videomae_vit-base')
    assert bounds == ([320] if k400_pretrain else [None] * len(bounds))
    for t in got + want:
        if t.get('algorithm_keys') == ():
            del t['algorithm_keys']  # the default
    assert got == want
    # the preprocessor that applies it: the pretraining one does by itself
    pre = cfg.model.data_preprocessor
    parent_pre = parent.model.data_preprocessor
    if _name(parent_pre) == 'ActionDataPreprocessor':
        assert pre.type == 'mmmae.LazyAugActionDataPreprocessor'
    else:
        assert pre.type == parent_pre.type
    assert {k: v for k, v in pre.items() if k != 'type'} == \
        {k: v for k, v in parent_pre.items() if k != 'type'}
    # everything else as the parent
    for key in parent.keys():
        if key in ('train_dataloader', 'model', 'train_pipeline'):
            continue
        assert cfg.get(key) == parent.get(key), key
    assert {k: v for k, v in cfg.model.items() if k != 'data_preprocessor'} \
        == {k: v for k, v in parent.model.items()
            if k != 'data_preprocessor'}
    loader = {k: v for k, v in cfg.train_dataloader.items()
              if k != 'dataset'}
    assert loader == {k: v for k, v in parent.train_dataloader.items()
                      if k != 'dataset'}
    assert {k: v for k, v in cfg.train_dataloader.dataset.items()
            if k != 'pipeline'} == {
                k: v for k, v in parent.train_dataloader.dataset.items()
                if k != 'pipeline'}
