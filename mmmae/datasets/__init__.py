# Copyright (c) mmmae contributors. All rights reserved.
from .demo import *  # noqa: F401,F403
from .transforms import *  # noqa: F401,F403
from .video_dataset import *  # noqa: F401,F403
from .dataset_check import *  # noqa: F401,F403
from .resumable_sampler import *  # noqa: F401,F403
from .multimodal_dataset import *  # noqa: F401,F403
from .seg_datasets import *  # noqa: F401,F403
from .nyuv2 import *  # noqa: F401,F403
from .hypersim import *  # noqa: F401,F403
from .multimodal_video_dataset import *  # noqa: F401,F403
