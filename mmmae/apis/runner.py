# Copyright (c) mmmae contributors. All rights reserved.
"""Training and testing from a config: what ``tools/train.py`` and
``tools/test.py`` do, callable from Python.

The command-line options map one to one onto keyword arguments, with
MMAction2's semantics::

    from mmmae.apis import test_model, train_model
    runner = train_model('configs/videomae/<config>.py', amp=True,
                         work_dir='work_dirs/run', cfg_options={
                             'train_cfg.max_epochs': 10})
    metrics = test_model('configs/videomae/finetune/<config>.py',
                         'work_dirs/ft/epoch_30.pth')

Beyond MMAction2, the preparation makes a config run where it is:
``AmpOptimWrapper`` becomes bfloat16 CPU autocast without CUDA, a
distributed launcher without CUDA uses gloo, FSDP configs get their CPU
settings, ``auto_scale_lr`` counts gradient accumulation, ``max_epochs``
overrides move the schedulers' ``end``, and ``deterministic`` makes the
run bit-exactly resumable (docs/resume.md, docs/distributed.md).
"""
import copy
import logging
import os.path as osp
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.logging import print_log

ConfigLike = Union[str, Config]


class NoTestLoopError(ValueError):
    """The config has nothing to evaluate (a pretraining config)."""


def _load(config: ConfigLike) -> Config:
    return Config.fromfile(config) if isinstance(config, str) else config


