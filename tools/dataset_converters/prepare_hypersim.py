# Copyright (c) mmmae contributors. All rights reserved.
"""Convert the Hypersim download (HDF5) into PNGs for ``HypersimDataset``.

Input (the official download layout)::

    ROOT/ai_VVV_NNN/images/scene_cam_XX_final_hdf5/frame.IIII.color.hdf5
    ROOT/ai_VVV_NNN/images/scene_cam_XX_geometry_hdf5/frame.IIII.depth_meters.hdf5
    ROOT/ai_VVV_NNN/images/scene_cam_XX_geometry_hdf5/frame.IIII.semantic.hdf5
    ROOT/metadata_images_split_scene_v1.csv   (or --csv PATH)

Every HDF5 file holds one array named ``dataset``. Frames are taken from the
split CSV (rows with ``included_in_public_release`` true and
``split_partition_name`` in ``--splits``).

Output (``OUT``; one name per frame, ``<scene>_<camera>_<frame:04d>.png``,
e.g. ``ai_001_001_cam_00_0007.png``)::

    OUT/rgb/{train,val,test}/NAME.png         uint8 sRGB, 3 channels
    OUT/depth/{train,val,test}/NAME.png       uint16, millimetres, 0 = invalid
    OUT/semseg/{train,val,test}/NAME.png      uint8 NYU40 id 1..40, 0 = none
    OUT/mask_valid/{train,val,test}/NAME.png  uint8, 255 = valid, 0 = invalid
    OUT/hypersim_meta.json                    options, counts, skipped frames

Conversions
    rgb: Hypersim's tone map. ``brightness = 0.3 R + 0.59 G + 0.11 B`` of the
        linear HDR colour; ``scale = 0.8 ** 2.2 / p90(brightness)`` so that
        after the gamma the 90th-percentile brightness is 0.8 (scale 0 for a
        black frame, p90 < 1e-4); ``srgb = clip((scale * rgb) ** (1 / 2.2),
        0, 1)``; ``uint8 = round(255 * srgb)``. Non-finite colours count as
        black and are left out of the percentile.
    depth: ``depth_meters`` is the Euclidean distance from the camera centre
        to the surface along the pixel's ray, not the z (planar) depth that
        NYUv2 and most depth models use. With ``--planar`` (default) it is
        converted: for pixel centre ``(u + 0.5, v + 0.5)`` of a ``W x H``
        image, ``x = u + 0.5 - W / 2``, ``y = v + 0.5 - H / 2``,
        ``f = focal * W / 1024`` and ``z = d * f / sqrt(x^2 + y^2 + f^2)``;
        ``focal`` defaults to 886.81 px (the 60 degree horizontal field of
        view of the standard Hypersim camera at 1024 x 768). ``--no-planar``
        keeps the distance. Stored as ``round(1000 * depth)``.
    semseg: -1 (unlabelled) and anything outside 1..40 become 0.
    mask_valid: depth finite, > 0 and representable (< 65.535 m) and the
        colour finite. Label presence is not part of it (unlabelled pixels
        are already 0 in semseg and ignored by ``reduce_zero_label``), so the
        depth of unlabelled surfaces stays usable; ``--mask-label`` also
        requires a label. Invalid pixels are 0 in depth too.

Exit status: 0 when every frame was written (or skipped with
``--skip-missing``), 2 on a setup error (missing CSV or frame files).

Example::

    python tools/dataset_converters/prepare_hypersim.py data/hypersim_raw \\
        data/hypersim --workers 8 --splits train val
"""
import argparse
import csv
import json
import os
import os.path as osp
import sys
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

SPLIT_CSV = 'metadata_images_split_scene_v1.csv'
SPLITS = ('train', 'val', 'test')
FOCAL_1024 = 886.81
MAX_DEPTH_MM = 65535
GAMMA = 1.0 / 2.2
BRIGHTNESS_TARGET = 0.8
PERCENTILE = 90
CSV_COLUMNS = ('scene_name', 'camera_name', 'frame_id',
               'included_in_public_release', 'split_partition_name')

