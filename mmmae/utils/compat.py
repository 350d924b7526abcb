# Copyright (c) mmmae contributors. All rights reserved.
"""Workarounds for known breakages of the released OpenMMLab stack.

Each patch detects the broken condition first and does nothing when upstream
is fixed, so this module can stay in place across upgrades. All of them are
applied once by :func:`apply_compat_patches`, which ``import mmmae`` calls.

* ``mmaction2==1.2.0`` wheels lack ``mmaction/models/localizers/drn``
  (open-mmlab/mmaction2#2714): ``import mmaction.models`` fails.
* ``mmsegmentation==1.2.2`` imports ``mmcv.ops`` unconditionally, which the
  compile-free ``mmcv-lite`` lacks.
* ``mmaction2==1.2.0`` imports its VindLU models whenever ``transformers``
  is installed, and they use names ``transformers>=5`` removed
  (``apply_chunking_to_forward``): ``import mmaction.models`` fails.
* ``torch>=2.6`` defaults ``torch.load`` to ``weights_only=True``, which breaks
  MMEngine 0.10.7 ``resume``/``load_from`` (open-mmlab/mmengine#1655).
* ``mmaction2==1.2.0`` ``BaseHead.loss_by_feat`` calls ``.numpy()`` on the
  class scores for top-k accuracy, which fails on ``bfloat16`` (numpy has no
  bfloat16): bf16 AMP fine-tuning with hard labels crashes.
* MMEngine ``compile=True`` on torch 2.14: dynamo fails tracing
  ``AdamW.step`` inside the compiled ``train_step``. This guard cannot
  detect a fixed upstream; it is a pass-through for uncompiled runs.

One per-run helper is not a patch: :func:`distinct_experiment_name`, which
:func:`mmmae.apis.runner.build_runner` calls before every Runner.
"""
import functools
import importlib.abc
import importlib.util
import inspect
import logging
import os.path as osp
import sys
import types
from typing import Dict

import torch

_APPLIED: Dict[str, bool] = {}


def _log(msg: str) -> None:
    from mmengine.logging import print_log
    print_log(msg, logger='current', level=logging.DEBUG)


