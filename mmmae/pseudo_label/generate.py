# Copyright (c) mmmae contributors. All rights reserved.
"""Label an image or video folder offline: pseudo depth or semseg.

The logic of ``tools/generate_pseudo_labels.py``;
:func:`generate_pseudo_labels` is the same run from Python.

Reads every image under ``ROOT/SPLIT/rgb/`` (recursively) and writes one
single-channel PNG per image to ``ROOT/SPLIT/<modality>/<same relative
path>.png`` plus ``ROOT/SPLIT/<modality>/manifest.json``: the folder layout
of ``docs/multimae_contract.md``.

Recipe (MultiMAE issue #7)
    each image's H and W are resized (bilinear) to the nearest multiple of
    32 (``size_divisor``; optionally limited by ``max_side`` /
    ``min_side`` first), the model predicts, and the prediction is resized
    back to the **original** size (nearest for class ids, bilinear for
    depth): :class:`~mmmae.pseudo_label.MMSegSemSegLabeler`,
    :class:`~mmmae.pseudo_label.MMSegDepthLabeler`. Images of the same
    size are batched (``batch_size``).

Formats
    semseg: class ids, uint8 PNG, or uint16 when the model has more than
    255 classes. depth: uint16 PNG of ``round(depth * scale)``; ``scale``
    is ``depth_scale`` or chosen from the first batch so that 1.25x its
    maximum depth fits (two significant digits,
    :func:`~mmmae.pseudo_label.auto_depth_scale`), and recorded in the
    manifest (a resumed run reuses it).

Resuming
    outputs that already exist and decode as PNGs of the right size are
    skipped; files are written to a temporary name and renamed, so an
    interrupted run leaves no half-written labels. A manifest made with a
    different labeller / checkpoint / task refuses to mix
    (:class:`PseudoLabelSetupError`) unless ``overwrite``, which relabels
    everything.

Manifest
    labeller type, task, model class, config path, checkpoint path and
    sha256 (first 16 hex digits), depth scale, class names (the model's
    ``dataset_meta``), counts, times, mmmae version, and one entry per run.

Videos
    when ``ROOT/SPLIT/rgb/`` holds no image but videos (``.mp4``, ...),
    every frame is labelled and each video gets one
    ``<modality>/<name>.npz`` whose ``frames`` array ``(T, H, W)`` holds
    the label of frame ``i`` at index ``i`` (the layout of
    ``docs/multimodal_video.md``): semseg uint8 class ids, depth uint16
    ``round(depth_m * scale)`` with ``scale`` 1000 unless given (65535 =
    no depth, also where a prediction is 65.535 m or more, counted in
    ``clipped_pixels``). Frames are decoded as the training pipeline
    decodes them (:class:`~mmmae.datasets.transforms.VideoInit`,
    ``video_backend``) in chunks, labelled in batches of ``batch_size``
    frames, and a clip whose written frame count differs from the
    decoder's is a failure. Resuming skips an ``.npz`` that is complete
    (zip CRCs) and has the video's ``(T, H, W)``. The manifest adds
    ``format``, ``key``, ``unit``, ``depth_type``, ``source`` and
    ``frames_per_clip`` (None when clips differ; then
    ``frames_per_clip_range``).
"""
import contextlib
import hashlib
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmmae.datasets.multimodal_dataset import IMG_EXTENSIONS
from mmmae.datasets.transforms.multimodal_video import (DEFAULT_DEPTH_SCALE,
                                                        NpzFrames)
from .labelers import auto_depth_scale, build_labeler, encode_depth

__all__ = [
    'generate_pseudo_labels', 'PseudoLabelSetupError', 'PSEUDO_LABEL_TASKS',
    'is_valid_label', 'is_valid_frames', 'file_sha256', 'VIDEO_EXTENSIONS'
]

MANIFEST = 'manifest.json'
#: The labeller type that makes each task's labels.
PSEUDO_LABEL_TASKS = {
    'semseg': 'MMSegSemSegLabeler',
    'depth': 'MMSegDepthLabeler'
}


#: Files of a video data root's ``rgb/`` folder.
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.mov', '.webm')
#: Frames decoded at a time when labelling a video (bounds the memory).
_VIDEO_CHUNK = 64


