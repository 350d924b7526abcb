# Copyright (c) mmmae contributors. All rights reserved.
from .compat import apply_compat_patches
from .compile_keys import (compile_model, register_compiled_keys_hook,
                           strip_compile_segments)
from .run_logs import (epoch_losses, find_scalars, read_final_loss,
                       read_last_record, read_losses, read_probe_curve,
                       read_probe_curves, read_test_metrics)

__all__ = [
    'apply_compat_patches', 'compile_model', 'register_compiled_keys_hook',
    'strip_compile_segments', 'find_scalars', 'epoch_losses', 'read_losses',
    'read_final_loss', 'read_test_metrics', 'read_last_record',
    'read_probe_curve', 'read_probe_curves'
]

# Moved to mmmae.checkpoint.multimae; still reachable here for old imports,
# resolved on first use so that importing mmmae.utils imports neither
# mmmae.checkpoint nor mmmae.models.
_MOVED = {
    'convert_official_multimae': 'mmmae.checkpoint.multimae',
    'multimae_to_timm': 'mmmae.checkpoint.multimae',
    'timm_to_multimae': 'mmmae.checkpoint.multimae',
}
__all__ += list(_MOVED)


def __getattr__(name):
    if name in _MOVED:
        import importlib
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
