# Copyright (c) mmmae contributors. All rights reserved.
"""Moving handwritten digits: a tiny, real, motion-labelled video dataset.

The digits are the real 8x8 handwritten samples bundled with scikit-learn
(``sklearn.datasets.load_digits``, 1797 images; no download), upscaled with
bilinear interpolation and animated on a dark canvas with a faint static
noise texture. The class of a clip is its *motion*:

====  ===========  ==========================================
 id    name         motion of every digit in the clip
====  ===========  ==========================================
 0     left         translates left (wrapping around the edge)
 1     right        translates right
 2     up           translates up
 3     down         translates down
 4     rotate_cw    rotates clockwise about its centre
 5     zoom_in      grows (scale x1.8 to x2.3 over the clip)
====  ===========  ==========================================

Appearance carries no label information: digit identity, tint, noise,
position (uniform, wrapping at the borders), orientation (uniform over
360 degrees) and static scale are drawn independently of the class, and the
zoom clips' scale range overlaps the static range. So a single frame says
(almost) nothing; the class is only visible through motion.

Train, validation and test clips use disjoint sets of digit images (settings
are chosen on val, results reported on test). Everything is
drawn from ``np.random.default_rng([seed, split, index])``, so the output is
deterministic and independent of generation order.
"""
import argparse
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.logging import print_log

from .stamp import clear_stamp, stamp_matches, write_stamp

__all__ = [
    'DEMO_CLASSES', 'make_demo_dataset', 'render_demo_clip',
    'write_labelled_subset'
]

DEMO_CLASSES = ('left', 'right', 'up', 'down', 'rotate_cw', 'zoom_in')

# Bump when the rendering changes, so stale demo sets are regenerated.
_VERSION = 2
_STAMP = '.mmmae_demo_stamp.json'
# Unit direction (x right, y down) of the translation classes.
_DIRECTIONS = {0: (-1.0, 0.0), 1: (1.0, 0.0), 2: (0.0, -1.0), 3: (0.0, 1.0)}
# Fractions of the (sklearn) digit images reserved for train / val clips;
# the rest make the test clips.
_POOLS = (0.6, 0.2)


def _load_digit_pools(seed: int) -> Dict[str, np.ndarray]:
    """Split the sklearn digits into disjoint train/val/test pools.

    Returns:
        dict[str, np.ndarray]: ``train``, ``val`` and ``test`` images, each
        ``(n, 8, 8)`` float32 in ``[0, 1]``.
    """
    from sklearn.datasets import load_digits
    images = load_digits().images.astype(np.float32) / 16.0
    order = np.random.default_rng(seed).permutation(len(images))
    a = int(_POOLS[0] * len(images))
    b = a + int(_POOLS[1] * len(images))
    return dict(train=images[order[:a]],
                val=images[order[a:b]],
                test=images[order[b:]])


def _affine(angle_deg: float, scale: float, src_center: Sequence[float],
            dst_center: Sequence[float]) -> np.ndarray:
    """2x3 matrix mapping ``src_center`` to ``dst_center`` after rotating by
    ``angle_deg`` (clockwise on screen, since y points down) and scaling."""
    a = np.deg2rad(angle_deg)
    lin = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    shift = np.asarray(dst_center) - lin @ np.asarray(src_center)
    return np.hstack([lin, shift[:, None]]).astype(np.float32)


