# Copyright (c) mmmae contributors. All rights reserved.
"""VideoMAE reconstructions of a video: masked input, prediction, target.

The clip is read with the config's *training* pipeline made deterministic
(:func:`make_deterministic_pipeline`): frame sampling in test mode, random
crops replaced by a short-side resize and a center crop to the model input
size, flips/colour jitter dropped; the pipeline's mask generator is kept
(its ratio can be overridden) and seeded.
"""
import copy
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from .inference import InputError, build_pipeline

__all__ = [
    'RANDOM_CROPS', 'RANDOM_AUGS', 'find_train_pipeline',
    'make_deterministic_pipeline', 'build_reconstruction_pipeline',
    'reconstruct_video'
]

#: Random spatial crops, replaced by resize + center crop.
RANDOM_CROPS = ('MultiScaleCrop', 'RandomResizedCrop', 'RandomCrop',
                'RandomRescale', 'RandomScale')
#: Random augmentations that are dropped.
RANDOM_AUGS = ('Flip', 'ColorJitter', 'RandAugment', 'RandomErasing',
               'PytorchVideoWrapper', 'ImgAug', 'TorchVisionWrapper',
               'PoseCompact')


def _short(type_name) -> str:
    return str(type_name).split('.')[-1]


def _scope_prefix(type_name) -> str:
    s = str(type_name)
    return s[:s.rindex('.') + 1] if '.' in s else ''


def find_train_pipeline(cfg) -> Tuple[list, Optional[str]]:
    """The train dataset's ``pipeline`` and the registry scope to build it in.

    Dataset wrappers (``dataset=dict(dataset=...)`` or ``datasets=[...]``)
    are unwrapped. The scope is the innermost ``_scope_`` on the way (e.g.
    ``'mmaction'`` for mmaction's ``RepeatAugDataset``), None for the default
    scope.

    Returns:
        tuple: ``(pipeline, scope)``.

    Raises:
        KeyError: the config has no train pipeline.
    """
    ds = cfg.get('train_dataloader', {}).get('dataset')
    scope = None
    while ds is not None:
        scope = ds.get('_scope_', scope)
        if 'pipeline' in ds:
            break
        inner = ds.get('dataset')
        if inner is None and ds.get('datasets'):
            inner = ds['datasets'][0]
        ds = inner
    if ds is None:
        raise KeyError('the config has no train_dataloader.dataset.pipeline')
    return copy.deepcopy(list(ds['pipeline'])), scope


def _crop_size(step: dict) -> Optional[Tuple[int, int]]:
    """``(w, h)`` a crop transform produces, when it says."""
    for key in ('input_size', 'crop_size', 'size'):
        v = step.get(key)
        if v is None:
            continue
        if isinstance(v, int):
            return v, v
        v = tuple(v)
        if len(v) == 2 and min(v) > 0:
            return int(v[0]), int(v[1])
    return None


def _fixed_resize(step: dict) -> Optional[Tuple[int, int]]:
    if _short(step.get('type')) != 'Resize':
        return None
    scale = step.get('scale')
    if (isinstance(scale, (tuple, list)) and len(scale) == 2
            and min(scale) > 0 and not step.get('keep_ratio', True)):
        return int(scale[0]), int(scale[1])
    return None


def make_deterministic_pipeline(pipeline: Sequence[dict],
                                input_size: Optional[int] = None,
                                mask_ratio: Optional[float] = None) -> list:
    """Turn a training pipeline into a deterministic one.

    * frame samplers (``*Sample*`` transforms): ``test_mode=True``,
      ``num_clips=1``;
    * random crops (:data:`RANDOM_CROPS`): replaced by
      ``Resize(scale=(-1, S))`` + ``CenterCrop(S)`` where ``S`` is the crop's
      output size, the size of a later fixed ``Resize``, or ``input_size``;
    * random augmentations (:data:`RANDOM_AUGS`): dropped;
    * encoder mask generators (``*MaskGenerator``, not the V2 running-cell
      decoder mask): ``mask_ratio`` set when given.

    Args:
        pipeline (Sequence[dict]): the training pipeline (not modified).
        input_size (int, optional): fallback crop size.
        mask_ratio (float, optional): encoder mask ratio override.

    Returns:
        list[dict]: the new pipeline.

    Raises:
        ValueError: a random crop of unknown size and no ``input_size``.
    """
    src = copy.deepcopy(list(pipeline))
    out = []
    for k, step in enumerate(src):
        name = _short(step.get('type'))
        prefix = _scope_prefix(step.get('type'))
        if name in RANDOM_CROPS:
            size = _crop_size(step)
            if size is None:
                for later in src[k + 1:]:
                    size = _fixed_resize(later)
                    if size is not None:
                        break
            if size is None and input_size is not None:
                size = (int(input_size), int(input_size))
            if size is None:
                raise ValueError(f'cannot tell the output size of {name}; '
                                 'pass input_size')
            out.append(dict(type=prefix + 'Resize', scale=(-1, max(size))))
            out.append(dict(type=prefix + 'CenterCrop', crop_size=size))
            continue
        if name in RANDOM_AUGS:
            continue
        if 'Sample' in name and 'Mask' not in name:
            step['test_mode'] = True
            if 'num_clips' in step:
                step['num_clips'] = 1
        if (name.endswith('MaskGenerator') and 'RunningCell' not in name
                and mask_ratio is not None):
            step['mask_ratio'] = float(mask_ratio)
        out.append(step)
    return out


