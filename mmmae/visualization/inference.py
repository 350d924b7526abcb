# Copyright (c) mmmae contributors. All rights reserved.
"""Run a VideoMAE model on clips and collect what the pictures need."""
import contextlib
import copy
import random
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.model import is_model_wrapper

__all__ = [
    'seeded', 'infer_token_geometry', 'unwrap_model', 'predict_reconstructions'
]


@contextlib.contextmanager
def seeded(seed: Optional[int]):
    """Seed numpy, ``random`` and torch for a block, then restore them.

    Args:
        seed (int, optional): the seed; None leaves the RNGs alone.
    """
    if seed is None:
        yield
        return
    np_state = np.random.get_state()
    py_state = random.getstate()
    torch_state = torch.random.get_rng_state()
    np.random.seed(seed)
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
        torch.random.set_rng_state(torch_state)


def _first_attr(modules: Sequence[Any], names: Sequence[str]):
    for m in modules:
        if m is None:
            continue
        for n in names:
            v = getattr(m, n, None)
            if v is not None and not callable(v):
                return v
    return None


def infer_token_geometry(model: torch.nn.Module) -> Tuple[Any, int]:
    """Find ``(patch_size, tubelet_size)`` of a VideoMAE-like model.

    Looks at ``head``, ``neck`` then ``backbone`` (and the backbone's
    ``patch_embed``) for ``patch_size`` and ``tubelet_size`` attributes.

    Args:
        model (nn.Module): the unwrapped algorithm.

    Returns:
        tuple: ``(patch_size, tubelet_size)``; ``patch_size`` is an int or a
        pair.

    Raises:
        AttributeError: when neither can be found.
    """
    backbone = getattr(model, 'backbone', None)
    mods = [
        getattr(model, 'head', None),
        getattr(model, 'neck', None), backbone,
        getattr(backbone, 'patch_embed', None), model
    ]
    patch = _first_attr(mods, ['patch_size'])
    tube = _first_attr(mods, ['tubelet_size'])
    if patch is None or tube is None:
        proj = getattr(getattr(backbone, 'patch_embed', None), 'proj', None)
        ks = getattr(proj, 'kernel_size', None)
        if ks is not None and len(ks) == 3:
            tube = ks[0] if tube is None else tube
            patch = tuple(ks[1:]) if patch is None else patch
    if patch is None or tube is None:
        raise AttributeError(
            'cannot find patch_size/tubelet_size on the model; pass them to '
            'ReconstructionVisHook')
    if isinstance(patch, (tuple, list)):
        patch = tuple(int(p) for p in patch[-2:])
        if patch[0] == patch[1]:
            patch = patch[0]
    if isinstance(tube, (tuple, list)):
        tube = tube[0]
    return patch, int(tube)


def _field(sample: Any, name: str):
    """Read ``name`` from a data sample (or a dict); None when missing."""
    if sample is None:
        return None
    if isinstance(sample, dict):
        return sample.get(name)
    if hasattr(sample, 'get'):
        try:
            return sample.get(name, None)
        except TypeError:
            pass
    return getattr(sample, name, None)


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """Return ``model.module`` for DDP/FSDP-style wrappers, else ``model``."""
    return model.module if is_model_wrapper(model) else model


@torch.no_grad()
def predict_reconstructions(
        model: torch.nn.Module,
        samples: Sequence[dict],
        collate_fn: Optional[Callable] = None) -> List[Dict[str, Any]]:
    """Run ``data_preprocessor`` + ``predict`` on packed samples.

    The model is put in eval mode and restored to its previous mode after.
    The samples are deep-copied first (``predict`` writes into the data
    samples), so cached samples can be reused.

    Args:
        model (nn.Module): a (possibly wrapped) ``VideoMAE``.
        samples (Sequence[dict]): outputs of the dataset pipeline, each with
            ``inputs`` ``(V, C, T, H, W)`` uint8 and ``data_samples``.
        collate_fn (Callable, optional): defaults to ``pseudo_collate``.

    Returns:
        list[dict]: one entry per sample and view (``B * V``), in order, with
        ``original`` ``(C, T, H, W)`` in [0, 1], ``mask`` ``(N,)`` bool,
        ``pred_video`` ``(C, T, H, W)`` (raw view) and
        ``pred_video_gt_stats`` (leaky view, or None) and ``decoder_mask``
        (``(N,)`` bool V2 decoder mask, or None), all on the CPU.
    """
    model = unwrap_model(model)
    collate_fn = collate_fn or pseudo_collate
    batch = collate_fn(copy.deepcopy(list(samples)))
    was_training = model.training
    model.eval()
    try:
        data = model.data_preprocessor(batch, False)
        inputs, data_samples = data['inputs'], data['data_samples']
        preds = model.predict(inputs, data_samples)
        originals = model.data_preprocessor.denormalize(inputs)
    finally:
        model.train(was_training)

    def cpu(x):
        return x.detach().float().cpu() if torch.is_tensor(x) else x

    out = []
    for k, pred in enumerate(preds):
        raw = _field(pred, 'pred_video')
        mask = _field(pred, 'mask')
        if raw is None or mask is None:
            raise KeyError('model.predict must set `pred_video` and `mask` '
                           'on its data samples (see docs/design.md)')
        if torch.is_tensor(mask):
            mask = mask.detach().cpu().bool()
        dmask = _field(pred, 'decoder_mask')
        if torch.is_tensor(dmask):
            dmask = dmask.detach().cpu().bool()
        out.append(
            dict(original=cpu(originals[k]).clamp(0, 1),
                 mask=mask,
                 pred_video=cpu(raw),
                 pred_video_gt_stats=cpu(_field(pred, 'pred_video_gt_stats')),
                 decoder_mask=dmask))
    return out
