# Copyright (c) mmmae contributors. All rights reserved.
from .videomae_head import VideoMAEPretrainHead

__all__ = ['VideoMAEPretrainHead']
from .multimae_head import MultiMAEHead, MultiMAELinearHead  # noqa: E402

__all__ += ['MultiMAEHead', 'MultiMAELinearHead']
from .convnext_adapter_head import (ConvNeXtAdapterHead,  # noqa: E402
                                    ConvNeXtBlock, tokens_to_map)

__all__ += ['ConvNeXtAdapterHead', 'ConvNeXtBlock', 'tokens_to_map']
from .dpt_head import DPTHead  # noqa: E402

__all__ += ['DPTHead']
from .multimae_cls_head import MultiMAEClsHead  # noqa: E402

__all__ += ['MultiMAEClsHead']
