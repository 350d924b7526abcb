# Copyright (c) mmmae contributors. All rights reserved.
"""Fine-tuning end to end: tools/train.py then tools/test.py (2 clips x 3
crops) on real mp4 files, through an mmmae recognition recipe and through an
MMAction2-scoped config that inherits MMAction2's own VideoMAE config.

Both configs are the real ones, shrunk (tiny ViT, 32 px, 4 frames) by a
small child config; the recipe one starts from a saved mmmae pretraining
checkpoint, so the Pretrained-encoder path is exercised too.
"""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

import mmmae  # noqa: F401
from mmmae.registry import MODELS

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RECIPE_CFG = osp.join(
    REPO_ROOT, 'configs', 'videomae', 'finetune',
    'vit-base-p16_videomae-k400-pre-1600e_64xb6-rep2-16x4x1-75e_'
    'kinetics400-rgb.py')
MMACTION_CFG = osp.join(
    REPO_ROOT, 'configs', 'videomae', 'mmaction2',
    'vit-base-p16_videomae-k400-pre-800e_64xb8-16x4x1-100e_kinetics400-rgb.py')

ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)

# shared by both child configs: tiny model, 4 real clips, 2 classes, test
# 2 clips x 3 crops
_SHRINK = """
num_classes = 2
ann = {ann!r}
root = {root!r}
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=32, num_layers=2, num_heads=2,
                  feedforward_channels=64),
        img_size=32, patch_size=8, num_frames=4, drop_path_rate=0.1,
        init_cfg=dict(_delete_=True, type='Pretrained',
                      checkpoint={pretrained!r})),
    cls_head=dict(in_channels=32, num_classes=num_classes),
    data_preprocessor=dict(blending=dict(augments=[
        dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
        dict(type='CutmixBlending', alpha=1., num_classes=num_classes)])))


def _small(pipeline, num_clips=1):
    out = []
    for t in pipeline:
        t = dict(t)
        if t['type'] == 'SampleFrames':
            t.update(clip_len=4, frame_interval=2, num_clips=num_clips)
        elif t['type'] == 'Resize' and t['scale'] == (-1, 320):
            continue
        elif t['type'] == 'Resize':
            t['scale'] = (32, 32) if t['scale'] == (224, 224) else (-1, 32)
        elif 'crop_size' in t:
            t['crop_size'] = 32
        out.append(t)
    return out


train_pipeline = _small({train_pipeline})
val_pipeline = _small({val_pipeline})
test_pipeline = _small({test_pipeline}, num_clips=2)
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(ann_file=ann, data_prefix=dict(video=root),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(ann_file=ann, data_prefix=dict(video=root),
                 pipeline=val_pipeline))
test_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    dataset=dict(ann_file=ann, data_prefix=dict(video=root),
                 pipeline=test_pipeline))
max_epochs = 2
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=1e-2, by_epoch=True,
         begin=1, end=max_epochs, convert_to_iter_based=True)]
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
auto_scale_lr = dict(enable=False)
default_hooks = dict(logger=dict(interval=1))
"""


def _env():
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env.setdefault('OMP_NUM_THREADS', '1')
    return env


def _run(*args, timeout=300):
    proc = subprocess.run([sys.executable, *args],
                          cwd=REPO_ROOT,
                          env=_env(),
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-6000:]
    return proc.stdout


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    """An mmmae VideoMAE pretraining checkpoint of the tiny architecture."""
    model = MODELS.build(
        dict(
            type='VideoMAE',
            backbone=dict(
                type='VideoMAEViT', arch=ARCH, img_size=32, patch_size=8,
                num_frames=4),
            neck=dict(
                type='VideoMAEPretrainDecoder', embed_dims=32,
                decoder_embed_dims=16, decoder_depth=1, decoder_num_heads=2,
                patch_size=8),
            head=dict(type='VideoMAEPretrainHead', patch_size=8)))
    model.init_weights()
    path = tmp_path_factory.mktemp('pre') / 'pretrain.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return str(path), model.backbone.state_dict()


