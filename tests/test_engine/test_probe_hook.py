# Copyright (c) mmmae contributors. All rights reserved.
"""ProbeHook in a real Runner built from the demo pretraining config, and the
probe functions it uses."""
import copy
import json
import os.path as osp
import time

import cv2
import numpy as np
import pytest
import torch

from mmmae.evaluation.probe import knn_top1, linear_top1

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CFG = osp.join(REPO, 'configs', 'videomae',
                    'videomae_vit-tiny-p8_1xb8-30e_moving-digits.py')


def clustered(n_per_class, num_classes=4, dims=16, noise=0.3, seed=0):
    centres = np.random.default_rng(0).normal(size=(num_classes, dims)) * 3
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(num_classes), n_per_class)
    feats = centres[labels] + noise * rng.normal(size=(len(labels), dims))
    return feats.astype(np.float32), labels


def test_knn_and_linear_probe_separate_clusters_from_noise():
    bank, bank_y = clustered(10)
    query, query_y = clustered(5, seed=1)
    query = query + 0.1  # not the bank itself
    assert knn_top1(bank, bank_y, query, query_y, k=5) == 1.0
    assert linear_top1(bank, bank_y, query, query_y) == 1.0
    # features that carry no label information score near chance (1/4)
    rng = np.random.default_rng(2)
    noise_bank = rng.normal(size=bank.shape).astype(np.float32)
    noise_query = rng.normal(size=(400, bank.shape[1])).astype(np.float32)
    noise_y = rng.integers(0, 4, 400)
    assert knn_top1(noise_bank, bank_y, noise_query, noise_y) < 0.4
    with pytest.raises(ValueError, match='val split'):
        linear_top1(bank, bank_y, query, query_y, cs=(0.1, 1.0))
    assert linear_top1(bank, bank_y, query, query_y, cs=(0.1, 1.0),
                       val=(query, query_y)) == 1.0


def test_knn_vote_is_weighted_by_similarity():
    # 1 very close neighbour of class 1 outvotes 2 far ones of class 0
    bank = np.array([[1., 0.], [0.6, 0.8], [0.6, -0.8]], np.float32)
    bank_y = np.array([1, 0, 0])
    query = np.array([[1., 0.05]], np.float32)
    assert knn_top1(bank, bank_y, query, np.array([1]), k=3) == 1.0
    assert knn_top1(bank, bank_y, query, np.array([1]), k=3,
                    temperature=100.) == 0.0  # ~uniform: majority wins


@pytest.fixture(scope='module')
def demo_data(tmp_path_factory):
    from mmmae.datasets import make_demo_dataset
    root = str(tmp_path_factory.mktemp('probe_demo'))
    make_demo_dataset(root, num_train=16, num_val=6, num_test=6,
                      num_frames=32, size=64)
    return root


def demo_cfg(root, work_dir, probe=True):
    """The demo pretraining config, shrunk: 1 block, 2 epochs of 2 steps."""
    from mmengine.config import Config
    cfg = Config.fromfile(DEMO_CFG)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'probe_{osp.basename(work_dir)}_{time.time_ns()}'
    cfg.model.backbone.arch = dict(embed_dims=32, num_layers=1, num_heads=2,
                                   feedforward_channels=64)
    cfg.model.neck.update(embed_dims=32, decoder_embed_dims=32,
                          decoder_depth=1, decoder_num_heads=2)
    loader = cfg.train_dataloader
    loader.update(batch_size=8, num_workers=0, persistent_workers=False)
    loader.dataset.update(ann_file=osp.join(root, 'train.txt'),
                          data_prefix=dict(video=root))
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True)]
    cfg.train_cfg.max_epochs = 2
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10)
    hooks = []
    for hook in cfg.custom_hooks:
        if 'ProbeHook' in hook['type']:
            if not probe:
                continue
            hook.update(interval=1, linear=True)
            for key, split in (('train_dataloader', 'train'),
                               ('val_dataloader', 'val')):
                hook[key].dataset.update(
                    ann_file=osp.join(root, f'{split}.txt'),
                    data_prefix=dict(video=root))
        if 'ReconstructionVisHook' in hook['type']:
            continue
        hooks.append(hook)
    cfg.custom_hooks = hooks
    cfg.randomness = dict(seed=0)
    return cfg


