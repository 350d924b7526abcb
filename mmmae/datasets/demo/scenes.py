# Copyright (c) mmmae contributors. All rights reserved.
"""Ray-cast demo scenes: RGB with *exact* depth and semantic segmentation.

A small, deterministic, multi-modal dataset for MultiMAE demos and smoke
tests (no download, no pseudo-labeller needed). Each image is a pin-hole
camera (random height, pitch, yaw and field of view) looking at a ground
plane, a back wall of random height (sky above it) and 2-5 spheres, boxes
(rotated about the vertical axis) and vertical cylinders resting on the
floor. Everything is intersected analytically for all pixels at once
(vectorised numpy, no per-pixel Python loop) and shaded with Lambert + a
directional light, hard shadows cast by the objects, and checker / stripe /
noise textures, so the colour of a pixel does not trivially give its class.

Depth is the camera **z-depth** (distance along the optical axis, the
convention of depth sensors and DPT-style estimators) in metres; the sky has
no surface and gets :data:`SKY_DEPTH` (= the largest value the PNG holds).
Semantic classes (:data:`SCENE_CLASSES`, also in ``root/classes.json``):

====  =========  ===================
 id    name       surface
====  =========  ===================
 0     sky        background (no hit)
 1     floor      ground plane y = 0
 2     wall       back wall z = const
 3     sphere
 4     box
 5     cylinder
====  =========  ===================

Layout (the multi-modal contract, ``docs/multimae_contract.md``)::

    root/classes.json                 {"classes": [...], "palette": [...]}
    root/{train,val,test}/rgb/000000.png   8-bit RGB
    root/{train,val,test}/depth/000000.png 16-bit, round(depth_m * scale)
    root/{train,val,test}/semseg/000000.png 8-bit class ids
    root/{train,val,test}/{depth,semseg}/manifest.json  how they were made

The test split exists only when asked for (``num_test > 0``). Every image
is drawn from ``np.random.default_rng([seed, split, index])`` (split 0
train, 1 val, 2 test), so the output is deterministic, independent of
generation order, and image ``i`` of a split is the same however many are
made.

Command line: ``python -m mmmae.datasets.demo scenes --root data/scenes``
(``python -m mmmae.datasets.demo.scenes ...`` works too, with a harmless
runpy warning).
"""
import argparse
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log

from .stamp import clear_stamp, stamp_matches, write_json, write_stamp

__all__ = [
    'SCENE_CLASSES', 'SCENE_PALETTE', 'SCENE_DEPTH_SCALE', 'SKY_DEPTH',
    'sample_scene', 'render_scene', 'make_scene_dataset'
]

SCENE_CLASSES = ('sky', 'floor', 'wall', 'sphere', 'box', 'cylinder')
SCENE_PALETTE = ((70, 130, 180), (128, 64, 128), (102, 102, 156),
                 (220, 20, 60), (250, 170, 30), (0, 142, 0))
#: depth PNG value = round(depth in metres * SCENE_DEPTH_SCALE) (millimetres)
SCENE_DEPTH_SCALE = 1000.0
#: depth written for sky pixels (metres): the largest 16-bit value
SKY_DEPTH = 65535 / SCENE_DEPTH_SCALE

# Bump when the rendering changes, so stale scene sets are regenerated.
_VERSION = 1
_SPLITS = ('train', 'val', 'test')  # index = the split's RNG stream
_STAMP = '.mmmae_scenes_stamp.json'
_EPS = 1e-4
_OBJECT_TYPES = ('sphere', 'box', 'cylinder')
_CLASS_ID = {name: i for i, name in enumerate(SCENE_CLASSES)}
# file suffix of each modality on disk
_SUFFIXES = dict(rgb='.png', depth='.png', semseg='.png')


# --------------------------------------------------------------------------
# scene sampling
# --------------------------------------------------------------------------
def _colour(rng: np.random.Generator, lo: float = 0.25,
            hi: float = 0.95) -> List[float]:
    c = rng.uniform(lo, hi, 3)
    c[rng.integers(3)] *= rng.uniform(0.3, 0.8)  # avoid greys
    return c.tolist()


