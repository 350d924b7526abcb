# Copyright (c) mmmae contributors. All rights reserved.
from .video_preprocessor import VideoMAEDataPreprocessor, set_sample_field

__all__ = ['VideoMAEDataPreprocessor', 'set_sample_field']
from .multimodal_preprocessor import (MultiMAEDataPreprocessor,  # noqa: E402
                                      truncated_standardize)

__all__ += ['MultiMAEDataPreprocessor', 'truncated_standardize']
from .seg_preprocessor import (MultiModalSegDataPreProcessor,  # noqa: E402
                               masked_truncated_standardize)

__all__ += ['MultiModalSegDataPreProcessor', 'masked_truncated_standardize']
from .action_preprocessor import (  # noqa: E402
    LazyAugActionDataPreprocessor, MultiModalActionDataPreprocessor)

__all__ += [
    'MultiModalActionDataPreprocessor', 'LazyAugActionDataPreprocessor'
]
from .lazy_geometry import (apply_lazy_erasing,  # noqa: E402
                            apply_lazy_geometry)

__all__ += ['apply_lazy_geometry', 'apply_lazy_erasing']
