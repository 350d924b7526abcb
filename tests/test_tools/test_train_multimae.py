# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAE pretraining end to end: tools/train.py runs the demo config
(shrunk) on rendered scenes with a real Runner and the loss falls; the
pseudo-labelled layout written by tools/generate_pseudo_labels.py is read
by the multi-modal dataset."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

import mmmae  # noqa: F401

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CFG = osp.join(REPO_ROOT, 'configs', 'multimae',
                    'multimae_vit-tiny-p8_1xb16-60e_scenes.py')


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    from mmmae.datasets.demo import make_scene_dataset
    root = tmp_path_factory.mktemp('scenes')
    make_scene_dataset(str(root), num_train=16, num_val=2, size=(32, 32))
    return root


def _json_losses(work_dir):
    logs = [
        osp.join(r, f) for r, _, fs in os.walk(work_dir) for f in fs
        if f.endswith('.json') and f != 'scalars.json'
    ]
    assert logs, f'no json log in {work_dir}'
    rows = [json.loads(line) for line in open(logs[0])]
    return [(r['epoch'], r['loss']) for r in rows if 'loss' in r]


@pytest.mark.slow
def test_demo_config_pretrains_and_loss_falls(scenes, tmp_path):
    cfg = tmp_path / 'tiny_multimae.py'
    cfg.write_text(f"""
_base_ = {DEMO_CFG!r}
img_size = 32
model = dict(
    backbone=dict(img_size=img_size,
                  arch=dict(embed_dims=64, num_layers=2, num_heads=4)),
    neck=dict(common=dict(encoder_dims=64, embed_dims=32,
                          img_size=img_size)))
train_pipeline = [
    dict(t, size=img_size) if t['type'] == 'MultiModalRandomResizedCrop'
    else dict(t, grid=(4, 4), num_visible=8)
    if t['type'] == 'MultiModalMaskGenerator' else t
    for t in _base_.train_pipeline
]
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root={str(scenes)!r}, pipeline=train_pipeline))
max_epochs = 8
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=0.1, by_epoch=True,
         begin=1, end=max_epochs, convert_to_iter_based=True)]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=max_epochs))
""")
    work = str(tmp_path / 'work')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
    # the config's dense ProbeHook reads the same tiny scenes
    probe = [f'custom_hooks.1.{loader}.dataset.data_root={scenes}'
             for loader in ('train_dataloader', 'val_dataloader')]
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', str(cfg), '--work-dir', work,
         '--cfg-options', *probe],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert 'probe (epoch 5): knn_top1' in proc.stdout
    assert osp.isfile(osp.join(work, 'epoch_8.pth'))
    losses = _json_losses(work)
    for key in ('loss_rgb', 'loss_norm_rgb', 'loss_depth', 'loss_semseg'):
        assert key in proc.stdout
    first = np.mean([v for e, v in losses if e == 1])
    last = np.mean([v for e, v in losses if e == 8])
    assert last < 0.9 * first, losses

    # the trained model's RGB -> depth / semseg predictions as images
    out = tmp_path / 'vis'
    proc = subprocess.run(
        [sys.executable, 'tools/visualize_multimae.py', str(cfg),
         osp.join(work, 'epoch_8.pth'), str(scenes / 'val'), '--visible',
         'rgb', '--out', str(out)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=200)
    assert proc.returncode == 0, proc.stdout[-4000:]
    pngs = sorted(p.name for p in out.glob('*.png'))
    assert len(pngs) == 2 and all('vis-rgb' in p for p in pngs), pngs


def test_dataset_reads_generated_pseudo_labels(scenes, tmp_path):
    """generate_pseudo_labels output (pseudo_semseg / pseudo_depth next to
    rgb) is what MultiModalFolderDataset reads, aligned by name."""
    from mmengine.registry import DefaultScope

    from mmmae.pseudo_label import generate_pseudo_labels
    from mmmae.registry import DATASETS
    from test_pseudo_label._tiny_mmseg import (depth_model_cfg,
                                               seg_model_cfg, write_config)
    import shutil
    root = tmp_path / 'data'
    shutil.copytree(scenes, root)
    seg_cfg = write_config(tmp_path / 'seg.py', seg_model_cfg())
    depth_cfg = write_config(tmp_path / 'depth.py', depth_model_cfg())
    for task, cfg, out in (('semseg', seg_cfg, 'pseudo_semseg'),
                           ('depth', depth_cfg, 'pseudo_depth')):
        summary = generate_pseudo_labels(str(root), split='val', task=task,
                                         config=cfg, out_modality=out,
                                         progress=False)
        assert summary['failed'] == []
    with DefaultScope.overwrite_default_scope('mmmae'):
        ds = DATASETS.build(
            dict(
                type='MultiModalFolderDataset',
                data_root=str(root),
                split='val',
                modalities=('rgb', 'pseudo_depth', 'pseudo_semseg'),
                pipeline=[dict(type='LoadMultiModalImages')]))
        sample = ds[0]
    images = sample['images']
    h, w = images['rgb'].shape[:2]
    assert images['pseudo_depth'].shape[:2] == (h, w)
    assert images['pseudo_semseg'].shape == (h, w)
    assert images['pseudo_semseg'].dtype == np.int64
    name = osp.splitext(osp.basename(sample['img_path']['rgb']))[0]
    for mod in ('pseudo_depth', 'pseudo_semseg'):
        assert osp.splitext(osp.basename(
            sample['img_path'][mod]))[0] == name
