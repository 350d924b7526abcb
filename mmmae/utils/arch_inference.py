# Copyright (c) mmmae contributors. All rights reserved.
"""Deprecated path of :mod:`mmmae.checkpoint.arch`, kept for old imports.

``mmmae.utils.arch_inference`` is the very same module object as
``mmmae.checkpoint.arch`` (every name, private ones included, and
monkeypatching reach the one implementation). Import from
``mmmae.checkpoint.arch`` in new code.
"""
import sys

from mmmae.checkpoint import arch as _module

sys.modules[__name__] = _module
