# Copyright (c) mmmae contributors. All rights reserved.
from .amp_cpu import *  # noqa: F401,F403
from .layer_decay_constructor import *  # noqa: F401,F403
