# Copyright (c) mmmae contributors. All rights reserved.
"""Convert the labelled NYU Depth v2 set to mmmae's NYUv2 layout.

Usage::

    python tools/dataset_converters/prepare_nyuv2.py \
        --mat nyu_depth_v2_labeled.mat --splits splits.mat \
        --class-mapping classMapping40.mat [--labels40 labels40.mat] \
        --out data/nyuv2 [--raw-depth] [--overwrite]

Inputs:

* ``nyu_depth_v2_labeled.mat`` (MATLAB v7.3 = HDF5): ``images``
  ``(H, W, 3, N)`` uint8, ``depths`` ``(H, W, N)`` metres (inpainted),
  ``labels`` ``(H, W, N)`` uint16 with the 894 fine classes (0 =
  unlabelled) and optionally ``rawDepths``. h5py sees MATLAB's
  column-major arrays with the axes reversed (``images`` as
  ``(N, 3, W, H)``), which this tool undoes.
* ``splits.mat`` (MATLAB v5): ``trainNdxs`` (795) and ``testNdxs`` (654),
  1-based indices.
* The 894 -> 40 class mapping: ``--class-mapping classMapping40.mat``
  (``mapClass``, 894 entries: the 40-class id of each fine id; fine 0 stays
  0) and/or ``--labels40 labels40.mat`` (``labels40``, the precomputed
  ``(H, W, N)`` 40-class labels). With both, ``labels40`` is written and
  the mapping is used to cross-check it (mismatches are reported).

Output (``NNNN`` = 1-based MATLAB index, as in ``splits.mat``)::

    out/rgb/{train,test}/NNNN.png         8-bit RGB
    out/depth/{train,test}/NNNN.png       uint16 millimetres, 0 = invalid
    out/labels40/{train,test}/NNNN.png    uint8, 0 = unlabelled, 1..40
    out/mask_valid/{train,test}/NNNN.png  uint8, 255 = valid (depth > 0)
    out/README.txt                        sources, units and split counts

Depth is rounded to millimetres and clipped to 65535 (65.5 m); NaN and
negative values become 0. ``mask_valid`` is computed from the written
millimetre depth (so the two always agree): the default ``depths`` are
inpainted, hence almost all valid; ``--raw-depth`` writes ``rawDepths``
(the un-inpainted Kinect depth, zeros = no measurement) instead, so the
mask marks the real holes.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Dict, Optional, Sequence

import cv2
import numpy as np

NUM_FINE = 894
NUM_CLASSES = 40
EXPECTED = dict(train=795, test=654)
SPLIT_KEYS = dict(train='trainNdxs', test='testNdxs')
URLS = dict(
    mat='http://horatio.cs.nyu.edu/mit/silberman/nyu_depth_v2/'
    'nyu_depth_v2_labeled.mat',
    splits='http://horatio.cs.nyu.edu/mit/silberman/indoor_seg_sup/'
    'splits.mat',
    mapping='https://github.com/ankurhanda/nyuv2-meta-data '
    '(classMapping40.mat, labels40.mat)')


class ConvertError(RuntimeError):
    """A user-fixable problem with the inputs (printed without traceback)."""


def _require_file(path: Optional[str], what: str, url: str) -> str:
    if not path or not osp.isfile(path):
        raise ConvertError(f'{what} file {path!r} does not exist; download '
                           f'it from {url} and pass its path.')
    return path


def _field_error(path: str, name: str, present: Sequence[str],
                 hint: str) -> ConvertError:
    return ConvertError(
        f'{path} has no field {name!r} (fields: {sorted(present)}). {hint}')


def load_mat_fields(path: str, names: Sequence[str],
                    hint: str) -> Dict[str, np.ndarray]:
    """Read ``names`` from a MATLAB file, v5 (scipy) or v7.3 (HDF5).

    Arrays come back in MATLAB's axis order either way: v7.3 arrays, which
    h5py reports with reversed axes, are transposed back.
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
        raise ConvertError(f'{path} is not a MATLAB file scipy can read '
                           f'({e}). {hint}') from e