def sample_scene(rng: np.random.Generator,
                 num_objects: Optional[int] = None) -> dict:
    """Draw the parameters of one scene (plain, JSON-able dict).

    World frame: y up, floor ``y = 0``, wall ``z = wall_z``; the camera sits
    at ``(0, cam_height, 0)`` looking towards +z, pitched down and yawed.

    Args:
        rng (np.random.Generator): source of every random choice.
        num_objects (int, optional): number of objects (default 2-5).

    Returns:
        dict: ``camera``, ``wall``, ``floor``, ``sky``, ``light`` and
        ``objects`` (list of dicts with ``type`` in sphere/box/cylinder).
    """
    hfov = float(rng.uniform(55.0, 70.0))
    yaw = float(rng.uniform(-15.0, 15.0))
    camera = dict(height=float(rng.uniform(1.2, 2.0)),
                  pitch=float(rng.uniform(6.0, 18.0)),
                  yaw=yaw,
                  hfov=hfov)
    wall = dict(z=float(rng.uniform(8.0, 12.0)),
                height=float(rng.uniform(2.5, 5.0)),
                colour=_colour(rng, 0.4, 0.9),
                stripe=float(rng.uniform(0.3, 0.8)),
                phase=float(rng.uniform(0, 2 * np.pi)))
    floor = dict(colour_a=_colour(rng, 0.3, 0.9),
                 colour_b=_colour(rng, 0.1, 0.6),
                 tile=float(rng.uniform(0.5, 1.2)))
    sky = dict(top=[0.35, 0.55, 0.95], bottom=_colour(rng, 0.7, 1.0))
    to_light = np.array([rng.uniform(-1, 1), rng.uniform(1.2, 2.5),
                         rng.uniform(-1.5, -0.3)])
    light = dict(direction=(to_light / np.linalg.norm(to_light)).tolist(),
                 ambient=float(rng.uniform(0.2, 0.35)))

    if num_objects is None:
        num_objects = int(rng.integers(2, 6))
    half_tan = np.tan(np.deg2rad(hfov) / 2)
    c, s = np.cos(np.deg2rad(yaw)), np.sin(np.deg2rad(yaw))
    objects = []
    for _ in range(num_objects):
        kind = _OBJECT_TYPES[int(rng.integers(len(_OBJECT_TYPES)))]
        # position on the floor, in the (yawed) camera ground frame
        fwd = rng.uniform(2.5, wall['z'] - 2.0)
        side = rng.uniform(-0.8, 0.8) * fwd * half_tan
        x, z = c * side + s * fwd, -s * side + c * fwd
        z = min(z, wall['z'] - 1.5)
        obj = dict(type=kind, colour=_colour(rng),
                   stripe=float(rng.uniform(4.0, 12.0)),
                   texture=float(rng.uniform(0.0, 0.25)))
        if kind == 'sphere':
            r = float(rng.uniform(0.3, 0.9))
            obj.update(centre=[x, r, z], radius=r)
        elif kind == 'box':
            half = rng.uniform(0.25, 0.8, 3)
            obj.update(centre=[x, float(half[1]), z], half=half.tolist(),
                       angle=float(rng.uniform(0, np.pi / 2)))
        else:
            obj.update(centre=[x, 0.0, z], radius=float(rng.uniform(0.2, 0.6)),
                       height=float(rng.uniform(0.6, 2.2)))
        objects.append(obj)
    return dict(camera=camera, wall=wall, floor=floor, sky=sky, light=light,
                objects=objects)


# --------------------------------------------------------------------------
# ray casting (vectorised over rays: origins (P, 3) or (3,), dirs (P, 3))
# --------------------------------------------------------------------------
def _safe(v: np.ndarray) -> np.ndarray:
    return np.where(np.abs(v) < 1e-12, np.copysign(1e-12, v), v)


def _hit_sphere(o, d, obj) -> Tuple[np.ndarray, np.ndarray]:
    oc = o - np.asarray(obj['centre'])
    a = np.einsum('pi,pi->p', d, d)
    b = np.einsum('...i,...i->...', oc, d)
    cc = np.einsum('...i,...i->...', oc, oc) - obj['radius']**2
    disc = b * b - a * cc
    sq = np.sqrt(np.maximum(disc, 0))
    t = (-b - sq) / a
    t = np.where((disc > 0) & (t > _EPS), t, np.inf)
    p = o + t[:, None] * d
    n = (p - np.asarray(obj['centre'])) / obj['radius']
    return t, n


