# Copyright (c) mmmae contributors. All rights reserved.
from .videomae_decoder import VideoMAEPretrainDecoder

__all__ = ['VideoMAEPretrainDecoder']
from .multimae_decoder import (MultiMAEDecoder,  # noqa: E402
                               MultiMAESpatialDecoder, MultiModalVideoDecoder)

__all__ += [
    'MultiMAEDecoder', 'MultiMAESpatialDecoder', 'MultiModalVideoDecoder'
]