def _child(base, video_dir, tmp_path, pretrained_path, pipelines):
    text = f'_base_ = {base!r}\n' + _SHRINK.format(
        ann=str(video_dir / 'ann.txt'),
        root=str(video_dir),
        pretrained=pretrained_path,
        **pipelines)
    path = tmp_path / ('tiny_' + osp.basename(base))
    path.write_text(text)
    return str(path)


def _train_and_test(cfg, tmp_path):
    work = str(tmp_path / 'work')
    out = _run('tools/train.py', cfg, '--work-dir', work)
    assert osp.isfile(osp.join(work, 'epoch_2.pth')), out[-3000:]
    # validation ran during training (single centre clip)
    assert re.search(r'Epoch\(val\) \[2\].*acc/top1', out), out[-3000:]
    dump = str(tmp_path / 'preds.pkl')
    out = _run('tools/test.py', cfg, osp.join(work, 'epoch_2.pth'),
               '--work-dir', str(tmp_path / 'test'), '--dump', dump)
    m = re.search(r'acc/top1: ([0-9.]+)', out)
    assert m, out[-3000:]
    assert 0. <= float(m.group(1)) <= 1.
    import pickle
    with open(dump, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 4
    for p in preds:
        score = torch.as_tensor(p['pred_score'])
        # views were softmaxed then averaged ('prob'): one distribution
        assert score.shape == (2, )
        assert abs(float(score.sum()) - 1) < 1e-4
    return work, out


def _pipelines(cfg):
    return dict(
        train_pipeline=cfg.train_dataloader.dataset.pipeline,
        val_pipeline=cfg.val_dataloader.dataset.pipeline,
        test_pipeline=cfg.test_dataloader.dataset.pipeline)


@pytest.mark.slow
def test_recipe_config_finetune_and_multiview_test(
        video_dir, tmp_path, pretrained):
    from mmengine.config import Config
    base = Config.fromfile(RECIPE_CFG)
    # the recipe trains with repeated augmentation (2 views per video)
    assert base.train_dataloader.dataset.num_repeats == 2
    pipelines = _pipelines(base)
    cfg = _child(RECIPE_CFG, video_dir, tmp_path, pretrained[0], pipelines)
    child = Config.fromfile(cfg)

    # the test views: 2 clips x 3 crops per video
    from mmengine.registry import DATASETS, DefaultScope
    with DefaultScope.overwrite_default_scope('mmaction'):
        ds = DATASETS.build(child.test_dataloader.dataset)
        assert tuple(ds[0]['inputs'].shape) == (6, 3, 4, 32, 32)
        rep = DATASETS.build(child.train_dataloader.dataset)
        views = rep[0]
        assert isinstance(views, list) and len(views) == 2

    work, _ = _train_and_test(cfg, tmp_path)
    # the encoder started from the pretraining checkpoint, reported as such
    logs = open(next(
        osp.join(r, f) for r, _, fs in os.walk(work) for f in fs
        if f.endswith('.log'))).read()
    # 2 patch-embed + 2 x 13 block tensors; the pretrained final norm and
    # the decoder are reported as not used
    assert re.search(r'loaded 28 encoder tensors from \S+pretrain.pth '
                     r'\(mmmae layout\)', logs), logs[-3000:]
    assert 'decoder (neck.*' in logs
    assert "missing, left at their init: ['fc_norm.weight', 'fc_norm.bias']" \
        in logs


@pytest.mark.slow
def test_mmaction2_scoped_config_trains_and_tests(video_dir, tmp_path,
                                                  pretrained):
    from mmengine.config import Config
    base = Config.fromfile(MMACTION_CFG)
    assert base.default_scope == 'mmaction'
    assert base.model.backbone.type == 'mmmae.VideoMAEViT'
    assert base.train_dataloader.dataset.type == 'VideoDataset'  # mmaction's
    cfg = _child(MMACTION_CFG, video_dir, tmp_path, pretrained[0],
                 _pipelines(base))
    _, out = _train_and_test(cfg, tmp_path)
    assert 'acc/top1' in out
