# Copyright (c) mmmae contributors. All rights reserved.
"""Convert the labelled NYU Depth v2 set to mmmae's NYUv2 layout.

Inputs:

* ``nyu_depth_v2_labeled.mat`` (MATLAB v7.3 = HDF5): ``images``
  ``(H, W, 3, N)`` uint8, ``depths`` ``(H, W, N)`` metres (inpainted),
  ``labels`` ``(H, W, N)`` uint16 with the 894 fine classes (0 =
  unlabelled) and optionally ``rawDepths``. h5py sees MATLAB's
  column-major arrays with the axes reversed (``images`` as
  ``(N, 3, W, H)``), which is undone here.
* ``splits.mat`` (MATLAB v5): ``trainNdxs`` (795) and ``testNdxs`` (654),
  1-based indices.
* The 894 -> 40 class mapping: ``classMapping40.mat`` (``mapClass``, 894
  entries: the 40-class id of each fine id; fine 0 stays 0) and/or
  ``labels40.mat`` (``labels40``, the precomputed ``(H, W, N)`` 40-class
  labels). With both, ``labels40`` is written and the mapping is used to
  cross-check it (mismatches are reported).

Output (``NNNN`` = 1-based MATLAB index, as in ``splits.mat``)::

    out/rgb/{train,test}/NNNN.png         8-bit RGB
    out/depth/{train,test}/NNNN.png       uint16 millimetres, 0 = invalid
    out/labels40/{train,test}/NNNN.png    uint8, 0 = unlabelled, 1..40
    out/mask_valid/{train,test}/NNNN.png  uint8, 255 = valid (depth > 0)
    out/README.txt                        sources, units and split counts

Depth is rounded to millimetres and clipped to 65535 (65.5 m); NaN and
negative values become 0. ``mask_valid`` is computed from the written
millimetre depth (so the two always agree): the default ``depths`` are
inpainted, hence almost all valid; ``raw_depth`` writes ``rawDepths``
(the un-inpainted Kinect depth, zeros = no measurement) instead, so the
mask marks the real holes.

The command line is ``tools/dataset_converters/prepare_nyuv2.py``; the
error messages name its options (``--class-mapping``, ``--raw-depth``,
``--overwrite``, ...), which are the arguments of :func:`prepare_nyuv2`
with ``_`` for ``-``.
"""
import os
import os.path as osp
import sys
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from ..nyuv2 import NYUv2Dataset
from .common import NUM_CLASSES, ConverterError, depth_to_mm, write_png

__all__ = [
    'prepare_nyuv2', 'load_mat_fields', 'load_splits', 'load_class_lut',
    'load_labels40', 'map_fine_labels', 'convert_image', 'NUM_FINE'
]

NUM_FINE = 894
EXPECTED = dict(train=NYUv2Dataset.NUM_TRAIN, test=NYUv2Dataset.NUM_TEST)
SPLIT_KEYS = dict(train='trainNdxs', test='testNdxs')
KINDS = ('rgb', 'depth', 'labels40', 'mask_valid')
URLS = dict(
    mat='http://horatio.cs.nyu.edu/mit/silberman/nyu_depth_v2/'
    'nyu_depth_v2_labeled.mat',
    splits='http://horatio.cs.nyu.edu/mit/silberman/indoor_seg_sup/'
    'splits.mat',
    mapping='https://github.com/ankurhanda/nyuv2-meta-data '
    '(classMapping40.mat, labels40.mat)')


def _require_file(path: Optional[str], what: str, url: str) -> str:
    if not path or not osp.isfile(path):
        raise ConverterError(f'{what} file {path!r} does not exist; '
                             f'download it from {url} and pass its path.')
    return path


def _field_error(path: str, name: str, present: Sequence[str],
                 hint: str) -> ConverterError:
    return ConverterError(
        f'{path} has no field {name!r} (fields: {sorted(present)}). {hint}')


