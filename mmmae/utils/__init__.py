# Copyright (c) mmmae contributors. All rights reserved.
from .compat import apply_compat_patches

__all__ = ['apply_compat_patches']
from .multimae_converters import (convert_official_multimae,  # noqa: E402
                                  multimae_to_timm, timm_to_multimae)

__all__ += ['convert_official_multimae', 'multimae_to_timm',
            'timm_to_multimae']
