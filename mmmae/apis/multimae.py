# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAE predictions of images, cross-modal ones included.

Given the image modalities at hand (a plain RGB image, or RGB + depth +
semseg of a split folder) and a token mask per input modality, the model
predicts every decoder task; with RGB fully visible and the other inputs
fully masked that is depth and semantic segmentation *from RGB*
(:func:`predict_cross_modal`).

Preprocessing is deterministic (:func:`build_multimae_pipeline`): the
config's loader settings (depth scale, ...), the short side resized to the
model input size and a centre crop (one transform chain for all
modalities, nearest for labels), semseg down-sampled to the label
adapters' stride.
"""
import copy
import json
import logging
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn

from .inference import InputError, init_model, load_config, \
    quiet_init_weights

__all__ = [
    'IMG_EXTS', 'init_multimae_model', 'multimae_geometry',
    'build_multimae_pipeline', 'mask_generator_cfg', 'parse_visible',
    'load_mask_file', 'collect_images', 'find_class_info',
    'draw_multimae_masks', 'predict_multimae', 'predict_cross_modal'
]

IMG_EXTS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff',
            '.webp')
IMG_LIST_EXTS = ('.txt', '.lst')


def _warn(msg: str) -> None:
    from mmengine.logging import print_log
    print_log(msg, logger='current', level=logging.WARNING)


# --------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------
def init_multimae_model(config,
                        checkpoint: Optional[str] = None,
                        device: Union[str, torch.device] = 'cpu',
                        cfg_options: Optional[dict] = None) -> nn.Module:
    """:func:`~mmmae.apis.init_model` for a MultiMAE, checked first.

    Args:
        config (str | Path | Config): a config whose model is a MultiMAE.
        checkpoint (str, optional): MMEngine checkpoint (non-strict); None
            or ``'none'`` = the official random init (quietly).
        device (str | torch.device): target device.
        cfg_options (dict, optional): config overrides.

    Returns:
        MultiMAE: eval mode, ``.cfg`` set.

    Raises:
        InputError: no model, or not a MultiMAE (named before building).
        FileNotFoundError: the checkpoint does not exist.
    """
    from mmmae.models.algorithms.multimae import MultiMAE
    from mmmae.visualization import unwrap_model
    cfg = load_config(config, cfg_options)
    name = cfg.filename or 'config'
    if not cfg.get('model'):
        raise InputError(f'{name}: the config has no `model`')
    mtype = str(cfg.model.get('type', ''))
    if mtype.split('.')[-1] != 'MultiMAE':
        raise InputError(f'{name}: model type {mtype!r} is not a MultiMAE '
                         '(tools/visualize_reconstruction.py draws VideoMAE)')
    random = checkpoint is None or checkpoint.lower() == 'none'
    model = unwrap_model(init_model(cfg, None if random else checkpoint,
                                    'cpu'))
    if not isinstance(model, MultiMAE):
        raise InputError(f'{name}: the model is a {type(model).__name__}, '
                         'not a MultiMAE')
    if random:
        quiet_init_weights(model)
    return model.to(device).eval()


def multimae_geometry(model: nn.Module) -> dict:
    """What the pictures and masks need to know about a built MultiMAE.

    Returns:
        dict: ``modalities`` (input modalities in display order: rgb kinds,
        depth kinds, label kinds, others), ``img_size`` ``(H, W)``,
        ``patch`` ``(ph, pw)``, ``grid`` ``(h, w)`` tokens, ``num_classes``
        and ``seg_stride`` per label input, ``tasks`` (one dict per decoder
        task: ``task``, ``target``, ``kind``, ``norm`` (per-patch normalised
        target), ``norm_patch``, ``channels``, ``stride``), grouped by
        target modality, plain before norm-pix.

    Raises:
        InputError: input adapters disagree on size or patch.
    """
    from mmmae.datasets.transforms.multimodal import DEFAULT_MODALITY_KINDS
    from mmmae.models.backbones.multimae_vit import SemSegInputAdapter
    adapters = model.backbone.input_adapters
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
            raise InputError(f'input adapter {name!r} has img_size/patch '
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
        tasks.append(
            dict(task=task, target=target,
                 kind=DEFAULT_MODALITY_KINDS.get(target), norm=norm,
                 norm_patch=int(getattr(loss, 'scale_factor', patch[0])),
                 channels=int(getattr(dec, 'num_channels', 0)),
                 stride=int(getattr(dec, 'stride_level', 1))))
    order = {m: i for i, m in enumerate(modalities)}
    tasks.sort(key=lambda t: (order.get(t['target'], len(order)), t['norm']))
    return dict(modalities=modalities, img_size=img_size, patch=patch,
                grid=grid, num_classes=num_classes, seg_stride=seg_stride,
                tasks=tasks)


# --------------------------------------------------------------------------
# pipeline
# --------------------------------------------------------------------------
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


def mask_generator_cfg(cfg) -> dict:
    """The train pipeline's ``MultiModalMaskGenerator`` settings (or {})."""
    return _step(_train_pipeline(cfg), 'MultiModalMaskGenerator') or {}