class PseudoLabelSetupError(RuntimeError):
    """Bad arguments, config or existing manifest: nothing was labelled
    (the tool's exit status 2)."""


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------
def collect_images(folder: str,
                   extensions: Sequence[str] = IMG_EXTENSIONS) -> List[str]:
    """Sorted relative paths of the images (or other files with
    ``extensions``) under ``folder`` (recursive)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in filenames:
            if (name.lower().endswith(tuple(extensions))
                    and '.tmp.' not in name):
                found.append(
                    osp.relpath(osp.join(dirpath, name), folder).replace(
                        os.sep, '/'))
    return sorted(found)


def _image_size(path: str) -> Optional[Tuple[int, int]]:
    """``(H, W)`` from the header, None when unreadable."""
    from PIL import Image
    try:
        with Image.open(path) as img:
            return img.size[1], img.size[0]
    except Exception:  # noqa: BLE001  (any decode failure)
        return None


def is_valid_label(path: str,
                   size: Optional[Tuple[int, int]] = None) -> bool:
    """Whether ``path`` is a complete single-channel PNG (of ``size``
    ``(H, W)``)."""
    from PIL import Image
    if not osp.isfile(path):
        return False
    try:
        with Image.open(path) as img:
            if img.format != 'PNG' or len(img.getbands()) != 1:
                return False
            if size is not None and (img.size[1], img.size[0]) != tuple(size):
                return False
            img.load()  # decodes everything: truncated files raise
    except Exception:  # noqa: BLE001
        return False
    return True


def _video_shape(path: str,
                 backend: str = 'pyav') -> Optional[Tuple[int, int, int]]:
    """``(T, H, W)`` of a video as the training pipeline opens it (``T``
    from the reader, ``H, W`` from frame 0); None when unreadable."""
    from mmmae.datasets.transforms import VideoInit, read_frames
    try:
        opened = VideoInit(backend=backend)(dict(filename=path))
        first, _ = read_frames(opened['video_reader'],
                               np.zeros(1, dtype=np.int64))
    except Exception:  # noqa: BLE001  (any open or decode failure)
        return None
    return (int(opened['total_frames']), ) + tuple(first.shape[1:3])


def is_valid_frames(path: str,
                    shape: Optional[Tuple[int, int, int]] = None) -> bool:
    """Whether ``path`` is a complete ``.npz`` (every zip CRC checks) whose
    ``frames`` array is ``(T, H, W)`` (``shape``)."""
    import zipfile
    if not osp.isfile(path):
        return False
    try:
        frames = NpzFrames(path)
        with zipfile.ZipFile(path) as zf:
            if zf.testzip() is not None:
                return False
    except Exception:  # noqa: BLE001
        return False
    return shape is None or frames.shape == tuple(shape)


def write_npz(path: str, frames: np.ndarray, compress: bool = True) -> None:
    """Write ``frames`` ``(T, H, W)`` as ``path`` (key ``frames``)
    atomically, like :func:`write_png`; uncompressed files are
    memory-mapped when read."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    tmp = f'{path[:-4]}.tmp.{os.getpid()}.npz'
    try:
        with open(tmp, 'wb') as f:  # a file object: savez adds no suffix
            (np.savez_compressed if compress else np.savez)(f, frames=frames)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def write_png(path: str, array: np.ndarray) -> None:
    """Write a single-channel ``(H, W)`` uint8/uint16 PNG atomically.

    The temporary name holds the pid (two runs on one folder never share
    one) and ``.tmp.`` (:func:`collect_images` skips it).
    """
    import cv2
    os.makedirs(osp.dirname(path), exist_ok=True)
    tmp = f'{path[:-4]}.tmp.{os.getpid()}.png'
    try:
        if not cv2.imwrite(tmp, np.ascontiguousarray(array)):
            raise OSError(f'cannot write {tmp}')
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def file_sha256(path: str, digits: int = 16) -> str:
    """First ``digits`` hex digits of the sha256 of a file."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()[:digits]


def _write_json(path: str, obj: dict) -> None:
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


def _now() -> str:
    return time.strftime('%Y-%m-%dT%H:%M:%S')


class _Progress:
    """tqdm when installed, else MMEngine's ProgressBar, else nothing."""

    def __init__(self, total: int, enabled: bool = True, unit: str = 'img'):
        self.bar = None
        self.kind = None
        if not enabled or total == 0:
            return
        try:
            from tqdm import tqdm
            self.bar, self.kind = tqdm(total=total, unit=unit), 'tqdm'
        except ImportError:
            from mmengine.utils import ProgressBar
            self.bar, self.kind = ProgressBar(total), 'mmengine'

    def update(self, n: int) -> None:
        if self.kind == 'tqdm':
            self.bar.update(n)
        elif self.kind == 'mmengine':
            for _ in range(n):
                self.bar.update()

    def close(self) -> None:
        if self.kind == 'tqdm':
            self.bar.close()
        elif self.kind == 'mmengine':
            sys.stdout.write('\n')


