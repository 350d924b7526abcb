# Copyright (c) mmmae contributors. All rights reserved.
"""mmmae registries.

Every registry is a child of MMEngine's *root* registry of the same kind (as
mmpretrain and mmyolo do), not of mmaction's or mmseg's. That keeps ``mmmae.X``
reachable from an ``mmaction`` scope *and* from an ``mmseg`` scope: a registry
parented on mmaction's would be a grandchild of the root and invisible from
mmseg (see docs/registry.md).

``locations`` makes the lookup import the implementing modules lazily, so
``type='mmmae.VideoMAEViT'`` in an mmaction config works without
``custom_imports``.

A ``type`` no registry knows (``'mmmae.TubeMaskGenrator'``,
``'SampleFrame'``) makes MMEngine raise a bare ``KeyError``; here it raises
:class:`UnknownTypeError` (a ``KeyError``) naming the config field and the
closest registered names (:func:`suggest_type`), e.g.::

    VideoMAEDataset: config field `pipeline[6]`: type
    'mmmae.TubeMaskGenrator' is not in the mmmae::transform registry; did
    you mean 'mmmae.TubeMaskGenerator'?

:func:`install_type_suggestions` (run on import) wraps the ``build_func`` of
MMEngine's root registries and their children (the documented hook of
:class:`~mmengine.registry.Registry`; registries created later inherit it
from their root). Only the error changes: every successful build is the
original call.
"""
import difflib
import functools
import re
from typing import Any, Callable, Iterable, List, Mapping, Optional

import mmengine.registry as _mmengine_registry
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import DefaultScope, Registry

RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS)
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, locations=['mmmae.engine'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, locations=['mmmae.engine'])
LOG_PROCESSORS = Registry('log_processor', parent=MMENGINE_LOG_PROCESSORS)
# e.g. FSDP auto-wrap policies and activation-checkpointing check_fns
FUNCTIONS = Registry(
    'function', parent=MMENGINE_FUNCTIONS, locations=['mmmae.engine'])