def render_demo_clip(digits: Sequence[np.ndarray],
                     label: int,
                     rng: np.random.Generator,
                     num_frames: int = 32,
                     size: int = 64) -> np.ndarray:
    """Render one clip whose digits all follow the motion of ``label``.

    Args:
        digits (Sequence[np.ndarray]): 1 or more ``(8, 8)`` images in
            ``[0, 1]``.
        label (int): index into :data:`DEMO_CLASSES`.
        rng (np.random.Generator): source of every random choice.
        num_frames (int): clip length T.
        size (int): canvas side S.

    Returns:
        np.ndarray: ``(T, S, S, 3)`` uint8 RGB frames.
    """
    import cv2
    s = size
    steps = np.arange(num_frames) / max(num_frames - 1, 1)  # 0 .. 1

    # Static background: faint, low-frequency noise, identical in all frames.
    coarse = rng.normal(0.0, 1.0, (max(s // 8, 2), max(s // 8, 2), 3))
    noise = cv2.resize(coarse.astype(np.float32), (s, s),
                       interpolation=cv2.INTER_LINEAR)
    background = np.clip(14.0 + 6.0 * noise, 0, 255).astype(np.float32)
    tint = rng.uniform(0.55, 1.0, 3)
    tint = (235.0 * tint / tint.max()).astype(np.float32)

    centre = ((s - 1) / 2.0, (s - 1) / 2.0)
    fg = np.zeros((num_frames, s, s), dtype=np.float32)
    for digit in digits:
        side = max(4, int(round(s * rng.uniform(20, 24) / 64.0)))
        sprite = cv2.resize(digit, (side, side),
                            interpolation=cv2.INTER_LINEAR)
        layer = np.zeros((s, s), dtype=np.float32)
        top = (s - side) // 2
        layer[top:top + side, top:top + side] = sprite
        pos = rng.uniform(0, s, 2)  # anywhere: the canvas wraps around
        angle0 = rng.uniform(0.0, 360.0)

        angle = np.full(num_frames, angle0)
        scale = np.full(num_frames, rng.uniform(0.75, 1.3))
        shift = np.zeros((num_frames, 2))
        if label in _DIRECTIONS:
            heading = np.arctan2(*_DIRECTIONS[label][::-1]) + np.deg2rad(
                rng.uniform(-10, 10))
            travel = rng.uniform(0.45, 0.75) * s
            shift = np.outer(
                steps * travel,
                [np.cos(heading), np.sin(heading)])
        elif label == 4:  # rotate clockwise
            angle = angle0 + steps * rng.uniform(180.0, 330.0)
        elif label == 5:  # zoom in (expand)
            start = rng.uniform(0.55, 0.8)
            scale = start * rng.uniform(1.8, 2.3)**steps
        else:
            raise ValueError(f'label must be in [0, {len(DEMO_CLASSES)}), '
                             f'got {label}')

        for t in range(num_frames):
            # Rotate/scale about the sprite centre without wrapping, then
            # translate with wrap-around (a clean torus, no partial copies).
            shaped = cv2.warpAffine(layer,
                                    _affine(angle[t], scale[t], centre,
                                            centre), (s, s),
                                    flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT)
            offset = pos + shift[t] - np.asarray(centre)
            move = np.float32([[1, 0, offset[0]], [0, 1, offset[1]]])
            moved = cv2.warpAffine(shaped,
                                   move, (s, s),
                                   flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_WRAP)
            np.maximum(fg[t], moved, out=fg[t])

    frames = background[None] + fg[..., None] * tint
    return np.clip(frames, 0, 255).round().astype(np.uint8)


def _write_mp4(path: str, frames: np.ndarray, fps: int = 12) -> None:
    """Write ``(T, H, W, 3)`` RGB uint8 frames as mp4 (``mp4v``)."""
    import cv2
    t, h, w, _ = frames.shape
    tmp = path + '.part.mp4'
    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*'mp4v'), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV cannot write mp4v video {tmp}')
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))  # RGB -> BGR
    writer.release()
    os.replace(tmp, path)  # no half-written clip under the final name


def _paths(root: str) -> Dict[str, str]:
    return dict(root=root,
                train_ann=osp.join(root, 'train.txt'),
                val_ann=osp.join(root, 'val.txt'),
                test_ann=osp.join(root, 'test.txt'),
                classes_file=osp.join(root, 'classes.txt'))


def _is_complete(root: str,
                 params: dict,
                 stamp_name: str = _STAMP,
                 splits: Sequence[str] = ('train', 'val', 'test')) -> bool:
    """Whether ``root`` holds a finished set made with ``params``: the stamp
    matches and every video the split annotation files list exists."""
    if not stamp_matches(osp.join(root, stamp_name), params):
        return False
    for split in splits:
        ann = osp.join(root, f'{split}.txt')
        if not osp.isfile(ann):
            return False
        with open(ann) as f:
            for line in f:
                if line.strip() and not osp.isfile(
                        osp.join(root,
                                 line.split()[0])):
                    return False
    return True


