# Copyright (c) mmmae contributors. All rights reserved.
from .masking import *  # noqa: F401,F403
from .sample_seed import *  # noqa: F401,F403
from .video_augment import *  # noqa: F401,F403
from .video_decode import *  # noqa: F401,F403
from .fused_crop import *  # noqa: F401,F403
from .multimodal import *  # noqa: F401,F403
from .multimodal_masking import *  # noqa: F401,F403
from .seg_modalities import *  # noqa: F401,F403
from .multimodal_video_masking import *  # noqa: F401,F403
from .multimodal_video import *  # noqa: F401,F403
from .lazy_pack import *  # noqa: F401,F403