# --------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------
def _check_manifest(old: dict, new: dict) -> None:
    """Refuse to add labels to a folder another model labelled."""
    if 'labeler' not in old:
        raise PseudoLabelSetupError(
            'the output folder holds labels not made by this tool '
            f'(manifest: {old.get("source", old)!r}); choose another '
            '--out-modality')
    for key in ('task', 'labeler', 'checkpoint_sha256'):
        if old.get(key) != new.get(key):
            raise PseudoLabelSetupError(
                f'the existing manifest has {key}={old.get(key)!r}, this '
                f'run {new.get(key)!r}: refusing to mix labels of different '
                'models; use another --out-modality or --overwrite')


class _LabelRun:
    """The manifest of one run and the labels it writes.

    Args:
        path (str): the manifest file.
        manifest (dict): its content so far (this run's record appended).
        task (str): ``'semseg'`` or ``'depth'``.
        scale (float, optional): depth scale; None: chosen from the first
            batch.
        total (int): images under the input folder.
        skipped (int): valid labels found.
        failed (list[str]): unreadable images (extended while running).
        clipped (int): depth pixels clipped at 65535 by earlier runs.
    """

    def __init__(self, path: str, manifest: dict, task: str,
                 scale: Optional[float], total: int, skipped: int,
                 failed: List[str], clipped: int) -> None:
        self.path = path
        self.manifest = manifest
        self.task = task
        self.scale = scale
        self.total = total
        self.failed = failed
        self.clipped = clipped
        self.record = dict(started=_now(), written=0, skipped=skipped,
                           seconds=0.0)
        manifest['runs'] = list(manifest.get('runs', [])) + [self.record]
        self.tic = time.time()

    @property
    def can_save(self) -> bool:
        """A depth manifest is written once its scale is known."""
        return self.scale is not None or self.task != 'depth'

    def save(self, status: str) -> None:
        self.record['seconds'] = round(time.time() - self.tic, 3)
        self.manifest.update(status=status, updated=_now(), total=self.total,
                             failed=sorted(self.failed))
        # the labels present
        self.manifest['count'] = (self.record['skipped'] +
                                  self.record['written'])
        if self.task == 'depth':
            self.manifest['clipped_pixels'] = self.clipped
        _write_json(self.path, self.manifest)

    def predict(self, labeler, images: List[np.ndarray], channel_order: str,
                names: List[str]) -> Optional[List[np.ndarray]]:
        """The label maps of ``images`` (one size) as stored: class ids, or
        depth encoded as uint16. None when the model fails (e.g. out of
        memory): ``names`` are recorded as failed and the run goes on."""
        from mmengine.logging import print_log
        try:
            labels = labeler.predict(images, channel_order=channel_order)
        except RuntimeError as e:  # e.g. out of memory: keep going
            print_log(f'labelling failed for {len(images)} images: {e}',
                      logger='current', level=30)
            self.failed.extend(names)
            return None
        if self.task != 'depth':
            return labels
        if self.scale is None:
            self.scale = auto_depth_scale(
                max(float(np.nanmax(d)) for d in labels))
            self.manifest['scale'] = self.scale
            self.save('running')  # a resumed run reuses it
        encoded = []
        for d in labels:
            self.clipped += int((np.nan_to_num(d) * self.scale > 65535).sum())
            encoded.append(encode_depth(d, self.scale))
        return encoded

    def label(self, labeler, batch: List[Tuple[str, np.ndarray]],
              out_path, bar: _Progress) -> None:
        """Label ``batch`` (``(relative path, (H, W, 3) BGR image)`` of one
        size) and write each label to ``out_path(relative path)``."""
        if not batch:
            return
        labels = self.predict(labeler, [img for _, img in batch], 'bgr',
                              [rel for rel, _ in batch])
        for (rel, _), label in zip(batch, labels or []):
            write_png(out_path(rel), label)
            self.record['written'] += 1
        bar.update(len(batch))