def build_multimae_pipeline(cfg, geom: dict):
    """Deterministic eval chain: load (config settings), resize the short
    side, centre crop to the model size, semseg to 1/stride, pack.

    Args:
        cfg (Config): the model's config (for the loader settings).
        geom (dict): :func:`multimae_geometry`.

    Returns:
        Compose: input ``dict(img_path={modality: file})``.
    """
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
        raise InputError(f'label adapters use different strides {strides}')
    stride = strides.pop() if strides else 4
    if geom['seg_stride']:
        steps.append(dict(type='mmmae.SemSegDownsample', factor=stride,
                          keys=tuple(geom['seg_stride'])))
    steps.append(dict(type='mmmae.PackMultiModalInputs',
                      semseg_stride=stride))
    return Compose(steps)


# --------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------
def _images_in(folder: str) -> List[str]:
    return sorted(
        osp.join(folder, f) for f in os.listdir(folder)
        if f.lower().endswith(IMG_EXTS) and not f.startswith('.')
        and osp.isfile(osp.join(folder, f)))


def _single(path: str, main: str) -> dict:
    return dict(name=osp.splitext(osp.basename(path))[0],
                img_path={main: path})


def collect_images(path: str,
                   modalities: Sequence[str],
                   max_images: Optional[int] = None) -> List[dict]:
    """Resolve an INPUT argument to ``dict(name=..., img_path={mod: file})``.

    A folder with a subfolder named after the main (first) modality is a
    split folder: the modality subfolders present are matched by name
    (:class:`~mmmae.datasets.MultiModalFolderDataset`, a missing file is an
    error naming it); other folders, ``.txt``/``.lst`` lists and single
    images give main-modality-only samples.

    Returns:
        list[dict]: with unique ``name`` s (for output files).

    Raises:
        InputError: nothing usable, a missing file (named).
    """
    main = modalities[0]
    if osp.isdir(path):
        if osp.isdir(osp.join(path, main)):
            from mmmae.datasets import MultiModalFolderDataset
            present = [m for m in modalities if osp.isdir(osp.join(path, m))]
            for m in modalities:
                if m not in present:
                    _warn(f'{osp.join(path, m)} does not exist: {m} is not '
                          'given (predicted only)')
            try:
                ds = MultiModalFolderDataset(
                    data_root=path, split='', modalities=present,
                    main_modality=main, missing='error',
                    serialize_data=False)
            except (FileNotFoundError, RuntimeError, ValueError) as e:
                raise InputError(f'{path}: {e}')
            samples = [
                dict(name=d['rel_path'].replace('/', '__'),
                     img_path=dict(d['img_path'])) for d in ds.data_list
            ]
        else:
            files = _images_in(path)
            if not files:
                raise InputError(
                    f'{path} has neither a {main}/ subfolder (split folder) '
                    f'nor image files ({", ".join(IMG_EXTS)})')
            samples = [_single(f, main) for f in files]
    elif osp.isfile(path) and path.lower().endswith(IMG_LIST_EXTS):
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
            raise InputError(f'{path}: {len(missing)} listed images do not '
                             f'exist (first: {missing[0]})')
        if not files:
            raise InputError(f'{path} lists no image')
        samples = [_single(f, main) for f in files]
    elif osp.isfile(path):
        samples = [_single(path, main)]
    else:
        raise InputError(f'{path} is not a file or folder')
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
# masks
# --------------------------------------------------------------------------
def parse_visible(items: Sequence[str],
                  modalities: Sequence[str]) -> Dict[str, float]:
    """``['rgb', 'depth:0.5']`` -> ``{'rgb': 1.0, 'depth': 0.5}``.

    Raises:
        InputError: an unknown or repeated modality, a bad fraction.
    """
    out: Dict[str, float] = {}
    for item in items:
        name, sep, frac = str(item).partition(':')
        if name not in modalities:
            raise InputError(f'--visible {item!r}: {name!r} is not an input '
                             f'modality of the model ({list(modalities)})')
        if name in out:
            raise InputError(f'--visible names {name!r} twice')
        value = 1.0
        if sep:
            try:
                value = float(frac)
            except ValueError:
                value = -1.0
            if not 0.0 <= value <= 1.0:
                raise InputError(f'--visible {item!r}: the fraction must be '
                                 'a number in [0, 1]')
        out[name] = value
    return out