__all__ = [
    'parse_args', 'main', 'read_split_csv', 'frame_paths', 'frame_name',
    'tonemap', 'distance_to_planar', 'depth_to_mm', 'convert_frame',
    'SetupError'
]


class SetupError(RuntimeError):
    """Missing inputs or bad arguments (exit status 2)."""


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description='Convert Hypersim HDF5 frames to the PNG layout of '
        'mmmae.HypersimDataset (see docs/datasets/hypersim.md).')
    p.add_argument('root', help='Hypersim download root (holds ai_VVV_NNN/)')
    p.add_argument('out', help='output data_root')
    p.add_argument(
        '--csv',
        default=None,
        help=f'split CSV (default: ROOT/{SPLIT_CSV})')
    p.add_argument(
        '--splits',
        nargs='+',
        default=list(SPLITS),
        choices=SPLITS,
        help='partitions to convert (default: all)')
    p.add_argument(
        '--planar',
        action=argparse.BooleanOptionalAction,
        default=True,
        help='store planar (z) depth instead of the distance to the camera '
        'centre (default: planar)')
    p.add_argument(
        '--focal',
        type=float,
        default=FOCAL_1024,
        help='focal length in px at width 1024 for --planar '
        f'(default {FOCAL_1024})')
    p.add_argument(
        '--mask-label',
        action='store_true',
        help='mask_valid also requires a semantic label')
    p.add_argument(
        '--skip-missing',
        action='store_true',
        help='skip CSV frames whose HDF5 files are missing instead of '
        'stopping')
    p.add_argument(
        '--workers', type=int, default=0,
        help='worker processes (0: convert in this process)')
    return p.parse_args(argv)


def _truthy(v: str) -> bool:
    return str(v).strip().lower() in ('true', '1', 'yes')


def read_split_csv(path: str,
                   splits: Sequence[str]) -> List[Tuple[str, str, int, str]]:
    """Frames of the public release in ``splits``.

    Args:
        path (str): ``metadata_images_split_scene_v1.csv``.
        splits (Sequence[str]): Partitions to keep.

    Returns:
        list[tuple]: ``(scene, camera, frame_id, split)`` in CSV order.
    """
    if not osp.isfile(path):
        raise SetupError(
            f'split CSV {path} does not exist. Download '
            f'{SPLIT_CSV} from the Hypersim repository (evermotion_dataset/'
            'analysis/) into the dataset root, or pass --csv PATH.')
    with open(path, newline='') as f:
        reader = csv.DictReader(f)
        have = reader.fieldnames or []
        missing = [c for c in CSV_COLUMNS if c not in have]
        if missing:
            raise SetupError(
                f'split CSV {path} lacks columns {missing} (has '
                f'{reader.fieldnames}); is it {SPLIT_CSV}?')
        frames = []
        for row in reader:
            split = row['split_partition_name'].strip()
            if _truthy(row['included_in_public_release']) and split in splits:
                frames.append((row['scene_name'].strip(),
                               row['camera_name'].strip(),
                               int(row['frame_id']), split))
    return frames


def frame_paths(root: str, scene: str, cam: str, frame: int) -> Dict[str, str]:
    """HDF5 files of one frame.

    Returns:
        dict: ``color``, ``depth`` and ``semantic`` paths.
    """
    img = osp.join(root, scene, 'images')
    final = osp.join(img, f'scene_{cam}_final_hdf5')
    geo = osp.join(img, f'scene_{cam}_geometry_hdf5')
    return dict(
        color=osp.join(final, f'frame.{frame:04d}.color.hdf5'),
        depth=osp.join(geo, f'frame.{frame:04d}.depth_meters.hdf5'),
        semantic=osp.join(geo, f'frame.{frame:04d}.semantic.hdf5'))


def frame_name(scene: str, cam: str, frame: int) -> str:
    """Output stem, e.g. ``ai_001_001_cam_00_0007``."""
    return f'{scene}_{cam}_{frame:04d}'


