# Copyright (c) mmmae contributors. All rights reserved.
"""Tiny mmseg models (built in tests, no download, no compiled mmcv ops).

ResNetV1c-18 with 16 base channels (strides 4, 8, 16, 32; ~0.7 M
parameters) feeds an ``FCNHead`` (``EncoderDecoder``) or a ``VPDDepthHead``
(``DepthEstimator``, mmseg 1.2), whose 4 inputs must be at relative strides
4x, 2x, 1x, 0.5x of level 2 -- exactly ResNet's 4 stages.
"""
import pprint

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]


def _common():
    return dict(
        data_preprocessor=dict(type='SegDataPreProcessor', mean=MEAN,
                               std=STD, bgr_to_rgb=True, pad_val=0,
                               seg_pad_val=255),
        backbone=dict(type='ResNetV1c', depth=18, stem_channels=16,
                      base_channels=16, out_indices=(0, 1, 2, 3),
                      norm_cfg=dict(type='BN'), contract_dilation=True),
        test_cfg=dict(mode='whole'))


def seg_model_cfg(num_classes=6):
    return dict(type='EncoderDecoder',
                decode_head=dict(type='FCNHead', in_channels=128,
                                 in_index=3, channels=16, num_convs=1,
                                 num_classes=num_classes,
                                 norm_cfg=dict(type='BN')),
                **_common())


def depth_model_cfg(max_depth=10.0):
    return dict(type='DepthEstimator',
                decode_head=dict(type='VPDDepthHead', max_depth=max_depth,
                                 in_channels=[16, 32, 64, 128], embed_dim=16,
                                 feature_dim=128,
                                 num_deconv_filters=(16, 16, 16)),
                **_common())


def write_config(path, model_cfg):
    """A config file holding ``model = ...`` (mmseg default scope)."""
    with open(path, 'w') as f:
        f.write("default_scope = 'mmseg'\n")
        f.write(f'model = {pprint.pformat(model_cfg)}\n')
    return str(path)


def write_seg_checkpoint(path, classes, seed=0):
    """Save a freshly initialised (``torch.manual_seed(seed)``)
    ``seg_model_cfg(len(classes))`` with ``classes`` in its meta, as an
    mmseg checkpoint; returns the path."""
    import torch

    from mmmae.pseudo_label import build_mmseg_model
    torch.manual_seed(seed)
    model = build_mmseg_model(seg_model_cfg(num_classes=len(classes)))
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=list(classes)))),
               path)
    return str(path)
