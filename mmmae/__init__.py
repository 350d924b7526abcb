# Copyright (c) mmmae contributors. All rights reserved.
"""mmmae: masked-autoencoder pretraining (VideoMAE, MultiMAE) on OpenMMLab."""
from .utils.compat import apply_compat_patches
from .version import __version__, version_info

# Before anything imports mmaction/mmseg models (see utils/compat.py).
apply_compat_patches()

__all__ = ['__version__', 'version_info']