class MissingDRN:
    """Placeholder for ``mmaction``'s DRN localizer missing from the wheel."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError(
            'mmaction.models.localizers.drn is missing from the installed '
            'mmaction2 wheel (open-mmlab/mmaction2#2714). Install mmaction2 '
            'from source to use DRN.')


def patch_mmaction_missing_drn() -> bool:
    """Stand in for the DRN package the mmaction2 1.2.0 wheel lacks.

    Returns:
        bool: True when the stand-in was installed, False when not needed.
    """
    spec = importlib.util.find_spec('mmaction')
    if spec is None or not spec.submodule_search_locations:
        return False
    root = list(spec.submodule_search_locations)[0]
    if osp.isdir(osp.join(root, 'models', 'localizers', 'drn')):
        return False  # source install or fixed wheel
    if 'mmaction.models.localizers.drn' in sys.modules:
        return False
    pkg = types.ModuleType('mmaction.models.localizers.drn')
    pkg.__path__ = []  # a package, so `from .drn.drn import DRN` resolves
    mod = types.ModuleType('mmaction.models.localizers.drn.drn')
    mod.DRN = MissingDRN
    pkg.drn = mod
    sys.modules[pkg.__name__] = pkg
    sys.modules[mod.__name__] = mod
    _log('mmmae.compat: stubbed mmaction.models.localizers.drn (#2714)')
    return True


def _mmcv_has_ext() -> bool:
    try:
        return importlib.util.find_spec('mmcv._ext') is not None
    except (ImportError, ValueError):
        return False


def patch_mmcv_ops_for_lite() -> bool:
    """Give mmcv-lite a minimal ``mmcv.ops`` so ``mmseg`` imports.

    Only ``point_sample`` (pure PyTorch in mmcv) is provided; any other
    ``mmcv.ops`` name raises ``ModuleNotFoundError`` mentioning ``mmcv._ext``,
    which is what mmseg's own ``try/except ModuleNotFoundError`` guards expect.

    Returns:
        bool: True when the stand-in was installed, False when not needed.
    """
    mmcv_spec = importlib.util.find_spec('mmcv')
    if mmcv_spec is None or _mmcv_has_ext():
        return False
    existing = sys.modules.get('mmcv.ops')
    if existing is not None:
        return False  # real ops already imported, or patched before
    mmcv_root = list(mmcv_spec.submodule_search_locations)[0]
    ps_path = osp.join(mmcv_root, 'ops', 'point_sample.py')
    if not osp.isfile(ps_path):
        return False
    ps_spec = importlib.util.spec_from_file_location('mmcv.ops.point_sample',
                                                     ps_path)
    ps_mod = importlib.util.module_from_spec(ps_spec)
    ps_spec.loader.exec_module(ps_mod)

    ops = types.ModuleType('mmcv.ops')
    ops.__path__ = []
    ops.__file__ = __file__
    ops.point_sample = ps_mod.point_sample
    ops.point_sample_module = ps_mod

    def sigmoid_focal_loss(*args, **kwargs):
        raise ModuleNotFoundError(
            "No module named 'mmcv._ext': sigmoid_focal_loss needs the full "
            'mmcv (compiled ops); mmmae installs mmcv-lite.')

    ops.sigmoid_focal_loss = sigmoid_focal_loss

    def __getattr__(name):
        if name.startswith('__') and name.endswith('__'):
            raise AttributeError(name)
        raise ModuleNotFoundError(
            f"No module named 'mmcv._ext' (mmcv.ops.{name} needs the full, "
            'compiled mmcv; mmmae runs on mmcv-lite)')

    ops.__getattr__ = __getattr__
    sys.modules['mmcv.ops'] = ops
    sys.modules['mmcv.ops.point_sample'] = ps_mod
    import mmcv
    mmcv.ops = ops
    _log('mmmae.compat: installed pure-PyTorch mmcv.ops stand-in')
    return True


def _transformers_major() -> int:
    try:
        from importlib.metadata import PackageNotFoundError, version
        try:
            return int(version('transformers').split('.')[0])
        except PackageNotFoundError:
            return 0
    except (ImportError, ValueError):
        return 0


def patch_mmaction_multimodal_transformers5() -> bool:
    """Keep ``import mmaction.models`` working next to ``transformers>=5``.

    mmaction2 1.2.0 decides ``WITH_MULTIMODAL`` from the mere presence of
    ``transformers``; its VindLU code then imports helpers removed in v5. We
    turn the flag off (VindLU is replaced by mmaction's own placeholders);
    mmmae needs transformers only as a parity peer for HF checkpoints.

    Returns:
        bool: True when the flag was turned off, False when not needed.
    """
    if _transformers_major() < 5 or importlib.util.find_spec(
            'mmaction') is None:
        return False
    if 'mmaction.models.multimodal' in sys.modules:
        return False  # too late to matter; imported already
    from mmaction.utils import dependency
    if not getattr(dependency, 'WITH_MULTIMODAL', False):
        return False
    dependency.WITH_MULTIMODAL = False
    _log('mmmae.compat: mmaction VindLU disabled (needs transformers<5)')
    return True


def _torch_load_defaults_to_weights_only() -> bool:
    """Whether ``torch.load`` without ``weights_only`` refuses pickles."""
    try:
        params = inspect.signature(torch.load).parameters
    except (TypeError, ValueError):
        return False
    if 'weights_only' not in params:
        return False
    default = params['weights_only'].default
    # torch>=2.6 declares `weights_only=None` and resolves it to True.
    if default is None:
        from packaging.version import Version
        return Version(torch.__version__.split('+')[0]) >= Version('2.6')
    return bool(default)


def _mmengine_local_loader_passes_weights_only() -> bool:
    from mmengine.runner import checkpoint as ckpt
    src = inspect.getsource(ckpt.load_from_local)
    return 'weights_only' in src


def patch_mmengine_torch_load() -> bool:
    """Re-register MMEngine's local checkpoint loader as a safe loader.

    MMEngine checkpoints pickle the message hub and numpy RNG state, which
    plain ``weights_only=True`` rejects. The replacement loads through
    :func:`mmmae.checkpoint.io.load_checkpoint_file`: still
    ``weights_only=True``, with an allow-list of exactly those harmless
    objects, and a clear error (naming the opt-in for trusted files) for
    anything else. Only the local-file scheme is affected (``http`` goes
    through ``torch.hub``).

    Returns:
        bool: True when the loader was replaced, False when not needed.
    """
    if not _torch_load_defaults_to_weights_only():
        return False
    if _mmengine_local_loader_passes_weights_only():
        return False  # mmengine>=0.10.8 / main already passes it
    from mmengine.runner.checkpoint import CheckpointLoader

    def load_from_local(filename, map_location):
        from mmmae.checkpoint.io import load_checkpoint_file
        return load_checkpoint_file(filename, map_location=map_location)

    load_from_local.__mmmae_patched__ = True
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_from_local)
    _log('mmmae.compat: mmengine local checkpoint loader uses '
         'weights_only=True with an allow-list (mmengine#1655)')
    return True


def _head_topk_breaks_on_bf16(base_module: types.ModuleType) -> bool:
    src = inspect.getsource(base_module.BaseHead.loss_by_feat)
    return 'cls_scores.detach().cpu().numpy()' in src


def _patch_head_module(base_module: types.ModuleType) -> bool:
    """Cast bf16 class scores to fp32 before ``BaseHead.loss_by_feat``."""
    head_cls = base_module.BaseHead
    orig = head_cls.loss_by_feat
    if getattr(orig, '__mmmae_patched__', False) or \
            not _head_topk_breaks_on_bf16(base_module):
        return False

    @functools.wraps(orig)
    def loss_by_feat(self, cls_scores, data_samples, **kwargs):
        # The loss itself runs in fp32 under autocast anyway; only the
        # top-k accuracy's `.numpy()` needs the cast.
        if isinstance(cls_scores, torch.Tensor) and \
                cls_scores.dtype == torch.bfloat16:
            cls_scores = cls_scores.float()
        return orig(self, cls_scores, data_samples, **kwargs)

    loss_by_feat.__mmmae_patched__ = True
    head_cls.loss_by_feat = loss_by_feat
    _log('mmmae.compat: mmaction BaseHead.loss_by_feat casts bf16 scores '
         'to fp32 (top-k accuracy calls .numpy())')
    return True


class _PatchAfterImport(importlib.abc.MetaPathFinder):
    """Run ``patch(module)`` right after ``name`` is first imported.

    Importing ``mmaction.models`` takes seconds, so the patch waits until the
    user (or a config) imports it instead of importing it on ``import mmmae``.
    """

    def __init__(self, name: str, patch) -> None:
        self.name = name
        self.patch = patch

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # one shot; also avoids recursion
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module
        patch = self.patch

        def exec_and_patch(module):
            exec_module(module)
            patch(module)

        spec.loader.exec_module = exec_and_patch
        return spec


def patch_mmaction_head_bf16_topk() -> bool:
    """Let mmaction heads compute top-k accuracy on bf16 class scores.

    Patches now when ``mmaction.models.heads.base`` is already imported, or
    else right after its first import.

    Returns:
        bool: True when a patch was applied or scheduled, False when
        mmaction is missing or already fixed.
    """
    name = 'mmaction.models.heads.base'
    if importlib.util.find_spec('mmaction') is None:
        return False
    if name in sys.modules:
        return _patch_head_module(sys.modules[name])
    if not any(isinstance(f, _PatchAfterImport) and f.name == name
               for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchAfterImport(name, _patch_head_module))
    return True


def patch_mmengine_optim_step_for_dynamo() -> bool:
    """Keep the optimizer update out of ``torch.compile``'d train steps.

    MMEngine's ``compile`` runner option compiles ``model.train_step``,
    which also runs ``optim_wrapper.update_params``. Dynamo (torch 2.14
    here, any backend) then dies with an internal error inside
    ``torch.optim.AdamW.step`` (``'UserDefinedDictVariable' object has no
    attribute 'items'``, iterating MMEngine's param groups), so
    ``compile=True`` could not train at all. ``update_params`` is marked
    ``torch.compiler.disable``: dynamo breaks the graph there and runs the
    backward and optimizer step eagerly; the forward (and its autograd
    graph) stays compiled.

    Returns:
        bool: True when the patch was applied.
    """
    import torch
    from mmengine.optim import OptimWrapper
    disable = getattr(getattr(torch, 'compiler', None), 'disable', None)
    fn = OptimWrapper.update_params
    if disable is None or getattr(fn, '_mmmae_dynamo_disabled', False):
        return False
    patched = disable(fn)
    patched._mmmae_dynamo_disabled = True
    OptimWrapper.update_params = patched
    _log('compat: OptimWrapper.update_params runs outside torch.compile '
         '(dynamo cannot trace the optimizer step)')
    return True


def distinct_experiment_name(cfg) -> bool:
    """Give a repeated run of a config in one process its own name.

    MMEngine 0.10.7 names a run's logger and visualizer
    ``{config stem}_{timestamp}`` (to the second) and returns an *existing*
    global ``MMLogger`` / ``Visualizer`` of that name instead of making one:
    a second Runner of the same config started in the same second (tests,
    notebooks, sweeps in one process) writes its log and scalars into the
    first run's work dir, and its own stays empty. When an instance of this
    config's stem exists already, this sets ``cfg.experiment_name`` to
    ``{stem}-run{k}``; a first run (every command-line run) is unchanged.

    Args:
        cfg (mmengine.Config): The config about to build a Runner; changed
            in place.

    Returns:
        bool: True when a name was set.
    """
    from mmengine.logging import MMLogger
    from mmengine.visualization import Visualizer
    if cfg.get('experiment_name') is not None:
        return False
    stem = osp.splitext(osp.basename(cfg.filename or 'config'))[0]
    taken = set(MMLogger._instance_dict) | set(Visualizer._instance_dict)
    if not any(n.startswith(stem + '_') for n in taken):
        return False
    k = 2
    while any(n.startswith(f'{stem}-run{k}_') for n in taken):
        k += 1
    cfg.experiment_name = f'{stem}-run{k}'
    return True


def apply_compat_patches() -> Dict[str, bool]:
    """Apply every patch once.

    Returns:
        dict: patch name -> whether it changed anything (first call only;
        later calls return the cached result).
    """
    if not _APPLIED:
        for fn in (patch_mmaction_missing_drn,
                   patch_mmaction_multimodal_transformers5,
                   patch_mmcv_ops_for_lite, patch_mmengine_torch_load,
                   patch_mmaction_head_bf16_topk,
                   patch_mmengine_optim_step_for_dynamo):
            _APPLIED[fn.__name__] = fn()
    return dict(_APPLIED)
