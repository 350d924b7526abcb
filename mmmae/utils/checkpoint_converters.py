# Copyright (c) mmmae contributors. All rights reserved.
"""Deprecated path of :mod:`mmmae.checkpoint.videomae`, kept for old imports.

``mmmae.utils.checkpoint_converters`` is the very same module object as
``mmmae.checkpoint.videomae`` (every name, private ones included, and
monkeypatching reach the one implementation). Import from
``mmmae.checkpoint.videomae`` in new code.
"""
import sys

from mmmae.checkpoint import videomae as _module

sys.modules[__name__] = _module
