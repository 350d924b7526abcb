# Copyright (c) mmmae contributors. All rights reserved.
"""Mixed precision on the CPU (bfloat16 autocast)."""
from contextlib import contextmanager
from typing import Union

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper

from mmmae.registry import OPTIM_WRAPPERS

__all__ = ['CPUAmpOptimWrapper']


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """Optimizer wrapper that runs the forward pass under CPU autocast.

    MMEngine's :class:`~mmengine.optim.AmpOptimWrapper` asserts that CUDA (or
    NPU/MLU/MUSA) is available, so ``tools/train.py --amp`` selects this
    wrapper on CPU-only machines instead. The forward pass (``optim_context``)
    runs under ``torch.autocast('cpu', dtype)``; parameters, gradients and the
    optimizer state stay float32. bfloat16 has float32's exponent range, so no
    loss scaling is needed (and none is done).

    Args:
        dtype (str | torch.dtype): Autocast dtype, ``'bfloat16'`` (default)
            or ``'float16'``.
        loss_scale: Accepted and ignored, so a config written for
            ``AmpOptimWrapper`` (``loss_scale='dynamic'``) can switch type.
        **kwargs: Forwarded to :class:`~mmengine.optim.OptimWrapper`
            (``optimizer``, ``accumulative_counts``, ``clip_grad``).
    """

    valid_dtypes = ('bfloat16', 'float16')

    def __init__(self,
                 dtype: Union[str, torch.dtype] = 'bfloat16',
                 loss_scale=None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(dtype, str):
            assert dtype in self.valid_dtypes, (
                f'dtype should be one of {self.valid_dtypes}, got {dtype}')
            dtype = getattr(torch, dtype)
        assert dtype in (torch.bfloat16, torch.float16), (
            f'CPU autocast supports bfloat16/float16, got {dtype}')
        self.cast_dtype = dtype

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Gradient-accumulation context of the parent plus CPU autocast.

        Args:
            model (nn.Module): The training model.
        """
        with super().optim_context(model), torch.autocast(
                device_type='cpu', dtype=self.cast_dtype):
            yield
