# Copyright (c) mmmae contributors. All rights reserved.
from .reconstruction import *  # noqa: F401,F403
from .inference import *  # noqa: F401,F403
from .multimae import *  # noqa: F401,F403
from .probe_curve import *  # noqa: F401,F403
