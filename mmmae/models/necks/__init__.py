# Copyright (c) mmmae contributors. All rights reserved.
from .videomae_decoder import VideoMAEPretrainDecoder

__all__ = ['VideoMAEPretrainDecoder']
