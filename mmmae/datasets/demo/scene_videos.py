# Copyright (c) mmmae contributors. All rights reserved.
"""Ray-cast demo *videos*: RGB clips with exact per-frame depth and semseg.

Each clip is one scene of :mod:`.scenes` (floor, back wall, sky, spheres,
boxes, cylinders) filmed by a moving camera; every frame is re-rendered
from the moved camera, so depth (camera z-depth, metres) and the pixel
classes (:data:`~.scenes.SCENE_CLASSES`) are exact in every frame. The clip
label is the camera's *motion class*:

====  ==========  ==============================  ========================
 id    name        camera motion over the clip     image motion
====  ==========  ==============================  ========================
 0     pan_left    yaw decreases by 20-28 deg      content moves right
 1     pan_right   yaw increases by 20-28 deg      content moves left
 2     tilt_up     pitch decreases by 10-14 deg    content moves down
 3     tilt_down   pitch increases by 10-14 deg    content moves up
 4     dolly_in    moves 1.2-1.8 m forward         expands, depth shrinks
 5     dolly_out   moves 1.2-1.8 m backward        contracts, depth grows
====  ==========  ==============================  ========================

A single frame carries no label information: every clip draws an extent
``A`` and a static offset ``U(-A/2, A/2)`` for *each* of yaw, pitch and
forward position, whatever its class; the class only decides which one of
the three sweeps linearly over ``[-A/2, A/2]`` (and in which direction)
instead of staying at its offset. So a frame taken at a random time has
the same distribution in every class, and a clip played backwards is a
clip of the opposite class (pan_left <-> pan_right, ...).

Layout (the multi-modal video contract, ``docs/multimodal_video.md``)::

    root/classes.json               {"classes", "palette", "motion_classes"}
    root/{split}.txt                "<name> <label>" lines, e.g. "000012 3"
    root/{split}/rgb/<name>.mp4     RGB clip (mp4v), T frames
    root/{split}/depth/<name>.npz   "frames": (T, H, W) uint16,
                                    round(depth_m * 1000), 65535 = sky
    root/{split}/semseg/<name>.npz  "frames": (T, H, W) uint8 class ids
    root/{split}/{depth,semseg}/manifest.json

Splits are train, val and (only when ``num_test > 0``) test. Clip ``i`` of
split ``s`` is drawn from ``np.random.default_rng([seed, s, i])`` and its
label from a balanced permutation of every block of 6 clips, so the set is
deterministic and clip ``i`` is the same however many clips are made.

Command line: ``python -m mmmae.datasets.demo scene-videos --root
data/scene_videos``.
"""
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.logging import print_log

from .moving_digits import _write_mp4
from .scenes import (_SPLITS, _begin, _counts_and_size, _dataset_parser,
                     _depth_to_uint16, _is_complete, _print_paths,
                     _remove_stale, _split_paths, _write_manifests,
                     render_scene, sample_scene)
from .stamp import write_stamp

__all__ = [
    'MOTION_CLASSES', 'clip_label', 'sample_camera_path',
    'render_scene_video', 'make_scene_video_dataset'
]

MOTION_CLASSES = ('pan_left', 'pan_right', 'tilt_up', 'tilt_down',
                  'dolly_in', 'dolly_out')

# Bump when the rendering changes, so stale sets are regenerated.
_VERSION = 1
_STAMP = '.mmmae_scene_videos_stamp.json'
_SUFFIXES = dict(rgb='.mp4', depth='.npz', semseg='.npz')
# Drawn in this order for every clip (the draws must not depend on the
# class, or a clip and its reverse would see different scenes).
_PARAMS = ('yaw', 'pitch', 'forward')
# total change over a clip: degrees, degrees, metres
_EXTENT = dict(yaw=(20.0, 28.0), pitch=(10.0, 14.0), forward=(1.2, 1.8))
# the parameter each class sweeps and the sign of its change
_MOTION = (('yaw', -1), ('yaw', 1), ('pitch', -1), ('pitch', 1),
           ('forward', 1), ('forward', -1))
_FPS = 12


