# Copyright (c) mmmae contributors. All rights reserved.
"""Model wrappers: MMEngine DDP that also runs on CPU (gloo)."""
from mmengine.model import MMDistributedDataParallel

from mmmae.registry import MODEL_WRAPPERS

__all__ = ['CPUDistributedDataParallel']


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """:class:`MMDistributedDataParallel` that works for CPU modules.

    MMEngine's ``Runner.wrap_model`` always passes
    ``device_ids=[LOCAL_RANK]`` to subclasses of ``DistributedDataParallel``,
    which PyTorch rejects for a module whose parameters live on the CPU
    ("device_ids ... must be None for CPU modules"). This wrapper drops
    ``device_ids`` and ``output_device`` in that case, so a gloo process group
    can train a CPU model; on GPU it behaves exactly like its parent.

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
        on_cpu = param is None or param.device.type == 'cpu'
        if on_cpu:
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
        super().__init__(
            module=module,
            detect_anomalous_params=detect_anomalous_params,
            **kwargs)
