# Copyright (c) mmmae contributors. All rights reserved.
"""Deprecated path of :mod:`mmmae.checkpoint.hf`, kept for old imports.

``mmmae.utils.hf_converters`` is the very same module object as
``mmmae.checkpoint.hf`` (every name, private ones included, and
monkeypatching reach the one implementation). Import from
``mmmae.checkpoint.hf`` in new code.
"""
import sys

from mmmae.checkpoint import hf as _module

sys.modules[__name__] = _module
