# Copyright (c) mmmae contributors. All rights reserved.
"""Build a model from a config and run a fine-tuned recognizer on a video.

The MMAction2 ``init_recognizer`` / ``inference_recognizer`` pair for mmmae
configs, whatever their ``default_scope`` (``mmmae`` for pretraining,
``mmaction`` for recognition, ``mmseg`` for dense MultiMAE).
"""
import copy
import logging
import os.path as osp
from pathlib import Path
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.config import Config

__all__ = [
    'InputError', 'load_config', 'init_model', 'quiet_init_weights',
    'find_dataset_pipeline', 'build_pipeline', 'inference_recognizer'
]

ConfigType = Union[str, Path, Config]


class InputError(ValueError):
    """A config, checkpoint, input file or option the api cannot use.

    The message names the culprit (the path, the field or the value); the
    command-line tools turn it into exit status 2.
    """


def load_config(config: ConfigType,
                cfg_options: Optional[dict] = None) -> Config:
    """Read a config file or copy a :class:`~mmengine.config.Config`.

    Args:
        config (str | Path | Config): a config file or a config object (it
            is deep-copied, so ``cfg_options`` never change the caller's).
        cfg_options (dict, optional): ``key=value`` overrides, merged with
            :meth:`Config.merge_from_dict` (``DictAction`` output).

    Returns:
        Config: the config.

    Raises:
        TypeError: ``config`` is neither a path nor a Config.
    """
    if isinstance(config, (str, Path)):
        cfg = Config.fromfile(str(config))
    elif isinstance(config, Config):
        cfg = copy.deepcopy(config)
    else:
        raise TypeError('config must be a filename or a Config, got '
                        f'{type(config).__name__}')
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def quiet_init_weights(module: nn.Module) -> nn.Module:
    """``module.init_weights()`` without MMEngine's per-parameter log lines.

    MMEngine logs the initialisation of every parameter at INFO; a random
    init for a smoke test or a benchmark would bury the tool's output.

    Args:
        module (nn.Module): a module with ``init_weights`` (an MMEngine
            ``BaseModule``).

    Returns:
        nn.Module: ``module`` (initialised in place).
    """
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        module.init_weights()
    finally:
        logger.setLevel(level)
    return module


def init_model(config: ConfigType,
               checkpoint: Optional[str] = None,
               device: Union[str, torch.device] = 'cpu',
               cfg_options: Optional[dict] = None,
               strict: bool = False) -> nn.Module:
    """Build ``cfg.model``, load a checkpoint, eval mode (``init_recognizer``).

    The config's ``default_scope`` (``'mmmae'`` when it has none) becomes
    the current MMEngine scope, so plain type names resolve as in training
    (``Recognizer3D`` in an ``mmaction`` config, ``VideoMAE`` in an mmmae
    one) and later registry builds (the test pipeline) agree with it.

    Args:
        config (str | Path | Config): the config.
        checkpoint (str, optional): an MMEngine checkpoint path or URL,
            loaded with :func:`mmengine.runner.load_checkpoint`. None loads
            nothing: the weights are those of the constructors
            (``init_weights`` is not called, as in MMAction2; see
            :func:`quiet_init_weights`).
        device (str | torch.device): where the model goes.
        cfg_options (dict, optional): config overrides.
        strict (bool): refuse missing/unexpected keys.

    Returns:
        nn.Module: the model in eval mode, with the (merged) config as
        ``model.cfg``.

    Raises:
        InputError: the config has no ``model``.
        FileNotFoundError: a local checkpoint does not exist.
    """
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint

    from mmmae.registry import MODELS
    cfg = load_config(config, cfg_options)
    if not cfg.get('model'):
        raise InputError(f'{_cfg_name(cfg)}: the config has no `model`')
    init_default_scope(cfg.get('default_scope', 'mmmae'))
    model_cfg = copy.deepcopy(cfg.model)
    backbone = model_cfg.get('backbone')
    if isinstance(backbone, dict) and backbone.get('pretrained'):
        backbone['pretrained'] = None  # the checkpoint gives the weights
    model = MODELS.build(model_cfg)
    if checkpoint is not None:
        if '://' not in checkpoint and not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint {checkpoint} does not exist')
        load_checkpoint(model, checkpoint, map_location='cpu', strict=strict)
    model.cfg = cfg
    model.to(device)
    model.eval()
    return model


