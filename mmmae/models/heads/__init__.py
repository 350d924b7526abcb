# Copyright (c) mmmae contributors. All rights reserved.
from .videomae_head import VideoMAEPretrainHead

__all__ = ['VideoMAEPretrainHead']
from .multimae_head import MultiMAEHead, MultiMAELinearHead  # noqa: E402

__all__ += ['MultiMAEHead', 'MultiMAELinearHead']
