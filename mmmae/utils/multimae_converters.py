# Copyright (c) mmmae contributors. All rights reserved.
"""Deprecated path of :mod:`mmmae.checkpoint.multimae`, kept for old imports.

``mmmae.utils.multimae_converters`` is the very same module object as
``mmmae.checkpoint.multimae`` (every name, private ones included, and
monkeypatching reach the one implementation). Import from
``mmmae.checkpoint.multimae`` in new code.
"""
import sys

from mmmae.checkpoint import multimae as _module

sys.modules[__name__] = _module
