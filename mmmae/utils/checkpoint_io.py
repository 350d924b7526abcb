# Copyright (c) mmmae contributors. All rights reserved.
"""Deprecated path of :mod:`mmmae.checkpoint.io`, kept for old imports.

``mmmae.utils.checkpoint_io`` is the very same module object as
``mmmae.checkpoint.io`` (every name, private ones included, and
monkeypatching reach the one implementation). Import from
``mmmae.checkpoint.io`` in new code.
"""
import sys

from mmmae.checkpoint import io as _module

sys.modules[__name__] = _module