def load_splits(path: str, num_images: int) -> Dict[str, np.ndarray]:
    """1-based train/test indices from ``splits.mat``, validated."""
    fields = load_mat_fields(
        path, list(SPLIT_KEYS.values()),
        'Expected the NYUv2 splits.mat with trainNdxs and testNdxs.')
    splits = {}
    for split, key in SPLIT_KEYS.items():
        idx = np.asarray(fields[key]).reshape(-1)
        if idx.size == 0 or not np.all(idx == np.round(idx)):
            raise ConvertError(f'{path}: {key} must hold integer indices')
        idx = idx.astype(np.int64)
        if idx.min() < 1 or idx.max() > num_images:
            raise ConvertError(
                f'{path}: {key} has indices in [{idx.min()}, {idx.max()}] '
                f'but the .mat holds {num_images} images (1-based indices '
                'expected); are splits.mat and the labelled .mat from the '
                'same release?')
        if len(np.unique(idx)) != idx.size:
            raise ConvertError(f'{path}: {key} repeats indices')
        if idx.size != EXPECTED[split]:
            print(f'warning: {key} has {idx.size} indices, the standard '
                  f'split has {EXPECTED[split]}', file=sys.stderr)
        splits[split] = idx
    overlap = np.intersect1d(splits['train'], splits['test'])
    if overlap.size:
        raise ConvertError(
            f'{path}: {overlap.size} images are in both trainNdxs and '
            f'testNdxs (first: {overlap[0]})')
    return splits


def load_class_lut(path: str) -> np.ndarray:
    """Lookup table ``fine id (0..894) -> 40-class id``, 0 kept as 0."""
    mapping = load_mat_fields(
        path, ['mapClass'],
        'Expected classMapping40.mat (mapClass: 894 entries).')['mapClass']
    mapping = np.asarray(mapping).reshape(-1)
    if mapping.size != NUM_FINE:
        raise ConvertError(f'{path}: mapClass has {mapping.size} entries, '
                           f'expected {NUM_FINE} (one per fine class)')
    if mapping.min() < 0 or mapping.max() > NUM_CLASSES:
        raise ConvertError(f'{path}: mapClass values must be in 0..'
                           f'{NUM_CLASSES}, got {mapping.min()}..'
                           f'{mapping.max()}')
    return np.concatenate([[0], mapping]).astype(np.uint8)


def load_labels40(path: str, num_images: int, hw) -> np.ndarray:
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
        raise ConvertError(
            f'{path}: labels40 has shape {arr.shape}, expected '
            f'{(*hw, num_images)} (H, W, N) to match the labelled .mat')
    if arr.min() < 0 or arr.max() > NUM_CLASSES:
        raise ConvertError(f'{path}: labels40 values must be in 0..'
                           f'{NUM_CLASSES}, got {arr.min()}..{arr.max()}')
    return arr


def depth_to_mm(depth_m: np.ndarray) -> np.ndarray:
    """Metres (float) -> uint16 millimetres; NaN, <= 0 -> 0 (invalid)."""
    d = np.nan_to_num(np.asarray(depth_m, np.float64), nan=0.0,
                      posinf=0.0, neginf=0.0)
    d = np.clip(np.round(d * 1000.0), 0, np.iinfo(np.uint16).max)
    return d.astype(np.uint16)


def _write_png(path: str, arr: np.ndarray) -> None:
    if not cv2.imwrite(path, arr):
        raise ConvertError(f'cannot write {path}')


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Convert nyu_depth_v2_labeled.mat to the mmmae NYUv2 '
        'layout (rgb/, depth/ in mm, labels40/, mask_valid/).')
    p.add_argument('--mat', required=True,
                   help='nyu_depth_v2_labeled.mat (MATLAB v7.3)')
    p.add_argument('--splits', required=True,
                   help='splits.mat with trainNdxs/testNdxs (1-based)')
    p.add_argument('--class-mapping', default=None,
                   help='classMapping40.mat (mapClass: 894 -> 40)')
    p.add_argument('--labels40', default=None,
                   help='labels40.mat (precomputed H x W x N 40-class '
                   'labels)')
    p.add_argument('--out', required=True, help='output data_root')
    p.add_argument('--raw-depth', action='store_true',
                   help='write rawDepths (zeros = invalid) instead of the '
                   'inpainted depths')
    p.add_argument('--overwrite', action='store_true',
                   help='allow writing into a non-empty output folder')
    return p.parse_args(argv)