def make_demo_dataset(root: str,
                      num_train: int = 600,
                      num_val: int = 120,
                      num_test: int = 120,
                      num_frames: int = 32,
                      size: int = 64,
                      seed: int = 0,
                      force: bool = False) -> Dict[str, str]:
    """Generate (or reuse) the moving-digits dataset under ``root``.

    Layout::

        root/{train,val,test}/000000.mp4 ...
        root/{train,val,test}.txt  ("train/000000.mp4 <label>" lines)
        root/classes.txt           (one class name per line, by id)

    Labels are balanced (``i % 6`` shuffled). A stamp file records the
    parameters: a second call with the same parameters returns at once,
    unless ``force=True``. The defaults take a few seconds on 2 CPU cores.

    Args:
        root (str): output folder (created).
        num_train (int): number of training clips. Defaults to 600.
        num_val (int): number of validation clips. Defaults to 120.
        num_test (int): number of test clips. Defaults to 120.
        num_frames (int): frames per clip. Defaults to 32.
        size (int): frame side in pixels. Defaults to 64.
        seed (int): random seed. Defaults to 0.
        force (bool): regenerate even when the stamp matches.

    Returns:
        dict[str, str]: ``root``, ``train_ann``, ``val_ann``, ``test_ann``
        and ``classes_file`` paths. Annotation paths are relative to ``root``
        (use ``data_prefix=dict(video=root)``).
    """
    root = osp.abspath(root)
    params = dict(version=_VERSION,
                  num_train=int(num_train),
                  num_val=int(num_val),
                  num_test=int(num_test),
                  num_frames=int(num_frames),
                  size=int(size),
                  seed=int(seed))
    paths = _paths(root)
    if not force and _is_complete(root, params):
        print_log(f'demo dataset: reusing {root}', logger='current')
        return paths
    if num_frames < 2 or size < 16:
        raise ValueError('need num_frames >= 2 and size >= 16, got '
                         f'{num_frames} and {size}')

    stamp = osp.join(root, _STAMP)
    clear_stamp(stamp)
    pools = _load_digit_pools(seed)
    total = num_train + num_val + num_test
    done = 0
    tic = time.time()
    splits = (('train', num_train), ('val', num_val), ('test', num_test))
    for split_id, (split, num) in enumerate(splits):
        os.makedirs(osp.join(root, split), exist_ok=True)
        labels = np.arange(num) % len(DEMO_CLASSES)
        np.random.default_rng([seed, split_id, 1 << 20]).shuffle(labels)
        pool = pools[split]
        lines: List[str] = []
        for i, label in enumerate(labels.tolist()):
            rng = np.random.default_rng([seed, split_id, i])
            picks = rng.choice(len(pool), size=rng.integers(1, 3))
            frames = render_demo_clip([pool[j] for j in picks], label, rng,
                                      num_frames, size)
            rel = f'{split}/{i:06d}.mp4'
            _write_mp4(osp.join(root, rel), frames)
            lines.append(f'{rel} {label}')
            done += 1
            if done % 100 == 0 or done == total:
                print_log(
                    f'demo dataset: {done}/{total} clips '
                    f'({time.time() - tic:.1f}s)',
                    logger='current')
        with open(osp.join(root, f'{split}.txt'), 'w') as f:
            f.write('\n'.join(lines) + ('\n' if lines else ''))
    with open(paths['classes_file'], 'w') as f:
        f.write('\n'.join(DEMO_CLASSES) + '\n')
    write_stamp(stamp, params)
    print_log(
        f'demo dataset: wrote {num_train} train, {num_val} val and '
        f'{num_test} test clips to '
        f'{root} in {time.time() - tic:.1f}s',
        logger='current')
    return paths


def write_labelled_subset(data_root: str, per_class: int,
                          split: str = 'train') -> Dict[str, object]:
    """Keep the first ``per_class`` clips of every class of a list file.

    The few-label runs fine-tune on this subset while pretraining reads the
    whole split without labels. Lines are ``"<path> <label>"`` (the demo
    sets' format); order is kept, so the subset is deterministic.

    Args:
        data_root (str): Folder holding ``<split>.txt``.
        per_class (int): Clips kept per class; ``<= 0`` keeps the split.
        split (str): List to subsample. Defaults to ``'train'``.

    Returns:
        dict: ``split`` (name of the written list, ``<split>_<N>pc``, or
        ``split`` itself), ``ann_file`` (its path) and ``num_clips``.
    """
    with open(osp.join(data_root, f'{split}.txt')) as f:
        lines = [ln for ln in f.read().splitlines() if ln.strip()]
    if per_class > 0:
        taken: Dict[str, int] = {}
        keep = []
        for ln in lines:
            label = ln.split()[-1]
            if taken.get(label, 0) < per_class:
                taken[label] = taken.get(label, 0) + 1
                keep.append(ln)
        lines, split = keep, f'{split}_{per_class}pc'
        with open(osp.join(data_root, f'{split}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return dict(split=split, ann_file=osp.join(data_root, f'{split}.txt'),
                num_clips=len(lines))


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, str]:
    """Command-line entry: ``python -m mmmae.datasets.demo --root DIR``."""
    parser = argparse.ArgumentParser(
        description='Generate the moving-digits demo video dataset.')
    parser.add_argument('--root', default='data/demo', help='output folder')
    parser.add_argument('--num-train', type=int, default=600)
    parser.add_argument('--num-val', type=int, default=120)
    parser.add_argument('--num-test', type=int, default=120)
    parser.add_argument('--num-frames', type=int, default=32)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force',
                        action='store_true',
                        help='regenerate even if present')
    args = parser.parse_args(argv)
    paths = make_demo_dataset(args.root,
                              num_train=args.num_train,
                              num_val=args.num_val,
                              num_test=args.num_test,
                              num_frames=args.num_frames,
                              size=args.size,
                              seed=args.seed,
                              force=args.force)
    for key, value in paths.items():
        print(f'{key}: {value}')
    return paths