def _hit_box(o, d, obj) -> Tuple[np.ndarray, np.ndarray]:
    ang = obj['angle']
    rot = np.array([[np.cos(ang), 0, np.sin(ang)], [0, 1, 0],
                    [-np.sin(ang), 0, np.cos(ang)]])  # local -> world
    ol = (o - np.asarray(obj['centre'])) @ rot  # world -> local: x @ R
    dl = _safe(d @ rot)
    half = np.asarray(obj['half'])
    t1, t2 = (-half - ol) / dl, (half - ol) / dl
    tnear, tfar = np.minimum(t1, t2), np.maximum(t1, t2)
    axis = np.argmax(tnear, axis=1)
    tmin, tmax = tnear.max(1), tfar.min(1)
    t = np.where((tmax >= tmin) & (tmin > _EPS), tmin, np.inf)
    nl = np.zeros_like(dl)
    idx = np.arange(len(dl))
    nl[idx, axis] = -np.sign(dl[idx, axis])
    return t, nl @ rot.T


def _hit_cylinder(o, d, obj) -> Tuple[np.ndarray, np.ndarray]:
    cx, _, cz = obj['centre']
    r, h = obj['radius'], obj['height']
    o = np.broadcast_to(o, d.shape)
    ox, oy, oz = o[:, 0] - cx, o[:, 1], o[:, 2] - cz
    dx, dy, dz = d[:, 0], d[:, 1], d[:, 2]
    a = _safe(dx * dx + dz * dz)
    b = ox * dx + oz * dz
    cc = ox * ox + oz * oz - r * r
    disc = b * b - a * cc
    ts = (-b - np.sqrt(np.maximum(disc, 0))) / a
    ys = oy + ts * dy
    ts = np.where((disc > 0) & (ts > _EPS) & (ys >= 0) & (ys <= h), ts,
                  np.inf)
    tc = (h - oy) / _safe(dy)
    xc, zc = ox + tc * dx, oz + tc * dz
    tc = np.where((tc > _EPS) & (xc * xc + zc * zc <= r * r), tc, np.inf)
    side = ts <= tc
    t = np.minimum(ts, tc)
    n = np.zeros_like(d)
    n[:, 0] = np.where(side, (ox + t * dx) / r, 0)
    n[:, 2] = np.where(side, (oz + t * dz) / r, 0)
    n[:, 1] = np.where(side, 0, 1)
    return t, n


_HIT = dict(sphere=_hit_sphere, box=_hit_box, cylinder=_hit_cylinder)


def _camera_rays(camera: dict, size: Tuple[int, int]):
    """Origin and per-pixel directions scaled to unit *forward* component
    (so the ray parameter ``t`` of a hit is its z-depth).

    The optional ``x`` and ``z`` of ``camera`` (default 0) place it on the
    ground plane; a moving camera (``scene_videos``) needs them, sampled
    scenes leave them out.
    """
    h, w = size
    pitch, yaw = np.deg2rad(camera['pitch']), np.deg2rad(camera['yaw'])
    fwd = np.array([np.sin(yaw) * np.cos(pitch), -np.sin(pitch),
                    np.cos(yaw) * np.cos(pitch)])
    right = np.array([np.cos(yaw), 0.0, -np.sin(yaw)])
    up = np.cross(fwd, right)
    focal = 0.5 * w / np.tan(np.deg2rad(camera['hfov']) / 2)
    u = (np.arange(w) + 0.5 - w / 2) / focal
    v = (np.arange(h) + 0.5 - h / 2) / focal
    dirs = (fwd[None, None] + u[None, :, None] * right[None, None] -
            v[:, None, None] * up[None, None])
    origin = np.array([camera.get('x', 0.0), camera['height'],
                       camera.get('z', 0.0)])
    return origin, dirs.reshape(-1, 3)


def render_scene(scene: dict,
                 size: Tuple[int, int] = (64, 64),
                 noise_rng: Optional[np.random.Generator] = None
                 ) -> Dict[str, np.ndarray]:
    """Render a scene from :func:`sample_scene`.

    Args:
        scene (dict): scene parameters.
        size (tuple[int, int]): ``(H, W)``.
        noise_rng (np.random.Generator, optional): adds faint sensor noise
            to the RGB when given.

    Returns:
        dict[str, np.ndarray]: ``rgb`` ``(H, W, 3)`` uint8, ``depth``
        ``(H, W)`` float32 metres (z-depth; :data:`SKY_DEPTH` on sky),
        ``semseg`` ``(H, W)`` uint8 class ids and ``instance`` ``(H, W)``
        int32 (0 sky, 1 floor, 2 wall, 3 + k for object k).
    """
    with np.errstate(all='ignore'):  # inf/nan of missed rays are masked
        return _render(scene, size, noise_rng)