def _cfg_name(cfg: Config) -> str:
    return cfg.filename or 'config'


def find_dataset_pipeline(cfg: Config,
                          split: str = 'test') -> Sequence[dict]:
    """The pipeline of ``<split>_dataloader.dataset``, wrappers unwrapped.

    A top-level ``<split>_pipeline`` variable wins (MMAction2 configs name
    it so), then the dataset's ``pipeline`` (through
    ``dataset=dict(dataset=...)`` / ``datasets=[...]`` wrappers).

    Args:
        cfg (Config): the config.
        split (str): ``'test'``, ``'val'`` or ``'train'``.

    Returns:
        list[dict]: a deep copy of the pipeline.

    Raises:
        InputError: the config has neither.
    """
    if cfg.get(f'{split}_pipeline'):
        return copy.deepcopy(list(cfg[f'{split}_pipeline']))
    ds = (cfg.get(f'{split}_dataloader') or {}).get('dataset')
    while ds is not None and 'pipeline' not in ds:
        inner = ds.get('dataset')
        if inner is None and ds.get('datasets'):
            inner = ds['datasets'][0]
        ds = inner
    if ds is None:
        raise InputError(f'{_cfg_name(cfg)}: no {split}_pipeline and no '
                         f'{split}_dataloader.dataset.pipeline')
    return copy.deepcopy(list(ds['pipeline']))


def build_pipeline(steps: Sequence[dict], scope: Optional[str] = None):
    """:class:`~mmengine.dataset.Compose` the steps in a registry scope.

    Args:
        steps (Sequence[dict]): transform configs.
        scope (str, optional): default scope for unprefixed type names
            (the current one when None).

    Returns:
        Compose: the pipeline.
    """
    from mmengine.dataset import Compose
    from mmengine.registry import DefaultScope
    if scope is None:
        return Compose(list(steps))
    with DefaultScope.overwrite_default_scope(scope):
        return Compose(list(steps))


def inference_recognizer(model: nn.Module,
                         video: Union[str, dict],
                         test_pipeline=None):
    """Classify one video with a fine-tuned recognizer (``Recognizer3D``).

    The video goes through the config's test pipeline (e.g.
    ``mmmae.VideoInit`` -> ``SampleFrames`` -> ``mmmae.VideoDecode`` ->
    resize/crops -> ``FormatShape`` -> ``PackActionInputs``: ``V`` views of
    ``(C, T, H, W)``), then ``model.test_step``: the head averages the
    views as the config says (``average_clips``).

    Args:
        model (nn.Module): from :func:`init_model` (uses ``model.cfg``).
        video (str | dict): a video file, or the pipeline's input dict.
        test_pipeline (Compose, optional): instead of the config's.

    Returns:
        ActionDataSample: with ``pred_score`` ``(num_classes,)`` (and
        ``pred_label``) on the model's device.

    Raises:
        FileNotFoundError: ``video`` is a path that does not exist.
        InputError: the pipeline returned nothing for it.
    """
    from mmengine.dataset import pseudo_collate
    if test_pipeline is None:
        cfg = model.cfg
        test_pipeline = build_pipeline(find_dataset_pipeline(cfg, 'test'),
                                       cfg.get('default_scope', 'mmmae'))
    if isinstance(video, dict):
        data = dict(video)
    elif isinstance(video, (str, Path)):
        if not osp.isfile(str(video)):
            raise FileNotFoundError(f'video {video} does not exist')
        data = dict(filename=str(video), label=-1, start_index=0,
                    modality='RGB')
    else:
        raise TypeError(f'video must be a path or a dict, got '
                        f'{type(video).__name__}')
    packed = test_pipeline(data)
    if packed is None:
        raise InputError(f'{data.get("filename")}: the test pipeline '
                         'returned nothing')
    with torch.no_grad():
        return model.test_step(pseudo_collate([packed]))[0]
