# Copyright (c) mmmae contributors. All rights reserved.
"""Generate MultiMAE pseudo-labels (depth or semseg) with an mmseg model.

Reads every image under ``ROOT/SPLIT/rgb/`` (recursively) and writes one
single-channel PNG per image to ``ROOT/SPLIT/<modality>/<same relative
path>.png`` plus ``ROOT/SPLIT/<modality>/manifest.json`` -- the folder layout
of ``docs/multimae_contract.md``.

Recipe (MultiMAE issue #7)
    each image's H and W are resized (bilinear) to the nearest multiple of
    32 (``--size-divisor``; optionally limited by ``--max-side`` /
    ``--min-side`` first), the model predicts, and the prediction is resized
    back to the **original** size (nearest for class ids, bilinear for
    depth). Images of the same size are batched (``--batch-size``).

Formats
    semseg: class ids, uint8 PNG, or uint16 when the model has more than
    255 classes. depth: uint16 PNG of ``round(depth * scale)``; ``scale``
    is ``--depth-scale`` or chosen from the first batch so that 1.25x its
    maximum depth fits (two significant digits), and recorded in the
    manifest (a resumed run reuses it).

Resuming
    outputs that already exist and decode as PNGs of the right size are
    skipped; files are written to a temporary name and renamed, so an
    interrupted run leaves no half-written labels. A manifest made with a
    different labeller / checkpoint / task refuses to mix (exit 2) unless
    ``--overwrite`` is given, which relabels everything.

Manifest
    labeller type, task, model class, config path, checkpoint path and
    sha256 (first 16 hex digits), depth scale, class names (the model's
    ``dataset_meta``), counts, times, mmmae version, and one entry per run.

Exit status: 0 when every image has a label, 1 when some images could not be
read or labelled (listed in the manifest's ``failed``), 2 on a setup error.

Examples::

    python tools/generate_pseudo_labels.py data/in1k --split train \\
        --task semseg --config mask2former_swin-s_coco-panoptic.py \\
        --checkpoint m2f_swin-s.pth --device cuda --batch-size 16
    python tools/generate_pseudo_labels.py data/scenes --split val \\
        --task depth --config my_depth_estimator.py --checkpoint d.pth \\
        --out-modality pseudo_depth --depth-scale 1000
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _REPO not in sys.path:  # run as a script from a source checkout
    sys.path.insert(0, _REPO)

import mmmae  # noqa: E402,F401,I001  (compat patches + registries first)

import numpy as np  # noqa: E402

IMG_EXTS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff',
            '.webp')
MANIFEST = 'manifest.json'
TASKS = {'semseg': 'MMSegSemSegLabeler', 'depth': 'MMSegDepthLabeler'}

__all__ = [
    'parse_args', 'main', 'collect_images', 'is_valid_label', 'write_png',
    'file_sha256', 'SetupError'
]


class SetupError(RuntimeError):
    """Bad arguments, config or existing manifest (exit status 2)."""


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(
        description='Generate MultiMAE pseudo-labels (depth / semseg) for '
        'ROOT/SPLIT/rgb/** with an mmseg model.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='Examples::' + __doc__.split('Examples::')[-1])
    p.add_argument('root', help='dataset root (holds SPLIT/rgb/...)')
    p.add_argument('--split', default='train', help='split folder')
    p.add_argument('--task', choices=sorted(TASKS), required=True)
    p.add_argument('--config', required=True, help='mmseg model config')
    p.add_argument('--checkpoint', default=None,
                   help='weights (default: none, random init; smoke tests)')
    p.add_argument('--batch-size', type=int, default=8,
                   help='images of the same size per forward pass')
    p.add_argument('--device', default='cpu', help='e.g. cpu, cuda, cuda:1')
    p.add_argument('--out-modality', default=None,
                   help='output folder name (default: the task)')
    p.add_argument('--src-modality', default='rgb',
                   help='input folder name (default: rgb)')
    p.add_argument('--depth-scale', type=float, default=None,
                   help='PNG value = depth * scale (default: auto from the '
                   'first batch, or the existing manifest)')
    p.add_argument('--size-divisor', type=int, default=32)
    p.add_argument('--max-side', type=int, default=None,
                   help='downscale so the long side is at most this first')
    p.add_argument('--min-side', type=int, default=None,
                   help='upscale so the short side is at least this first')
    p.add_argument('--overwrite', action='store_true',
                   help='relabel every image, discarding old labels')
    p.add_argument('--no-progress', action='store_true')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value')
    args = p.parse_args(argv)
    if args.batch_size < 1:
        p.error('--batch-size must be >= 1')
    if args.depth_scale is not None and args.depth_scale <= 0:
        p.error('--depth-scale must be > 0')
    return args


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------
def collect_images(folder: str) -> List[str]:
    """Sorted relative paths of the images under ``folder`` (recursive)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in filenames:
            if name.lower().endswith(IMG_EXTS) and '.tmp.' not in name:
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
    """Whether ``path`` is a complete single-channel PNG (of ``size``)."""
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