def train(cfg):
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def test_probe_hook_logs_scalars_and_leaves_training_unchanged(
        demo_data, tmp_path):
    with_probe = train(demo_cfg(demo_data, tmp_path / 'probe'))
    without = train(demo_cfg(demo_data, tmp_path / 'plain', probe=False))

    # the hook saves and restores the RNGs: training is bit-identical
    a = with_probe.model.state_dict()
    b = without.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)

    path = osp.join(with_probe.log_dir, 'vis_data', 'scalars.json')
    with open(path) as f:
        records = [json.loads(line) for line in f]
    probes = [r for r in records if 'probe/knn_top1' in r]
    # baseline at step 0, then after each of the 2 epochs (2 steps each)
    assert [r['step'] for r in probes] == [0, 2, 4]
    assert 'probe/knn_top1_random' in probes[0]
    assert all('probe/knn_top1_random' not in r for r in probes[1:])
    for r in probes:
        assert 0. <= r['probe/knn_top1'] <= 1.
        assert 0. <= r['probe/linear_top1'] <= 1.
        assert r['probe/time_s'] > 0.
    # the content / flat split of the head reaches the training log
    train_recs = [r for r in records if 'loss' in r]
    assert train_recs and all(
        {'recon_content', 'recon_flat', 'flat_ratio'} <= set(r)
        for r in train_recs)
    # the demo's curve reader and plot
    from mmmae.visualization import plot_probe_curve, read_probe_curve
    curve = read_probe_curve(path)
    assert curve['steps'] == [0, 2, 4]
    assert curve['values'] == [r['probe/knn_top1'] for r in probes]
    assert curve['random'] == probes[0]['probe/knn_top1_random']
    png = plot_probe_curve(curve, str(tmp_path / 'curve' / 'probe.png'),
                           chance=1 / 6)
    assert cv2.imread(png).shape[:2] == (360, 600)
    log = open(osp.join(with_probe.log_dir,
                        osp.basename(with_probe.log_dir) + '.log')).read()
    assert 'probe (random init): knn_top1' in log
    assert 'probe (epoch 2): knn_top1' in log


def test_probe_hook_skips_baseline_when_loading_weights(demo_data, tmp_path):
    from mmengine.runner import Runner

    from mmmae.engine.hooks.probe_hook import ProbeHook
    first = train(demo_cfg(demo_data, tmp_path / 'first', probe=False))
    ckpt = osp.join(first.work_dir, 'epoch_2.pth')
    first.save_checkpoint(first.work_dir, 'epoch_2.pth')
    cfg = demo_cfg(demo_data, tmp_path / 'second')
    cfg.load_from = ckpt
    runner = Runner.from_cfg(cfg)
    hook = next(h for h in runner.hooks if isinstance(h, ProbeHook))
    calls = []
    hook._run = lambda runner, step, tag, random=False: calls.append(
        (step, random))
    runner.train()
    assert calls == [(2, False), (4, False)]


def test_probe_hook_rejects_bad_arguments():
    from mmmae.engine.hooks.probe_hook import ProbeHook
    loader = dict(dataset=dict(type='VideoMAEDataset'))
    with pytest.raises(ValueError, match='interval'):
        ProbeHook(loader, loader, interval=0)
    with pytest.raises(TypeError, match='val_dataloader'):
        ProbeHook(loader, 'data/val.txt')
    hook = ProbeHook(loader, copy.deepcopy(loader), k=3)
    assert hook.k == 3


SCENES_CFG = osp.join(REPO, 'configs', 'multimae',
                      'multimae_vit-tiny-p8_1xb16-60e_scenes-rgbd.py')


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    from mmmae.datasets.demo import make_scene_dataset
    root = str(tmp_path_factory.mktemp('probe_scenes'))
    make_scene_dataset(root, num_train=8, num_val=3, size=(64, 64))
    return root


