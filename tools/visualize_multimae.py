# Copyright (c) mmmae contributors. All rights reserved.
"""Draw MultiMAE predictions, including cross-modal ones, with a checkpoint.

One PNG per image, ``OUT/<name>_<maskmode>.png``: a title line (image name,
visible tokens per modality, mask mode), then one **row per decoder task**
(config order; for the demo config ``rgb``, ``norm_rgb`` twice, ``depth``,
``semseg``) and three **columns**:

``input | masked input (grey = hidden) | prediction``

* rgb: the image; prediction un-normalised with the ImageNet mean/std.
* norm_rgb (per-patch normalised target) gets two rows: the prediction
  un-normalised with the **ground-truth** mean/std of every rgb patch (what
  upstream visualisations show: colour and contrast of hidden patches come
  from the answer) and the raw per-patch z-scores (-3..3 -> black..white),
  the honest one.
* depth: the truncated-standardised map the model sees and predicts,
  viridis over the 10-90 % range of the input (the
  part the truncated standardisation keeps) (of the prediction when depth
  is not given); dark = near.
* semseg: class ids through a palette (``classes.json`` next to the split
  folder when it has one, else a fixed table), prediction = argmax of the
  1/4-resolution logits, shown at full size.

Inputs that are not given (a plain rgb image has no depth/semseg) have a
dark "not given" input tile; their masked-input tile is all grey (they are
fully masked). The token mask used is saved next to the PNG as
``<name>_<maskmode>_mask.npz``: one ``(h, w)`` uint8 array per model input
modality, **1 = masked** (hidden from the encoder), the format
``--mask-file`` reads back.

Masks (mask mode in the file name):

* ``--visible rgb`` (``vis-rgb``): listed modalities fully visible, the
  others fully masked (cross-modal prediction from rgb only);
  ``--visible rgb:0.5 depth:0`` (``vis-rgb0.5-depth0-seed0``): that fraction
  of each listed modality's tokens visible at random positions, unlisted
  ones fully masked;
* ``--num-visible N`` (``randN-seedS``): N visible tokens shared across the
  modalities by a Dirichlet draw (the config's mask-generator ``alpha``), as
  in pre-training; with ``--visible`` the listed modalities are fixed and
  the unlisted ones share what remains of N;
* ``--mask-file F.npz`` (``maskfile-F``): per-modality ``(h, w)`` (or flat)
  0/1 arrays, 1 = masked; a modality missing from the file is fully masked;
* nothing: a random draw with the config's ``num_visible`` (else 1/6 of
  the tokens).

Random draws use numpy with seed ``--seed + k`` for the k-th image, so a run
is reproducible. Preprocessing is deterministic: the config's loader
settings (depth scale, ...), the short side resized to the model input size
and a centre crop (one transform chain for all modalities, nearest for
labels), semseg down-sampled to 1/4. The model runs in eval mode under
``torch.inference_mode``, one image at a time.

INPUT: a split folder with modality subfolders (``data/scenes/val``:
``rgb/``, ``depth/``, ``semseg/`` matched by name; missing subfolders are
"not given", a missing file is an error naming it), a plain folder of
images, a ``.txt`` list of image paths, or one image (rgb only; the other
modalities are predicted). CHECKPOINT ``none`` keeps the random init.

Examples::

    python tools/visualize_multimae.py CONFIG CKPT data/scenes/val --out vis \\
        --visible rgb --max-images 4
    python tools/visualize_multimae.py CONFIG CKPT data/scenes/val --out vis \\
        --visible rgb:0.25 depth:0.25
    python tools/visualize_multimae.py CONFIG CKPT data/scenes/val --out vis \\
        --num-visible 32 --seed 1
    python tools/visualize_multimae.py CONFIG CKPT photo.jpg --out vis

Exit status: 0 on success, 2 for a usage error (bad path, bad mask, a
config without a MultiMAE model); the message names the culprit.
"""
import argparse
import copy
import json
import os
import os.path as osp
import re
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

IMG_EXTS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff',
            '.webp')
LIST_EXTS = ('.txt', '.lst')
COLUMN_TITLES = ('input', 'masked input (grey = hidden)', 'prediction')
TAG = '[visualize_multimae]'


