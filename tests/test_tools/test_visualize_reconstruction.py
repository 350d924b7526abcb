# Copyright (c) mmmae contributors. All rights reserved.
import os.path as osp

import cv2
import numpy as np
import pytest

from conftest import run_tool

from mmmae.apis import (existing_videos, find_train_pipeline,
                        make_deterministic_pipeline, visualize_reconstructions)


MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]


def _cfg_dict(video_dir, work_dir):
    return dict(
        default_scope='mmmae',
        model=dict(type='VideoMAE',
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
                                       criterion='L2'))),
        work_dir=str(work_dir),
        train_dataloader=dict(
            batch_size=2,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='pseudo_collate'),
            dataset=dict(type='VideoMAEDataset',
                         ann_file=str(video_dir / 'ann.txt'),
                         data_prefix=dict(video=str(video_dir)),
                         pipeline=[
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
                             dict(type='mmaction.Resize',
                                  scale=(32, 32),
                                  keep_ratio=False),
                             dict(type='mmaction.Flip', flip_ratio=0.5),
                             dict(type='mmaction.FormatShape',
                                  input_format='NCTHW'),
                             dict(type='TubeMaskGenerator',
                                  input_size=(4, 4, 4),
                                  mask_ratio=0.75),
                             dict(type='mmaction.PackActionInputs',
                                  algorithm_keys=('mask', )),
                         ])),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-3)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        randomness=dict(seed=0),
        log_level='WARNING')


