# Copyright (c) mmmae contributors. All rights reserved.
"""Stop training at the first non-finite loss, naming the batch."""
import math
from typing import Any, List, Optional

from mmengine.dataset import DefaultSampler
from mmengine.hooks import Hook

from mmmae.registry import HOOKS

__all__ = ['FiniteLossCheckHook', 'NonFiniteLossError']

_NAME_KEYS = ('filename', 'img_path', 'video_path', 'frame_dir', 'rgb_path')


class NonFiniteLossError(FloatingPointError):
    """A training loss was NaN or infinite."""


def _flatten(items: Any) -> List[Any]:
    if isinstance(items, (list, tuple)):
        out: List[Any] = []
        for item in items:
            out += _flatten(item)
        return out
    return [items]


def describe_batch(runner, data_batch: Any, batch_idx: int,
                   max_names: int = 16) -> str:
    """``'sample ids [...], files [...]'`` of a training batch.

    Uses the data samples' metainfo (``sample_idx`` and the first of
    ``filename``/``img_path``/... present) and, when the sampler is a
    :class:`~mmmae.datasets.ResumableSampler` (or MMEngine's
    ``DefaultSampler``, whose order is re-derived), the dataset indices of
    batch ``batch_idx`` (the original index when an unreadable video was
    replaced).
    """
    parts = []
    samples = data_batch.get('data_samples') if isinstance(
        data_batch, dict) else None
    ids, names = [], []
    for ds in _flatten(samples or []):
        meta = getattr(ds, 'metainfo', ds if isinstance(ds, dict) else {})
        if 'sample_idx' in meta:
            ids.append(int(meta['sample_idx']))
        for key in _NAME_KEYS:
            if key in meta:
                names.append(str(meta[key]))
                break
    loader = getattr(runner, 'train_dataloader', None)
    if not ids and loader is not None and not isinstance(loader, dict):
        sampler = getattr(loader.batch_sampler, 'sampler', None) or \
            loader.sampler
        getter = getattr(sampler, 'epoch_indices', None)
        if getter is not None:
            indices = getter()
        elif type(sampler) is DefaultSampler:
            # its order is a pure function of (seed, epoch): re-derive it
            indices = list(sampler)
        else:
            indices = None
        bs = loader.batch_size or getattr(loader.batch_sampler,
                                          'batch_size', None)
        if indices is not None and bs:
            ids = indices[batch_idx * bs:(batch_idx + 1) * bs]
            if not names:
                dataset = loader.dataset
                for i in ids:
                    try:
                        info = dataset.get_data_info(i)
                    except Exception:  # noqa: BLE001  (best effort)
                        break
                    for key in _NAME_KEYS:
                        if key in info:
                            names.append(str(info[key]))
                            break
    if ids:
        parts.append(f'sample ids {ids[:max_names]}' +
                     (' ...' if len(ids) > max_names else ''))
    if names:
        parts.append(f'files {names[:max_names]}' +
                     (' ...' if len(names) > max_names else ''))
    if not parts:
        return ('samples unknown (add meta_keys=(..., "filename", '
                '"sample_idx") to the packing transform, or use '
                'sampler=dict(type="mmmae.ResumableSampler"))')
    return ', '.join(parts)


@HOOKS.register_module()
class FiniteLossCheckHook(Hook):
    """Raise :class:`NonFiniteLossError` as soon as a loss is NaN or inf.

    The message names the iteration, the epoch, the batch index in the
    epoch, the loss values and the batch's sample ids and files, e.g.::

        non-finite loss at iteration 1234 (epoch 3, batch 56):
        loss=nan, loss_rec=nan; sample ids [17, 4, ...], files [...]

    No extra host-device synchronisation: ``RuntimeInfoHook`` (priority
    VERY_HIGH, so before this hook) already converts every logged loss to a
    Python float with ``.item()`` each iteration to put it into the message
    hub; this hook reads those floats. It runs before ``CheckpointHook``
    (VERY_LOW), so the corrupted weights are never saved and ``--resume``
    restarts from the last finite state.

    Args:
        keys (Sequence[str], optional): loss keys to check. None (default)
            checks every output key whose name contains ``loss``.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, keys: Optional[List[str]] = None) -> None:
        self.keys = None if keys is None else list(keys)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Any = None,
                         outputs: Optional[dict] = None) -> None:
        """Check this iteration's losses."""
        if not outputs:
            return
        keys = self.keys if self.keys is not None else [
            k for k in outputs if 'loss' in k
        ]
        hub = runner.message_hub
        values = {}
        for key in keys:
            buffer = hub.log_scalars.get(f'train/{key}')
            if buffer is None:  # not logged by RuntimeInfoHook
                value = outputs.get(key)
                value = float(value) if value is not None else None
            else:
                value = buffer.current()
            if value is not None:
                values[key] = float(value)
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        if not bad:
            return
        losses = ', '.join(f'{k}={v}' for k, v in values.items())
        raise NonFiniteLossError(
            f'non-finite loss at iteration {runner.iter + 1} (epoch '
            f'{runner.epoch + 1}, batch {batch_idx} of the epoch): {losses}; '
            f'{describe_batch(runner, data_batch, batch_idx)}. Training '
            'stopped before saving a checkpoint; resume from the last one '
            '(`--resume`) with a lower learning rate, gradient clipping '
            '(optim_wrapper.clip_grad) or without the named samples.')
