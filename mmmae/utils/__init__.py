# Copyright (c) mmmae contributors. All rights reserved.
from .compat import apply_compat_patches
from .compile_keys import (compile_model, register_compiled_keys_hook,
                           strip_compile_segments)

__all__ = [
    'apply_compat_patches', 'compile_model', 'register_compiled_keys_hook',
    'strip_compile_segments'
]
from .multimae_converters import (convert_official_multimae,  # noqa: E402
                                  multimae_to_timm, timm_to_multimae)

__all__ += ['convert_official_multimae', 'multimae_to_timm',
            'timm_to_multimae']
