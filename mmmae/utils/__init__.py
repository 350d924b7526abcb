# Copyright (c) mmmae contributors. All rights reserved.
from .compat import apply_compat_patches

__all__ = ['apply_compat_patches']
