# Copyright (c) mmmae contributors. All rights reserved.
"""Deprecated path of :mod:`mmmae.checkpoint.official_export`, kept for
old imports.

``mmmae.utils.official_export`` is the very same module object as
``mmmae.checkpoint.official_export`` (every name, private ones included, and
monkeypatching reach the one implementation). Import from
``mmmae.checkpoint.official_export`` in new code.
"""
import sys

from mmmae.checkpoint import official_export as _module

sys.modules[__name__] = _module
