# Copyright (c) mmmae contributors. All rights reserved.
"""Cross-modal predictions of a multi-modal *video* MAE, and their pictures.

A ``mmmae.MultiMAE`` with tubelet input adapters (``TubeletInputAdapter``,
``SemSegTubeletAdapter``) encodes the visible tubes of rgb, depth and
semseg clips and decodes every modality; with rgb fully visible and the
other inputs fully hidden that is depth and segmentation *video* from rgb
(:func:`predict_video_cross_modal`). :func:`visualize_multimodal_video`
draws it for the clips of a dataset split (the layout of
``docs/multimodal_video.md``), ``tools/visualize_multimodal_video.py`` is
its command line.

Preprocessing is deterministic (:func:`build_video_pipeline`): the loading
steps of the config's val (else test, else train) pipeline with the frame
sampler in test mode, one clip, then a short-side resize to the model
size and a centre crop (nearest for labels). Label clips stay at full
resolution for the picture; the model gets them down-sampled to its
adapter's stride by the training transform.
"""
import copy
import os
import os.path as osp
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn

from .inference import InputError, build_pipeline, find_dataset_pipeline, \
    load_config
from .multimae import _warn
from .reconstruction import _short

__all__ = [
    'video_mae_geometry', 'build_video_pipeline', 'open_video_split',
    'predict_video_cross_modal', 'visualize_multimodal_video'
]


