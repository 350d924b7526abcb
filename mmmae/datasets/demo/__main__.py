# Copyright (c) mmmae contributors. All rights reserved.
"""``python -m mmmae.datasets.demo --root data/demo``."""
from .moving_digits import main

if __name__ == '__main__':
    main()
