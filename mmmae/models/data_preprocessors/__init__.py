# Copyright (c) mmmae contributors. All rights reserved.
from .video_preprocessor import VideoMAEDataPreprocessor, set_sample_field

__all__ = ['VideoMAEDataPreprocessor', 'set_sample_field']
from .multimodal_preprocessor import (MultiMAEDataPreprocessor,  # noqa: E402
                                      truncated_standardize)

__all__ += ['MultiMAEDataPreprocessor', 'truncated_standardize']
from .seg_preprocessor import (MultiModalSegDataPreProcessor,  # noqa: E402
                               masked_truncated_standardize)

__all__ += ['MultiModalSegDataPreProcessor', 'masked_truncated_standardize']
from .action_preprocessor import \
    MultiModalActionDataPreprocessor  # noqa: E402

__all__ += ['MultiModalActionDataPreprocessor']