def load_mat_fields(path: str, names: Sequence[str],
                    hint: str) -> Dict[str, np.ndarray]:
    """Read ``names`` from a MATLAB file, v5 (scipy) or v7.3 (HDF5).

    Arrays come back in MATLAB's axis order either way: v7.3 arrays, which
    h5py reports with reversed axes, are transposed back.

    Args:
        path (str): The ``.mat`` file.
        names (Sequence[str]): Fields to read.
        hint (str): Appended to the error message when a field is missing.

    Returns:
        dict[str, np.ndarray]: One array per name.

    Raises:
        ConverterError: A field is missing or the file is not readable.
    """
    import h5py
    import scipy.io
    if h5py.is_hdf5(path):
        # v7.3; checked first because HDF5 files written by other tools lack
        # the MATLAB header that scipy uses to recognise them.
        with h5py.File(path, 'r') as f:
            out = {}
            for name in names:
                if name not in f:
                    raise _field_error(path, name, list(f.keys()), hint)
                out[name] = np.asarray(f[name][()]).T
            return out
    try:
        mat = scipy.io.loadmat(path)
        present = [k for k in mat if not k.startswith('__')]
        out = {}
        for name in names:
            if name not in mat:
                raise _field_error(path, name, present, hint)
            out[name] = np.asarray(mat[name])
        return out
    except (NotImplementedError, ValueError) as e:
        # MatReadError is a ValueError.
        raise ConverterError(f'{path} is not a MATLAB file scipy can read '
                             f'({e}). {hint}') from e


def load_splits(path: str, num_images: int) -> Dict[str, np.ndarray]:
    """1-based train/test indices from ``splits.mat``, validated.

    Args:
        path (str): ``splits.mat``.
        num_images (int): Images in the labelled ``.mat``.

    Returns:
        dict[str, np.ndarray]: ``train`` and ``test`` int64 indices.
    """
    fields = load_mat_fields(
        path, list(SPLIT_KEYS.values()),
        'Expected the NYUv2 splits.mat with trainNdxs and testNdxs.')
    splits = {}
    for split, key in SPLIT_KEYS.items():
        idx = np.asarray(fields[key]).reshape(-1)
        if idx.size == 0 or not np.all(idx == np.round(idx)):
            raise ConverterError(f'{path}: {key} must hold integer indices')
        idx = idx.astype(np.int64)
        if idx.min() < 1 or idx.max() > num_images:
            raise ConverterError(
                f'{path}: {key} has indices in [{idx.min()}, {idx.max()}] '
                f'but the .mat holds {num_images} images (1-based indices '
                'expected); are splits.mat and the labelled .mat from the '
                'same release?')
        if len(np.unique(idx)) != idx.size:
            raise ConverterError(f'{path}: {key} repeats indices')
        if idx.size != EXPECTED[split]:
            print(f'warning: {key} has {idx.size} indices, the standard '
                  f'split has {EXPECTED[split]}', file=sys.stderr)
        splits[split] = idx
    overlap = np.intersect1d(splits['train'], splits['test'])
    if overlap.size:
        raise ConverterError(
            f'{path}: {overlap.size} images are in both trainNdxs and '
            f'testNdxs (first: {overlap[0]})')
    return splits


def load_class_lut(path: str) -> np.ndarray:
    """Lookup table ``fine id (0..894) -> 40-class id``, 0 kept as 0.

    Returns:
        np.ndarray: ``(895,)`` uint8.
    """
    mapping = load_mat_fields(
        path, ['mapClass'],
        'Expected classMapping40.mat (mapClass: 894 entries).')['mapClass']
    mapping = np.asarray(mapping).reshape(-1)
    if mapping.size != NUM_FINE:
        raise ConverterError(f'{path}: mapClass has {mapping.size} entries, '
                             f'expected {NUM_FINE} (one per fine class)')
    if mapping.min() < 0 or mapping.max() > NUM_CLASSES:
        raise ConverterError(f'{path}: mapClass values must be in 0..'
                             f'{NUM_CLASSES}, got {mapping.min()}..'
                             f'{mapping.max()}')
    return np.concatenate([[0], mapping]).astype(np.uint8)


def load_labels40(path: str, num_images: int,
                  hw: Tuple[int, int]) -> np.ndarray:
    """``labels40`` as stored, ``(H, W, N)``, after shape/range checks.

    Left in its stored dtype and layout: a full-size copy would add up to
    3.6 GB when the file holds doubles; images are sliced and cast one by
    one instead.
    """
    arr = load_mat_fields(
        path, ['labels40'],
        'Expected labels40.mat (labels40: H x W x N 40-class labels).'
    )['labels40']
    if arr.shape != (*hw, num_images):
        raise ConverterError(
            f'{path}: labels40 has shape {arr.shape}, expected '
            f'{(*hw, num_images)} (H, W, N) to match the labelled .mat')
    if arr.min() < 0 or arr.max() > NUM_CLASSES:
        raise ConverterError(f'{path}: labels40 values must be in 0..'
                             f'{NUM_CLASSES}, got {arr.min()}..{arr.max()}')
    return arr


