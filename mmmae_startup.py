# Copyright (c) mmmae contributors. All rights reserved.
"""Let configs of other OpenMMLab libraries name ``mmmae.X`` without
``custom_imports``.

mmmae's compatibility patches (``mmmae/utils/compat.py``) must run before
MMEngine imports ``mmaction.models`` or ``mmseg`` (the pinned wheels fail
to import otherwise), and MMEngine imports the default scope's modules
*before* it looks at a ``mmmae.`` prefix. So a ``.pth`` file that
``tools/setup_env.sh`` writes into the environment's site-packages runs
:func:`install` at interpreter start: one import hook, nothing imported.
Right after the ``mmaction``, ``mmseg`` or ``mmpretrain`` package is first
imported (MMEngine imports it when a config's default scope names it,
before it imports the library's models), the hook imports :mod:`mmmae`,
which applies the patches and registers the ``mmmae`` scope. Processes that
never import those libraries pay nothing.
"""
import importlib.abc
import importlib.util
import sys

__all__ = ['install']

#: Importing any of these (their package ``__init__``, not their models)
#: imports mmmae right after.
TRIGGERS = ('mmaction', 'mmseg', 'mmpretrain')


class _ImportMMMAEAfter(importlib.abc.MetaPathFinder):
    """Import mmmae right after the first of :data:`TRIGGERS` has been
    executed."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in TRIGGERS:
            return None
        sys.meta_path.remove(self)  # one shot; also avoids recursion
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_import_mmmae(module):
            exec_module(module)
            try:
                import mmmae  # noqa: F401  (compat patches, mmmae scope)
            except Exception as err:  # noqa: BLE001  never break the host
                sys.stderr.write(f'mmmae_startup: import mmmae failed '
                                 f'({type(err).__name__}: {err}); add '
                                 "custom_imports=dict(imports=['mmmae']) "
                                 'to the config\n')

        spec.loader.exec_module = exec_then_import_mmmae
        return spec


def install() -> None:
    """Put the hook on ``sys.meta_path`` (once; not when a trigger is
    already imported: then import mmmae yourself)."""
    if any(name in sys.modules for name in TRIGGERS) or any(
            isinstance(f, _ImportMMMAEAfter) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _ImportMMMAEAfter())