def video_mae_geometry(model: nn.Module) -> dict:
    """:func:`~mmmae.apis.multimae_geometry` of a video MultiMAE.

    Returns:
        dict: the image geometry (``modalities``, ``img_size`` ``(H, W)``,
        ``patch``, ``tasks``, ...) with ``grid`` the token grid
        ``(T', h, w)``, plus ``num_frames`` ``T``, ``tubelet`` and, per
        label input, ``num_classes`` and ``seg_stride``.

    Raises:
        InputError: an input adapter is not a tubelet adapter (an image
            MultiMAE: use ``tools/visualize_multimae.py``), or the adapters
            disagree on the clip geometry.
    """
    from mmmae.models.backbones.adapters import SemSegTubeletAdapter
    from .multimae import multimae_geometry
    geom = multimae_geometry(model)
    adapters = model.backbone.input_adapters
    clip = set()
    for name, a in adapters.items():
        if getattr(a, 'tubelet_size', None) is None:
            raise InputError(
                f'input adapter {name!r} is a {type(a).__name__}, not a '
                'tubelet adapter: this is an image MultiMAE (draw it with '
                'tools/visualize_multimae.py)')
        clip.add((int(a.num_frames), int(a.tubelet_size)))
        if isinstance(a, SemSegTubeletAdapter):
            geom['num_classes'][name] = int(a.num_classes)
            geom['seg_stride'][name] = int(a.stride_level)
    if len(clip) != 1:
        raise InputError(f'input adapters disagree on (num_frames, '
                         f'tubelet_size): {sorted(clip)}')
    geom['num_frames'], geom['tubelet'] = clip.pop()
    geom['grid'] = (geom['num_frames'] // geom['tubelet'], *geom['grid'])
    return geom


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------
def _loading_steps(cfg) -> list:
    """The steps up to ``LoadMultiModalVideo`` of the first of the val,
    test and train pipelines that has one (empty when none has)."""
    for split in ('val', 'test', 'train'):
        try:
            steps = find_dataset_pipeline(cfg, split)
        except InputError:
            continue
        names = [_short(s.get('type')) for s in steps]
        if 'LoadMultiModalVideo' in names:
            return steps[:names.index('LoadMultiModalVideo') + 1]
    return []


def _scoped(step: dict) -> dict:
    """Prefix an mmmae transform's bare type: the chain is built in the
    mmaction scope (for ``SampleFrames``)."""
    from mmmae.registry import TRANSFORMS
    name = str(step.get('type'))
    if '.' not in name and name in TRANSFORMS.module_dict:
        step = dict(step, type='mmmae.' + name)
    return step


def build_video_pipeline(cfg, geom: dict):
    """Deterministic chain from a clip's data info to a packed clip.

    The config's loading steps (:func:`_loading_steps`: video backend,
    frame sampling, depth key, ...) with every frame sampler set to
    ``test_mode=True, num_clips=1`` and ``PerSampleSeed`` dropped; without
    any, ``VideoInit`` + ``SampleFrames(clip_len=T)`` + ``VideoDecode`` +
    ``LoadMultiModalVideo``. Then ``MultiModalVideoResize`` (short side to
    the longer model side), ``MultiModalVideoCenterCrop`` to the model size
    and ``PackMultiModalVideoInputs`` (labels at full resolution).

    Args:
        cfg (Config): the model's config.
        geom (dict): :func:`video_mae_geometry`.

    Returns:
        Compose: input: a :class:`~mmmae.datasets.MultiModalVideoDataset`
        data info.
    """
    steps = []
    for step in _loading_steps(cfg):
        name = _short(step.get('type'))
        if name == 'PerSampleSeed':
            continue
        if 'Sample' in name:
            step = dict(step, test_mode=True, num_clips=1)
        steps.append(_scoped(step))
    if not steps:
        steps = [
            dict(type='mmmae.VideoInit'),
            dict(type='SampleFrames', clip_len=geom['num_frames'],
                 frame_interval=1, num_clips=1, test_mode=True),
            dict(type='mmmae.VideoDecode'),
            dict(type='mmmae.LoadMultiModalVideo'),
        ]
    steps += [
        dict(type='mmmae.MultiModalVideoResize', scale=max(geom['img_size'])),
        dict(type='mmmae.MultiModalVideoCenterCrop',
             crop_size=tuple(geom['img_size'])),
        dict(type='mmmae.PackMultiModalVideoInputs'),
    ]
    return build_pipeline(steps, 'mmaction')


def open_video_split(data_root: str, split: str, geom: dict):
    """The clips of ``data_root/split`` with the model's modalities.

    Modalities (inputs and decoder targets) whose folder is missing are
    not given (predicted only; a warning says so); ``rgb/`` must exist.

    Returns:
        MultiModalVideoDataset: without a pipeline
        (``get_data_info(i)`` is :func:`predict_video_cross_modal`'s
        input).

    Raises:
        InputError: a missing root, clip list, rgb folder or clip file
            (named).
    """
    from mmmae.datasets import MultiModalVideoDataset
    if not osp.isdir(data_root):
        raise InputError(f'data root {data_root} does not exist')
    ann = osp.join(data_root, f'{split}.txt')
    if not osp.isfile(ann):
        raise InputError(f'{ann} does not exist (the clip list of split '
                         f'{split!r}; see docs/multimodal_video.md)')
    rgb_dir = osp.join(data_root, split, 'rgb')
    if not osp.isdir(rgb_dir):
        raise InputError(f'{rgb_dir} does not exist (the rgb videos)')
    wanted = list(dict.fromkeys(
        list(geom['modalities']) + [t['target'] for t in geom['tasks']]))
    present = []
    for m in wanted:
        if osp.isdir(osp.join(data_root, split, m)):
            present.append(m)
        else:
            _warn(f'{osp.join(data_root, split, m)} does not exist: {m} is '
                  'not given (predicted only)')
    try:
        return MultiModalVideoDataset(data_root=data_root, split=split,
                                      modalities=present,
                                      serialize_data=False)
    except (FileNotFoundError, RuntimeError, ValueError) as e:
        raise InputError(f'{data_root}: {e}')


# --------------------------------------------------------------------------
# prediction
# --------------------------------------------------------------------------
def _tube_masks(geom: dict, given: Sequence[str], visible: Sequence[str],
                slots: int) -> Dict[str, np.ndarray]:
    """``(slots * h * w,)`` bool per input modality (True = hidden): the
    :func:`draw_multimae_masks` pattern of one slot, in every slot."""
    from .multimae import draw_multimae_masks, parse_visible
    fractions = parse_visible(list(visible), geom['modalities'])
    if not any(f > 0 for f in fractions.values()):
        raise InputError(f'nothing is visible: --visible {list(visible)} '
                         'shows no token (name a modality, e.g. rgb)')
    slot = draw_multimae_masks(
        dict(modalities=geom['modalities'], grid=geom['grid'][1:]),
        list(given), fractions)
    return {m: np.tile(v, slots) for m, v in slot.items()}


def _model_labels(name: str, ids: torch.Tensor, mask: np.ndarray,
                  geom: dict) -> torch.Tensor:
    """Full-resolution ids ``(T, H, W)`` -> the adapter's ``(T, h, w)``."""
    from mmmae.datasets.transforms import MultiModalVideoSemSegDownsample
    stride = geom['seg_stride'][name]
    down = MultiModalVideoSemSegDownsample(factor=stride, keys=(name, ))
    arr = down(dict(videos={name: ids.numpy()}))['videos'][name]
    bad = (arr < 0) | (arr >= geom['num_classes'][name])
    if bad.any():
        if not mask.all():
            raise InputError(
                f'{name} holds class ids outside the model\'s '
                f'{geom["num_classes"][name]} classes (e.g. '
                f'{int(arr[bad][0])}) and is visible; hide it')
        # hidden tokens are never encoded: any valid id will do
        arr = np.where(bad, 0, arr)
    return torch.from_numpy(np.ascontiguousarray(arr))


def predict_video_cross_modal(model: nn.Module,
                              clip_inputs: Mapping,
                              visible: Sequence[str] = ('rgb', ),
                              pipeline=None,
                              geom: Optional[dict] = None,
                              seed: Optional[int] = 0) -> Dict[str, Any]:
    """Predict every decoder task of one clip from its visible tubes.

    The ``visible`` modalities are shown (``MOD`` every tube, ``MOD:FRAC``
    that fraction of the spatial cells at random positions, as tubes), the
    other inputs are fully hidden.

    Args:
        model (MultiMAE): a video MultiMAE from
            :func:`~mmmae.apis.init_multimae_model` (eval mode).
        clip_inputs (Mapping): a
            :class:`~mmmae.datasets.MultiModalVideoDataset` data info
            (``dataset.get_data_info(i)``), run through ``pipeline``; or an
            already packed clip (``dict(inputs=..., data_samples=...)`` of
            ``PackMultiModalVideoInputs``, labels at full resolution).
        visible (Sequence[str]): ``MOD`` or ``MOD:FRAC`` items.
        pipeline (Compose, optional): default :func:`build_video_pipeline`
            of ``model.cfg``.
        geom (dict, optional): :func:`video_mae_geometry`.
        seed (int, optional): seed of partial (``MOD:FRAC``) masks.

    Returns:
        dict: ``clip`` (the given data, CPU: rgb uint8 ``(3, T, H, W)``,
        depth float ``(1, T, H, W)`` metres, NaN = no depth, semseg int64
        ``(T, H, W)``), ``inputs`` (data-preprocessor output, batch axis
        dropped: normalised rgb, standardised depth, ``(T, h, w)`` ids),
        ``preds`` (``task -> (C, T, h, w)`` float; semseg logits),
        ``masks`` (``(T' * h * w,)`` bool per input modality, True =
        hidden), ``maps`` (:func:`~mmmae.visualization.multimodal_video.
        video_prediction_maps`), ``given``, ``geom``, ``thw`` (the clip's
        ``(T, H, W)``), ``frame_inds``, ``name`` and ``label``.

    Raises:
        InputError: unreadable files (named), a visible modality that is
            not given, nothing visible.
    """
    from mmengine.dataset import pseudo_collate

    from mmmae.visualization import seeded
    from mmmae.visualization.multimodal_video import video_prediction_maps
    geom = geom or video_mae_geometry(model)
    if 'inputs' in clip_inputs:
        sample = copy.copy(dict(clip_inputs))
        sample['data_samples'] = copy.deepcopy(sample['data_samples'])
        where = sample['data_samples'].get('filename', 'the clip')
    else:
        where = clip_inputs.get('filename', 'the clip')
        if pipeline is None:
            pipeline = build_video_pipeline(model.cfg, geom)
        try:
            sample = pipeline(copy.deepcopy(dict(clip_inputs)))
        except (ValueError, KeyError, OSError, RuntimeError) as e:
            raise InputError(f'{where}: {e}')
        if sample is None:
            raise InputError(f'{where}: the pipeline returned nothing')
    packed, ds = dict(sample['inputs']), sample['data_samples']
    if any(v.dim() > (3 if geom['num_classes'].get(m) else 4)
           for m, v in packed.items()):
        raise InputError(f'{where}: one clip expected, got views '
                         f'{ {m: tuple(v.shape) for m, v in packed.items()} }')
    given = [m for m in geom['modalities'] if m in packed]
    T = next(iter(packed.values())).shape[-3]
    if T % geom['tubelet']:
        raise InputError(f'{where}: a clip of {T} frames does not split '
                         f'into tubelets of {geom["tubelet"]}')
    with seeded(seed):
        masks = _tube_masks(geom, given, visible, T // geom['tubelet'])
    clip = {}
    for m, v in packed.items():
        if v.is_floating_point() and 'valid_masks' in ds and \
                m in ds.valid_masks:
            v = torch.where(ds.valid_masks[m], v, torch.nan)
        clip[m] = v.cpu()
    for m in geom['num_classes']:
        if m in packed:
            packed[m] = _model_labels(m, packed[m], masks[m], geom)
    ds.masks = {m: torch.from_numpy(masks[m].copy()) for m in given}
    with torch.inference_mode():
        data = model.data_preprocessor(
            pseudo_collate([dict(inputs=packed, data_samples=ds)]), False)
        out = model.predict(data['inputs'], data['data_samples'])[0]
    meta = ds.metainfo
    first = next(iter(clip.values()))
    res = dict(clip=clip, thw=tuple(first.shape[-3:]),
               inputs={m: v[0].cpu() for m, v in data['inputs'].items()},
               preds={t: p.detach().float().cpu()
                      for t, p in out.pred.items()},
               masks=masks, given=given, geom=geom,
               frame_inds=meta.get('frame_inds'),
               name=meta.get('clip_name'),
               label=int(ds.gt_label[0]) if 'gt_label' in ds else -1)
    res['maps'] = video_prediction_maps(model.data_preprocessor, geom, res)
    return res


# --------------------------------------------------------------------------
# pictures
# --------------------------------------------------------------------------
def visualize_multimodal_video(config: Union[str, Any],
                               checkpoint: str,
                               data_root: str,
                               out_dir: str,
                               *,
                               split: str = 'val',
                               visible: Sequence[str] = ('rgb', ),
                               max_clips: Optional[int] = 4,
                               frames_shown: int = 8,
                               seed: int = 0,
                               device: Optional[str] = None,
                               cfg_options: Optional[dict] = None
                               ) -> List[dict]:
    """Draw a video MultiMAE's predictions for the first clips of a split.

    Writes ``OUT/<clip>_<maskmode>.png`` per clip (``maskmode`` e.g.
    ``vis-rgb``, see :func:`~mmmae.apis.multimae_mask_mode`), drawn by
    :func:`~mmmae.visualization.multimodal_video.render_multimodal_video`.

    Args:
        config: A video MultiMAE config (path or Config).
        checkpoint: Its checkpoint, or ``'none'`` for the random init.
        data_root: A multi-modal video dataset root.
        out_dir: Output folder.
        split: The split drawn. Defaults to ``'val'``.
        visible: ``MOD`` or ``MOD:FRAC`` items; the other inputs are fully
            hidden. Defaults to rgb alone.
        max_clips: At most this many clips (None = all). Defaults to 4.
        frames_shown: Columns (evenly spaced frames). Defaults to 8.
        seed: Clip ``k`` draws partial masks with ``seed + k``.
        device: e.g. ``'cpu'``; default ``cuda:0`` when available.
        cfg_options: Config overrides.

    Returns:
        list[dict]: One record per PNG: ``png``, ``clip`` (name),
        ``label``, ``frame_inds`` (video frames of the clip), ``masks``
        (``{mod: (T', h, w) bool}``, True = hidden), ``layout`` (tile
        boxes, ``rows``, ``frames``, ``depth_range``) and ``metrics``
        (hidden tubes: ``<task>_mse`` rgb, ``<task>_absrel`` / ``_l1``
        depth, ``<task>_acc`` semseg; see
        :func:`~mmmae.visualization.multimodal_video.hidden_tube_metrics`).

    Raises:
        InputError: A path, option or config is wrong (the message names
            it).
        FileNotFoundError: The checkpoint does not exist.
    """
    from mmmae.visualization import make_palette, save_image
    from mmmae.visualization.multimodal_video import render_multimodal_video
    from .multimae import init_multimae_model, parse_visible
    from .visualize import _device, multimae_mask_mode
    if isinstance(config, str) and not osp.isfile(config):
        raise InputError(f'config {config} does not exist')
    if not osp.isdir(data_root):
        raise InputError(f'data root {data_root} does not exist')
    try:
        cfg = load_config(config, cfg_options)
    except Exception as e:  # noqa: BLE001 (syntax errors, bad options...)
        raise InputError(f'cannot read config {config}: {e}')
    model = init_multimae_model(cfg, checkpoint, _device(device))
    if str(checkpoint).lower() == 'none':
        print('checkpoint none: randomly initialised model')
    geom = video_mae_geometry(model)
    fractions = parse_visible(list(visible), geom['modalities'])
    mode = multimae_mask_mode(fractions, None, seed)
    dataset = open_video_split(data_root, split, geom)
    pipeline = build_video_pipeline(model.cfg, geom)
    meta = dataset.metainfo
    classes, palette = meta.get('classes'), meta.get('palette')
    seg_classes = max([1] + list(geom['num_classes'].values()) + [
        t['channels'] for t in geom['tasks'] if t['kind'] == 'semseg'])
    if not palette or len(palette) < seg_classes:
        palette, classes = make_palette(seg_classes), None
    motions = meta.get('motion_classes') or []
    os.makedirs(out_dir, exist_ok=True)
    count = len(dataset) if max_clips is None else min(
        len(dataset), max(0, int(max_clips)))
    records = []
    for k in range(count):
        res = predict_video_cross_modal(model, dataset.get_data_info(k),
                                        visible, pipeline, geom, seed + k)
        name = str(res['name'])
        label = res['label']
        motion = f' ({motions[label]})' if 0 <= label < len(motions) else ''
        vis = ', '.join(f'{m} {int((~res["masks"][m]).sum())}/'
                        f'{res["masks"][m].size}' +
                        ('' if m in res['given'] else ' (not given)')
                        for m in geom['modalities'])
        img, layout, metrics = render_multimodal_video(
            model.data_preprocessor, geom, res, palette, classes,
            frames_shown, title=f'{name}{motion}: visible tokens {vis} '
            f'[{mode}]')
        png = osp.join(out_dir, f'{name.replace("/", "__")}_{mode}.png')
        save_image(png, img)
        msg = ', '.join(f'{k_} {v:.4f}' for k_, v in metrics.items())
        print(png + (f'  (hidden tubes: {msg})' if msg else ''), flush=True)
        records.append(dict(
            png=png, clip=name, label=label,
            frame_inds=[int(i) for i in np.asarray(res['frame_inds'])],
            masks={m: v.reshape(-1, *geom['grid'][1:])
                   for m, v in res['masks'].items()},
            layout=layout, metrics=metrics))
    if not records:
        raise InputError(f'no clip to draw in {data_root}/{split}.txt')
    return records