def convert(args) -> Dict[str, int]:
    """Run the conversion; returns ``split -> number of images``."""
    import h5py
    from tqdm import tqdm

    _require_file(args.mat, 'labelled NYUv2 .mat', URLS['mat'])
    _require_file(args.splits, 'splits.mat', URLS['splits'])
    if not args.class_mapping and not args.labels40:
        raise ConvertError(
            'no 894 -> 40 class mapping: pass --class-mapping '
            'classMapping40.mat and/or --labels40 labels40.mat (both from '
            f'{URLS["mapping"]})')
    if args.class_mapping:
        _require_file(args.class_mapping, 'classMapping40.mat',
                      URLS['mapping'])
    if args.labels40:
        _require_file(args.labels40, 'labels40.mat', URLS['mapping'])
    if osp.isdir(args.out) and os.listdir(args.out) and not args.overwrite:
        raise ConvertError(f'{args.out} is not empty; pass --overwrite to '
                           'write into it')

    try:
        f = h5py.File(args.mat, 'r')
    except OSError as e:
        raise ConvertError(
            f'{args.mat} is not an HDF5 (MATLAB v7.3) file ({e}); expected '
            f'nyu_depth_v2_labeled.mat from {URLS["mat"]}') from e
    with f:
        depth_key = 'rawDepths' if args.raw_depth else 'depths'
        fields = ['images', depth_key]
        if args.class_mapping:
            fields.append('labels')
        for name in fields:
            if name not in f:
                hint = ('drop --raw-depth to use the inpainted depths' if
                        name == 'rawDepths' else
                        'is this the *labelled* NYUv2 file?')
                raise _field_error(args.mat, name, list(f.keys()), hint)
        images, depths = f['images'], f[depth_key]
        if images.ndim != 4 or images.shape[1] != 3:
            raise ConvertError(
                f'{args.mat}: images has h5py shape {images.shape}, '
                'expected (N, 3, W, H) (MATLAB H x W x 3 x N)')
        n, _, w, h = images.shape
        for name in fields[1:]:
            if f[name].shape != (n, w, h):
                raise ConvertError(
                    f'{args.mat}: {name} has h5py shape {f[name].shape}, '
                    f'expected {(n, w, h)} to match images')

        splits = load_splits(args.splits, n)
        lut = load_class_lut(args.class_mapping) \
            if args.class_mapping else None
        labels40 = load_labels40(args.labels40, n, (h, w)) \
            if args.labels40 else None

        counts, mismatched = {}, 0
        for split, idxs in splits.items():
            dirs = {}
            for sub in ('rgb', 'depth', 'labels40', 'mask_valid'):
                dirs[sub] = osp.join(args.out, sub, split)
                os.makedirs(dirs[sub], exist_ok=True)
            for idx in tqdm(idxs, desc=f'NYUv2 {split}', unit='img'):
                i = int(idx) - 1
                name = f'{int(idx):04d}.png'
                # h5py gives (3, W, H): reverse to (H, W, 3).
                rgb = np.asarray(images[i]).transpose(2, 1, 0)
                depth_mm = depth_to_mm(np.asarray(depths[i]).T)
                if lut is not None:
                    fine = np.asarray(f['labels'][i]).T
                    if fine.max() > NUM_FINE:
                        raise ConvertError(
                            f'{args.mat}: image {idx} has label '
                            f'{fine.max()} > {NUM_FINE}')
                    mapped = lut[fine]
                if labels40 is not None:
                    lab = labels40[:, :, i].astype(np.uint8)
                    if lut is not None:
                        mismatched += int((lab != mapped).sum())
                else:
                    lab = mapped
                # cv2 writes BGR.
                _write_png(osp.join(dirs['rgb'], name),
                           np.ascontiguousarray(rgb[..., ::-1]))
                _write_png(osp.join(dirs['depth'], name), depth_mm)
                _write_png(osp.join(dirs['labels40'], name),
                           np.ascontiguousarray(lab, dtype=np.uint8))
                _write_png(
                    osp.join(dirs['mask_valid'], name),
                    np.where(depth_mm > 0, 255, 0).astype(np.uint8))
            counts[split] = len(idxs)

    if mismatched:
        print(f'warning: {mismatched} pixels of {args.labels40} differ from '
              f'labels mapped through {args.class_mapping}; wrote the '
              'labels40.mat values', file=sys.stderr)
    source = 'labels40.mat' if labels40 is not None else \
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
    os.makedirs(args.out, exist_ok=True)
    with open(osp.join(args.out, 'README.txt'), 'w') as fh:
        fh.write('\n'.join(lines) + '\n')
    for line in lines[-len(counts):]:
        print(line)
    return counts


def main(argv=None) -> Dict[str, int]:
    """CLI entry; errors about the inputs exit with status 1 and a hint."""
    args = parse_args(argv)
    try:
        return convert(args)
    except ConvertError as e:
        print(f'error: {e}', file=sys.stderr)
        raise SystemExit(1)


if __name__ == '__main__':
    main()