def clip_label(seed: int, split_id: int, index: int) -> int:
    """Motion class of clip ``index``: a fixed permutation of every block
    of ``len(MOTION_CLASSES)`` clips, so labels are balanced and clip
    ``index`` does not depend on how many clips are made.

    Args:
        seed (int): dataset seed.
        split_id (int): 0 train, 1 val, 2 test.
        index (int): clip index in the split.

    Returns:
        int: index into :data:`MOTION_CLASSES`.
    """
    num = len(MOTION_CLASSES)
    block = np.random.default_rng([seed, split_id, 1 << 20, index // num])
    return int(block.permutation(num)[index % num])


def sample_camera_path(rng: np.random.Generator, camera: dict, label: int,
                       num_frames: int) -> List[dict]:
    """Per-frame cameras of a clip of motion class ``label``.

    ``rng`` draws the same numbers for every ``label`` (see the module
    docstring), so with equal generator states the path of ``pan_left``
    is the reversed path of ``pan_right`` and so on.

    Args:
        rng (np.random.Generator): source of the extents and offsets.
        camera (dict): the scene's camera (``height``, ``pitch``, ``yaw``,
            ``hfov``), the centre of the motion.
        label (int): index into :data:`MOTION_CLASSES`.
        num_frames (int): clip length T (>= 2).

    Returns:
        list[dict]: T camera dicts for :func:`render_scene_video`, with
        ``x`` and ``z`` (ground position) added.
    """
    if not 0 <= label < len(MOTION_CLASSES):
        raise ValueError(f'label must be in [0, {len(MOTION_CLASSES)}), '
                         f'got {label}')
    if num_frames < 2:
        raise ValueError(f'num_frames must be >= 2, got {num_frames}')
    extent = {k: float(rng.uniform(*_EXTENT[k])) for k in _PARAMS}
    offset = {k: np.full(num_frames, extent[k] * rng.uniform(-0.5, 0.5))
              for k in _PARAMS}
    key, sign = _MOTION[label]
    # exactly antisymmetric in t (np.linspace is not always), so a reversed
    # clip renders bit-identical frames
    ramp = (np.arange(num_frames) - (num_frames - 1) / 2) / (num_frames - 1)
    offset[key] = sign * extent[key] * ramp
    # dolly along the scene's view direction, not the panned one, so a pan
    # never moves the camera
    yaw0 = np.deg2rad(camera['yaw'])
    return [
        dict(camera,
             yaw=float(camera['yaw'] + offset['yaw'][t]),
             pitch=float(camera['pitch'] + offset['pitch'][t]),
             x=float(np.sin(yaw0) * offset['forward'][t]),
             z=float(np.cos(yaw0) * offset['forward'][t]))
        for t in range(num_frames)
    ]


def render_scene_video(scene: dict,
                       cameras: Sequence[dict],
                       size: Sequence[int] = (64, 64),
                       noise_rng: Optional[np.random.Generator] = None
                       ) -> Dict[str, np.ndarray]:
    """Render ``scene`` once per camera of ``cameras``.

    Args:
        scene (dict): from :func:`~.scenes.sample_scene`.
        cameras (Sequence[dict]): T cameras, e.g. from
            :func:`sample_camera_path`.
        size (Sequence[int]): ``(H, W)``.
        noise_rng (np.random.Generator, optional): faint, independent
            sensor noise on every RGB frame when given.

    Returns:
        dict[str, np.ndarray]: ``rgb`` ``(T, H, W, 3)`` uint8, ``depth``
        ``(T, H, W)`` float32 metres (z-depth, ``SKY_DEPTH`` on sky),
        ``semseg`` ``(T, H, W)`` uint8 class ids and ``instance``
        ``(T, H, W)`` int32, as :func:`~.scenes.render_scene` per frame.
    """
    size = (int(size[0]), int(size[1]))
    frames = [
        render_scene(dict(scene, camera=cam), size, noise_rng)
        for cam in cameras
    ]
    return {key: np.stack([f[key] for f in frames]) for key in frames[0]}


def _write_npz(path: str, frames: np.ndarray) -> None:
    """Write ``frames`` under the key ``frames`` atomically (tmp + rename)."""
    tmp = path + '.part'
    with open(tmp, 'wb') as f:  # a file object: savez adds no suffix
        np.savez_compressed(f, frames=frames)
    os.replace(tmp, path)


def _render_clip(seed: int, split_id: int, index: int, num_frames: int,
                 size: Sequence[int]) -> Dict[str, np.ndarray]:
    """Clip ``index`` of a split, with its ``label`` (an int array)."""
    label = clip_label(seed, split_id, index)
    rng = np.random.default_rng([seed, split_id, index])
    scene = sample_scene(rng)
    cameras = sample_camera_path(rng, scene['camera'], label, num_frames)
    out = render_scene_video(scene, cameras, size, noise_rng=rng)
    out['label'] = np.array(label)
    return out


def make_scene_video_dataset(root: str,
                             num_train: int = 240,
                             num_val: int = 60,
                             num_test: int = 0,
                             num_frames: int = 16,
                             size: Sequence[int] = 64,
                             seed: int = 0,
                             force: bool = False) -> Dict[str, str]:
    """Generate (or reuse) the rendered scene-video dataset under ``root``.

    See the module docstring for the layout. A stamp file records the
    parameters: a second call with the same parameters returns at once,
    unless ``force=True``. Otherwise the splits are rewritten and clips
    beyond the requested counts, left by an earlier larger set, are
    deleted. The defaults (300 clips of 16 frames, 64x64, 18 MB) take
    about 30 s on 2 busy CPU cores (10 clips/s).

    Args:
        root (str): output folder (created).
        num_train (int): training clips. Defaults to 240.
        num_val (int): validation clips. Defaults to 60.
        num_test (int): test clips; 0 (default) writes no test split.
        num_frames (int): frames per clip T (>= 2). Defaults to 16.
        size (int | Sequence[int]): ``(H, W)``, an int for square; even,
            >= 16 (the mp4 encoder needs even sides). decord misreads a few
            widths (16, 24, 48, 72 seen; PyAV is fine). Defaults to 64.
        seed (int): random seed. Defaults to 0.
        force (bool): regenerate even when the stamp matches.

    Returns:
        dict[str, str]: ``root``, ``train``, ``val`` and ``test`` (split
        folders; ``test`` only with ``num_test > 0``), ``train_ann``,
        ``val_ann`` (and ``test_ann``) list files and ``classes_file``.
    """
    root = osp.abspath(root)
    counts, size = _counts_and_size(num_train, num_val, num_test, size)
    params = dict(version=_VERSION, num_train=counts['train'],
                  num_val=counts['val'], num_test=counts['test'],
                  num_frames=int(num_frames), size=list(size),
                  seed=int(seed))
    paths = _split_paths(root, counts)
    splits = [s for s in _SPLITS if s in paths]
    paths.update({f'{split}_ann': osp.join(root, f'{split}.txt')
                  for split in splits})
    if not force and _is_complete(root, params, _STAMP, _SUFFIXES) and \
            all(osp.isfile(paths[f'{s}_ann']) for s in splits):
        print_log(f'scene video dataset: reusing {root}', logger='current')
        return paths
    if num_frames < 2 or min(size) < 16 or size[0] % 2 or size[1] % 2:
        raise ValueError('need num_frames >= 2 and even sides >= 16, got '
                         f'{num_frames} and {size}')

    stamp, meta = _begin(root, _STAMP, motion_classes=list(MOTION_CLASSES))
    tic = time.time()
    from mmmae import __version__
    total, done = sum(counts.values()), 0
    for split_id, split in enumerate(_SPLITS):
        num = counts[split]
        _remove_stale(root, split, num, _SUFFIXES)
        if split not in splits:
            # a list of a larger earlier set would name deleted clips
            if osp.isfile(osp.join(root, f'{split}.txt')):
                os.remove(osp.join(root, f'{split}.txt'))
            continue
        for mod in _SUFFIXES:
            os.makedirs(osp.join(root, split, mod), exist_ok=True)
        lines = []
        for i in range(num):
            out = _render_clip(seed, split_id, i, num_frames, size)
            name = f'{i:06d}'
            _write_mp4(osp.join(root, split, 'rgb', name + '.mp4'),
                       out['rgb'], fps=_FPS)
            _write_npz(osp.join(root, split, 'depth', name + '.npz'),
                       _depth_to_uint16(out['depth']))
            _write_npz(osp.join(root, split, 'semseg', name + '.npz'),
                       out['semseg'])
            lines.append(f'{name} {int(out["label"])}')
            done += 1
            if done % 50 == 0 or done == total:
                print_log(
                    f'scene video dataset: {done}/{total} clips '
                    f'({time.time() - tic:.1f}s)',
                    logger='current')
        _write_manifests(
            osp.join(root, split), meta,
            source='mmmae.datasets.demo.scene_videos (exact, rendered)',
            version=_VERSION, seed=int(seed), size=list(size),
            count=int(num), frames_per_clip=int(num_frames), fps=_FPS,
            mmmae_version=__version__)
        tmp = paths[f'{split}_ann'] + '.part'
        with open(tmp, 'w') as f:
            f.write(''.join(line + '\n' for line in lines))
        os.replace(tmp, paths[f'{split}_ann'])
    write_stamp(stamp, params)
    elapsed = time.time() - tic
    print_log(
        f'scene video dataset: wrote {counts["train"]} train, '
        f'{counts["val"]} val and {counts["test"]} test clips of '
        f'{num_frames} frames {size[0]}x{size[1]} to {root} in '
        f'{elapsed:.1f}s ({total / max(elapsed, 1e-9):.1f} clips/s)',
        logger='current')
    return paths


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, str]:
    """``python -m mmmae.datasets.demo scene-videos --root DIR``."""
    parser = _dataset_parser(
        'Generate the rendered scene videos (rgb mp4, exact depth and '
        'semseg per frame, camera-motion labels).',
        root='data/scene_videos', num_train=240, num_val=60)
    parser.add_argument('--num-frames', type=int, default=16)
    args = parser.parse_args(argv)
    return _print_paths(
        make_scene_video_dataset(
            args.root, num_train=args.num_train, num_val=args.num_val,
            num_test=args.num_test, num_frames=args.num_frames,
            size=args.size, seed=args.seed, force=args.force))


if __name__ == '__main__':
    main()
