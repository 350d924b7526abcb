# Copyright (c) mmmae contributors. All rights reserved.
from .bad_sample_hook import *  # noqa: F401,F403
from .reconstruction_hook import *  # noqa: F401,F403
from .freeze_backbone_hook import *  # noqa: F401,F403
from .rng_state_hook import *  # noqa: F401,F403
from .finite_loss_hook import *  # noqa: F401,F403
from .probe_hook import *  # noqa: F401,F403
