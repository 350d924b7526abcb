# Copyright (c) mmmae contributors. All rights reserved.
"""The device-augmentation pretraining recipe with MMEngine's Runner, on
real mp4 files: the workers decode and draw, the data preprocessor crops and
resizes. From one RNG state a clip gets the same crop and mask as in the
eager recipe, and the model the same pixels up to cv2's rounding;
``num_repeats`` still multiplies the clips a decode delivers."""
import math
import os.path as osp
import random

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate

from mmmae.apis import train_model
from mmmae.utils.run_logs import find_scalars, iter_records

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(REPO_ROOT, 'configs', 'videomae')
EAGER = osp.join(CFG_DIR, 'videomae_vit-tiny-p8_1xb8-30e_moving-digits.py')
DEVAUG = osp.join(CFG_DIR,
                  'videomae_vit-tiny-p8_1xb8-devaug-30e_moving-digits.py')


def _options(video_dir, **extra):
    return {
        'train_dataloader.batch_size': 2,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.ann_file': str(video_dir / 'ann.txt'),
        'train_dataloader.dataset.data_prefix.video': str(video_dir),
        'train_cfg.max_epochs': 1,
        'param_scheduler': [
            dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0,
                 end=1, convert_to_iter_based=True)
        ],
        'model.backbone.arch': dict(embed_dims=32, num_layers=1,
                                    num_heads=2, feedforward_channels=64),
        'model.neck.embed_dims': 32,
        'model.neck.decoder_embed_dims': 16,
        'model.neck.decoder_depth': 1,
        'model.neck.decoder_num_heads': 2,
        # the probe and reconstruction hooks read the demo data
        'custom_hooks': [dict(type='mmmae.BadSampleLoggerHook')],
        'default_hooks.logger.interval': 1,
        'randomness.seed': 0,
        **extra
    }


def _losses(work_dir):
    return [r['loss'] for r in iter_records(find_scalars(work_dir))
            if 'loss' in r]


@pytest.mark.slow
def test_device_augmentation_trains_like_the_eager_recipe(video_dir,
                                                          tmp_path):
    batches = {}
    for name, cfg in (('eager', EAGER), ('devaug', DEVAUG)):
        work = str(tmp_path / name)
        runner = train_model(cfg, work_dir=work,
                             cfg_options=_options(video_dir))
        assert runner.iter == 2  # 4 clips, 2 a batch
        assert all(math.isfinite(v) for v in _losses(work))
        # the same clips through each recipe's dataset and preprocessor,
        # from the same RNG state
        samples = []
        for i in range(2):
            random.seed(i)
            np.random.seed(i)
            samples.append(runner.train_dataloader.dataset[i])
        batches[name] = runner.model.data_preprocessor(
            pseudo_collate(samples), True)
        if name == 'devaug':
            # the workers left the geometry to the preprocessor and
            # shipped only the crop box of the 48x64 frames
            frames = samples[0]['inputs']
            assert frames.shape[0] == 8 and frames.shape[3] == 3
            assert frames.shape[1] <= 48 and frames.shape[2] <= 64
            box = samples[0]['data_samples'].lazy_aug['crop_bbox']
            assert box.tolist() == [0, 0, frames.shape[2], frames.shape[1]]
        del runner
    eager, dev = batches['eager'], batches['devaug']
    assert dev['inputs'].shape == eager['inputs'].shape == (2, 3, 8, 64, 64)
    # same crops, pixels within cv2's rounding (1 of 255 levels)
    assert (dev['inputs'] - eager['inputs']).abs().max() < 1 / 57
    for a, b in zip(eager['data_samples'], dev['data_samples']):
        assert torch.equal(a.mask, b.mask)

    # repeated sampling: 2 augmented clips per decode, each its own crop
    work = str(tmp_path / 'rep2')
    runner = train_model(
        DEVAUG, work_dir=work,
        cfg_options=_options(
            video_dir, **{
                'train_dataloader.dataset.num_repeats': 2,
                'train_dataloader.collate_fn.type': 'repeat_pseudo_collate'
            }))
    assert runner.iter == 2 and len(_losses(work)) == 2
    batch = next(iter(runner.train_dataloader))
    assert len(batch['inputs']) == 4  # 2 decodes x 2 clips
    params = [s.lazy_aug for s in batch['data_samples']]
    assert all(p['crop_bbox'].shape == (4, ) for p in params)