def _render(scene, size, noise_rng):
    h, w = size
    origin, dirs = _camera_rays(scene['camera'], size)
    num = len(dirs)
    # floor and wall
    t_floor = np.where(dirs[:, 1] < 0, -origin[1] / _safe(dirs[:, 1]),
                       np.inf)
    wall = scene['wall']
    t_wall = (wall['z'] - origin[2]) / _safe(dirs[:, 2])
    y_wall = origin[1] + t_wall * dirs[:, 1]
    t_wall = np.where((t_wall > _EPS) & (y_wall >= 0) &
                      (y_wall <= wall['height']), t_wall, np.inf)
    ts = [np.full(num, np.inf), t_floor, t_wall]
    normals = [np.zeros((num, 3)), np.tile([0.0, 1.0, 0.0], (num, 1)),
               np.tile([0.0, 0.0, -1.0], (num, 1))]
    for obj in scene['objects']:
        t, n = _HIT[obj['type']](origin, dirs, obj)
        ts.append(t)
        normals.append(n)
    ts = np.stack(ts)  # (K, P)
    inst = np.argmin(ts, axis=0)
    t = ts[inst, np.arange(num)]
    sky = ~np.isfinite(t)
    inst[sky] = 0
    cls_of_inst = np.array([0, 1, 2] + [
        _CLASS_ID[o['type']] for o in scene['objects']
    ], dtype=np.uint8)
    semseg = cls_of_inst[inst]
    normal = np.stack(normals)[inst, np.arange(num)]
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
    depth = np.where(sky, SKY_DEPTH, t)
    point = origin + np.where(sky, 0, t)[:, None] * dirs

    # albedo: textures per surface
    albedo = np.zeros((num, 3))
    fl = scene['floor']
    checker = (np.floor(point[:, 0] / fl['tile']) +
               np.floor(point[:, 2] / fl['tile'])) % 2
    albedo_floor = np.where(checker[:, None] > 0, fl['colour_b'],
                            fl['colour_a'])
    stripes = 0.85 + 0.15 * np.sin(point[:, 0] / wall['stripe'] * 2 * np.pi +
                                   wall['phase'])
    bricks = 0.9 + 0.1 * np.sign(np.sin(point[:, 1] * 2 * np.pi / 0.4))
    albedo_wall = np.asarray(wall['colour']) * (stripes * bricks)[:, None]
    albedo = np.where((inst == 1)[:, None], albedo_floor, albedo)
    albedo = np.where((inst == 2)[:, None], albedo_wall, albedo)
    for k, obj in enumerate(scene['objects']):
        sel = inst == 3 + k
        if not sel.any():
            continue
        local = point[sel] - np.asarray(obj['centre'])
        freq = obj['stripe']
        wave = np.sin(freq * local[:, 1]) * np.cos(freq * local[:, 0] +
                                                   freq * local[:, 2])
        pattern = 1 - obj['texture'] * (wave > 0)
        albedo[sel] = np.asarray(obj['colour']) * pattern[:, None]

    # Lambert + hard shadows cast by the objects
    light = np.asarray(scene['light']['direction'])
    lambert = np.clip(normal @ light, 0, 1)
    lit = ~sky & (lambert > 0)
    shadow = np.zeros(num, dtype=bool)
    if lit.any():
        p0 = point[lit] + 1e-3 * normal[lit]
        ldir = np.broadcast_to(light, p0.shape)
        blocked = np.zeros(len(p0), dtype=bool)
        for obj in scene['objects']:
            blocked |= np.isfinite(_HIT[obj['type']](p0, ldir, obj)[0])
        shadow[lit] = blocked
    ambient = scene['light']['ambient']
    shade = ambient + (1 - ambient) * lambert * ~shadow
    colour = albedo * shade[:, None]
    # sky gradient by ray elevation
    elev = dirs[:, 1] / np.linalg.norm(dirs, axis=1)
    mix = np.clip(elev * 3, 0, 1)[:, None]
    sky_col = (1 - mix) * np.asarray(scene['sky']['bottom']) + \
        mix * np.asarray(scene['sky']['top'])
    colour = np.where(sky[:, None], sky_col, colour)
    rgb = colour.reshape(h, w, 3) * 255.0
    if noise_rng is not None:
        rgb = rgb + noise_rng.normal(0, 2.0, rgb.shape)
    return dict(rgb=np.clip(rgb, 0, 255).round().astype(np.uint8),
                depth=depth.reshape(h, w).astype(np.float32),
                semseg=semseg.reshape(h, w),
                instance=inst.reshape(h, w).astype(np.int32))