def _check_setup(src_dir: str, out_dir: str, task: str, config: str,
                 checkpoint: Optional[str], batch_size: int,
                 depth_scale: Optional[float]) -> None:
    """Refuse a run that cannot start, before any model is built."""
    if task not in PSEUDO_LABEL_TASKS:
        raise PseudoLabelSetupError(
            f'task {task!r}: expected one of {sorted(PSEUDO_LABEL_TASKS)}')
    if batch_size < 1:
        raise PseudoLabelSetupError('batch_size must be >= 1')
    if depth_scale is not None and depth_scale <= 0:
        raise PseudoLabelSetupError('depth_scale must be > 0')
    if not osp.isdir(src_dir):
        raise PseudoLabelSetupError(f'input folder {src_dir} does not exist')
    if osp.abspath(src_dir) == osp.abspath(out_dir):
        raise PseudoLabelSetupError(
            '--out-modality must differ from --src-modality')
    if not osp.isfile(config):
        raise PseudoLabelSetupError(f'config {config} does not exist')
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise PseudoLabelSetupError(f'checkpoint {checkpoint} does not exist')


def generate_pseudo_labels(data_root: str,
                           *,
                           split: str = 'train',
                           task: str,
                           config: str,
                           checkpoint: Optional[str] = None,
                           out_modality: Optional[str] = None,
                           src_modality: str = 'rgb',
                           batch_size: int = 8,
                           device: str = 'cpu',
                           depth_scale: Optional[float] = None,
                           size_divisor: int = 32,
                           max_side: Optional[int] = None,
                           min_side: Optional[int] = None,
                           overwrite: bool = False,
                           cfg_options: Optional[dict] = None,
                           progress: bool = True,
                           video_backend: str = 'pyav',
                           compress: bool = True) -> dict:
    """Label ``data_root/split/src_modality/**`` (images, or else videos)
    with an mmseg model (resumable; see the module docstring).

    Args:
        data_root (str): dataset root (holds ``split/src_modality/...``).
        split (str): split folder. Defaults to ``'train'``.
        task (str): ``'semseg'`` or ``'depth'``.
        config (str): mmseg model config file.
        checkpoint (str, optional): weights; None keeps the random
            initialisation (smoke tests).
        out_modality (str, optional): output folder name. Defaults to
            ``task``.
        src_modality (str): input folder name. Defaults to ``'rgb'``.
        batch_size (int): images of the same size (video frames) per
            forward pass.
        device (str): e.g. ``'cpu'``, ``'cuda'``, ``'cuda:1'``.
        depth_scale (float, optional): PNG value = depth * scale. Defaults
            to the existing manifest's, else chosen from the first batch
            (videos: 1000).
        size_divisor (int): network input sides are rounded to a multiple
            of this.
        max_side (int, optional): downscale so the long side is at most
            this first.
        min_side (int, optional): upscale so the short side is at least
            this first.
        overwrite (bool): relabel every image, discarding old labels and
            the old manifest.
        cfg_options (dict, optional): overrides merged into the config.
        progress (bool): show a progress bar.
        video_backend (str): how videos are opened, as
            :class:`~mmmae.datasets.transforms.VideoInit` ``backend``
            (``'pyav'``, the training configs' reader, or ``'decord'``).
        compress (bool): deflate the video ``.npz`` files (smaller;
            uncompressed ones are memory-mapped when read). Defaults to
            True.

    Returns:
        dict: ``modality``, ``out_dir``, ``manifest`` (its path),
        ``total`` (images or videos), ``written``, ``skipped`` (valid
        labels kept),
        ``failed`` (relative paths of the images that could not be read
        or labelled, also in the manifest) and ``scale`` (depth; None for
        semseg).

    Raises:
        PseudoLabelSetupError: a missing folder, config or checkpoint, an
            empty input folder, bad arguments, a model that cannot be
            built, or an output folder labelled by another model or with
            another depth scale.
    """
    from mmengine.logging import print_log

    from mmmae.version import __version__
    split_dir = osp.join(data_root, split)
    src_dir = osp.join(split_dir, src_modality)
    modality = out_modality or task
    out_dir = osp.join(split_dir, modality)
    _check_setup(src_dir, out_dir, task, config, checkpoint, batch_size,
                 depth_scale)
    rels = collect_images(src_dir)
    videos = not rels
    if videos:
        rels = collect_images(src_dir, VIDEO_EXTENSIONS)
    if not rels:
        raise PseudoLabelSetupError(
            f'no images ({"/".join(IMG_EXTENSIONS)}) or videos '
            f'({"/".join(VIDEO_EXTENSIONS)}) under {src_dir}')

    sha = file_sha256(checkpoint) if checkpoint else None
    manifest_path = osp.join(out_dir, MANIFEST)
    old = None
    if osp.isfile(manifest_path) and not overwrite:
        with open(manifest_path) as f:
            old = json.load(f)
        _check_manifest(
            old, dict(task=task, labeler=PSEUDO_LABEL_TASKS[task],
                      checkpoint_sha256=sha))
    scale = depth_scale
    if task == 'depth' and old is not None and old.get('scale'):
        if scale is not None and float(scale) != float(old['scale']):
            raise PseudoLabelSetupError(
                f'--depth-scale {scale} differs from the scale '
                f'{old["scale"]} of the existing labels in {out_dir}')
        scale = float(old['scale'])
    if videos and task == 'depth' and scale is None:
        scale = DEFAULT_DEPTH_SCALE  # the video layout's millimetres

    def out_path(rel: str) -> str:
        return osp.join(out_dir,
                        osp.splitext(rel)[0] + ('.npz' if videos else '.png'))

    def size_of(rel: str):
        path = osp.join(src_dir, rel)
        return _video_shape(path, video_backend) if videos else \
            _image_size(path)

    is_valid = is_valid_frames if videos else is_valid_label
    todo, skipped, failed, sizes = [], 0, [], {}
    for rel in rels:
        size = sizes[rel] = size_of(rel)
        if size is None:
            failed.append(rel)
        elif not overwrite and is_valid(out_path(rel), size):
            skipped += 1
        else:
            todo.append(rel)
    print_log(
        f'{modality}: {len(rels)} {"videos" if videos else "images"}, '
        f'{skipped} already labelled, {len(todo)} to do, {len(failed)} '
        'unreadable', logger='current')

    labeler = None
    if todo:
        try:
            labeler = build_labeler(
                dict(type=PSEUDO_LABEL_TASKS[task], config=config,
                     checkpoint=checkpoint, device=device,
                     size_divisor=size_divisor, max_side=max_side,
                     min_side=min_side, cfg_options=cfg_options))
        except (KeyError, TypeError, ValueError) as e:
            raise PseudoLabelSetupError(
                f'cannot build the labeller: {e}') from e

    manifest = dict(old) if old else dict(created=_now(), runs=[])
    if labeler is not None:
        info = labeler.meta()
        info['config'] = osp.abspath(config)
        manifest.update(info)
    else:
        manifest.setdefault('labeler', PSEUDO_LABEL_TASKS[task])
        manifest.setdefault('task', task)
    manifest.update(modality=modality, source_modality=src_modality,
                    split=split, checkpoint_sha256=sha,
                    mmmae_version=__version__)
    if task == 'depth':
        manifest.update(encoding='png_value = round(depth * scale)',
                        dtype='uint16', scale=scale)
    if videos:
        manifest.update(_video_manifest(manifest, sizes, video_backend))
    os.makedirs(out_dir, exist_ok=True)

    run = _LabelRun(manifest_path, manifest, task, scale, len(rels),
                    skipped, failed,
                    int(manifest.get('clipped_pixels', 0)) if old else 0)
    if run.can_save:
        run.save('running')
    bar = _Progress(len(todo), enabled=progress,
                    unit='video' if videos else 'img')
    if videos:
        _label_videos(run, labeler, src_dir, todo, sizes, batch_size,
                      out_path, bar, video_backend, compress)
    else:
        _label_all(run, labeler, src_dir, todo, batch_size, out_path, bar)
    run.save('done')
    print_log(
        f'{modality}: wrote {run.record["written"]} labels to {out_dir} in '
        f'{time.time() - run.tic:.1f}s ({skipped} skipped, '
        f'{len(failed)} failed)',
        logger='current')
    return dict(modality=modality, out_dir=out_dir, manifest=manifest_path,
                total=len(rels), written=run.record['written'],
                skipped=skipped, failed=sorted(failed), scale=run.scale)


