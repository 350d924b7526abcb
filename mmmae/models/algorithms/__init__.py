# Copyright (c) mmmae contributors. All rights reserved.
from .videomae import VideoMAE

__all__ = ['VideoMAE']
from .multimae import MultiMAE  # noqa: E402

__all__ += ['MultiMAE']
