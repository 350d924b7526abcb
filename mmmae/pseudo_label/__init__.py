# Copyright (c) mmmae contributors. All rights reserved.
"""Pseudo-labelling (MultiMAE depth / semseg targets) with mmseg models.

Offline: ``tools/generate_pseudo_labels.py``; online (small datasets):
the :class:`OnlinePseudoLabel` transform.
"""
from .labelers import *  # noqa: F401,F403
from .online import *  # noqa: F401,F403
