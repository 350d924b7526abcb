# Copyright (c) mmmae contributors. All rights reserved.
"""The multi-modal video recipes end to end with MMEngine's Runner, in
process (``mmmae.apis.train_model`` / ``test_model``, what tools/train.py
and tools/test.py do): the tiny pretraining on rendered scene videos (with
VideoMAE V2 decoder masking) writes a checkpoint, and the RGB-D fine-tuning
(MMAction2 ``Recognizer3D``) starts from its encoder, trains an epoch,
validates and tests with MMAction2's ``AccMetric``. Only sizes, data paths
and lengths are overridden (``cfg_options``), as a user would on the command
line."""
import os.path as osp

import pytest
import torch

import mmmae  # noqa: F401
from mmmae.apis import test_model, train_model

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(REPO_ROOT, 'configs', 'multimodal_video')
PRETRAIN = osp.join(
    CFG_DIR, 'multimodal-video-mae_vit-tiny-p8_1xb8-30e_scene-videos.py')
RGBD = osp.join(
    CFG_DIR, 'finetune', 'vit-tiny-p8_multimodal-video-mae-pre-30e_'
    '1xb8-8x2x1-30e_scene-videos-rgbd.py')
ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, mlp_ratio=2.)


@pytest.fixture(scope='module')
def scene_videos(tmp_path_factory):
    """12 training clips of 8 frames (64 x 64), 6 val, 6 test."""
    from mmmae.datasets.demo import make_scene_video_dataset
    root = str(tmp_path_factory.mktemp('scene_videos'))
    make_scene_video_dataset(root, num_train=12, num_val=6, num_test=6,
                             num_frames=8, size=64)
    return root


def _data_options(root, splits):
    """Every ``{split}_dataloader`` on the tiny set, 4 clips a batch, in
    process, all 8 frames of a clip (the recipes take every 2nd of 16)."""
    options = {}
    for split in splits:
        key = f'{split}_dataloader'
        options.update({
            f'{key}.batch_size': 4,
            f'{key}.num_workers': 0,
            f'{key}.persistent_workers': False,
            f'{key}.dataset.data_root': root,
            # SampleFrames is the second transform of every pipeline
            f'{key}.dataset.pipeline.1.frame_interval': 1,
        })
    return options


@pytest.mark.slow
def test_pretrain_then_rgbd_finetune_and_test(scene_videos, tmp_path):
    # pretraining: 2 epochs of 3 steps
    work = str(tmp_path / 'pretrain')
    runner = train_model(
        PRETRAIN,
        work_dir=work,
        cfg_options={
            **_data_options(scene_videos, ['train']),
            'model.backbone.arch': ARCH,
            'model.neck.common.encoder_dims': ARCH['embed_dims'],
            'model.neck.common.embed_dims': 16,
            'model.neck.common.num_heads': 2,
            'train_cfg.max_epochs': 2,
            'param_scheduler.0.end': 1,
            'param_scheduler.1.begin': 1,
            'default_hooks.logger.interval': 1,
            # the two ProbeHooks (rgb, rgb-d) on the tiny set
            **{
                f'custom_hooks.{i}.{loader}.dataset.data_root': scene_videos
                for i in (2, 3)
                for loader in ('train_dataloader', 'val_dataloader')
            },
            # VideoMAE V2 decoder masking (the K400 recipe's setting)
            'train_dataloader.dataset.pipeline.6.decoder_mask_ratio': 0.5,
        })
    hub = runner.message_hub
    for task in ('rgb', 'depth', 'semseg'):
        assert torch.isfinite(
            torch.tensor(hub.get_scalar(f'train/loss_{task}').current()))
    assert runner.iter == 6
    # frozen-feature probes of the random init and after the last epoch
    for prefix in ('probe', 'probe_rgbd'):
        for probe in ('knn', 'linear'):
            assert 0 <= hub.get_info(f'{prefix}/{probe}_top1') <= 1
            assert 0 <= hub.get_info(f'{prefix}/{probe}_top1_random') <= 1
    sample = runner.train_dataloader.dataset[0]['data_samples']
    assert {k: int((~v).sum()) for k, v in sample.decoder_masks.items()} \
        == dict(rgb=128, depth=128, semseg=128)  # half of (4, 8, 8)
    ckpt = osp.join(work, 'epoch_2.pth')
    state = torch.load(ckpt, map_location='cpu',
                       weights_only=False)['state_dict']
    for name in ('rgb', 'depth', 'semseg'):
        assert f'backbone.input_adapters.{name}.proj.weight' in state
    del runner

    # RGB-D fine-tuning from that checkpoint: 1 epoch, validated
    work = str(tmp_path / 'finetune')
    options = {
        **_data_options(scene_videos, ['train', 'val', 'test']),
        'model.backbone.arch': ARCH,
        'model.cls_head.in_channels': 2 * ARCH['embed_dims'],
    }
    runner = train_model(
        RGBD,
        work_dir=work,
        cfg_options={
            **options,
            'model.backbone.init_cfg.checkpoint': ckpt,
            'train_cfg.max_epochs': 1,
            'train_cfg.val_interval': 1,
            'param_scheduler': [
                dict(type='LinearLR', start_factor=0.1, by_epoch=True,
                     begin=0, end=1, convert_to_iter_based=True)
            ],
        })
    assert runner.iter == 3
    backbone = runner.model.backbone
    assert list(backbone.input_channels.items()) == [('rgb', 3),
                                                     ('depth', 1)]
    # the encoder started from the pretrained one (a fresh init is ~0.1
    # away) and trained a little (3 small warmup steps)
    for name, value in backbone.state_dict().items():
        ref = state['backbone.' + name]
        assert (value - ref).abs().max() < 1e-2, name
    moved = backbone.input_adapters.depth.proj.weight
    assert not torch.equal(
        moved, state['backbone.input_adapters.depth.proj.weight'])
    # validated on the 6 val clips by AccMetric
    top1 = runner.message_hub.get_scalar('val/acc/top1').current()
    assert 0 <= top1 <= 1
    del runner

    # testing the fine-tuned checkpoint on the test split
    metrics = test_model(RGBD, osp.join(work, 'epoch_1.pth'),
                         work_dir=str(tmp_path / 'test'),
                         cfg_options=options)
    assert 0 <= metrics['acc/top1'] <= 1
    assert metrics['acc/top1'] <= metrics['acc/top5'] <= 1
