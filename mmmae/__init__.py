# Copyright (c) mmmae contributors. All rights reserved.
"""mmmae: masked-autoencoder pretraining (VideoMAE, MultiMAE) on OpenMMLab."""
from .utils.compat import apply_compat_patches
from .version import __version__, version_info

# Before anything imports mmaction/mmseg models (see utils/compat.py).
apply_compat_patches()

# The registries, so an unknown `type` is explained (field and closest
# names) from the very first build, including the one that would import
# mmmae.registry lazily through the default scope.
from . import registry  # noqa: E402,F401

__all__ = ['__version__', 'version_info']