# --------------------------------------------------------------------------
# dataset on disk
# --------------------------------------------------------------------------
def _write_png(path: str, img: np.ndarray) -> None:
    """Write a PNG atomically (tmp + rename)."""
    import cv2
    tmp = path + '.part.png'
    if img.ndim == 3:
        img = np.ascontiguousarray(img[..., ::-1])  # RGB -> BGR
    if not cv2.imwrite(tmp, img):
        raise OSError(f'OpenCV cannot write {tmp}')
    os.replace(tmp, path)


def _is_complete(root: str,
                 params: dict,
                 stamp: str = _STAMP,
                 suffixes: Dict[str, str] = _SUFFIXES) -> bool:
    """Whether the stamp records ``params`` and every file
    ``{split}/{modality}/{i:06d}{suffix}`` of the counts in ``params``
    exists (``suffixes`` maps modality -> file suffix; the scene videos
    pass theirs)."""
    # a stamp of an older layout (no num_test) never matches
    if not stamp_matches(osp.join(root, stamp), params):
        return False
    for split in _SPLITS:
        for mod, suffix in suffixes.items():
            for i in range(params[f'num_{split}']):
                if not osp.isfile(
                        osp.join(root, split, mod, f'{i:06d}{suffix}')):
                    return False
    return True


def _remove_stale(root: str, split: str, num: int,
                  suffixes: Dict[str, str] = _SUFFIXES) -> None:
    """Delete files ``>= num`` left by a larger earlier set (the datasets
    list every file of a folder, so they would silently join the split)."""
    for mod, suffix in suffixes.items():
        folder = osp.join(root, split, mod)
        if not osp.isdir(folder):
            continue
        for name in os.listdir(folder):
            stem, ext = osp.splitext(name)
            if ext == suffix and len(stem) == 6 and stem.isdigit() and \
                    int(stem) >= num:
                os.remove(osp.join(folder, name))


def _counts_and_size(num_train: int, num_val: int, num_test: int,
                     size) -> Tuple[Dict[str, int], Tuple[int, int]]:
    """Split counts (checked ``>= 0``) and ``(H, W)`` from an int, ``[S]``
    or a pair; shared with the scene videos."""
    size = (size, ) if isinstance(size, int) else tuple(size)
    if len(size) == 1:
        size = size * 2
    counts = dict(train=int(num_train), val=int(num_val),
                  test=int(num_test))
    if min(counts.values()) < 0:
        raise ValueError(f'counts must be >= 0, got {counts}')
    return counts, (int(size[0]), int(size[1]))


def _split_paths(root: str, counts: Dict[str, int]) -> Dict[str, str]:
    """``root``, the split folders (``test`` only when it has items) and
    ``classes_file``."""
    paths = dict(root=root)
    paths.update({split: osp.join(root, split) for split in _SPLITS
                  if split != 'test' or counts['test'] > 0})
    paths['classes_file'] = osp.join(root, 'classes.json')
    return paths


def _write_manifests(split_dir: str, meta: dict, **common) -> None:
    """The ``depth`` and ``semseg`` manifests of a split: the file format
    plus ``common`` (source, seed, counts, ...)."""
    write_json(
        osp.join(split_dir, 'depth', 'manifest.json'),
        dict(task='depth', dtype='uint16', scale=SCENE_DEPTH_SCALE,
             unit='m', depth_type='z-depth', sky_value=65535, **common))
    write_json(
        osp.join(split_dir, 'semseg', 'manifest.json'),
        dict(task='semseg', dtype='uint8', **meta, **common))


def _begin(root: str, stamp_name: str, **extra_meta) -> Tuple[str, dict]:
    """Create ``root``, remove its stamp and write ``classes.json`` (the
    pixel classes plus ``extra_meta``).

    Returns:
        tuple[str, dict]: the stamp path and the pixel-class meta
        (``classes``, ``palette``) for the semseg manifests.
    """
    os.makedirs(root, exist_ok=True)
    stamp = osp.join(root, stamp_name)
    clear_stamp(stamp)
    meta = dict(classes=list(SCENE_CLASSES),
                palette=[list(p) for p in SCENE_PALETTE])
    write_json(osp.join(root, 'classes.json'), dict(meta, **extra_meta))
    return stamp, meta


def _depth_to_uint16(depth: np.ndarray) -> np.ndarray:
    """Metres (any shape) to the stored ``round(depth * scale)``; sky
    (:data:`SKY_DEPTH`) becomes 65535."""
    depth = np.round(depth * SCENE_DEPTH_SCALE)
    return np.clip(depth, 0, 65535).astype(np.uint16)