DATASETS = Registry(
    'dataset', parent=MMENGINE_DATASETS, locations=['mmmae.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler',
    parent=MMENGINE_DATA_SAMPLERS,
    locations=['mmmae.datasets'])
TRANSFORMS = Registry(
    'transform',
    parent=MMENGINE_TRANSFORMS,
    # the online pseudo-labeller lives with the labellers (imports mmseg
    # lazily), not with the light-weight transforms
    locations=['mmmae.datasets.transforms', 'mmmae.pseudo_label'])

MODELS = Registry('model', parent=MMENGINE_MODELS, locations=['mmmae.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper',
    parent=MMENGINE_MODEL_WRAPPERS,
    locations=['mmmae.engine'])

OPTIMIZERS = Registry(
    'optimizer', parent=MMENGINE_OPTIMIZERS, locations=['mmmae.engine'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper',
    parent=MMENGINE_OPTIM_WRAPPERS,
    locations=['mmmae.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['mmmae.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler',
    parent=MMENGINE_PARAM_SCHEDULERS,
    locations=['mmmae.engine'])

METRICS = Registry(
    'metric', parent=MMENGINE_METRICS, locations=['mmmae.evaluation'])
EVALUATOR = Registry(
    'evaluator', parent=MMENGINE_EVALUATOR, locations=['mmmae.evaluation'])

VISUALIZERS = Registry(
    'visualizer',
    parent=MMENGINE_VISUALIZERS,
    locations=['mmmae.visualization'])
VISBACKENDS = Registry(
    'vis_backend',
    parent=MMENGINE_VISBACKENDS,
    locations=['mmmae.visualization'])

# Pseudo-labellers (mmmae.pseudo_label): wrappers that turn any mmseg model
# into an offline/online label generator. A plain root registry: they are not
# nn.Modules and are only built by mmmae's own tools and transforms.
PSEUDO_LABELERS = Registry(
    'pseudo labeler', scope='mmmae', locations=['mmmae.pseudo_label'])


# --------------------------------------------------------------------------
# nested parts resolve in mmmae's scope
# --------------------------------------------------------------------------
def _in_own_scope(build_func: Callable) -> Callable:
    """``build_func`` that looks an unprefixed type up in mmmae's scope when
    mmmae registers it.

    MMEngine resolves a ``type`` in the *default* scope's registry, so a
    part that an mmmae module builds (``type='PatchedInputAdapter'`` inside
    ``mmmae.MultiMAEViT``) would be searched in mmseg's registry under
    ``default_scope='mmseg'`` and not found. Here such a config gets
    ``_scope_='mmmae'``; types mmmae does not register keep MMEngine's
    lookup (the default scope, then the root).
    """

    @functools.wraps(build_func)
    def build(cfg, *args, registry: Optional[Registry] = None, **kwargs):
        kind = cfg.get('type', None) if isinstance(cfg, Mapping) else None
        if (registry is not None and isinstance(kind, str) and '.' not in kind
                and '_scope_' not in cfg):
            registry.import_from_location()
            if kind in registry.module_dict:
                cfg = cfg.copy()
                cfg['_scope_'] = registry.scope
        return build_func(cfg, *args, registry=registry, **kwargs)

    return build


for _registry in [v for v in list(globals().values())
                  if isinstance(v, Registry) and v.scope == 'mmmae']:
    _registry.build_func = _in_own_scope(_registry.build_func)


# --------------------------------------------------------------------------
# unknown types: name the field, suggest the closest registered names
# --------------------------------------------------------------------------
_NOT_REGISTERED = re.compile(r'^(\S+) is not in the (\S+) registry')


class UnknownTypeError(KeyError):
    """A config ``type`` that no registry in scope knows.

    A ``KeyError`` (what MMEngine raises), so existing handlers still work;
    the message is one line and printed without ``KeyError``'s quotes.

    Attributes:
        type_name (str): The unknown type as written in the config.
        where (str): The registry searched, e.g. ``'mmmae::transform'``.
        suggestions (list[str]): Closest registered names, best first.
        field (str): Where the type sits in the config being built, e.g.
            ``'pipeline[6]'`` ('' for the config's own ``type``).
    """

    def __init__(self,
                 message: str,
                 type_name: str = '',
                 where: str = '',
                 suggestions: Iterable[str] = (),
                 field: str = '') -> None:
        super().__init__(message)
        self.message = message
        self.type_name = type_name
        self.where = where
        self.suggestions = list(suggestions)
        self.field = field

    def __str__(self) -> str:
        return self.message


def _root(registry: Registry) -> Registry:
    while registry.parent is not None:
        registry = registry.parent
    return registry


def _all_registries(root: Registry):
    """``(scope, registry)`` of ``root`` and all its descendants."""
    stack = [root]
    while stack:
        reg = stack.pop()
        yield reg.scope, reg
        stack.extend(reg.children.values())


def suggest_type(registry: Registry, name: str, n: int = 3) -> List[str]:
    """Registered type names close to ``name``, for an error message.

    Searches the whole registry tree of ``registry`` (MMEngine's root and
    every scope imported so far: mmmae, mmaction, mmseg, ...), after the
    lazily registered modules of the scopes in play are imported: the one
    of ``registry``, the ``scope.`` prefix of ``name``, the default scope and
    mmmae's. Names of a child scope are returned scope-prefixed
    (``'mmaction.SampleFrames'``), which resolve from any default scope.

    Args:
        registry (Registry): Where ``name`` was looked up (any registry of
            the tree, e.g. ``mmmae.registry.TRANSFORMS`` or MMEngine's root
            ``TRANSFORMS``).
        name (str): The unknown type, with or without a ``scope.`` prefix.
        n (int): At most this many suggestions. Defaults to 3.

    Returns:
        list[str]: Closest first; empty when nothing is similar.
    """
    root = _root(registry)
    prefix, short = (name.split('.', 1) if '.' in name else (None, name))
    if prefix is not None and prefix != root.scope and \
            root._search_child(prefix) is None:
        prefix, short = None, name  # a dotted name, not a scope prefix
    current = DefaultScope.get_current_instance()
    wanted = {registry.scope, prefix, 'mmmae',
              current.scope_name if current is not None else None}
    for scope, reg in list(_all_registries(root)):
        if scope in wanted:
            try:
                reg.import_from_location()
            except Exception:  # a broken optional package: suggest anyway
                pass
    # the same name may be registered in several scopes: prefer the one the
    # user asked for, then the default scope, mmmae, MMEngine's root
    order = [prefix, current.scope_name if current is not None else None,
             'mmmae', root.scope]
    rank = {s: i for i, s in enumerate(order) if s is not None}
    best = {}
    for scope, reg in _all_registries(root):
        for key in reg.module_dict:
            full = key if reg is root else f'{scope}.{key}'
            lower = key.lower()
            if lower not in best or rank.get(scope, 99) < best[lower][0]:
                best[lower] = (rank.get(scope, 99), full)
    hits = difflib.get_close_matches(short.lower(), list(best), n=n,
                                     cutoff=0.6)
    if not hits:
        return []
    # Only the runners-up about as close as the best: a one-letter typo
    # should not come with two unrelated names attached.

    def score(h):
        return difflib.SequenceMatcher(None, short.lower(), h).ratio()

    top = score(hits[0])
    return [best[h][1] for h in hits if score(h) >= top - 0.1]


def find_type_field(cfg: Any, type_name: str, path: str = '') -> \
        Optional[str]:
    """Where in ``cfg`` a dict with ``type=type_name`` sits.

    Args:
        cfg: A config dict (or list), searched depth first.
        type_name (str): The ``type`` value to find.
        path (str): Prefix of the returned path.

    Returns:
        str | None: e.g. ``'pipeline[6]'``, ``'backbone.input_adapters.rgb'``,
        ``''`` for ``cfg`` itself; None when it is not in ``cfg``.
    """
    if isinstance(cfg, Mapping):
        if cfg.get('type', None) == type_name:
            return path
        for key, value in cfg.items():
            found = find_type_field(value, type_name,
                                    f'{path}.{key}' if path else str(key))
            if found is not None:
                return found
    elif isinstance(cfg, (list, tuple)):
        for i, value in enumerate(cfg):
            found = find_type_field(value, type_name, f'{path}[{i}]')
            if found is not None:
                return found
    return None


def unknown_type_error(type_name: str,
                       where: str,
                       suggestions: Iterable[str],
                       owner: Optional[str] = None,
                       field: str = '') -> UnknownTypeError:
    """The :class:`UnknownTypeError` for ``type_name``.

    Args:
        type_name (str): The unknown type.
        where (str): The registry, e.g. ``'mmmae::transform'``.
        suggestions (Iterable[str]): From :func:`suggest_type`.
        owner (str, optional): The component whose config holds it, e.g.
            ``'VideoMAEDataset'``.
        field (str): Its place in the owner's config, e.g. ``'pipeline[6]'``.

    Returns:
        UnknownTypeError: With a one-line message.
    """
    suggestions = list(suggestions)
    hint = (f'did you mean {" or ".join(repr(c) for c in suggestions)}?'
            if suggestions else 'no registered name is similar; check the '
            'spelling and the scope prefix (mmmae., mmaction., mmseg.), or '
            'add the module that registers it to custom_imports')
    place = f'{owner}: config field `{field}`: ' if owner and field else ''
    return UnknownTypeError(
        f'{place}type {type_name!r} is not in the {where} registry; {hint}',
        type_name, where, suggestions, field)


def _registry_named(where: str, fallback: Optional[Registry]):
    """The registry a ``'scope::name'`` string of MMEngine's message means."""
    scope, _, name = where.partition('::')
    for value in vars(_mmengine_registry).values():
        if isinstance(value, Registry) and value.parent is None and \
                value.name == name:
            if scope == value.scope:
                return value
            return value._search_child(scope) or value
    return fallback


def explain_unknown_type(exc: KeyError, cfg: Any,
                         registry: Optional[Registry] = None,
                         owner: Optional[str] = None,
                         prefix: str = '') -> Optional[UnknownTypeError]:
    """Turn MMEngine's "X is not in the S::N registry" ``KeyError`` (or an
    :class:`UnknownTypeError` from a nested build) into one that names the
    field of ``cfg`` holding ``X`` and the closest registered names.

    Args:
        exc (KeyError): The error raised while building ``cfg``.
        cfg: The config being built.
        registry (Registry, optional): Where ``cfg`` was built.
        owner (str, optional): Name for the message; defaults to
            ``cfg['type']`` when the unknown type is nested in ``cfg``.
        prefix (str): Prepended to the field path (the owner's name for
            ``cfg``, e.g. ``'backbone'``).

    Returns:
        UnknownTypeError | None: None when ``exc`` is another ``KeyError``.
    """
    if isinstance(exc, UnknownTypeError):
        name, where, close = exc.type_name, exc.where, exc.suggestions
        if not name:
            return None
    else:
        msg = exc.args[0] if exc.args else None
        match = _NOT_REGISTERED.match(msg) if isinstance(msg, str) else None
        if match is None:
            return None
        name, where = match.groups()
        reg = _registry_named(where, registry)
        close = suggest_type(reg, name) if reg is not None else []
    field = find_type_field(cfg, name)
    if field is None:  # not in this config (e.g. from default_args)
        return exc if isinstance(exc, UnknownTypeError) else \
            unknown_type_error(name, where, close)
    field = '.'.join(p for p in (prefix, field) if p).replace('.[', '[')
    if owner is None and field and isinstance(cfg, Mapping):
        owner = cfg.get('type', None)
        owner = owner if isinstance(owner, str) else getattr(
            owner, '__name__', None)
    return unknown_type_error(name, where, close, owner, field)


def _with_type_suggestions(build_func: Callable) -> Callable:
    """``build_func`` whose unknown-type ``KeyError`` names the field and
    the closest registered names (see :func:`explain_unknown_type`)."""
    if getattr(build_func, '__mmmae_suggests__', False):
        return build_func

    @functools.wraps(build_func)
    def build(cfg, *args, **kwargs):
        try:
            return build_func(cfg, *args, **kwargs)
        except KeyError as exc:
            err = explain_unknown_type(exc, cfg, kwargs.get('registry'))
            if err is None or err is exc:
                raise
            # from None: the original is the same fact with less context
            raise err from None

    build.__mmmae_suggests__ = True
    return build


def install_type_suggestions() -> None:
    """Wrap the ``build_func`` of MMEngine's root registries and of every
    registry below them (see :func:`_with_type_suggestions`).

    Idempotent. Registries created later inherit the wrapped function from
    their parent.
    """
    for value in list(vars(_mmengine_registry).values()):
        if isinstance(value, Registry) and value.parent is None:
            for _, reg in _all_registries(value):
                reg.build_func = _with_type_suggestions(reg.build_func)


install_type_suggestions()
