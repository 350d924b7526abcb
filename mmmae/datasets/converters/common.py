# Copyright (c) mmmae contributors. All rights reserved.
"""What the RGB-D dataset converters share: the error type, depth in
millimetres and atomic PNG writing."""
import os
import os.path as osp
from typing import Tuple

import numpy as np

from ..nyuv2 import NYUV2_CLASSES

__all__ = ['ConverterError', 'depth_to_mm', 'write_png', 'MAX_DEPTH_MM',
           'NUM_CLASSES']

MAX_DEPTH_MM = int(np.iinfo(np.uint16).max)
# Hypersim's semantic.hdf5 and NYUv2's labels40 both use the NYU40 ids
NUM_CLASSES = len(NYUV2_CLASSES)


class ConverterError(RuntimeError):
    """A user-fixable problem with a converter's inputs or output folder.

    The message names the file or value and the fix; the command-line tools
    print it as one line instead of a traceback.
    """


def depth_to_mm(depth: np.ndarray,
                clip: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Metres -> uint16 millimetres plus validity.

    Args:
        depth (np.ndarray): ``(H, W)`` metres; NaN, inf and values that
            round to <= 0 mm are invalid.
        clip (bool): Store depths beyond the uint16 range as 65535 (valid)
            instead of marking them invalid. Defaults to False.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(H, W)`` uint16
        ``round(1000 * depth)`` (0 where invalid) and the ``(H, W)`` bool
        validity (finite, > 0 and, unless ``clip``, < 65.535 m).
    """
    with np.errstate(invalid='ignore'):
        mm = np.round(np.asarray(depth, np.float64) * 1000.0)
        finite = np.isfinite(mm)
        if clip:
            mm = np.where(finite, np.minimum(mm, MAX_DEPTH_MM), mm)
        valid = finite & (mm > 0) & (mm <= MAX_DEPTH_MM)
    return np.where(valid, mm, 0).astype(np.uint16), valid


def write_png(path: str, arr: np.ndarray) -> None:
    """Write a PNG so that an interrupted run leaves no truncated file.

    The image goes to a temporary name in the same folder and is then
    renamed onto ``path``; the folder must exist.

    Args:
        path (str): Target ``.png`` file.
        arr (np.ndarray): ``(H, W)`` uint8 / uint16 or ``(H, W, 3)`` uint8
            RGB.

    Raises:
        ConverterError: OpenCV could not write the file.
    """
    import cv2
    if arr.ndim == 3:
        arr = arr[..., ::-1]  # cv2 writes BGR
    tmp = osp.join(osp.dirname(path), '.tmp_' + osp.basename(path))
    if not cv2.imwrite(tmp, np.ascontiguousarray(arr)):
        raise ConverterError(f'cannot write {path}')
    os.replace(tmp, path)
