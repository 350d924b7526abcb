# Copyright (c) mmmae contributors. All rights reserved.
"""Convert the Hypersim download (HDF5) into PNGs for ``HypersimDataset``.

Input (the official download layout)::

    ROOT/ai_VVV_NNN/images/scene_cam_XX_final_hdf5/frame.IIII.color.hdf5
    ROOT/ai_VVV_NNN/images/scene_cam_XX_geometry_hdf5/frame.IIII.depth_meters.hdf5
    ROOT/ai_VVV_NNN/images/scene_cam_XX_geometry_hdf5/frame.IIII.semantic.hdf5
    ROOT/metadata_images_split_scene_v1.csv   (or csv_path)

Every HDF5 file holds one array named ``dataset``. Frames are taken from the
split CSV (rows with ``included_in_public_release`` true and
``split_partition_name`` in ``splits``).

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
        NYUv2 and most depth models use. With ``planar`` (default) it is
        converted: for pixel centre ``(u + 0.5, v + 0.5)`` of a ``W x H``
        image, ``x = u + 0.5 - W / 2``, ``y = v + 0.5 - H / 2``,
        ``f = focal * W / 1024`` and ``z = d * f / sqrt(x^2 + y^2 + f^2)``;
        ``focal`` defaults to 886.81 px (the 60 degree horizontal field of
        view of the standard Hypersim camera at 1024 x 768). ``planar=False``
        keeps the distance. Stored as ``round(1000 * depth)``.
    semseg: -1 (unlabelled) and anything outside 1..40 become 0.
    mask_valid: depth finite, > 0 and representable (< 65.535 m) and the
        colour finite. Label presence is not part of it (unlabelled pixels
        are already 0 in semseg and ignored by ``reduce_zero_label``), so the
        depth of unlabelled surfaces stays usable; ``mask_label`` also
        requires a label. Invalid pixels are 0 in depth too.

The command line is ``tools/dataset_converters/prepare_hypersim.py``; the
error messages name its options (``--csv``, ``--skip-missing``), which are
the arguments of :func:`prepare_hypersim` of the same name.
"""
import csv
import json
import os
import os.path as osp
import sys
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..hypersim import _SPLITS as SPLITS
from .common import NUM_CLASSES, ConverterError, depth_to_mm, write_png

__all__ = [
    'prepare_hypersim', 'list_frames', 'read_split_csv', 'frame_paths',
    'frame_name', 'tonemap', 'distance_to_planar', 'convert_frame',
    'SPLIT_CSV', 'FOCAL_1024'
]

SPLIT_CSV = 'metadata_images_split_scene_v1.csv'
FOCAL_1024 = 886.81
GAMMA = 1.0 / 2.2
BRIGHTNESS_TARGET = 0.8
PERCENTILE = 90
CSV_COLUMNS = ('scene_name', 'camera_name', 'frame_id',
               'included_in_public_release', 'split_partition_name')
KINDS = ('rgb', 'depth', 'semseg', 'mask_valid')

# (scene, camera, frame_id, split)
Frame = Tuple[str, str, int, str]


def _truthy(v: str) -> bool:
    return str(v).strip().lower() in ('true', '1', 'yes')


