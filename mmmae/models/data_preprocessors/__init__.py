# Copyright (c) mmmae contributors. All rights reserved.
from .video_preprocessor import VideoMAEDataPreprocessor, set_sample_field

__all__ = ['VideoMAEDataPreprocessor', 'set_sample_field']
