# Copyright (c) mmmae contributors. All rights reserved.
import os
import os.path as osp

# PyAV before decord: once decord's bundled FFmpeg libraries are loaded,
# PyAV cannot open its libvpx-vp9 *encoder* (EINVAL), which the container
# tests use to write WebM files; decoding is unaffected either way.
import av  # noqa: F401
import numpy as np
import pytest

import mmmae  # noqa: F401  (compat patches before any mmaction/mmseg import)

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def fixtures_dir() -> str:
    """Official-code parity fixtures (``tests/data/fixtures``, see its
    README), or the folder ``$MMMAE_FIXTURES`` names."""
    return os.environ.get('MMMAE_FIXTURES',
                          osp.join(REPO_ROOT, 'tests', 'data', 'fixtures'))


def run_tool(script: str, *argv) -> int:
    """Run ``python <script> <argv...>`` in this process and return its exit
    status.

    This is the command line exactly as a user types it (``__main__``,
    ``sys.argv``), without the ~4 s of imports a new interpreter pays. Tests
    reach the logic behind a tool through the package (``mmmae.apis`` and
    friends); this helper is for checking the command line itself.

    Args:
        script: Path of the tool relative to the repository root, e.g.
            ``'tools/test.py'``.
        *argv: The arguments; non-strings are converted with ``str``.
    """
    import runpy
    import sys
    path = osp.join(REPO_ROOT, script)
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [path, *map(str, argv)]
    try:
        runpy.run_path(path, run_name='__main__')
    except SystemExit as exc:
        if exc.code is None:
            return 0
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path
    return 0


def load_fixture(name: str) -> dict:
    """Load one fixture file; fail (not skip) when it is missing."""
    import torch
    path = osp.join(fixtures_dir(), name)
    if not osp.isfile(path):
        pytest.fail(f'parity fixture {path} is missing: it ships with the '
                    'repository in tests/data/fixtures (a partial checkout? '
                    'or MMMAE_FIXTURES points elsewhere)')
    return torch.load(path, weights_only=True)


def write_mp4(path: str, frames: np.ndarray, fps: int = 10) -> str:
    """Write ``frames`` ``(T, H, W, 3)`` uint8 RGB to an mp4 (mp4v) file."""
    import cv2
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    t, h, w, _ = frames.shape
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps,
                             (w, h))
    assert writer.isOpened(), f'cv2 cannot write {path}'
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()
    return path


def random_video(num_frames=20, size=(48, 64), seed=0) -> np.ndarray:
    """A smooth random clip ``(T, H, W, 3)`` uint8 that survives mp4 coding."""
    rng = np.random.default_rng(seed)
    h, w = size
    base = rng.integers(0, 255, (h // 8 + 1, w // 8 + 1, 3)).astype(np.uint8)
    import cv2
    frames = []
    for t in range(num_frames):
        img = cv2.resize(np.roll(base, t, axis=1), (w, h),
                         interpolation=cv2.INTER_LINEAR)
        frames.append(img)
    return np.stack(frames)


@pytest.fixture(scope='session')
def video_dir(tmp_path_factory):
    """Four real mp4 files (decodable by decord) and an annotation list."""
    root = tmp_path_factory.mktemp('videos')
    lines = []
    for i in range(4):
        name = f'clip_{i}.mp4'
        write_mp4(str(root / name), random_video(24, (48, 64), seed=i))
        lines.append(f'{name} {i % 2}')
    (root / 'ann.txt').write_text('\n'.join(lines) + '\n')
    return root


@pytest.fixture(autouse=True)
def _restore_default_scope():
    """Undo ``init_default_scope`` calls of a test, so a scope set by one
    test (``mmseg``, ``mmaction``, ...) never decides how the next one
    resolves unprefixed type names."""
    from mmengine.registry import DefaultScope
    before = dict(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(before)


@pytest.fixture
def no_crash_dump():
    """Keep pytest's faulthandler out of helper processes: they inherit
    it, and it would print the stack of every decoder crash these tests
    cause on purpose."""
    import faulthandler
    import sys
    enabled = faulthandler.is_enabled()
    faulthandler.disable()
    yield
    if enabled:
        faulthandler.enable(file=sys.__stderr__)