def load_mask_file(path: str, modalities: Sequence[str],
                   grid: Tuple[int, int]) -> Dict[str, np.ndarray]:
    """Read an ``.npz`` of per-modality 0/1 masks (1 = masked).

    Returns:
        dict: ``(N,)`` bool per modality; those missing from the file are
        fully masked.

    Raises:
        InputError: unreadable, unknown modality, wrong shape or values.
    """
    if not osp.isfile(path):
        raise InputError(f'--mask-file {path} does not exist')
    try:
        data = np.load(path)
        arrays = {k: np.asarray(data[k]) for k in data.files}
    except Exception as e:  # noqa: BLE001 (any unreadable file)
        raise InputError(f'--mask-file {path}: cannot read it as .npz ({e})')
    unknown = sorted(set(arrays) - set(modalities))
    if unknown:
        raise InputError(f'--mask-file {path}: {unknown} are not input '
                         f'modalities of the model ({list(modalities)})')
    n = grid[0] * grid[1]
    out = {}
    for m in modalities:
        if m not in arrays:
            _warn(f'{path} has no mask for {m}: fully masked')
            out[m] = np.ones(n, dtype=bool)
            continue
        arr = arrays[m]
        if arr.shape not in (tuple(grid), (n, )):
            raise InputError(f'--mask-file {path}: {m} has shape {arr.shape}'
                             f', expected the token grid {tuple(grid)}')
        if arr.dtype != bool and not np.isin(arr, (0, 1)).all():
            raise InputError(f'--mask-file {path}: {m} must hold only 0/1 '
                             '(1 = masked)')
        out[m] = arr.astype(bool).reshape(-1)
    return out