def map_fine_labels(fine: np.ndarray, lut: np.ndarray,
                    where: str) -> np.ndarray:
    """894 fine classes -> 40 classes through :func:`load_class_lut`'s table.

    Args:
        fine (np.ndarray): ``(H, W)`` fine ids, 0 = unlabelled.
        lut (np.ndarray): ``(895,)`` lookup table.
        where (str): Names the image in the error message.

    Returns:
        np.ndarray: ``(H, W)`` uint8 40-class ids.
    """
    if fine.max() > NUM_FINE:
        raise ConverterError(f'{where} has label {fine.max()} > {NUM_FINE}')
    return lut[fine]


def convert_image(rgb: np.ndarray, depth: np.ndarray,
                  labels40: np.ndarray) -> Dict[str, np.ndarray]:
    """The four output images of one NYUv2 sample.

    Args:
        rgb (np.ndarray): ``(H, W, 3)`` uint8 RGB.
        depth (np.ndarray): ``(H, W)`` metres.
        labels40 (np.ndarray): ``(H, W)`` 40-class ids, 0 = unlabelled.

    Returns:
        dict[str, np.ndarray]: ``rgb`` ``(H, W, 3)`` uint8, ``depth``
        ``(H, W)`` uint16 millimetres, ``labels40`` and ``mask_valid``
        ``(H, W)`` uint8 (255 where the written depth is > 0).
    """
    depth_mm, valid = depth_to_mm(depth, clip=True)
    return dict(
        rgb=rgb,
        depth=depth_mm,
        labels40=np.asarray(labels40, dtype=np.uint8),
        mask_valid=np.where(valid, 255, 0).astype(np.uint8))


def _check_inputs(mat, splits, out, class_mapping, labels40,
                  overwrite) -> None:
    _require_file(mat, 'labelled NYUv2 .mat', URLS['mat'])
    _require_file(splits, 'splits.mat', URLS['splits'])
    if not class_mapping and not labels40:
        raise ConverterError(
            'no 894 -> 40 class mapping: pass --class-mapping '
            'classMapping40.mat and/or --labels40 labels40.mat (both from '
            f'{URLS["mapping"]})')
    if class_mapping:
        _require_file(class_mapping, 'classMapping40.mat', URLS['mapping'])
    if labels40:
        _require_file(labels40, 'labels40.mat', URLS['mapping'])
    if osp.isdir(out) and os.listdir(out) and not overwrite:
        raise ConverterError(f'{out} is not empty; pass --overwrite to '
                             'write into it')


def _check_fields(f, mat: str, fields: Sequence[str]) -> Tuple[int, int, int]:
    """Field presence and shapes of the open labelled file; ``(N, H, W)``."""
    for name in fields:
        if name not in f:
            hint = ('drop --raw-depth to use the inpainted depths'
                    if name == 'rawDepths' else
                    'is this the *labelled* NYUv2 file?')
            raise _field_error(mat, name, list(f.keys()), hint)
    images = f['images']
    if images.ndim != 4 or images.shape[1] != 3:
        raise ConverterError(
            f'{mat}: images has h5py shape {images.shape}, '
            'expected (N, 3, W, H) (MATLAB H x W x 3 x N)')
    n, _, w, h = images.shape
    for name in fields[1:]:
        if f[name].shape != (n, w, h):
            raise ConverterError(
                f'{mat}: {name} has h5py shape {f[name].shape}, '
                f'expected {(n, w, h)} to match images')
    return n, h, w


