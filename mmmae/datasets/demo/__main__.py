# Copyright (c) mmmae contributors. All rights reserved.
"""``python -m mmmae.datasets.demo --root data/demo`` (moving digits) or
``python -m mmmae.datasets.demo scenes --root data/scenes`` (ray-cast
rgb/depth/semseg scenes)."""
import sys

from .moving_digits import main

if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == 'scenes':
        from .scenes import main as scenes_main
        scenes_main(sys.argv[2:])
    else:
        main()
