# Copyright (c) mmmae contributors. All rights reserved.
import copy
import glob
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from mmmae.visualization import make_reconstruction_grid

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]


def tiny_model_cfg():
    """VideoMAE with a 1-block 32-d encoder/decoder on 8x32x32 clips."""
    return dict(type='VideoMAE',
                data_preprocessor=dict(type='VideoMAEDataPreprocessor',
                                       mean=MEAN,
                                       std=STD),
                backbone=dict(type='VideoMAEViT',
                              arch=dict(embed_dims=32,
                                        num_layers=1,
                                        num_heads=2,
                                        feedforward_channels=64),
                              img_size=32,
                              patch_size=8,
                              num_frames=8,
                              tubelet_size=2),
                neck=dict(type='VideoMAEPretrainDecoder',
                          embed_dims=32,
                          decoder_embed_dims=32,
                          decoder_depth=1,
                          decoder_num_heads=2,
                          patch_size=8,
                          tubelet_size=2),
                head=dict(type='VideoMAEPretrainHead',
                          norm_pix=True,
                          patch_size=8,
                          tubelet_size=2,
                          loss=dict(type='PixelReconstructionLoss',
                                    criterion='L2')))


def tiny_pipeline(mask_ratio=0.75):
    return [
        dict(type='mmaction.DecordInit', num_threads=1),
        dict(type='mmaction.SampleFrames',
             clip_len=8,
             frame_interval=2,
             num_clips=1),
        dict(type='mmaction.DecordDecode'),
        dict(type='mmaction.MultiScaleCrop',
             input_size=32,
             scales=(1, .875, .75, .66),
             random_crop=False,
             max_wh_scale_gap=1,
             num_fixed_crops=13),
        dict(type='mmaction.Resize', scale=(32, 32), keep_ratio=False),
        dict(type='mmaction.FormatShape', input_format='NCTHW'),
        dict(type='TubeMaskGenerator',
             input_size=(4, 4, 4),
             mask_ratio=mask_ratio),
        dict(type='mmaction.PackActionInputs', algorithm_keys=('mask', )),
    ]


def tiny_runner_cfg(video_dir, work_dir, max_epochs=2, custom_hooks=()):
    return dict(default_scope='mmmae',
                model=tiny_model_cfg(),
                work_dir=str(work_dir),
                train_dataloader=dict(
                    batch_size=2,
                    num_workers=0,
                    sampler=dict(type='DefaultSampler', shuffle=True),
                    collate_fn=dict(type='pseudo_collate'),
                    dataset=dict(type='VideoMAEDataset',
                                 ann_file=str(video_dir / 'ann.txt'),
                                 data_prefix=dict(video=str(video_dir)),
                                 pipeline=tiny_pipeline())),
                train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
                optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-3)),
                default_hooks=dict(logger=dict(type='LoggerHook', interval=1),
                                   checkpoint=dict(type='CheckpointHook',
                                                   interval=1)),
                custom_hooks=list(custom_hooks),
                env_cfg=dict(dist_cfg=dict(backend='gloo')),
                randomness=dict(seed=0),
                log_level='INFO')


def _layout(title):
    z = torch.zeros(3, 8, 32, 32)
    return make_reconstruction_grid(z,
                                    np.zeros(64, bool),
                                    z,
                                    z,
                                    8,
                                    2,
                                    title=title,
                                    return_layout=True)[1]