def tonemap(rgb: np.ndarray) -> np.ndarray:
    """Hypersim's HDR -> 8-bit sRGB tone map.

    Args:
        rgb (np.ndarray): ``(H, W, 3)`` linear colour (any float dtype,
            non-finite values allowed).

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 RGB.
    """
    rgb = rgb.astype(np.float64)
    finite = np.isfinite(rgb).all(-1)
    rgb = np.where(finite[..., None], rgb, 0.0)
    brightness = rgb @ np.array([0.3, 0.59, 0.11])
    p = np.percentile(brightness[finite], PERCENTILE) if finite.any() else 0.
    # 0.8 is the target *after* the gamma, hence the inverse gamma on it
    scale = 0.0 if p < 1e-4 else BRIGHTNESS_TARGET**(1.0 / GAMMA) / p
    srgb = np.clip(np.power(np.maximum(scale * rgb, 0.0), GAMMA), 0.0, 1.0)
    return np.round(srgb * 255.0).astype(np.uint8)


def distance_to_planar(dist: np.ndarray,
                       focal: float = FOCAL_1024) -> np.ndarray:
    """Distance to the camera centre -> depth along the optical axis.

    Args:
        dist (np.ndarray): ``(H, W)`` distances (metres).
        focal (float): Focal length in pixels at width 1024; scaled by
            ``W / 1024``.

    Returns:
        np.ndarray: ``(H, W)`` float64 planar depth (NaN stays NaN).
    """
    h, w = dist.shape
    f = focal * w / 1024.0
    x = np.arange(w, dtype=np.float64) + 0.5 - w / 2.0
    y = np.arange(h, dtype=np.float64) + 0.5 - h / 2.0
    ray = np.sqrt(x[None, :]**2 + y[:, None]**2 + f * f)
    return dist.astype(np.float64) * (f / ray)