def prepare_nyuv2(mat: str,
                  splits: str,
                  out: str,
                  *,
                  class_mapping: Optional[str] = None,
                  labels40: Optional[str] = None,
                  raw_depth: bool = False,
                  overwrite: bool = False,
                  progress: bool = True) -> Dict[str, int]:
    """Convert ``nyu_depth_v2_labeled.mat`` into the ``NYUv2Dataset`` layout.

    See the module docstring for the inputs and the layout.

    Args:
        mat (str): ``nyu_depth_v2_labeled.mat`` (MATLAB v7.3).
        splits (str): ``splits.mat`` with ``trainNdxs`` / ``testNdxs``.
        out (str): Output data root.
        class_mapping (str, optional): ``classMapping40.mat``.
        labels40 (str, optional): ``labels40.mat``; at least one of the two
            class sources is needed.
        raw_depth (bool): Write ``rawDepths`` (zeros = invalid) instead of
            the inpainted ``depths``. Defaults to False.
        overwrite (bool): Allow writing into a non-empty ``out``. Defaults
            to False.
        progress (bool): Show progress bars and print one count line per
            split. Warnings go to stderr either way. Defaults to True.

    Returns:
        dict[str, int]: Images written per split.

    Raises:
        ConverterError: A missing or malformed input, or a non-empty
            ``out`` without ``overwrite``.
    """
    import h5py
    from tqdm import tqdm

    _check_inputs(mat, splits, out, class_mapping, labels40, overwrite)
    try:
        f = h5py.File(mat, 'r')
    except OSError as e:
        raise ConverterError(
            f'{mat} is not an HDF5 (MATLAB v7.3) file ({e}); expected '
            f'nyu_depth_v2_labeled.mat from {URLS["mat"]}') from e
    with f:
        depth_key = 'rawDepths' if raw_depth else 'depths'
        fields = ['images', depth_key] + (['labels'] if class_mapping else [])
        n, h, w = _check_fields(f, mat, fields)
        split_idxs = load_splits(splits, n)
        lut = load_class_lut(class_mapping) if class_mapping else None
        lab40 = load_labels40(labels40, n, (h, w)) if labels40 else None

        counts, mismatched = {}, 0
        for split, idxs in split_idxs.items():
            dirs = {k: osp.join(out, k, split) for k in KINDS}
            for d in dirs.values():
                os.makedirs(d, exist_ok=True)
            for idx in tqdm(idxs, desc=f'NYUv2 {split}', unit='img',
                            disable=not progress):
                i = int(idx) - 1
                if lut is not None:
                    mapped = map_fine_labels(
                        np.asarray(f['labels'][i]).T, lut,
                        f'{mat}: image {idx}')
                if lab40 is not None:
                    lab = lab40[:, :, i].astype(np.uint8)
                    if lut is not None:
                        mismatched += int((lab != mapped).sum())
                else:
                    lab = mapped
                # h5py gives (3, W, H) and (W, H): reverse to (H, W, ...)
                images = convert_image(
                    np.asarray(f['images'][i]).transpose(2, 1, 0),
                    np.asarray(f[depth_key][i]).T, lab)
                for kind, arr in images.items():
                    write_png(osp.join(dirs[kind], f'{int(idx):04d}.png'),
                              arr)
            counts[split] = len(idxs)

    if mismatched:
        print(f'warning: {mismatched} pixels of {labels40} differ from '
              f'labels mapped through {class_mapping}; wrote the '
              'labels40.mat values', file=sys.stderr)
    _write_readme(out, depth_key, lab40 is not None, counts, progress)
    return counts


def _write_readme(out: str, depth_key: str, from_labels40: bool,
                  counts: Dict[str, int], progress: bool) -> None:
    source = 'labels40.mat' if from_labels40 else \
        'labels mapped by classMapping40.mat'
    lines = [
        'NYUv2 (labelled) converted by '
        'tools/dataset_converters/prepare_nyuv2.py',
        f'depth: {depth_key}, uint16 millimetres, 0 = invalid; '
        'mask_valid: 255 where depth > 0',
        f'labels40: {source}; 0 = unlabelled, 1..40 = classes',
        'file names: 1-based MATLAB index (as in splits.mat), 4 digits',
    ] + [
        f'{split}: {cnt} images (standard: {EXPECTED[split]})'
        for split, cnt in counts.items()
    ]
    os.makedirs(out, exist_ok=True)
    with open(osp.join(out, 'README.txt'), 'w') as fh:
        fh.write('\n'.join(lines) + '\n')
    if progress:
        for line in lines[-len(counts):]:
            print(line)
