# Copyright (c) mmmae contributors. All rights reserved.
from .videomae_vit import TubeletEmbed, VideoMAEViT

__all__ = ['VideoMAEViT', 'TubeletEmbed']