@contextlib.contextmanager
def _recording(run: _LabelRun, bar: _Progress):
    """Record what was done even when interrupted (Ctrl-C, kill, crash)."""
    try:
        yield
    except BaseException:
        if run.can_save:
            run.save('interrupted')
        raise
    finally:
        bar.close()


def _label_all(run: _LabelRun, labeler, src_dir: str, todo: List[str],
               batch_size: int, out_path, bar: _Progress) -> None:
    """Read the ``todo`` images, label them in batches of one size, and
    record what was done even when interrupted."""
    import cv2
    buckets: Dict[Tuple[int, int], List[Tuple[str, np.ndarray]]] = {}
    with _recording(run, bar):
        for rel in todo:
            img = cv2.imread(osp.join(src_dir, rel), cv2.IMREAD_COLOR)
            if img is None:
                run.failed.append(rel)
                bar.update(1)
                continue
            bucket = buckets.setdefault(img.shape[:2], [])
            bucket.append((rel, img))
            if len(bucket) >= batch_size:
                run.label(labeler, bucket, out_path, bar)
                buckets[img.shape[:2]] = []
        for bucket in buckets.values():
            run.label(labeler, bucket, out_path, bar)


def _video_manifest(manifest: dict, sizes: Dict[str, Optional[tuple]],
                    backend: str) -> dict:
    """What the video layout's manifest adds (``docs/multimodal_video.md``).
    """
    counts = sorted({size[0] for size in sizes.values() if size})
    extra = dict(format='npz', key='frames', video_backend=backend,
                 source=f'pseudo-labels: {manifest.get("labeler")} '
                 f'({manifest.get("model", "?")}, '
                 f'{manifest.get("config") or "?"})',
                 frames_per_clip=counts[0] if len(counts) == 1 else None)
    if len(counts) > 1:
        extra['frames_per_clip_range'] = [counts[0], counts[-1]]
    if manifest.get('task') == 'depth':
        extra.update(encoding='value = round(depth * scale), 65535 = none',
                     unit='m', depth_type='pseudo (model prediction)')
    return extra


