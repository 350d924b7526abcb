# Copyright (c) mmmae contributors. All rights reserved.
from .videomae import VideoMAE

__all__ = ['VideoMAE']