class UsageError(Exception):
    """A problem with the command line or the files it names (exit 2)."""


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------
def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(
        description='Visualize MultiMAE (cross-modal) predictions.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('Examples::')[-1])
    p.add_argument('config', help='MultiMAE config file')
    p.add_argument('checkpoint', help="checkpoint file, or 'none' (random "
                   'init, for smoke tests)')
    p.add_argument(
        'input',
        help='split folder with modality subfolders (rgb/, depth/, ...), a '
        'folder of images, a .txt list of images, or one image')
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument(
        '--visible',
        nargs='+',
        default=None,
        metavar='MOD[:FRAC]',
        help='modalities to show the encoder: MOD fully, MOD:FRAC a random '
        'fraction of its tokens; unlisted modalities are fully masked '
        '(unless --num-visible)')
    p.add_argument(
        '--num-visible',
        type=int,
        default=None,
        help='visible tokens in all, shared by a Dirichlet draw across the '
        'modalities not fixed by --visible')
    p.add_argument('--seed', type=int, default=0,
                   help='seed of random masks (image k uses seed + k)')
    p.add_argument(
        '--mask-file',
        default=None,
        help='.npz with one (h, w) 0/1 array per modality, 1 = masked')
    p.add_argument('--max-images', type=int, default=None,
                   help='at most this many images')
    p.add_argument('--device', default=None,
                   help='e.g. cpu or cuda:0 (default: cuda:0 if available)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value')
    return p.parse_args(argv)


def parse_visible(items: Sequence[str],
                  modalities: Sequence[str]) -> Dict[str, float]:
    """``['rgb', 'depth:0.5']`` -> ``{'rgb': 1.0, 'depth': 0.5}``."""
    out: Dict[str, float] = {}
    for item in items:
        name, sep, frac = str(item).partition(':')
        if name not in modalities:
            raise UsageError(f'--visible {item!r}: {name!r} is not an input '
                             f'modality of the model ({list(modalities)})')
        if name in out:
            raise UsageError(f'--visible names {name!r} twice')
        if sep:
            try:
                value = float(frac)
            except ValueError:
                value = -1.0
            if not 0.0 <= value <= 1.0:
                raise UsageError(f'--visible {item!r}: the fraction must be '
                                 'a number in [0, 1]')
        else:
            value = 1.0
        out[name] = value
    return out


def load_mask_file(path: str, modalities: Sequence[str],
                   grid: Tuple[int, int]) -> Dict[str, np.ndarray]:
    """Read an ``.npz`` of per-modality 0/1 masks (1 = masked) as ``(N,)``
    bool; modalities missing from the file are fully masked."""
    if not osp.isfile(path):
        raise UsageError(f'--mask-file {path} does not exist')
    try:
        data = np.load(path)
        arrays = {k: np.asarray(data[k]) for k in data.files}
    except Exception as e:  # noqa: BLE001 (any unreadable file)
        raise UsageError(f'--mask-file {path}: cannot read it as .npz ({e})')
    unknown = sorted(set(arrays) - set(modalities))
    if unknown:
        raise UsageError(f'--mask-file {path}: {unknown} are not input '
                         f'modalities of the model ({list(modalities)})')
    n = grid[0] * grid[1]
    out = {}
    for m in modalities:
        if m not in arrays:
            print(f'{TAG} {path} has no mask for {m}: fully masked')
            out[m] = np.ones(n, dtype=bool)
            continue
        arr = arrays[m]
        if arr.shape not in (tuple(grid), (n, )):
            raise UsageError(f'--mask-file {path}: {m} has shape {arr.shape}'
                             f', expected the token grid {tuple(grid)}')
        if arr.dtype != bool and not np.isin(arr, (0, 1)).all():
            raise UsageError(f'--mask-file {path}: {m} must hold only 0/1 '
                             '(1 = masked)')
        out[m] = arr.astype(bool).reshape(-1)
    return out


# --------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------
def _images_in(folder: str) -> List[str]:
    return sorted(
        osp.join(folder, f) for f in os.listdir(folder)
        if f.lower().endswith(IMG_EXTS) and not f.startswith('.')
        and osp.isfile(osp.join(folder, f)))


def collect_inputs(path: str, modalities: Sequence[str],
                   max_images: Optional[int] = None) -> List[dict]:
    """Resolve INPUT to samples ``dict(name=..., img_path={mod: file})``.

    A folder with a subfolder named after the main (first, rgb) modality is a
    split folder: the modality subfolders present are matched by name
    (:class:`~mmmae.datasets.MultiModalFolderDataset`, a missing file is an
    error naming it); other folders, ``.txt`` lists and single images give
    main-modality-only samples.
    """
    main = modalities[0]
    if osp.isdir(path):
        if osp.isdir(osp.join(path, main)):
            from mmmae.datasets import MultiModalFolderDataset
            present = [m for m in modalities if osp.isdir(osp.join(path, m))]
            for m in modalities:
                if m not in present:
                    print(f'{TAG} {osp.join(path, m)} does not exist: {m} is '
                          'not given (predicted only)')
            try:
                ds = MultiModalFolderDataset(
                    data_root=path, split='', modalities=present,
                    main_modality=main, missing='error',
                    serialize_data=False)
            except (FileNotFoundError, RuntimeError, ValueError) as e:
                raise UsageError(f'{path}: {e}')
            samples = [
                dict(name=d['rel_path'].replace('/', '__'),
                     img_path=dict(d['img_path'])) for d in ds.data_list
            ]
        else:
            files = _images_in(path)
            if not files:
                raise UsageError(
                    f'{path} has neither a {main}/ subfolder (split folder) '
                    f'nor image files ({", ".join(IMG_EXTS)})')
            samples = [_single(f, main) for f in files]
    elif osp.isfile(path) and path.lower().endswith(LIST_EXTS):
        root = osp.dirname(osp.abspath(path))
        files = []
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith('#'):
                    first = line.replace(',', ' ').split()[0]
                    files.append(first if osp.isabs(first) else osp.join(
                        root, first))
        missing = [f for f in files if not osp.isfile(f)]
        if missing:
            raise UsageError(f'{path}: {len(missing)} listed images do not '
                             f'exist (first: {missing[0]})')
        if not files:
            raise UsageError(f'{path} lists no image')
        samples = [_single(f, main) for f in files]
    elif osp.isfile(path):
        samples = [_single(path, main)]
    else:
        raise UsageError(f'{path} is not a file or folder')
    if max_images is not None:
        samples = samples[:max(0, int(max_images))]
    used: set = set()
    for s in samples:  # unique output names
        stem, k = s['name'], 1
        while s['name'] in used:
            s['name'] = f'{stem}_{k}'
            k += 1
        used.add(s['name'])
    return samples


def _single(path: str, main: str) -> dict:
    return dict(name=osp.splitext(osp.basename(path))[0],
                img_path={main: path})


def find_class_info(path: str) -> Tuple[Optional[list], Optional[list]]:
    """``(classes, palette)`` from a ``classes.json`` in INPUT's folder or
    the two above it (the demo scenes' layout), else ``(None, None)``."""
    folder = path if osp.isdir(path) else osp.dirname(osp.abspath(path))
    parent = osp.dirname(osp.abspath(folder))
    for d in (folder, parent, osp.dirname(parent)):
        f = osp.join(d, 'classes.json')
        if osp.isfile(f):
            try:
                with open(f) as fh:
                    meta = json.load(fh)
            except (OSError, ValueError):
                continue
            return meta.get('classes'), meta.get('palette')
    return None, None


# --------------------------------------------------------------------------
# model and pipeline
# --------------------------------------------------------------------------
def build_model(cfg, checkpoint: str, device: str, config_path: str = ''):
    """Build ``cfg.model`` (must be a MultiMAE), load the checkpoint."""
    from mmengine.runner import load_checkpoint

    from mmmae.models.algorithms.multimae import MultiMAE
    from mmmae.registry import MODELS
    from mmmae.visualization import unwrap_model
    if not cfg.get('model'):
        raise UsageError(f'{config_path}: the config has no `model`')
    mtype = str(cfg.model.get('type', ''))
    if mtype.split('.')[-1] != 'MultiMAE':
        raise UsageError(f'{config_path}: model type {mtype!r} is not a '
                         'MultiMAE; this tool draws MultiMAE predictions '
                         '(use tools/visualize_reconstruction.py for '
                         'VideoMAE)')
    model = unwrap_model(MODELS.build(cfg.model))
    if not isinstance(model, MultiMAE):
        raise UsageError(f'{config_path}: the model is a '
                         f'{type(model).__name__}, not a MultiMAE')
    if checkpoint.lower() == 'none':
        import logging

        from mmengine.logging import MMLogger
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(logging.WARNING)  # no per-parameter init dump
        try:
            model.init_weights()
        finally:
            logger.setLevel(level)
        print(f'{TAG} checkpoint none: randomly initialised model')
    else:
        if not osp.isfile(checkpoint):
            raise UsageError(f'checkpoint {checkpoint} does not exist')
        load_checkpoint(model, checkpoint, map_location='cpu', strict=False)
    model.to(device)
    model.eval()
    return model


def model_geometry(model) -> dict:
    """Input modalities, image size, patch, token grid, semseg stride and
    class count, and the tasks to draw, read from the built model."""
    from mmmae.datasets.transforms.multimodal import DEFAULT_MODALITY_KINDS
    from mmmae.models.backbones.multimae_vit import SemSegInputAdapter
    adapters = model.backbone.input_adapters
    # display order: rgb kinds, depth kinds, label kinds, others (stable);
    # the model's token order (adapter order) does not matter here, and a
    # dumped/merged config may have sorted the adapter names
    rank = dict(rgb=0, depth=1, semseg=2)
    modalities = sorted(
        adapters,
        key=lambda m: rank.get(DEFAULT_MODALITY_KINDS.get(m), len(rank)))
    first = adapters[modalities[0]]
    img_size = tuple(first.img_size)
    patch = tuple(first.patch_size_full)
    grid = (img_size[0] // patch[0], img_size[1] // patch[1])
    num_classes, seg_stride = {}, {}
    for name, a in adapters.items():
        if tuple(a.img_size) != img_size or tuple(
                a.patch_size_full) != patch:
            raise UsageError(f'input adapter {name!r} has img_size/patch '
                             f'{a.img_size}/{a.patch_size_full}, '
                             f'{modalities[0]!r} {img_size}/{patch}')
        if isinstance(a, SemSegInputAdapter):
            num_classes[name] = int(a.num_classes)
            seg_stride[name] = int(a.stride_level)
    head = getattr(model, 'head', None)
    tasks = []
    for task, dec in model.neck.output_adapters.items():
        target = getattr(head, 'targets', {}).get(task,
                                                  getattr(dec, 'task', task))
        loss = head.losses[task] if head is not None and task in getattr(
            head, 'losses', {}) else None
        norm = bool(getattr(loss, 'norm_pix', task.startswith('norm_')))
        norm_patch = int(getattr(loss, 'scale_factor', patch[0]))
        kind = DEFAULT_MODALITY_KINDS.get(target)
        tasks.append(dict(task=task, target=target, kind=kind, norm=norm,
                          norm_patch=norm_patch,
                          channels=int(getattr(dec, 'num_channels', 0)),
                          stride=int(getattr(dec, 'stride_level', 1))))
    # rows grouped by target modality (input adapter order), plain before
    # norm-pix; unknown targets last, in decoder order
    order = {m: i for i, m in enumerate(modalities)}
    tasks.sort(key=lambda t: (order.get(t['target'], len(order)), t['norm']))
    return dict(modalities=modalities, img_size=img_size, patch=patch,
                grid=grid, num_classes=num_classes, seg_stride=seg_stride,
                tasks=tasks)


def _train_pipeline(cfg) -> list:
    ds = cfg.get('train_dataloader', {}).get('dataset')
    while ds is not None and 'pipeline' not in ds:
        inner = ds.get('dataset')
        if inner is None and ds.get('datasets'):
            inner = ds['datasets'][0]
        ds = inner
    return copy.deepcopy(list(ds['pipeline'])) if ds is not None else []


def _step(pipeline: list, name: str) -> Optional[dict]:
    for s in pipeline:
        if str(s.get('type', '')).split('.')[-1] == name:
            return dict(s)
    return None


def make_pipeline(cfg, geom: dict):
    """Deterministic eval chain: load (config settings), resize the short
    side, centre crop to the model size, semseg to 1/stride, pack."""
    from mmengine.dataset import Compose
    train = _train_pipeline(cfg)
    load = _step(train, 'LoadMultiModalImages') or {}
    load['type'] = 'mmmae.LoadMultiModalImages'
    interp = None
    for name in ('MultiModalRandomResizedCrop', 'MultiModalResize'):
        s = _step(train, name)
        if s and s.get('interpolation') is not None:
            interp = s['interpolation']
            break
    resize = dict(type='mmmae.MultiModalResize', scale=max(geom['img_size']))
    if interp is not None:
        resize['interpolation'] = interp
    steps = [
        load, resize,
        dict(type='mmmae.MultiModalCenterCrop', crop_size=geom['img_size'])
    ]
    strides = set(geom['seg_stride'].values())
    if len(strides) > 1:
        raise UsageError(f'label adapters use different strides {strides}')
    stride = strides.pop() if strides else 4
    if geom['seg_stride']:
        steps.append(dict(type='mmmae.SemSegDownsample', factor=stride,
                          keys=tuple(geom['seg_stride'])))
    steps.append(dict(type='mmmae.PackMultiModalInputs',
                      semseg_stride=stride))
    return Compose(steps)


def _mask_generator_cfg(cfg) -> dict:
    return _step(_train_pipeline(cfg), 'MultiModalMaskGenerator') or {}


# --------------------------------------------------------------------------
# masks
# --------------------------------------------------------------------------
def mask_mode(args, fractions: Optional[Dict[str, float]],
              num_visible: Optional[int]) -> str:
    """The ``<maskmode>`` part of the output names."""
    if args.mask_file:
        mode = 'maskfile-' + osp.splitext(osp.basename(args.mask_file))[0]
    elif fractions is not None:
        parts = [m if f == 1.0 else f'{m}{f:g}' for m, f in fractions.items()]
        mode = 'vis-' + '-'.join(parts)
        if num_visible is not None:
            mode += f'_rand{num_visible}-seed{args.seed}'
        elif any(0.0 < f < 1.0 for f in fractions.values()):
            mode += f'-seed{args.seed}'
    else:
        mode = f'rand{num_visible}-seed{args.seed}'
    return re.sub(r'[^A-Za-z0-9._-]+', '_', mode)


def draw_masks(geom: dict,
               given: Sequence[str],
               fractions: Optional[Dict[str, float]] = None,
               num_visible: Optional[int] = None,
               file_masks: Optional[Dict[str, np.ndarray]] = None,
               alpha=1.0) -> Dict[str, np.ndarray]:
    """Token masks ``{modality: (N,) bool}`` (True = masked) of one image.

    Uses numpy's global RNG (seed it around the call). Modalities that are
    not given are fully masked; asking them to be visible is an error.
    """
    from mmmae.datasets.transforms.multimodal_masking import \
        MultiModalMaskGenerator
    mods = geom['modalities']
    n = geom['grid'][0] * geom['grid'][1]
    fixed: Dict[str, object] = {}
    if file_masks is not None:
        fixed = {m: file_masks[m] for m in mods}
    elif fractions is not None:
        for m, f in fractions.items():
            k = int(round(f * n))
            if k >= n:
                fixed[m] = 'none'
            elif k <= 0:
                fixed[m] = 'all'
            else:
                mask = np.ones(n, dtype=bool)
                mask[np.random.permutation(n)[:k]] = False
                fixed[m] = mask
        if num_visible is None:
            for m in mods:
                fixed.setdefault(m, 'all')
    for m in mods:
        if m in given:
            continue
        spec = fixed.get(m)
        asks = (isinstance(spec, str) and spec == 'none') or (
            isinstance(spec, np.ndarray) and not spec.all())
        if asks:
            raise UsageError(f'{m} is not given for this input (it has '
                             f'{list(given)}): it cannot be visible')
        fixed[m] = 'all'
    free = [m for m in mods if m not in fixed]
    if not free:
        if num_visible is not None:
            raise UsageError('--num-visible needs a modality that --visible '
                             'does not fix')
        total = None
    else:
        fixed_vis = sum(
            (n if isinstance(s, str) and s == 'none' else
             0 if isinstance(s, str) else int((~np.asarray(s)).sum()))
            for s in fixed.values())
        lo, hi = max(1, fixed_vis), fixed_vis + n * len(free)
        total = min(max(int(num_visible), lo), hi)
        if total != int(num_visible):
            print(f'{TAG} num_visible={num_visible} cannot be met with '
                  f'{free} free: using {total}')
    if isinstance(alpha, dict):
        alpha = {m: alpha.get(m, 1.0) for m in mods}
    elif not isinstance(alpha, (int, float)):
        alpha = 1.0
    try:
        gen = MultiModalMaskGenerator(modalities=mods, grid=geom['grid'],
                                      num_visible=total, alpha=alpha,
                                      fixed_masks=fixed)
    except ValueError as e:
        raise UsageError(f'cannot build the mask: {e}')
    return gen.generate()


# --------------------------------------------------------------------------
# drawing
# --------------------------------------------------------------------------
def _rep(x: np.ndarray, k: int) -> np.ndarray:
    return x.repeat(k, 0).repeat(k, 1) if k > 1 else x


def render_sample(model,
                  geom: dict,
                  inputs: dict,
                  masks: Dict[str, np.ndarray],
                  preds: dict,
                  palette,
                  classes=None,
                  title: str = ''):
    """Tiles, labels and the grid of one image.

    Args:
        inputs (dict): normalised ``(C, H, W)`` / ``(h, w)`` CPU tensors of
            the given modalities (data-preprocessor output, batch dim
            dropped).
        masks (dict): ``(N,)`` bool per model input modality.
        preds (dict): ``task -> (C, h, w)`` CPU tensors.

    Returns:
        tuple: ``(image, layout, metrics)``.
    """
    import torch

    from mmmae.visualization import (MASK_GREY, colorize_depth,
                                     colorize_labels, depth_range, grey_out,
                                     make_image_grid, patch_mask_to_pixels,
                                     to_uint8_image, unnormalize_patches)
    H, W = geom['img_size']
    pre = model.data_preprocessor
    grey_tile = np.empty((H, W, 3), np.uint8)
    grey_tile[:] = np.asarray(MASK_GREY, np.uint8)

    def rgb01(x):
        return (pre.denormalize_rgb(x[None].float().to(pre.mean.device))[0] /
                255.).cpu()

    rows, labels, metrics = [], [], {}
    for t in geom['tasks']:
        task, target, kind = t['task'], t['target'], t['kind']
        pred = preds[task].float()
        gt = inputs.get(target)
        pix = patch_mask_to_pixels(masks[target], (H, W), geom['patch']) \
            if target in masks else np.zeros((H, W), bool)
        if kind is None:  # unknown target: guess from the channels
            kind = 'semseg' if pred.shape[0] not in (1, 3) else (
                'depth' if pred.shape[0] == 1 else 'image')
        if kind == 'rgb' and target in pre.rgb_keys:
            gt_t = to_uint8_image(rgb01(gt)) if gt is not None else None
            if t['norm']:
                if gt is not None:
                    leak = unnormalize_patches(pred, gt.float(),
                                               t['norm_patch'])
                    leak_t = to_uint8_image(rgb01(torch.from_numpy(leak)))
                else:
                    leak_t = None
                raw_t = to_uint8_image((pred.numpy() + 3.) / 6.)
                for lab, p_t in ((f'{task} (GT patch stats: leaks)', leak_t),
                                 (f'{task} raw z-scores', raw_t)):
                    rows.append([gt_t, None, p_t])
                    labels.append(lab)
                continue
            p01 = rgb01(pred).clamp(0, 1)
            p_t = to_uint8_image(p01)
            if gt is not None and pix.any():
                d = (p01 - rgb01(gt).clamp(0, 1)).numpy()[:, pix]
                metrics[f'{task}_mse'] = float((d * d).mean())
        elif kind == 'depth' or (kind == 'image' and pred.shape[0] == 1):
            if gt is not None:
                vmin, vmax = depth_range(gt, 10., 90.)
            else:
                vmin, vmax = depth_range(pred, 10., 90.)
            gt_t = colorize_depth(gt, vmin, vmax) if gt is not None else None
            p_t = colorize_depth(pred, vmin, vmax)
            if gt is not None and pix.any():
                metrics[f'{task}_l1'] = float(
                    np.abs(pred.numpy()[0] - gt.numpy().reshape(H, W))[pix]
                    .mean())
        elif kind == 'semseg':
            s = t['stride']
            lab = pred.argmax(0).numpy()
            p_t = colorize_labels(_rep(lab, s), palette)
            if gt is not None:
                gs = H // gt.shape[-2]
                g = gt.numpy().reshape(gt.shape[-2:])
                gt_t = colorize_labels(_rep(g, gs), palette)
                if pix.any():
                    metrics[f'{task}_acc'] = float(
                        (_rep(lab, s) == _rep(g, gs))[pix].mean())
            else:
                gt_t = None
        else:
            gt_t = to_uint8_image(gt.float()) if gt is not None else None
            p_t = to_uint8_image(pred)
        rows.append([gt_t, None, p_t])
        labels.append(task)
    # masked-input column: hidden patches grey; not given = all grey
    for row, t in zip(rows, _expand(geom['tasks'])):
        target = t['target']
        if row[0] is None:
            row[1] = grey_tile.copy()
        else:
            pix = patch_mask_to_pixels(masks[target], (H, W), geom['patch']) \
                if target in masks else np.zeros((H, W), bool)
            row[1] = grey_out(row[0], pix)
    notes = []
    if any(t['norm'] for t in geom['tasks']):
        notes.append('norm_rgb (GT patch stats) un-normalises every patch '
                     'with the mean/std of the true rgb patch: it leaks the '
                     'answer; the raw z-scores row (-3..3 -> black..white) '
                     'is the honest one.')
    if any(t['kind'] == 'depth' for t in geom['tasks']):
        notes.append('depth: standardised, viridis over the input 10-90% '
                     'range (dark = near).')
    if palette is not None and classes:
        notes.append('semseg: ' + ', '.join(
            f'{i} {c}' for i, c in enumerate(classes)) + '.')
    img, layout = make_image_grid(rows, labels, COLUMN_TITLES, title=title,
                                  footnote=' '.join(notes),
                                  return_layout=True)
    layout['rows'] = labels
    return img, layout, metrics


def _expand(tasks: Sequence[dict]) -> List[dict]:
    """One entry per drawn row (norm tasks draw two)."""
    out = []
    for t in tasks:
        out += [t, t] if (t['norm'] and t['kind'] == 'rgb') else [t]
    return out


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------
def run(args) -> List[dict]:
    """Draw every image; returns one record per PNG: ``png``, ``mask_file``,
    ``masks`` (``{mod: (h, w) bool}``), ``layout`` (see
    :func:`mmmae.visualization.make_image_grid`, plus ``rows``) and
    ``metrics`` (hidden-pixel rgb MSE / depth L1 / semseg accuracy)."""
    import torch
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope

    import mmmae  # noqa: F401  (registries)
    from mmmae.visualization import make_palette, save_image, seeded

    for p, what in ((args.config, 'config'), (args.input, 'input')):
        if not osp.exists(p):
            raise UsageError(f'{what} {p} does not exist')
    if args.mask_file and (args.visible or args.num_visible is not None):
        raise UsageError('--mask-file cannot be combined with --visible or '
                         '--num-visible')
    try:
        cfg = Config.fromfile(args.config)
    except Exception as e:  # noqa: BLE001
        raise UsageError(f'cannot read config {args.config}: {e}')
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmmae'))
    device = args.device or ('cuda:0' if torch.cuda.is_available() else 'cpu')

    model = build_model(cfg, args.checkpoint, device, args.config)
    geom = model_geometry(model)
    samples = collect_inputs(args.input, geom['modalities'], args.max_images)
    pipeline = make_pipeline(cfg, geom)

    gen_cfg = _mask_generator_cfg(cfg)
    n_all = geom['grid'][0] * geom['grid'][1] * len(geom['modalities'])
    fractions = file_masks = None
    num_visible = args.num_visible
    if args.mask_file:
        file_masks = load_mask_file(args.mask_file, geom['modalities'],
                                    geom['grid'])
    elif args.visible:
        fractions = parse_visible(args.visible, geom['modalities'])
    elif num_visible is None:
        num_visible = int(gen_cfg.get('num_visible') or round(n_all / 6))
    if num_visible is not None and num_visible < 1:
        raise UsageError(f'--num-visible must be >= 1, got {num_visible}')
    mode = mask_mode(args, fractions, num_visible)

    classes, palette = find_class_info(args.input)
    seg_classes = max(geom['num_classes'].values(), default=0)
    for t in geom['tasks']:
        if t['kind'] == 'semseg':
            seg_classes = max(seg_classes, t['channels'])
    if not palette or len(palette) < seg_classes:
        palette, classes = make_palette(max(seg_classes, 1)), None

    os.makedirs(args.out, exist_ok=True)
    records = []
    gh, gw = geom['grid']
    for k, s in enumerate(samples):
        given = list(s['img_path'])
        with seeded(args.seed + k):
            masks = draw_masks(geom, given, fractions, num_visible,
                               file_masks, gen_cfg.get('alpha', 1.0))
        try:
            sample = pipeline(dict(img_path=dict(s['img_path'])))
        except (ValueError, KeyError, OSError) as e:
            raise UsageError(f'{s["name"]}: {e}')
        for m, ncls in geom['num_classes'].items():
            if m in sample['inputs']:
                top = int(sample['inputs'][m].max())
                if top >= ncls or int(sample['inputs'][m].min()) < 0:
                    raise UsageError(
                        f'{s["img_path"][m]}: class id {top} is outside the '
                        f"model's {ncls} {m} classes")
        sample['data_samples'].masks = {
            m: torch.from_numpy(masks[m].copy())
            for m in given
        }
        with torch.inference_mode():
            data = model.data_preprocessor(pseudo_collate([sample]), False)
            out = model.predict(data['inputs'], data['data_samples'])[0]
        used = {m: out.masks[m].cpu().numpy().astype(bool) for m in given}
        for m in given:  # what the model used is what was asked
            assert np.array_equal(used[m], masks[m]), m
        inputs = {m: v[0].cpu() for m, v in data['inputs'].items()}
        preds = {t: p.detach().float().cpu() for t, p in out.pred.items()}
        n = gh * gw
        vis = ', '.join(f'{m} {int((~masks[m]).sum())}/{n}' +
                        ('' if m in given else ' (not given)')
                        for m in geom['modalities'])
        title = f'{s["name"]}: visible tokens {vis} [{mode}]'
        img, layout, metrics = render_sample(model, geom, inputs, masks,
                                             preds, palette, classes, title)
        png = osp.join(args.out, f'{s["name"]}_{mode}.png')
        save_image(png, img)
        mask_file = osp.join(args.out, f'{s["name"]}_{mode}_mask.npz')
        grid_masks = {m: masks[m].reshape(gh, gw) for m in geom['modalities']}
        np.savez(mask_file,
                 **{m: v.astype(np.uint8)
                    for m, v in grid_masks.items()})
        msg = ', '.join(f'{k_} {v:.4f}' for k_, v in metrics.items())
        print(png + (f'  (hidden pixels: {msg})' if msg else ''), flush=True)
        records.append(dict(png=png, mask_file=mask_file, masks=grid_masks,
                            layout=layout, metrics=metrics))
    if not records:
        raise UsageError(f'no image to draw in {args.input}')
    return records


def main(argv=None) -> int:
    """Entry point; returns the exit status (0 ok, 2 usage error)."""
    try:
        args = parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or a bad option (2)
        return int(e.code or 0)
    try:
        run(args)
    except UsageError as e:
        print(f'{TAG} error: {e}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