@pytest.fixture(scope='module')
def trained_ckpt(video_dir, tmp_path_factory):
    """A 1-epoch MMEngine run: (config file, epoch_1.pth)."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    work_dir = tmp_path_factory.mktemp('vis_tool')
    cfg = Config(_cfg_dict(video_dir, work_dir))
    cfg_path = str(work_dir / 'tiny_cfg.py')
    cfg.dump(cfg_path)
    Runner.from_cfg(Config.fromfile(cfg_path)).train()
    ckpt = str(work_dir / 'epoch_1.pth')
    assert osp.isfile(ckpt)
    return cfg_path, ckpt


def test_deterministic_pipeline_rewrites():
    pipe = [
        dict(type='mmaction.DecordInit'),
        dict(type='mmaction.SampleFrames', clip_len=8, num_clips=2),
        dict(type='mmaction.DecordDecode'),
        dict(type='mmaction.MultiScaleCrop', input_size=32, scales=(1, .8)),
        dict(type='mmaction.Resize', scale=(32, 32), keep_ratio=False),
        dict(type='mmaction.Flip', flip_ratio=0.5),
        dict(type='TubeMaskGenerator', input_size=(4, 4, 4), mask_ratio=0.9),
        dict(type='RunningCellMaskGenerator',
             input_size=(4, 4, 4),
             mask_ratio=0.5),
    ]
    out = make_deterministic_pipeline(pipe, mask_ratio=0.5)
    types = [s['type'] for s in out]
    assert types == [
        'mmaction.DecordInit', 'mmaction.SampleFrames',
        'mmaction.DecordDecode', 'mmaction.Resize', 'mmaction.CenterCrop',
        'mmaction.Resize', 'TubeMaskGenerator', 'RunningCellMaskGenerator'
    ]
    assert out[1]['test_mode'] and out[1]['num_clips'] == 1
    assert out[3]['scale'] == (-1, 32) and out[4]['crop_size'] == (32, 32)
    assert out[6]['mask_ratio'] == 0.5
    assert out[7]['mask_ratio'] == 0.5  # decoder mask untouched (was 0.5)
    assert pipe[1]['num_clips'] == 2  # input not modified
    # crop size from a later fixed Resize, then from input_size
    out = make_deterministic_pipeline([
        dict(type='RandomResizedCrop'),
        dict(type='Resize', scale=(48, 48), keep_ratio=False)
    ])
    assert out[1]['crop_size'] == (48, 48)
    out = make_deterministic_pipeline([dict(type='RandomResizedCrop')],
                                      input_size=16)
    assert out[1]['crop_size'] == (16, 16)
    with pytest.raises(ValueError):
        make_deterministic_pipeline([dict(type='RandomResizedCrop')])


def test_find_train_pipeline_unwraps_and_keeps_scope():
    from mmengine.config import Config
    from mmengine.dataset import Compose
    from mmengine.registry import DefaultScope
    pipe = [
        dict(type='DecordInit'),
        dict(type='SampleFrames', clip_len=8, num_clips=1),
        dict(type='MultiScaleCrop', input_size=32, scales=(1, .8)),
        dict(type='mmmae.TubeMaskGenerator', input_size=(4, 4, 4)),
    ]
    cfg = Config(
        dict(train_dataloader=dict(dataset=dict(
            type='ConcatDataset',
            datasets=[
                dict(
                    type='RepeatAugDataset', _scope_='mmaction', pipeline=pipe)
            ]))))
    found, scope = find_train_pipeline(cfg)
    assert scope == 'mmaction' and found == pipe
    steps = make_deterministic_pipeline(found)
    with DefaultScope.overwrite_default_scope(scope):
        Compose(steps)  # plain mmaction names resolve in that scope
    cfg = Config(dict(train_dataloader=dict(dataset=dict(pipeline=pipe))))
    assert find_train_pipeline(cfg) == (pipe, None)
    with pytest.raises(KeyError):
        find_train_pipeline(Config(dict()))


def test_collect_videos(video_dir, tmp_path):
    vids = existing_videos(str(video_dir))
    assert [osp.basename(v)
            for v in vids] == [f'clip_{i}.mp4' for i in range(4)]
    vids = existing_videos(str(video_dir / 'ann.txt'), max_videos=2)
    assert vids == [
        str(video_dir / 'clip_0.mp4'),
        str(video_dir / 'clip_1.mp4')
    ]
    assert existing_videos(str(
        video_dir / 'clip_3.mp4')) == [str(video_dir / 'clip_3.mp4')]
    with pytest.raises(FileNotFoundError):
        existing_videos(str(tmp_path / 'nope.mp4'))
    with pytest.raises(FileNotFoundError):
        existing_videos(str(tmp_path))  # empty folder


@pytest.mark.slow
def test_tool_single_video(trained_ckpt, video_dir, tmp_path, capsys):
    cfg_path, ckpt = trained_ckpt
    out = tmp_path / 'vis'
    paths = visualize_reconstructions(
        cfg_path, ckpt, str(video_dir / 'clip_1.mp4'), str(out),
        device='cpu', num_frames_shown=4)
    assert paths == [str(out / 'clip_1_recon.png')]
    img = cv2.imread(paths[0])
    assert img is not None and img.shape[0] >= 4 * 96
    printed = capsys.readouterr().out
    assert paths[0] in printed and 'GT-stats' in printed
    # deterministic: same seed -> same picture
    again = visualize_reconstructions(
        cfg_path, ckpt, str(video_dir / 'clip_1.mp4'), str(tmp_path / 'vis2'),
        device='cpu', num_frames_shown=4)
    np.testing.assert_array_equal(cv2.imread(again[0]), img)


@pytest.mark.slow
def test_tool_mask_ratio_and_list(trained_ckpt, video_dir, tmp_path):
    cfg_path, ckpt = trained_ckpt
    out = tmp_path / 'vis'
    paths = visualize_reconstructions(
        cfg_path, ckpt, str(video_dir / 'ann.txt'), str(out),
        mask_ratio=0.5, seed=3, max_videos=2,
        cfg_options={'model.head.norm_pix': True})
    assert [osp.basename(p)
            for p in paths] == ['clip_0_recon.png', 'clip_1_recon.png']
    assert all(osp.isfile(p) for p in paths)


@pytest.mark.slow
def test_tool_as_script(trained_ckpt, video_dir, tmp_path):
    """``python tools/visualize_reconstruction.py ...`` (run in-process)."""
    cfg_path, ckpt = trained_ckpt
    out = tmp_path / 'cli'
    assert run_tool('tools/visualize_reconstruction.py', cfg_path, ckpt,
                    video_dir / 'clip_2.mp4', '--out', out, '--device',
                    'cpu', '--cfg-options', 'model.head.norm_pix=True') == 0
    assert osp.isfile(out / 'clip_2_recon.png')
    # no --out: argparse's usage error
    assert run_tool('tools/visualize_reconstruction.py', cfg_path, ckpt,
                    video_dir / 'clip_2.mp4') == 2


@pytest.mark.slow
def test_tool_plain_state_dict_checkpoint(trained_ckpt, video_dir, tmp_path):
    """A bare ``{'state_dict': ...}`` file works as well."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmmae.registry import MODELS
    cfg_path, _ = trained_ckpt
    cfg = Config.fromfile(cfg_path)
    init_default_scope('mmmae')
    model = MODELS.build(cfg.model)
    ckpt = str(tmp_path / 'plain.pth')
    torch.save({'state_dict': model.state_dict()}, ckpt)
    paths = visualize_reconstructions(
        cfg_path, ckpt, str(video_dir / 'clip_3.mp4'), str(tmp_path / 'plain'),
        device='cpu')
    assert osp.isfile(paths[0])