def draw_multimae_masks(geom: dict,
                        given: Sequence[str],
                        fractions: Optional[Dict[str, float]] = None,
                        num_visible: Optional[int] = None,
                        file_masks: Optional[Dict[str, np.ndarray]] = None,
                        alpha=1.0) -> Dict[str, np.ndarray]:
    """Token masks ``{modality: (N,) bool}`` (True = masked) of one image.

    ``fractions`` fixes that fraction of each listed modality's tokens
    visible at random positions (1.0 = all); without ``num_visible`` the
    unlisted ones are fully masked, with it they share ``num_visible``
    (minus the fixed visible tokens) by a Dirichlet(``alpha``) draw, as in
    pretraining. ``file_masks`` gives every mask. Modalities not in
    ``given`` are fully masked. Uses numpy's global RNG (seed it around the
    call, e.g. :func:`mmmae.visualization.seeded`).

    Raises:
        InputError: a modality that is not given asked to be visible, or
            an impossible combination.
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
            raise InputError(f'{m} is not given for this input (it has '
                             f'{list(given)}): it cannot be visible')
        fixed[m] = 'all'
    free = [m for m in mods if m not in fixed]
    if not free:
        if num_visible is not None:
            raise InputError('--num-visible needs a modality that --visible '
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
            _warn(f'num_visible={num_visible} cannot be met with {free} '
                  f'free: using {total}')
    if isinstance(alpha, dict):
        alpha = {m: alpha.get(m, 1.0) for m in mods}
    elif not isinstance(alpha, (int, float)):
        alpha = 1.0
    try:
        gen = MultiModalMaskGenerator(modalities=mods, grid=geom['grid'],
                                      num_visible=total, alpha=alpha,
                                      fixed_masks=fixed)
    except ValueError as e:
        raise InputError(f'cannot build the mask: {e}')
    return gen.generate()


# --------------------------------------------------------------------------
# prediction
# --------------------------------------------------------------------------
def predict_multimae(model: nn.Module,
                     img_path: Union[str, Dict[str, str]],
                     masks: Optional[Dict[str, np.ndarray]] = None,
                     pipeline=None,
                     geom: Optional[dict] = None) -> Dict[str, Any]:
    """Run a MultiMAE on one image (its modalities) under given masks.

    Args:
        model (MultiMAE): from :func:`init_multimae_model` (eval mode).
        img_path (str | dict): ``{modality: file}`` of the inputs at hand;
            a str is the main (rgb) modality alone.
        masks (dict, optional): ``(N,)`` bool per modality, True = hidden;
            None shows every given token. Modalities not given are fully
            masked by the model whatever ``masks`` says.
        pipeline (Compose, optional): default
            :func:`build_multimae_pipeline` of ``model.cfg``.
        geom (dict, optional): :func:`multimae_geometry` (computed when
            None).

    Returns:
        dict: ``inputs`` (normalised ``(C, H, W)`` / label ``(h, w)`` CPU
        tensors of the given modalities, data-preprocessor output),
        ``preds`` (``task -> (C, h, w)`` float CPU tensors; semseg as
        logits), ``masks`` (``modality -> (N,)`` bool the model used, every
        input modality), ``given`` (list) and ``geom``.

    Raises:
        InputError: unreadable files, class ids outside the model's range.
    """
    from mmengine.dataset import pseudo_collate
    geom = geom or multimae_geometry(model)
    if isinstance(img_path, str):
        img_path = {geom['modalities'][0]: img_path}
    given = list(img_path)
    if pipeline is None:
        pipeline = build_multimae_pipeline(model.cfg, geom)
    name = img_path[given[0]]
    try:
        sample = pipeline(dict(img_path=dict(img_path)))
    except (ValueError, KeyError, OSError) as e:
        raise InputError(f'{name}: {e}')
    for m, ncls in geom['num_classes'].items():
        if m in sample['inputs']:
            top = int(sample['inputs'][m].max())
            if top >= ncls or int(sample['inputs'][m].min()) < 0:
                raise InputError(f'{img_path[m]}: class id {top} is outside '
                                 f"the model's {ncls} {m} classes")
    if masks is not None:
        sample['data_samples'].masks = {
            m: torch.from_numpy(np.asarray(masks[m], bool).copy())
            for m in given
        }
    with torch.inference_mode():
        data = model.data_preprocessor(pseudo_collate([sample]), False)
        out = model.predict(data['inputs'], data['data_samples'])[0]
    n = geom['grid'][0] * geom['grid'][1]
    used = {
        m: (out.masks[m].cpu().numpy().astype(bool)
            if m in out.masks else np.ones(n, bool))
        for m in geom['modalities']
    }
    return dict(inputs={m: v[0].cpu() for m, v in data['inputs'].items()},
                preds={t: p.detach().float().cpu()
                       for t, p in out.pred.items()},
                masks=used, given=given, geom=geom)


def predict_cross_modal(model: nn.Module,
                        img_path: Union[str, Dict[str, str]],
                        visible: Sequence[str] = ('rgb', ),
                        pipeline=None) -> Dict[str, Any]:
    """Predict every task from the ``visible`` modalities alone.

    The listed modalities are fully visible, every other one fully masked:
    from a plain RGB image this gives the model's depth and semantic
    segmentation (and the RGB reconstruction).

    Args:
        model (MultiMAE): from :func:`init_multimae_model`.
        img_path (str | dict): the image (main modality) or
            ``{modality: file}``.
        visible (Sequence[str]): input modalities to show (must be given).
        pipeline (Compose, optional): see :func:`predict_multimae`.

    Returns:
        dict: :func:`predict_multimae`'s, plus ``maps``: per task a numpy
        map: ``(H, W, 3)`` RGB in [0, 1] (plain rgb targets), ``(h, w)``
        float (depth-like, one channel: the standardised depth the model
        predicts), ``(h, w)`` int64 class ids (semseg: argmax of the
        logits, at ``1 / stride`` resolution), else ``(C, h, w)`` float.

    Raises:
        InputError: a visible modality that is not an input or not given.
    """
    geom = multimae_geometry(model)
    if isinstance(img_path, str):
        img_path = {geom['modalities'][0]: img_path}
    fractions = parse_visible(list(visible), geom['modalities'])
    masks = draw_multimae_masks(geom, list(img_path), fractions)
    res = predict_multimae(model, img_path, masks, pipeline, geom)
    pre = model.data_preprocessor
    maps = {}
    for t in geom['tasks']:
        pred = res['preds'][t['task']]
        if t['kind'] == 'semseg':
            maps[t['task']] = pred.argmax(0).numpy()
        elif t['kind'] == 'rgb' and not t['norm'] and pred.shape[0] == 3:
            rgb = pre.denormalize_rgb(pred[None].to(pre.mean.device))[0]
            maps[t['task']] = (rgb / 255.).clamp(0, 1).permute(
                1, 2, 0).cpu().numpy()
        elif pred.shape[0] == 1:
            maps[t['task']] = pred[0].numpy()
        else:
            maps[t['task']] = pred.numpy()
    res['maps'] = maps
    return res