def scenes_cfg(root, work_dir, probe=True):
    """The demo's MultiMAE pretraining config (RGB-D) with its dense
    ProbeHook, shrunk: 1 block of 32, 2 epochs of 2 steps."""
    from mmengine.config import Config
    cfg = Config.fromfile(SCENES_CFG)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'dense_{osp.basename(work_dir)}_{time.time_ns()}'
    cfg.model.backbone.arch = dict(embed_dims=32, num_layers=1, num_heads=2,
                                   mlp_ratio=2.)
    cfg.model.neck.common.update(encoder_dims=32, embed_dims=32,
                                 num_heads=2)
    loader = cfg.train_dataloader
    loader.update(batch_size=4, num_workers=0, persistent_workers=False)
    loader.dataset.data_root = root
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True)]
    cfg.train_cfg.max_epochs = 2
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10)
    hooks = []
    for hook in cfg.custom_hooks:
        if 'ProbeHook' in hook['type']:
            if not probe:
                continue
            # bank: 4 labelled images = 256 patches, cut to 200
            hook.update(interval=1, max_bank=200)
            hook.train_dataloader.dataset.update(data_root=root, indices=4)
            hook.val_dataloader.dataset.update(data_root=root)
        hooks.append(hook)
    cfg.custom_hooks = hooks
    cfg.randomness = dict(seed=0)
    return cfg


def test_dense_probe_hook_in_a_runner(scenes, tmp_path):
    from mmmae.engine.hooks.probe_hook import ProbeHook
    with_probe = train(scenes_cfg(scenes, tmp_path / 'probe'))
    without = train(scenes_cfg(scenes, tmp_path / 'plain', probe=False))
    hook = next(h for h in with_probe.hooks if isinstance(h, ProbeHook))
    assert hook.features == 'patch' and hook.probe_inputs == ('rgb', )

    # the probe leaves training bit-identical (RNG states restored)
    a = with_probe.model.state_dict()
    b = without.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)

    path = osp.join(with_probe.log_dir, 'vis_data', 'scalars.json')
    with open(path) as f:
        probes = [json.loads(line) for line in f]
    probes = [r for r in probes if 'probe/linear_miou' in r]
    assert [r['step'] for r in probes] == [0, 2, 4]
    keys = ('knn_top1', 'knn_miou', 'linear_top1', 'linear_miou')
    for k in keys:
        assert f'probe/{k}_random' in probes[0]
        assert all(f'probe/{k}_random' not in r for r in probes[1:])
        assert all(0. <= r[f'probe/{k}'] <= 1. for r in probes)
    # the logged value is the probe of the final model (RGB alone, 8x8
    # patches, majority labels; bank cut to a fixed 200 patches)
    again = hook.probe(with_probe)
    assert again == pytest.approx(
        {k: probes[-1][f'probe/{k}'] for k in keys})
    from mmmae.evaluation.probe import patch_features
    from mmmae.visualization import seeded
    with seeded(0):
        feats, labels = patch_features(with_probe.model,
                                       hook._load(with_probe)['val'])
    assert feats.shape == (3 * 64, 32) and len(labels) == 3 * 64
    bank = hook._subsample(*patch_features(with_probe.model,
                                           hook._load(with_probe)['train']))
    assert len(bank[0]) == 200
    np.testing.assert_array_equal(
        bank[1], hook._subsample(*patch_features(
            with_probe.model, hook._load(with_probe)['train']))[1])
    log = open(osp.join(with_probe.log_dir,
                        osp.basename(with_probe.log_dir) + '.log')).read()
    assert 'probe (random init): knn_top1' in log and 'linear_miou' in log


def test_dense_probe_hook_rejects_bad_arguments():
    from mmmae.engine.hooks.probe_hook import ProbeHook
    loader = dict(dataset=dict(type='MultiModalFolderDataset'))
    with pytest.raises(ValueError, match='features'):
        ProbeHook(loader, loader, features='dense')
    with pytest.raises(ValueError, match='probe_inputs'):
        ProbeHook(loader, loader, features='patch', probe_inputs=())
    with pytest.raises(ValueError, match='max_bank'):
        ProbeHook(loader, loader, features='patch', max_bank=0)
    hook = ProbeHook(loader, loader, features='patch', probe_inputs='depth')
    assert hook.probe_inputs == ('depth', )
