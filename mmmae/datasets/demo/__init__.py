# Copyright (c) mmmae contributors. All rights reserved.
"""Small real video dataset for demos and smoke tests (moving digits).

Command line: ``python -m mmmae.datasets.demo --root data/demo``.
"""
from .moving_digits import *  # noqa: F401,F403