def write_png(path: str, array: np.ndarray) -> None:
    """Write a single-channel uint8/uint16 PNG atomically (tmp + rename)."""
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

    def __init__(self, total: int, enabled: bool = True):
        self.bar = None
        self.kind = None
        if not enabled or total == 0:
            return
        try:
            from tqdm import tqdm
            self.bar, self.kind = tqdm(total=total, unit='img'), 'tqdm'
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
# main
# --------------------------------------------------------------------------
def _check_manifest(old: dict, new: dict) -> None:
    if 'labeler' not in old:
        raise SetupError(
            'the output folder holds labels not made by this tool '
            f'(manifest: {old.get("source", old)!r}); choose another '
            '--out-modality')
    for key in ('task', 'labeler', 'checkpoint_sha256'):
        if old.get(key) != new.get(key):
            raise SetupError(
                f'the existing manifest has {key}={old.get(key)!r}, this '
                f'run {new.get(key)!r}: refusing to mix labels of different '
                'models; use another --out-modality or --overwrite')


def _run(args: argparse.Namespace) -> int:
    from mmengine.logging import print_log
    from mmmae.pseudo_label import (auto_depth_scale, build_labeler,
                                    encode_depth)

    split_dir = osp.join(args.root, args.split)
    src_dir = osp.join(split_dir, args.src_modality)
    modality = args.out_modality or args.task
    out_dir = osp.join(split_dir, modality)
    if not osp.isdir(src_dir):
        raise SetupError(f'input folder {src_dir} does not exist')
    if osp.abspath(src_dir) == osp.abspath(out_dir):
        raise SetupError('--out-modality must differ from --src-modality')
    if not osp.isfile(args.config):
        raise SetupError(f'config {args.config} does not exist')
    if args.checkpoint is not None and not osp.isfile(args.checkpoint):
        raise SetupError(f'checkpoint {args.checkpoint} does not exist')
    rels = collect_images(src_dir)
    if not rels:
        raise SetupError(f'no images ({"/".join(IMG_EXTS)}) under {src_dir}')

    sha = file_sha256(args.checkpoint) if args.checkpoint else None
    manifest_path = osp.join(out_dir, MANIFEST)
    old = None
    if osp.isfile(manifest_path) and not args.overwrite:
        with open(manifest_path) as f:
            old = json.load(f)
        _check_manifest(
            old, dict(task=args.task, labeler=TASKS[args.task],
                      checkpoint_sha256=sha))
    scale = args.depth_scale
    if args.task == 'depth' and old is not None and old.get('scale'):
        if scale is not None and float(scale) != float(old['scale']):
            raise SetupError(
                f'--depth-scale {scale} differs from the scale '
                f'{old["scale"]} of the existing labels in {out_dir}')
        scale = float(old['scale'])

    # what is left to do
    def out_path(rel: str) -> str:
        return osp.join(out_dir, osp.splitext(rel)[0] + '.png')

    todo, skipped, failed = [], 0, []
    for rel in rels:
        size = _image_size(osp.join(src_dir, rel))
        if size is None:
            failed.append(rel)
        elif not args.overwrite and is_valid_label(out_path(rel), size):
            skipped += 1
        else:
            todo.append(rel)
    print_log(
        f'{modality}: {len(rels)} images, {skipped} already labelled, '
        f'{len(todo)} to do, {len(failed)} unreadable', logger='current')

    labeler = None
    if todo:
        try:
            labeler = build_labeler(
                dict(type=TASKS[args.task], config=args.config,
                     checkpoint=args.checkpoint, device=args.device,
                     size_divisor=args.size_divisor,
                     max_side=args.max_side, min_side=args.min_side,
                     cfg_options=args.cfg_options))
        except (KeyError, TypeError, ValueError) as e:
            raise SetupError(f'cannot build the labeller: {e}') from e

    manifest = dict(old) if old else dict(created=_now(), runs=[])
    if labeler is not None:
        info = labeler.meta()
        info['config'] = osp.abspath(args.config)
        manifest.update(info)
    else:
        manifest.setdefault('labeler', TASKS[args.task])
        manifest.setdefault('task', args.task)
    manifest.update(modality=modality, source_modality=args.src_modality,
                    split=args.split, checkpoint_sha256=sha,
                    mmmae_version=mmmae.__version__)
    if args.task == 'depth':
        manifest.update(encoding='png_value = round(depth * scale)',
                        dtype='uint16', scale=scale)
    os.makedirs(out_dir, exist_ok=True)

    run = dict(started=_now(), written=0, skipped=skipped, seconds=0.0)
    manifest['runs'] = list(manifest.get('runs', [])) + [run]
    clipped = int(manifest.get('clipped_pixels', 0)) if old else 0
    tic = time.time()

    def save_manifest(status: str) -> None:
        run['seconds'] = round(time.time() - tic, 3)
        manifest.update(status=status, updated=_now(), total=len(rels),
                        failed=sorted(failed))
        manifest['count'] = skipped + run['written']  # labels present
        if args.task == 'depth':
            manifest['clipped_pixels'] = clipped
        _write_json(manifest_path, manifest)

    if scale is not None or args.task != 'depth':
        save_manifest('running')
    bar = _Progress(len(todo), enabled=not args.no_progress)

    def flush(batch: List[Tuple[str, np.ndarray]]) -> None:
        nonlocal scale, clipped
        if not batch:
            return
        try:
            labels = labeler.predict([img for _, img in batch],
                                     channel_order='bgr')
        except RuntimeError as e:  # e.g. out of memory: keep going
            print_log(f'labelling failed for {len(batch)} images: {e}',
                      logger='current', level=30)
            failed.extend(rel for rel, _ in batch)
            bar.update(len(batch))
            return
        if args.task == 'depth':
            if scale is None:
                scale = auto_depth_scale(max(float(np.nanmax(d))
                                             for d in labels))
                manifest['scale'] = scale
                save_manifest('running')  # a resumed run reuses it
            encoded = []
            for d in labels:
                clipped += int((np.nan_to_num(d) * scale > 65535).sum())
                encoded.append(encode_depth(d, scale))
            labels = encoded
        for (rel, _), label in zip(batch, labels):
            write_png(out_path(rel), label)
            run['written'] += 1
        bar.update(len(batch))

    import cv2
    buckets: Dict[Tuple[int, int], List[Tuple[str, np.ndarray]]] = {}
    try:
        for rel in todo:
            img = cv2.imread(osp.join(src_dir, rel), cv2.IMREAD_COLOR)
            if img is None:
                failed.append(rel)
                bar.update(1)
                continue
            bucket = buckets.setdefault(img.shape[:2], [])
            bucket.append((rel, img))
            if len(bucket) >= args.batch_size:
                flush(bucket)
                buckets[img.shape[:2]] = []
        for bucket in buckets.values():
            flush(bucket)
    except BaseException:  # Ctrl-C, kill, crash: record what was done
        if scale is not None or args.task != 'depth':
            save_manifest('interrupted')
        raise
    finally:
        bar.close()
    save_manifest('done')
    print_log(
        f'{modality}: wrote {run["written"]} labels to {out_dir} in '
        f'{time.time() - tic:.1f}s ({skipped} skipped, {len(failed)} failed)',
        logger='current')
    return 1 if failed else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns the exit status (see the module docstring)."""
    args = parse_args(argv)
    try:
        return _run(args)
    except SetupError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
