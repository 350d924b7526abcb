# Copyright (c) mmmae contributors. All rights reserved.
from .videomae_head import VideoMAEPretrainHead

__all__ = ['VideoMAEPretrainHead']
