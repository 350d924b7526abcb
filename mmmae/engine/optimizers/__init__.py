# Copyright (c) mmmae contributors. All rights reserved.
from .amp_cpu import *  # noqa: F401,F403
