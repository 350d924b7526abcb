# Copyright (c) mmmae contributors. All rights reserved.
from .adapters import (PatchedInputAdapter, SemSegInputAdapter,
                       SemSegTubeletAdapter, TubeletInputAdapter)
from .multimodal_vit import (MultiModalTokenInfo, MultiModalViT,
                             init_weights_multimae)
from .videomae_vit import TubeletEmbed, VideoMAEViT
from .multimae_vit import MultiMAETokenInfo, MultiMAEViT  # noqa: I001

__all__ = [
    'MultiModalViT', 'MultiModalTokenInfo', 'VideoMAEViT', 'TubeletEmbed',
    'MultiMAEViT', 'MultiMAETokenInfo', 'PatchedInputAdapter',
    'SemSegInputAdapter', 'TubeletInputAdapter', 'SemSegTubeletAdapter',
    'init_weights_multimae'
]