def _default_work_dir(cfg: Config, work_dir: Optional[str],
                      config_path: Optional[str]) -> None:
    """CLI > config file > ``./work_dirs/<config stem>``."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        stem = osp.splitext(osp.basename(config_path or cfg.filename
                                         or 'config'))[0]
        cfg.work_dir = osp.join('./work_dirs', stem)


def merge_train_options(cfg: Config,
                        config_path: Optional[str] = None,
                        *,
                        work_dir: Optional[str] = None,
                        resume: Optional[str] = None,
                        amp: bool = False,
                        no_validate: bool = False,
                        auto_scale_lr: bool = False,
                        seed: Optional[int] = None,
                        diff_rank_seed: bool = False,
                        deterministic: bool = False,
                        cfg_options: Optional[dict] = None,
                        launcher: str = 'none') -> Config:
    """Apply ``tools/train.py``'s options to a config (MMAction2 semantics).

    Args:
        cfg: The loaded config; changed in place and returned (a
            ``cfg_options`` change of the train length returns a copy).
        config_path: The config's path, for the default work dir and
            messages (``cfg.filename`` when None).
        work_dir: Where logs and checkpoints go.
        resume: ``'auto'`` resumes from the work dir's latest checkpoint,
            a path resumes from that checkpoint.
        amp: Mixed precision (``AmpOptimWrapper``).
        no_validate: Drop the validation loop.
        auto_scale_lr: Scale the lr by the actual / ``base_batch_size``.
        seed, diff_rank_seed, deterministic: ``randomness`` when the config
            has none; ``deterministic`` also makes the run resumable.
        cfg_options: ``key=value`` overrides (``--cfg-options``).
        launcher: ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Returns:
        Config: The merged config.

    Raises:
        ValueError: ``amp`` with a custom optimizer wrapper.
        KeyError: ``auto_scale_lr`` without ``auto_scale_lr`` in the config.
    """
    config_path = config_path or cfg.filename
    if no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    cfg.launcher = launcher
    _default_work_dir(cfg, work_dir, config_path)

    if amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper not in ('OptimWrapper', 'AmpOptimWrapper',
                                 'mmmae.CPUAmpOptimWrapper'):
            raise ValueError(
                f'amp needs OptimWrapper or AmpOptimWrapper; {config_path} '
                f'uses the custom `{optim_wrapper}`: set its mixed precision '
                'in the config instead')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif resume is not None:
        cfg.resume = True
        cfg.load_from = resume

    if auto_scale_lr:
        if cfg.get('auto_scale_lr', None) is None:
            raise KeyError(
                f'`--auto-scale-lr` needs `auto_scale_lr` in the config '
                f'({config_path}), e.g. `auto_scale_lr = dict(enable=True, '
                'base_batch_size=256)` where base_batch_size is the total '
                'batch size the config lr is meant for.')
        cfg.auto_scale_lr.enable = True

    if cfg.get('randomness', None) is None:
        cfg.randomness = dict(
            seed=seed,
            diff_rank_seed=diff_rank_seed,
            deterministic=deterministic)

    if cfg_options is not None:
        from mmmae.engine.schedule_rescale import follow_train_length
        base_cfg = copy.deepcopy(cfg)
        cfg.merge_from_dict(cfg_options)
        # max_epochs/max_iters overrides move the schedulers' `end` too
        cfg = follow_train_length(cfg, base_cfg, cfg_options)

    if deterministic or cfg.get('resumable', False):
        from mmmae.engine.resumable import make_resumable
        cfg = make_resumable(cfg)
    return cfg


def fix_amp_on_cpu(cfg: Config) -> Config:
    """Without CUDA, swap ``AmpOptimWrapper`` (which asserts CUDA) for
    ``mmmae.CPUAmpOptimWrapper``: bfloat16 CPU autocast, no loss scaling."""
    if torch.cuda.is_available() or cfg.get('optim_wrapper', None) is None:
        return cfg
    if cfg.optim_wrapper.get('type', None) in ('AmpOptimWrapper',
                                               'mmengine.AmpOptimWrapper'):
        print_log(
            'AmpOptimWrapper needs CUDA; training with bfloat16 CPU '
            'autocast (mmmae.CPUAmpOptimWrapper) instead.',
            logger='current',
            level=logging.WARNING)
        cfg.optim_wrapper.type = 'mmmae.CPUAmpOptimWrapper'
        cfg.optim_wrapper.pop('loss_scale', None)
        if cfg.optim_wrapper.get('dtype', None) not in ('bfloat16', 'float16'):
            cfg.optim_wrapper.dtype = 'bfloat16'
    return cfg


def prepare_train_config(config: ConfigLike,
                         config_path: Optional[str] = None,
                         **options) -> Config:
    """The config ``tools/train.py`` hands to the runner.

    Args:
        config: A config path or a loaded config.
        config_path: See :func:`merge_train_options`.
        **options: The keyword arguments of :func:`merge_train_options`.

    Returns:
        Config: Merged, with the CPU AMP, CPU distributed, FSDP and
        gradient-accumulation adjustments applied.
    """
    from mmmae.engine.fsdp import setup_cpu_fsdp
    from mmmae.engine.lr_scaling import account_grad_accumulation
    from mmmae.engine.model_wrappers import setup_cpu_distributed
    if isinstance(config, str):
        config_path = config_path or config
    cfg = merge_train_options(_load(config), config_path, **options)
    cfg = fix_amp_on_cpu(cfg)
    cfg = setup_cpu_distributed(cfg)
    cfg = setup_cpu_fsdp(cfg)
    return account_grad_accumulation(cfg)


def has_test_loop(cfg: Config) -> bool:
    """Whether the config sets ``test_dataloader``, ``test_cfg`` and
    ``test_evaluator``."""
    return all(
        cfg.get(key, None) is not None
        for key in ('test_dataloader', 'test_cfg', 'test_evaluator'))


def merge_test_options(cfg: Config,
                       config_path: Optional[str] = None,
                       *,
                       checkpoint: Optional[str] = None,
                       work_dir: Optional[str] = None,
                       dump: Optional[str] = None,
                       show: bool = False,
                       show_dir: Optional[str] = None,
                       interval: int = 1,
                       wait_time: float = 2,
                       cfg_options: Optional[dict] = None,
                       launcher: str = 'none') -> Config:
    """Apply ``tools/test.py``'s options to a config (MMAction2 semantics).

    Args:
        cfg: The loaded config; changed in place and returned.
        config_path: The config's path (``cfg.filename`` when None).
        checkpoint: Weights to test (``load_from``).
        work_dir: Where the metrics file goes.
        dump: A ``.pkl`` file to dump the predictions to.
        show, show_dir, interval, wait_time: The visualization hook.
        cfg_options: ``key=value`` overrides.
        launcher: ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Returns:
        Config: The merged config.

    Raises:
        NoTestLoopError: The config (with ``cfg_options``) has no test loop.
        ValueError: ``show``/``show_dir`` without a visualization hook, or a
            ``dump`` file that is not ``.pkl``.
    """
    config_path = config_path or cfg.filename
    # a test loop may also come from cfg_options
    probe = copy.deepcopy(cfg)
    if cfg_options is not None:
        probe.merge_from_dict(cfg_options)
    if not has_test_loop(probe):
        raise NoTestLoopError(
            f'{config_path} has no test loop (test_dataloader/test_cfg/'
            'test_evaluator are unset): it is a pretraining config, and '
            'masked-autoencoder pretraining has nothing to evaluate. '
            'Use tools/visualize_reconstruction.py to look at '
            'reconstructions, or evaluate the backbone with a fine-tuning '
            'config (see configs/videomae/README.md).')
    cfg.launcher = launcher
    _default_work_dir(cfg, work_dir, config_path)

    if show or show_dir is not None:
        if 'visualization' not in cfg.get('default_hooks', {}):
            raise ValueError(
                f'show/show_dir need a visualization hook, and {config_path} '
                'has none: add `default_hooks = dict(visualization=dict('
                'type="VisualizationHook"))` to the config')
        vis = cfg.default_hooks.visualization
        vis.enable = True
        vis.show = show
        vis.wait_time = wait_time
        vis.out_dir = show_dir
        vis.interval = interval

    if dump is not None:
        if not dump.endswith(('.pkl', '.pickle')):
            raise ValueError(f'the dump file must be a .pkl file, not {dump}')
        dump_metric = dict(type='DumpResults', out_file_path=dump)
        if isinstance(cfg.test_evaluator, (list, tuple)):
            cfg.test_evaluator = [*cfg.test_evaluator, dump_metric]
        else:
            cfg.test_evaluator = [cfg.test_evaluator, dump_metric]

    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if checkpoint is not None:
        cfg.load_from = checkpoint
    return cfg


def prepare_test_config(config: ConfigLike,
                        checkpoint: Optional[str] = None,
                        config_path: Optional[str] = None,
                        **options) -> Config:
    """The config ``tools/test.py`` hands to the runner.

    Args:
        config: A config path or a loaded config.
        checkpoint: Weights to test.
        config_path: See :func:`merge_test_options`.
        **options: The other keyword arguments of :func:`merge_test_options`.

    Returns:
        Config: Merged, with the CPU distributed adjustment applied.
    """
    from mmmae.engine.model_wrappers import setup_cpu_distributed
    if isinstance(config, str):
        config_path = config_path or config
    cfg = merge_test_options(
        _load(config), config_path, checkpoint=checkpoint, **options)
    return setup_cpu_distributed(cfg)


def build_runner(cfg: Config):
    """MMEngine's ``Runner``, or the registered ``runner_type``.

    Args:
        cfg: A prepared config.

    Returns:
        The runner (``Runner`` or e.g. ``FlexibleRunner``).
    """
    import mmmae  # noqa: F401  (compat patches and registries)
    from mmmae.utils.compat import distinct_experiment_name
    distinct_experiment_name(cfg)
    if 'runner_type' not in cfg:
        from mmengine.runner import Runner
        return Runner.from_cfg(cfg)
    from mmmae.registry import RUNNERS
    return RUNNERS.build(cfg)


def train_model(config: ConfigLike, **options):
    """Train (pretrain or fine-tune) as ``tools/train.py`` does.

    Args:
        config: A config path or a loaded config.
        **options: The keyword arguments of :func:`merge_train_options`.

    Returns:
        The runner after training (``runner.model`` is the trained model).
    """
    runner = build_runner(prepare_train_config(config, **options))
    runner.train()
    return runner


def test_model(config: ConfigLike, checkpoint: str, **options) -> dict:
    """Evaluate a checkpoint as ``tools/test.py`` does.

    Args:
        config: A config path or a loaded config.
        checkpoint: Weights to test.
        **options: The keyword arguments of :func:`merge_test_options`.

    Returns:
        dict: The test metrics.

    Raises:
        NoTestLoopError: The config is a pretraining config.
    """
    runner = build_runner(prepare_test_config(config, checkpoint, **options))
    return runner.test()


# pytest would collect a module-level ``test_*`` function of a test file
# that imports it; this one is an API, not a test.
test_model.__test__ = False
