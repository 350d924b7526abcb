# Copyright (c) mmmae contributors. All rights reserved.
"""Converters from official RGB-D dataset downloads to mmmae's layouts.

* :func:`prepare_hypersim`: Hypersim HDF5 frames -> ``HypersimDataset``
  (``docs/datasets/hypersim.md``);
* :func:`prepare_nyuv2`: ``nyu_depth_v2_labeled.mat`` -> ``NYUv2Dataset``
  (``docs/datasets/nyuv2.md``).

Both raise :class:`ConverterError` for inputs the user has to fix; the
command lines are ``tools/dataset_converters/prepare_{hypersim,nyuv2}.py``.
"""
from .common import ConverterError, depth_to_mm, write_png
from .hypersim import (convert_frame, distance_to_planar, list_frames,
                       prepare_hypersim, tonemap)
from .nyuv2 import convert_image, load_mat_fields, prepare_nyuv2

__all__ = [
    'ConverterError', 'depth_to_mm', 'write_png', 'prepare_hypersim',
    'list_frames', 'convert_frame', 'tonemap', 'distance_to_planar',
    'prepare_nyuv2', 'load_mat_fields', 'convert_image'
]