@pytest.fixture(scope='module')
def trained(video_dir, tmp_path_factory):
    """Train 3 epochs with the hook drawing every 2 epochs (+ the last)."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    work_dir = tmp_path_factory.mktemp('recon_hook')
    hook = dict(type='ReconstructionVisHook',
                interval=2,
                num_samples=2,
                seed=0)
    cfg = Config(tiny_runner_cfg(video_dir, work_dir, 3, [hook]))
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner, work_dir


@pytest.mark.slow
def test_hook_writes_pngs_at_interval_and_last_epoch(trained):
    runner, work_dir = trained
    out = osp.join(str(work_dir), 'reconstructions')
    names = sorted(osp.basename(p) for p in glob.glob(osp.join(out, '*')))
    assert names == [
        'epoch_2_sample_0.png', 'epoch_2_sample_1.png', 'epoch_3_sample_0.png',
        'epoch_3_sample_1.png'
    ]
    for n in names:
        img = cv2.imread(osp.join(out, n))
        assert img is not None and img.shape[2] == 3
        assert min(img.shape[:2]) >= 4 * 96  # readable size
    assert runner.model.training  # train mode restored


@pytest.mark.slow
def test_hook_samples_fixed_across_epochs(trained):
    _, work_dir = trained
    out = osp.join(str(work_dir), 'reconstructions')
    for i in range(2):
        a = cv2.imread(osp.join(out, f'epoch_2_sample_{i}.png'))
        b = cv2.imread(osp.join(out, f'epoch_3_sample_{i}.png'))
        assert a.shape == b.shape
        lay = _layout(f'epoch 2, sample {i}')
        assert lay == _layout(f'epoch 3, sample {i}')
        for (r, c), (y, x, h, w) in lay['tiles'].items():
            if c in (0, 1):  # same clip, same crop, same mask
                np.testing.assert_array_equal(a[y:y + h, x:x + w], b[y:y + h,
                                                                     x:x + w])
        # the masked column has grey (hidden) patches
        y, x, h, w = lay['tiles'][(0, 1)]
        assert ((a[y:y + h, x:x + w] == 128).all(-1)).mean() > 0.5
    # the two samples differ (two different clips)
    a = cv2.imread(osp.join(out, 'epoch_3_sample_0.png'))
    b = cv2.imread(osp.join(out, 'epoch_3_sample_1.png'))
    assert not np.array_equal(a, b)


@pytest.mark.slow
def test_hook_logs_paths(trained):
    _, work_dir = trained
    logs = glob.glob(osp.join(str(work_dir), '*', '*.log'))
    assert logs
    text = open(logs[0]).read()
    assert 'epoch_3_sample_1.png' in text
    assert 'masked-patch MSE' in text


@pytest.mark.slow
def test_hook_draw_direct_wrapped_model_and_rank(trained, tmp_path,
                                                 monkeypatch):
    """DDP-wrapped model is unwrapped; ranks other than 0 write nothing."""
    import torch.distributed as dist

    from mmmae.engine.hooks import reconstruction_hook as mod
    from mmmae.engine.model_wrappers import CPUDistributedDataParallel
    from mmmae.registry import HOOKS
    runner, _ = trained
    hook = HOOKS.build(
        dict(type='ReconstructionVisHook',
             num_samples=1,
             out_dir=str(tmp_path / 'vis'),
             num_frames_shown=2))
    created = False
    if not dist.is_initialized():
        dist.init_process_group('gloo',
                                init_method=f'file://{tmp_path / "pg"}',
                                rank=0,
                                world_size=1)
        created = True
    model = runner.model
    try:
        wrapped = CPUDistributedDataParallel(copy.deepcopy(model))

        class FakeRunner:
            pass

        fake = FakeRunner()
        fake.model = wrapped
        fake.train_dataloader = runner.train_dataloader
        fake.work_dir = str(tmp_path)
        fake.logger = runner.logger
        fake.epoch = 0
        wrapped.train()
        paths = hook.draw(fake, 'epoch_9')
        assert paths == [str(tmp_path / 'vis' / 'epoch_9_sample_0.png')]
        assert osp.isfile(paths[0])
        assert wrapped.module.training
        monkeypatch.setattr(mod, 'is_main_process', lambda: False)
        assert hook.draw(fake, 'epoch_10') == []
        assert not osp.exists(tmp_path / 'vis' / 'epoch_10_sample_0.png')
    finally:
        if created:
            dist.destroy_process_group()


def test_hook_rejects_bad_args():
    from mmmae.engine.hooks import ReconstructionVisHook
    with pytest.raises(ValueError):
        ReconstructionVisHook(interval=0)
    with pytest.raises(ValueError):
        ReconstructionVisHook(num_samples=0)
    with pytest.raises(ValueError):
        ReconstructionVisHook(dataloader='foo')
