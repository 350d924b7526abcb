# Copyright (c) mmmae contributors. All rights reserved.
"""Model wrappers: MMEngine DDP that also runs on CPU (gloo).

Also :func:`setup_cpu_distributed`, used by ``tools/train.py`` and
``tools/test.py`` to run a distributed launcher on a machine without CUDA.
"""
import datetime
import os
import subprocess

import torch
import torch.distributed as torch_dist
from mmengine.model import MMDistributedDataParallel

from mmmae.registry import MODEL_WRAPPERS

__all__ = ['CPUDistributedDataParallel', 'setup_cpu_distributed']


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """:class:`MMDistributedDataParallel` that works for CPU modules.

    MMEngine's ``Runner.wrap_model`` always passes
    ``device_ids=[LOCAL_RANK]`` to subclasses of ``DistributedDataParallel``,
    which PyTorch rejects for a module whose parameters live on the CPU.
    This wrapper drops ``device_ids`` and ``output_device`` in that case, so
    a gloo process group can train a CPU model; on GPU it behaves exactly
    like its parent.

    ``tools/train.py`` selects it automatically when a distributed launcher is
    used on a machine without CUDA::

        model_wrapper_cfg = dict(type='mmmae.CPUDistributedDataParallel')

    Args:
        module (nn.Module): The model to wrap.
        detect_anomalous_params (bool): See the parent. Defaults to False.
        **kwargs: Forwarded to ``torch.nn.parallel.DistributedDataParallel``.
    """

    def __init__(self,
                 module,
                 detect_anomalous_params: bool = False,
                 **kwargs) -> None:
        param = next(iter(module.parameters()), None)
        if param is None or param.device.type == 'cpu':
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
        super().__init__(
            module=module,
            detect_anomalous_params=detect_anomalous_params,
            **kwargs)


def _set_env_from_launcher(launcher: str) -> None:
    """Fill ``RANK/WORLD_SIZE/LOCAL_RANK/MASTER_*`` for slurm and mpi."""
    if launcher == 'slurm':
        os.environ['RANK'] = os.environ['SLURM_PROCID']
        os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
        os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
        os.environ.setdefault('MASTER_PORT', '29500')
        if 'MASTER_ADDR' not in os.environ:
            node_list = os.environ['SLURM_NODELIST']
            os.environ['MASTER_ADDR'] = subprocess.getoutput(
                f'scontrol show hostname {node_list} | head -n1')
    elif launcher == 'mpi':
        os.environ['RANK'] = os.environ['OMPI_COMM_WORLD_RANK']
        os.environ['WORLD_SIZE'] = os.environ['OMPI_COMM_WORLD_SIZE']
        os.environ['LOCAL_RANK'] = os.environ['OMPI_COMM_WORLD_LOCAL_RANK']
        os.environ.setdefault('MASTER_PORT', '29500')
        os.environ.setdefault('MASTER_ADDR', '127.0.0.1')


def setup_cpu_distributed(cfg):
    """Prepare a config for distributed training without CUDA.

    Does nothing when ``cfg.launcher`` is ``'none'`` or CUDA is available.
    Otherwise it sets ``env_cfg.dist_cfg.backend='gloo'``, initializes the
    gloo process group itself (MMEngine's ``init_dist`` calls
    ``torch.cuda.set_device``, which fails on a CPU-only machine; the Runner
    skips its own initialization when a group exists) and selects
    :class:`CPUDistributedDataParallel` as the model wrapper.

    Args:
        cfg (Config): The full config; ``cfg.launcher`` is one of
            ``none/pytorch/slurm/mpi``.

    Returns:
        Config: ``cfg``, modified in place.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return cfg
    env_cfg = cfg.setdefault('env_cfg', dict())
    dist_cfg = env_cfg.setdefault('dist_cfg', dict())
    dist_cfg['backend'] = 'gloo'
    if not torch_dist.is_initialized():
        _set_env_from_launcher(launcher)
        kwargs = {k: v for k, v in dist_cfg.items() if k != 'backend'}
        if isinstance(kwargs.get('timeout', None), (int, float)):
            kwargs['timeout'] = datetime.timedelta(seconds=kwargs['timeout'])
        torch_dist.init_process_group(backend='gloo', **kwargs)
    wrapper_cfg = cfg.get('model_wrapper_cfg', None)
    if wrapper_cfg is None:
        cfg.model_wrapper_cfg = dict(type='mmmae.CPUDistributedDataParallel')
    elif wrapper_cfg.get('type', 'MMDistributedDataParallel') in (
            'MMDistributedDataParallel', 'mmengine.MMDistributedDataParallel'):
        wrapper_cfg['type'] = 'mmmae.CPUDistributedDataParallel'
    return cfg