def _input_size(cfg) -> Optional[int]:
    bb = cfg.get('model', {}).get('backbone', {})
    size = bb.get('img_size') if hasattr(bb, 'get') else None
    if isinstance(size, (tuple, list)):
        size = size[0]
    return size


def build_reconstruction_pipeline(cfg, mask_ratio: Optional[float] = None):
    """The deterministic training pipeline of ``cfg``, composed.

    Args:
        cfg (Config): a VideoMAE pretraining config.
        mask_ratio (float, optional): encoder mask ratio override.

    Returns:
        Compose: built in the train dataset's scope (its ``_scope_``, else
        the current one).
    """
    steps, scope = find_train_pipeline(cfg)
    steps = make_deterministic_pipeline(steps, _input_size(cfg), mask_ratio)
    return build_pipeline(steps, scope)


def reconstruct_video(model: nn.Module,
                      video: Union[str, dict],
                      pipeline=None,
                      mask_ratio: Optional[float] = None,
                      seed: Optional[int] = 0) -> List[Dict[str, Any]]:
    """Mask a clip of a video and reconstruct it with a VideoMAE model.

    Args:
        model (nn.Module): a (possibly wrapped) ``VideoMAE`` from
            :func:`~mmmae.apis.init_model` (``model.cfg`` gives the
            pipeline when ``pipeline`` is None).
        video (str | dict): a video file or the pipeline's input dict.
        pipeline (Compose, optional): instead of
            :func:`build_reconstruction_pipeline` of ``model.cfg``.
        mask_ratio (float, optional): encoder mask ratio override (only
            used to build the pipeline).
        seed (int, optional): seeds frame sampling and the mask (the global
            RNGs are restored after); None leaves the RNGs alone.

    Returns:
        list[dict]: one per view of the clip (usually one), on the CPU:

        * ``original``: ``(C, T, H, W)`` target clip in [0, 1];
        * ``mask``: ``(N,)`` bool, True = hidden from the encoder;
        * ``decoder_mask``: ``(N,)`` bool V2 decoder mask (True = not
          reconstructed) or None;
        * ``masked_input``: ``(C, T, H, W)`` the original with hidden
          pixels at 0.5 (what the encoder sees);
        * ``pred_video``: ``(C, T, H, W)`` reconstruction, visible patches
          from the input, predicted ones un-normalised without
          ground-truth statistics (the honest view);
        * ``pred_video_gt_stats``: the same with the ground-truth patch
          mean/std (leaks the answer), or None;
        * ``pixel_mask``: ``(T, H, W)`` bool, pixels hidden and predicted;
        * ``mse`` / ``mse_gt_stats``: MSE over ``pixel_mask`` (nan when
          nothing is hidden; None without the leaky view);
        * ``patch_size``, ``tubelet_size``.

    Raises:
        InputError: the pipeline failed or returned nothing (an unreadable
            video), naming the file.
    """
    from mmengine.dataset import pseudo_collate

    from mmmae.visualization import (infer_token_geometry, mask_to_pixels,
                                     masked_mse, predict_reconstructions,
                                     predicted_pixels, seeded, unwrap_model)
    inner = unwrap_model(model)
    if pipeline is None:
        pipeline = build_reconstruction_pipeline(inner.cfg, mask_ratio)
    if isinstance(video, dict):
        info = dict(video)
    else:
        info = dict(filename=str(video), label=-1, start_index=0,
                    modality='RGB')
    try:
        with seeded(seed):
            sample = pipeline(info)
    except Exception as e:  # decoders raise their own types
        first = (str(e).strip().splitlines() or [''])[0][:300]
        raise InputError(f'{info.get("filename")}: cannot read it '
                         f'({type(e).__name__}: {first})') from e
    if sample is None:
        raise InputError(f'{info.get("filename")}: the pipeline returned '
                         'nothing (unreadable?)')
    patch, tube = infer_token_geometry(inner)
    results = predict_reconstructions(model, [sample], pseudo_collate)
    for res in results:
        orig, mask = res['original'], res['mask']
        hidden = torch.from_numpy(
            mask_to_pixels(mask, orig.shape, patch, tube))
        res['masked_input'] = torch.where(hidden[None], 0.5, orig)
        pix = predicted_pixels(mask, orig.shape, patch, tube,
                               res['decoder_mask'])
        res['pixel_mask'] = pix
        res['mse'] = masked_mse(res['pred_video'], orig, pix)
        leaky = res['pred_video_gt_stats']
        res['mse_gt_stats'] = (masked_mse(leaky, orig, pix)
                               if leaky is not None else None)
        res['patch_size'], res['tubelet_size'] = patch, tube
    return results