def read_split_csv(path: str, splits: Sequence[str]) -> List[Frame]:
    """Frames of the public release in ``splits``.

    Args:
        path (str): ``metadata_images_split_scene_v1.csv``.
        splits (Sequence[str]): Partitions to keep.

    Returns:
        list[tuple]: ``(scene, camera, frame_id, split)`` in CSV order.

    Raises:
        ConverterError: The file is missing or lacks a needed column.
    """
    if not osp.isfile(path):
        raise ConverterError(
            f'split CSV {path} does not exist. Download '
            f'{SPLIT_CSV} from the Hypersim repository (evermotion_dataset/'
            'analysis/) into the dataset root, or pass --csv PATH.')
    with open(path, newline='') as f:
        reader = csv.DictReader(f)
        have = reader.fieldnames or []
        missing = [c for c in CSV_COLUMNS if c not in have]
        if missing:
            raise ConverterError(
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


def _read_h5(path: str) -> np.ndarray:
    import h5py
    with h5py.File(path, 'r') as f:
        if 'dataset' not in f:
            raise KeyError(f'{path} has no "dataset" array '
                           f'(keys: {list(f.keys())})')
        return f['dataset'][()]


def convert_frame(job: Frame, root: str, out: str,
                  planar: bool = True, focal: float = FOCAL_1024,
                  mask_label: bool = False) -> str:
    """Convert one frame and write its four PNGs.

    The split folders under ``out`` must exist.

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
    labelled = (sem >= 1) & (sem <= NUM_CLASSES)
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
        write_png(osp.join(out, kind, split, name + '.png'), arr)
    return name


def list_frames(root: str,
                csv_path: Optional[str] = None,
                splits: Sequence[str] = SPLITS,
                skip_missing: bool = False) -> Tuple[List[Frame], List[str]]:
    """The frames to convert, checked for their three HDF5 files.

    Args:
        root (str): Hypersim download root (holds ``ai_VVV_NNN/``).
        csv_path (str, optional): Split CSV. Defaults to
            ``ROOT/metadata_images_split_scene_v1.csv``.
        splits (Sequence[str]): Partitions to keep. Defaults to all.
        skip_missing (bool): Leave out frames with a missing file instead of
            raising. Defaults to False.

    Returns:
        tuple[list, list[str]]: The ``(scene, camera, frame_id, split)``
        frames with all files, and the first missing file of each frame
        left out.

    Raises:
        ConverterError: ``root`` or the CSV is missing, the CSV lists no
            frame of ``splits``, or (without ``skip_missing``) a frame's
            file is missing.
    """
    if not osp.isdir(root):
        raise ConverterError(f'Hypersim root {root} is not a directory')
    csv_path = csv_path or osp.join(root, SPLIT_CSV)
    jobs = read_split_csv(csv_path, splits)
    if not jobs:
        raise ConverterError(f'{csv_path} lists no public frames in splits '
                             f'{splits}')
    kept, skipped = [], []
    for job in jobs:
        absent = [
            p for p in frame_paths(root, *job[:3]).values()
            if not osp.isfile(p)
        ]
        if not absent:
            kept.append(job)
        elif skip_missing:
            skipped.append(absent[0])
        else:
            raise ConverterError(
                f'{absent[0]} (scene {job[0]}, {job[1]}, frame {job[2]}) '
                f'does not exist ({len(absent)} of its 3 files missing). '
                'Download and unpack that scene (color from '
                '*_final_hdf5, depth_meters and semantic from '
                '*_geometry_hdf5), or pass --skip-missing.')
    return kept, skipped


def prepare_hypersim(root: str,
                     out: str,
                     *,
                     csv_path: Optional[str] = None,
                     splits: Sequence[str] = SPLITS,
                     planar: bool = True,
                     focal: float = FOCAL_1024,
                     mask_label: bool = False,
                     skip_missing: bool = False,
                     workers: int = 0,
                     progress: bool = True) -> Dict[str, int]:
    """Convert a Hypersim download into the ``HypersimDataset`` layout.

    See the module docstring for the layout and the conversions. Existing
    PNGs are overwritten; ``OUT/hypersim_meta.json`` records the options,
    the counts and the skipped frames.

    Args:
        root (str): Hypersim download root (holds ``ai_VVV_NNN/``).
        out (str): Output data root.
        csv_path (str, optional): Split CSV. Defaults to
            ``ROOT/metadata_images_split_scene_v1.csv``.
        splits (Sequence[str]): Partitions to convert, out of ``'train'``,
            ``'val'`` and ``'test'``. Defaults to all.
        planar (bool): Store planar (z) depth instead of the distance to
            the camera centre. Defaults to True.
        focal (float): Focal length in px at width 1024 for ``planar``.
            Defaults to 886.81.
        mask_label (bool): ``mask_valid`` also requires a semantic label.
            Defaults to False.
        skip_missing (bool): Skip frames whose HDF5 files are missing
            instead of raising. Defaults to False.
        workers (int): Worker processes; 0 converts in this process.
            Defaults to 0.
        progress (bool): Show a progress bar and print the counts.
            Skipped frames are reported on stderr either way. Defaults to
            True.

    Returns:
        dict[str, int]: Frames written per split.

    Raises:
        ConverterError: A missing input (see :func:`list_frames`).
    """
    from tqdm import tqdm
    splits = list(splits)
    unknown = sorted(set(splits) - set(SPLITS))
    if unknown:
        raise ValueError(f'unknown splits {unknown}; choose from {SPLITS}')
    csv_path = csv_path or osp.join(root, SPLIT_CSV)
    kept, skipped = list_frames(root, csv_path, splits, skip_missing)
    for kind in KINDS:
        for split in splits:
            os.makedirs(osp.join(out, kind, split), exist_ok=True)
    fn = partial(convert_frame, root=root, out=out, planar=planar,
                 focal=focal, mask_label=mask_label)
    bar = tqdm(total=len(kept), desc='hypersim', unit='frame',
               disable=not progress)
    if workers > 0:
        import multiprocessing as mp
        with mp.Pool(workers) as pool:
            for _ in pool.imap_unordered(fn, kept, chunksize=4):
                bar.update()
    else:
        for job in kept:
            fn(job)
            bar.update()
    bar.close()
    counts = {s: sum(j[3] == s for j in kept) for s in splits}
    meta = dict(
        source=osp.abspath(root),
        csv=osp.abspath(csv_path),
        depth='planar' if planar else 'distance_to_camera_centre',
        depth_unit='millimetre (uint16), 0 = invalid',
        focal_px_at_1024=focal if planar else None,
        mask_valid='depth finite, > 0, < 65.535 m; colour finite' +
        ('; labelled' if mask_label else ''),
        semseg='NYU40 id 1..40, 0 = unlabelled',
        counts=counts,
        skipped_missing=skipped)
    with open(osp.join(out, 'hypersim_meta.json'), 'w') as f:
        json.dump(meta, f, indent=2)
    if skipped:
        print(f'skipped {len(skipped)} frames with missing files (first: '
              f'{skipped[0]}); listed in hypersim_meta.json', file=sys.stderr)
    if progress:
        print(f'wrote {counts} frames to {out}')
    return counts
