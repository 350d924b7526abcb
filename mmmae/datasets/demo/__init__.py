# Copyright (c) mmmae contributors. All rights reserved.
"""Small real video dataset for demos and smoke tests (moving digits).

Command line: ``python -m mmmae.datasets.demo --root data/demo``.
"""
from .moving_digits import *  # noqa: F401,F403
from .scene_videos import (MOTION_CLASSES, clip_label,  # noqa: F401
                           make_scene_video_dataset, render_scene_video,
                           sample_camera_path)
from .scenes import (SCENE_CLASSES, SCENE_DEPTH_SCALE, SCENE_PALETTE,  # noqa
                     SKY_DEPTH, make_scene_dataset, render_scene,
                     sample_scene)
