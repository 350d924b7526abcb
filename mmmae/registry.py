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
"""
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
from mmengine.registry import Registry

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