def _dataset_parser(description: str, root: str, num_train: int,
                    num_val: int) -> argparse.ArgumentParser:
    """Command-line options shared by the scene generators."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--root', default=root, help='output folder')
    parser.add_argument('--num-train', type=int, default=num_train)
    parser.add_argument('--num-val', type=int, default=num_val)
    parser.add_argument('--num-test', type=int, default=0)
    parser.add_argument('--size', type=int, nargs='+', default=[64, 64],
                        help='H [W] (default 64 64)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true',
                        help='regenerate even if present')
    return parser


def _print_paths(paths: Dict[str, str]) -> Dict[str, str]:
    for key, value in paths.items():
        print(f'{key}: {value}')
    return paths


def make_scene_dataset(root: str,
                       num_train: int = 200,
                       num_val: int = 50,
                       size: Sequence[int] = (64, 64),
                       seed: int = 0,
                       force: bool = False,
                       num_test: int = 0) -> Dict[str, str]:
    """Generate (or reuse) the ray-cast scene dataset under ``root``.

    See the module docstring for the layout. A stamp file records the
    parameters: a second call with the same parameters returns at once,
    unless ``force=True``. Otherwise the splits are (re)written and images
    beyond the requested counts, left by an earlier larger set, are
    deleted (a split of 0 images is left empty). 250 images of 64x64 take
    about a second.

    Args:
        root (str): output folder (created).
        num_train (int): training images. Defaults to 200.
        num_val (int): validation images. Defaults to 50.
        size (Sequence[int]): ``(H, W)`` (an int for square). Defaults to
            ``(64, 64)``.
        seed (int): random seed. Defaults to 0.
        force (bool): regenerate even when the stamp matches.
        num_test (int): test images (a held-out split to report on once
            settings were chosen on val). Defaults to 0: no test split.

    Returns:
        dict[str, str]: ``root``, ``train``, ``val``, ``test`` (split
        folders; ``test`` only with ``num_test > 0``) and ``classes_file``.
    """
    root = osp.abspath(root)
    counts, size = _counts_and_size(num_train, num_val, num_test, size)
    params = dict(version=_VERSION, num_train=counts['train'],
                  num_val=counts['val'], num_test=counts['test'],
                  size=list(size), seed=int(seed))
    paths = _split_paths(root, counts)
    if not force and _is_complete(root, params):
        print_log(f'scene dataset: reusing {root}', logger='current')
        return paths
    if min(size) < 8:
        raise ValueError(f'size must be >= 8 pixels, got {size}')

    stamp, meta = _begin(root, _STAMP)
    tic = time.time()
    from mmmae import __version__
    for split_id, split in enumerate(_SPLITS):
        num = counts[split]
        _remove_stale(root, split, num)
        if num == 0 and split == 'test':
            continue
        for mod in ('rgb', 'depth', 'semseg'):
            os.makedirs(osp.join(root, split, mod), exist_ok=True)
        for i in range(num):
            rng = np.random.default_rng([seed, split_id, i])
            out = render_scene(sample_scene(rng), size, noise_rng=rng)
            name = f'{i:06d}.png'
            _write_png(osp.join(root, split, 'rgb', name), out['rgb'])
            _write_png(osp.join(root, split, 'depth', name),
                       _depth_to_uint16(out['depth']))
            _write_png(osp.join(root, split, 'semseg', name), out['semseg'])
        _write_manifests(
            osp.join(root, split), meta,
            source='mmmae.datasets.demo.scenes (exact, rendered)',
            version=_VERSION, seed=int(seed), size=list(size),
            count=int(num), mmmae_version=__version__)
    write_stamp(stamp, params)
    print_log(
        f'scene dataset: wrote {num_train} train, {num_val} val and '
        f'{num_test} test images {size[0]}x{size[1]} to {root} in '
        f'{time.time() - tic:.1f}s',
        logger='current')
    return paths


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, str]:
    """``python -m mmmae.datasets.demo.scenes --root DIR``."""
    parser = _dataset_parser(
        'Generate the ray-cast demo scenes (rgb, exact depth and semseg).',
        root='data/scenes', num_train=200, num_val=50)
    args = parser.parse_args(argv)
    return _print_paths(
        make_scene_dataset(args.root, num_train=args.num_train,
                           num_val=args.num_val, size=args.size,
                           seed=args.seed, force=args.force,
                           num_test=args.num_test))


if __name__ == '__main__':
    main()
