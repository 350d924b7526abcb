# Copyright (c) mmmae contributors. All rights reserved.
"""Small real video dataset for demos and smoke tests (moving digits).

Command line: ``python -m mmmae.datasets.demo --root data/demo``.
"""
from .moving_digits import *  # noqa: F401,F403
from .scenes import (SCENE_CLASSES, SCENE_DEPTH_SCALE, SCENE_PALETTE,  # noqa
                     SKY_DEPTH, make_scene_dataset, render_scene,
                     sample_scene)