def _label_video(run: _LabelRun, labeler, path: str, rel: str,
                 size: Tuple[int, int, int], batch_size: int,
                 backend: str) -> Optional[np.ndarray]:
    """``(T, H, W)`` labels of every frame of one video, as stored; None
    when it cannot be decoded or labelled (recorded as failed)."""
    from mmengine.logging import print_log

    from mmmae.datasets.transforms import VideoInit, read_frames
    num = size[0]
    labels = None
    for start in range(0, num, _VIDEO_CHUNK):
        inds = np.arange(start, min(num, start + _VIDEO_CHUNK))
        try:
            if start == 0:
                reader = VideoInit(backend=backend)(dict(filename=path))[
                    'video_reader']
            frames, _ = read_frames(reader, inds)
        except Exception as e:  # noqa: BLE001  (any decoder error)
            print_log(f'cannot decode frames {inds[0]}..{inds[-1]} of '
                      f'{path}: {e}', logger='current', level=30)
            run.failed.append(rel)
            return None
        for b in range(0, len(frames), batch_size):
            maps = run.predict(labeler, list(frames[b:b + batch_size]), 'rgb',
                               [rel])
            if maps is None:
                return None
            if labels is None:
                labels = np.empty((num, ) + maps[0].shape, maps[0].dtype)
            labels[start + b:start + b + len(maps)] = maps
    return labels


def _label_videos(run: _LabelRun, labeler, src_dir: str, todo: List[str],
                  sizes: Dict[str, Tuple[int, int, int]], batch_size: int,
                  out_path, bar: _Progress, backend: str,
                  compress: bool) -> None:
    """Label every frame of the ``todo`` videos; write one ``.npz`` per
    video whose frame count is the decoder's, else record a failure."""
    from mmengine.logging import print_log
    with _recording(run, bar):
        for rel in todo:
            labels = _label_video(run, labeler, osp.join(src_dir, rel), rel,
                                  sizes[rel], batch_size, backend)
            if labels is not None:
                out = out_path(rel)
                write_npz(out, labels, compress)
                written = NpzFrames(out).shape
                if written == tuple(sizes[rel]):
                    run.record['written'] += 1
                else:
                    print_log(
                        f'{out} has {written[0]} frames of {written[1:]} but '
                        f'the video {rel} decodes to {sizes[rel][0]} of '
                        f'{tuple(sizes[rel][1:])}: removed',
                        logger='current', level=40)
                    os.remove(out)
                    run.failed.append(rel)
            bar.update(1)
