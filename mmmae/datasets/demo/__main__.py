# Copyright (c) mmmae contributors. All rights reserved.
"""``python -m mmmae.datasets.demo --root data/demo`` (moving digits) or
``python -m mmmae.datasets.demo scenes --root data/scenes`` (ray-cast
rgb/depth/semseg scenes) or ``python -m mmmae.datasets.demo scene-videos
--root data/scene_videos`` (rendered rgb/depth/semseg videos, camera-motion
labels) or ``python -m mmmae.datasets.demo moving_mnist
--root data/moving_mnist`` (40-class moving MNIST)."""
import sys

from .moving_digits import main

if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == 'scenes':
        from .scenes import main as scenes_main
        scenes_main(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == 'scene-videos':
        from .scene_videos import main as scene_videos_main
        scene_videos_main(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == 'moving_mnist':
        from .moving_mnist import main as mnist_main
        mnist_main(sys.argv[2:])
    else:
        main()
