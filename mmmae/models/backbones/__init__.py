# Copyright (c) mmmae contributors. All rights reserved.
from .videomae_vit import TubeletEmbed, VideoMAEViT

__all__ = ['VideoMAEViT', 'TubeletEmbed']
from .multimae_vit import (MultiMAETokenInfo, MultiMAEViT,  # noqa: E402
                           PatchedInputAdapter, SemSegInputAdapter,
                           init_weights_multimae)

__all__ += [
    'MultiMAEViT', 'MultiMAETokenInfo', 'PatchedInputAdapter',
    'SemSegInputAdapter', 'init_weights_multimae'
]
