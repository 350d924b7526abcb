# Copyright (c) mmmae contributors. All rights reserved.
"""Pseudo-labelling (MultiMAE depth / semseg targets) with mmseg models.

Offline: :func:`generate_pseudo_labels` (``tools/generate_pseudo_labels.py``);
online (small datasets): the :class:`OnlinePseudoLabel` transform.
"""
from .generate import *  # noqa: F401,F403
from .labelers import *  # noqa: F401,F403
from .online import *  # noqa: F401,F403
