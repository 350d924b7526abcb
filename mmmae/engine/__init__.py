# Copyright (c) mmmae contributors. All rights reserved.
from .fsdp import *  # noqa: F401,F403
from .hooks import *  # noqa: F401,F403
from .lr_scaling import *  # noqa: F401,F403
from .model_wrappers import *  # noqa: F401,F403
from .optimizers import *  # noqa: F401,F403
from .checkpoint import *  # noqa: F401,F403
from .resumable import *  # noqa: F401,F403
from .schedule_rescale import *  # noqa: F401,F403