def depth_to_mm(depth: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Metres -> uint16 millimetres plus validity.

    Args:
        depth (np.ndarray): ``(H, W)`` metres, NaN / inf / <= 0 invalid.

    Returns:
        tuple: ``(H, W)`` uint16 millimetres (0 where invalid) and the
        ``(H, W)`` bool validity (finite, > 0 and < 65.535 m).
    """
    with np.errstate(invalid='ignore'):
        mm = np.round(depth.astype(np.float64) * 1000.0)
        valid = np.isfinite(mm) & (mm > 0) & (mm <= MAX_DEPTH_MM)
    return np.where(valid, mm, 0).astype(np.uint16), valid


def _read_h5(path: str) -> np.ndarray:
    import h5py
    with h5py.File(path, 'r') as f:
        if 'dataset' not in f:
            raise KeyError(f'{path} has no "dataset" array '
                           f'(keys: {list(f.keys())})')
        return f['dataset'][()]


def _write_png(path: str, arr: np.ndarray) -> None:
    import cv2
    if arr.ndim == 3:
        arr = arr[..., ::-1]  # cv2 writes BGR
    tmp = osp.join(osp.dirname(path), '.tmp_' + osp.basename(path))
    # a killed run must not leave a truncated PNG under the final name
    if not cv2.imwrite(tmp, np.ascontiguousarray(arr)):
        raise OSError(f'cannot write {tmp}')
    os.replace(tmp, path)


def convert_frame(job: Tuple[str, str, int, str], root: str, out: str,
                  planar: bool = True, focal: float = FOCAL_1024,
                  mask_label: bool = False) -> str:
    """Convert one frame and write its four PNGs.

    Args:
        job (tuple): ``(scene, camera, frame_id, split)``.
        root (str): Hypersim root.
        out (str): Output data root.
        planar (bool): Store planar depth. Defaults to True.
        focal (float): Focal length at width 1024 for ``planar``.
        mask_label (bool): ``mask_valid`` also requires a label.

    Returns:
        str: The frame's output stem.
    """
    scene, cam, frame, split = job
    paths = frame_paths(root, scene, cam, frame)
    color = _read_h5(paths['color'])
    dist = _read_h5(paths['depth']).astype(np.float64)
    sem = _read_h5(paths['semantic'])
    if color.shape[:2] != dist.shape or sem.shape != dist.shape:
        raise ValueError(
            f'{scene} {cam} frame {frame}: colour {color.shape}, depth '
            f'{dist.shape} and semantic {sem.shape} differ in size')
    depth = distance_to_planar(dist, focal) if planar else dist
    depth_mm, valid = depth_to_mm(depth)
    valid &= np.isfinite(color.astype(np.float64)).all(-1)
    sem = sem.astype(np.int64)
    labelled = (sem >= 1) & (sem <= 40)
    if mask_label:
        valid &= labelled
    depth_mm[~valid] = 0
    name = frame_name(scene, cam, frame)
    outputs = dict(
        rgb=tonemap(color),
        depth=depth_mm,
        semseg=np.where(labelled, sem, 0).astype(np.uint8),
        mask_valid=valid.astype(np.uint8) * 255)
    for kind, arr in outputs.items():
        _write_png(osp.join(out, kind, split, name + '.png'), arr)
    return name


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the conversion; see the module docstring.

    Returns:
        int: Exit status (0 done, 2 setup error).
    """
    args = parse_args(argv)
    try:
        return _run(args)
    except SetupError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm
    if not osp.isdir(args.root):
        raise SetupError(f'Hypersim root {args.root} is not a directory')
    csv_path = args.csv or osp.join(args.root, SPLIT_CSV)
    jobs = read_split_csv(csv_path, args.splits)
    if not jobs:
        raise SetupError(f'{csv_path} lists no public frames in splits '
                         f'{args.splits}')
    kept, skipped = [], []
    for job in jobs:
        paths = frame_paths(args.root, *job[:3])
        absent = [p for p in paths.values() if not osp.isfile(p)]
        if not absent:
            kept.append(job)
        elif args.skip_missing:
            skipped.append(absent[0])
        else:
            raise SetupError(
                f'{absent[0]} (scene {job[0]}, {job[1]}, frame {job[2]}) '
                f'does not exist ({len(absent)} of its 3 files missing). '
                'Download and unpack that scene (color from '
                '*_final_hdf5, depth_meters and semantic from '
                '*_geometry_hdf5), or pass --skip-missing.')
    for kind in ('rgb', 'depth', 'semseg', 'mask_valid'):
        for split in args.splits:
            os.makedirs(osp.join(args.out, kind, split), exist_ok=True)
    fn = partial(convert_frame, root=args.root, out=args.out,
                 planar=args.planar, focal=args.focal,
                 mask_label=args.mask_label)
    bar = tqdm(total=len(kept), desc='hypersim', unit='frame')
    if args.workers > 0:
        import multiprocessing as mp
        with mp.Pool(args.workers) as pool:
            for _ in pool.imap_unordered(fn, kept, chunksize=4):
                bar.update()
    else:
        for job in kept:
            fn(job)
            bar.update()
    bar.close()
    counts = {s: sum(j[3] == s for j in kept) for s in args.splits}
    meta = dict(
        source=osp.abspath(args.root),
        csv=osp.abspath(csv_path),
        depth='planar' if args.planar else 'distance_to_camera_centre',
        depth_unit='millimetre (uint16), 0 = invalid',
        focal_px_at_1024=args.focal if args.planar else None,
        mask_valid='depth finite, > 0, < 65.535 m; colour finite' +
        ('; labelled' if args.mask_label else ''),
        semseg='NYU40 id 1..40, 0 = unlabelled',
        counts=counts,
        skipped_missing=skipped)
    with open(osp.join(args.out, 'hypersim_meta.json'), 'w') as f:
        json.dump(meta, f, indent=2)
    if skipped:
        print(f'skipped {len(skipped)} frames with missing files (first: '
              f'{skipped[0]}); listed in hypersim_meta.json', file=sys.stderr)
    print(f'wrote {counts} frames to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
