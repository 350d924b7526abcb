# Copyright (c) mmmae contributors. All rights reserved.
"""VideoMAE checkpoint files in and out, checked against the model they fit.

What ``tools/model_converters/videomae2mmmae.py`` and ``mmmae2videomae.py``
do, callable from Python:

* :func:`convert_videomae_file` / :func:`convert_videomae_checkpoint`:
  official VideoMAE V1/V2, HuggingFace or MMAction2 -> mmmae;
* :func:`export_to_official_file`: mmmae -> official VideoMAE.

Both return a report (:class:`VideoMAEConversion`,
:class:`OfficialFileExport`) whose ``errors`` say why the result must not
be written; ``save`` refuses to write it then.

**Import sources** (detected from the keys, not the file name):

* official V1/V2 pretraining checkpoints (``{'model': sd}``, ``encoder.*``
  / ``decoder.*`` / ``encoder_to_decoder`` / ``mask_token``), also
  encoder-only dumps (``encoder.*`` without a decoder);
* official fine-tuned checkpoints (DeepSpeed ``{'module': sd}``,
  ``blocks.*`` / ``fc_norm`` / ``head``);
* HuggingFace ``VideoMAEForPreTraining`` / ``VideoMAEForVideoClassification``
  / ``VideoMAEModel`` (``pytorch_model.bin`` or ``model.safetensors``;
  transformers v4 ``q_bias`` and v5 ``query.bias`` layouts). The
  ``config.json`` next to the file (or ``hf_config``) gives the values the
  weights do not hold (``layer_norm_eps``, heads, clip size); the inferred
  config carries HF's LayerNorm epsilons (``norm_eps``, ``fc_norm_eps``,
  ``final_norm_eps``) either way;
* MMAction2 ``VisionTransformer`` (``vit_mae``) recognizers;
* mmmae checkpoints (re-targeted only).

Wrappers ``model``/``module``/``state_dict``/``model_state`` and the key
prefixes ``module.`` (DDP) and ``_orig_mod.`` (``torch.compile``) are
removed (:func:`mmmae.checkpoint.videomae.unwrap_checkpoint`).

**Import targets** (``to``):

* ``algorithm``: ``backbone.*`` + ``neck.*`` for ``mmmae.VideoMAE`` (needs
  a decoder in the source);
* ``recognizer``: ``backbone.*`` (+ ``cls_head.fc_cls.*`` when the source
  has a classifier) for an MMAction2 ``Recognizer3D`` with a linear head;
* ``backbone``: the ``mmmae.VideoMAEViT`` state dict (no prefix), loadable
  with ``init_cfg=dict(type='Pretrained', checkpoint=DST)``;
* ``auto``: ``algorithm`` when there is a decoder, else ``recognizer`` when
  there is a classifier, else ``backbone``.

The output is an MMEngine checkpoint ``{'state_dict': ..., 'meta': {...}}``
with the inferred config in ``meta['inferred_config']``. A source tensor
that would be dropped without being asked for (unknown keys, keys the
target model does not have, shape mismatches) is an error naming the keys;
discarding a part on purpose (the decoder with ``to='backbone'``) is
reported, not an error. With ``strict`` the target model must also be
complete (no missing keys) and a caveat in the notes (HF first-token
pooling) is an error.

**Export** (see :mod:`mmmae.checkpoint.official_export` for the key table):
the input is checked against the mmmae model it must come from, the model
of ``config`` when given, else the one its weights imply (every size a
majority vote, :mod:`mmmae.checkpoint.arch`, so one broken tensor is named
rather than skewing the model). Missing keys, unexpected keys and shape
mismatches refuse the export: an incomplete or mis-shaped checkpoint would
give an official file that fails to load, or loads wrongly. With ``strict``
the caveats of :class:`~mmmae.checkpoint.official_export.OfficialExport`
(the official model class could not load the result strictly) are errors.
"""
import copy
import os
import os.path as osp
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Tuple

import torch

from .arch import infer_videomae_config, videomae_target_shapes
from .official_export import (OfficialExport, export_to_official,
                              official_wrapper_key)
from .videomae import (ConversionError, compare_shapes, convert_any_videomae,
                       detect_videomae_format, format_key_list,
                       load_checkpoint_file, unwrap_checkpoint)

__all__ = [
    'ConversionReport', 'VideoMAEConversion', 'OfficialFileExport',
    'unwrap_for_conversion', 'select_videomae_target',
    'find_hf_config', 'apply_hf_config', 'convert_videomae_checkpoint',
    'convert_videomae_file', 'config_shapes', 'inferred_shapes',
    'check_export_input', 'export_to_official_file', 'save_with_report'
]

StateDict = Dict[str, torch.Tensor]
Shapes = Dict[str, torch.Size]

#: Values of ``to`` for :func:`convert_videomae_checkpoint`.
TARGETS = ('auto', 'algorithm', 'backbone', 'recognizer')
#: Values of ``wrapper`` for :func:`export_to_official_file`.
WRAPPERS = ('auto', 'model', 'module', 'none')


def _mismatches(n: int) -> str:
    return f'{n} shape mismatch' + ('' if n == 1 else 'es')


def unwrap_for_conversion(obj) -> StateDict:
    """:func:`~mmmae.checkpoint.videomae.unwrap_checkpoint` for converters:
    a checkpoint without a state dict is a :class:`ConversionError`."""
    try:
        return unwrap_checkpoint(obj)
    except (KeyError, TypeError) as exc:
        raise ConversionError(exc.args[0] if exc.args else str(exc)) from exc


class _Savable:
    """``ok`` and ``save`` of the converters' reports: a report with
    errors is never written."""
    errors: List[str]

    @property
    def ok(self) -> bool:
        """Whether the result may be written."""
        return not self.errors

    def checkpoint(self) -> dict:
        """What :meth:`save` writes."""
        raise NotImplementedError

    def save(self, dst: str) -> None:
        """Write :meth:`checkpoint` to ``dst`` (folders are created).

        Raises:
            ConversionError: The report has errors (nothing is written).
        """
        if self.errors:
            raise ConversionError('; '.join(self.errors) +
                                  ' (nothing written)')
        os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
        torch.save(self.checkpoint(), dst)


@dataclass
class ConversionReport(_Savable):
    """A converted checkpoint and what was found on the way.

    Attributes:
        state_dict (dict): The weights in the target layout.
        source_format (str): Detected layout of the source.
        target (str): Resolved target (``'algorithm'``, ``'backbone'``, ...).
        num_source_tensors (int): Tensors in the source state dict.
        inferred_config (dict): mmmae model config the weights imply.
        src (str, optional): Source file.
        discarded (list[str]): Converted keys left out on request (``to``).
        dropped (list[str]): Source keys the format has no mmmae place for
            (reported, not errors).
        missing (list[str]): Keys of the target model the weights lack.
        unexpected (list[str]): Keys the target model has no place for.
        mismatch (list[str]): ``'key: checkpoint (..) vs model (..)'``.
        checked (bool): The target model could be built and compared.
        notes (list[str]): What the user should know.
        errors (list[str]): Why the result must not be written (empty when
            it may).
    """
    state_dict: StateDict
    source_format: str
    target: str
    num_source_tensors: int
    inferred_config: dict = field(default_factory=dict)
    src: Optional[str] = None
    discarded: List[str] = field(default_factory=list)
    dropped: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatch: List[str] = field(default_factory=list)
    checked: bool = False
    notes: List[str] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)

    #: The tool that writes such files (``meta['converter']``).
    converter = ''
    #: Why ``dropped`` keys have no place, for :meth:`summary`.
    dropped_why = 'no mmmae counterpart'

    @property
    def num_tensors(self) -> int:
        """Tensors in the converted state dict."""
        return len(self.state_dict)

    def check_shapes(self, shapes: Shapes, strict: bool = False) -> None:
        """Compare :attr:`state_dict` with the target model's shapes.

        Unexpected keys and shape mismatches are errors (the weights would
        be dropped); missing keys only with ``strict``.

        Args:
            shapes (dict): Target ``key -> shape``.
            strict (bool): Missing keys are errors too.
        """
        self.missing, self.unexpected, self.mismatch = compare_shapes(
            self.state_dict, shapes)
        self.checked = True
        if self.unexpected:
            self.errors.append(
                'unexpected keys (the target model has no place for them; '
                f'they would be dropped): {self.unexpected}')
        if self.mismatch:
            self.errors.append(
                f'{_mismatches(len(self.mismatch))} (key: checkpoint '
                'shape vs model shape):\n    ' + '\n    '.join(self.mismatch))
        if self.missing and strict:
            self.errors.append(f'--strict: missing keys {self.missing}')

    def summary(self) -> List[str]:
        """The report as lines: source, target, what was left out, the
        comparison with the target model and the notes."""
        lines = [
            f'source: {self.src}',
            f'  format: {self.source_format}, {self.num_source_tensors} '
            'tensors', f'target: {self.target}, {self.num_tensors} tensors'
        ]
        if self.dropped:
            lines.append(f'  dropped ({self.dropped_why}): '
                         f'{len(self.dropped)} tensors: '
                         f'{format_key_list(self.dropped)}')
        if self.discarded:
            lines.append(f'  discarded on request (--to {self.target}): '
                         f'{len(self.discarded)} tensors: '
                         f'{format_key_list(self.discarded)}')
        if self.checked:
            lines.append(f'  vs the target model: {len(self.missing)} '
                         f'missing, {len(self.unexpected)} unexpected, '
                         f'{_mismatches(len(self.mismatch))}')
            if self.missing:
                lines.append('  missing (left at their init): '
                             f'{format_key_list(self.missing)}')
        return lines + [f'  note: {note}' for note in self.notes]

    def config_lines(self) -> List[str]:
        """The inferred config as lines."""
        return [
            'inferred config:',
            f'  backbone={self.inferred_config["backbone"]}'
        ]

    def meta(self) -> dict:
        """``meta`` of the written checkpoint."""
        import mmmae
        return dict(
            mmmae_version=getattr(mmmae, '__version__', None),
            converter=self.converter,
            source=None if self.src is None else osp.abspath(self.src),
            source_format=self.source_format,
            target=self.target,
            num_source_tensors=self.num_source_tensors,
            num_tensors=self.num_tensors,
            discarded=self.discarded,
            missing=self.missing,
            inferred_config=copy.deepcopy(self.inferred_config),
            notes=self.notes,
            time=time.strftime('%Y-%m-%d %H:%M:%S'))

    def checkpoint(self) -> dict:
        """What is written: the MMEngine checkpoint ``{'state_dict',
        'meta'}``."""
        return {'state_dict': self.state_dict, 'meta': self.meta()}


@dataclass
class VideoMAEConversion(ConversionReport):
    """:class:`ConversionReport` of a VideoMAE import.

    Attributes:
        hf_config: The HF config used for a HF source (else None).
    """
    hf_config: object = None

    converter = 'tools/model_converters/videomae2mmmae.py'

    def config_lines(self) -> List[str]:
        """The inferred config as lines, saying where it comes from."""
        cfg = self.inferred_config
        if self.hf_config is not None:
            lines = [f'inferred config (weights + {self.hf_config}):']
        else:
            lines = ['inferred config (heads guessed; set '
                     'num_frames/img_size):']
        lines.append(f'  backbone={cfg["backbone"]}')
        if self.target == 'algorithm' and cfg['neck'] is not None:
            lines.append(f'  neck={cfg["neck"]}')
        if self.target == 'recognizer' and cfg['num_classes'] is not None:
            lines.append(f'  num_classes={cfg["num_classes"]}')
        return lines


# --------------------------------------------------------------------------
# official / HF / MMAction2 -> mmmae
# --------------------------------------------------------------------------
def select_videomae_target(state_dict: Mapping[str, torch.Tensor],
                           to: str) -> Tuple[StateDict, str, List[str]]:
    """Keep the part of a converted VideoMAE checkpoint that ``to`` asks
    for (see the module docstring).

    Args:
        state_dict (Mapping): Converted weights (``backbone.*``, ``neck.*``,
            ``cls_head.*``).
        to (str): One of :data:`TARGETS`.

    Returns:
        tuple: (target state dict, resolved target, discarded keys).

    Raises:
        ConversionError: ``algorithm`` without a decoder, or with a
            classifier it would drop.
    """
    return _select_target(
        state_dict,
        to,
        'cls_head.',
        'recognizer',
        no_neck='--to algorithm needs a pretraining checkpoint with a '
        'decoder; this one has none (use --to backbone or recognizer)',
        both='the checkpoint has both a decoder and a classifier; --to '
        'algorithm would drop cls_head.*: ')


def _select_target(state_dict: Mapping[str, torch.Tensor],
                   to: str,
                   head: str,
                   head_target: str,
                   no_neck: str,
                   both: str,
                   no_head: Optional[str] = None
                   ) -> Tuple[StateDict, str, List[str]]:
    """Resolve ``to`` and keep its part of a converted state dict.

    Args:
        state_dict (Mapping): ``backbone.*``, ``neck.*`` and ``{head}*``.
        to (str): ``'auto'``, ``'algorithm'``, ``'backbone'`` or
            ``head_target``.
        head (str): Key prefix of the classifier, e.g. ``'cls_head.'``.
        head_target (str): The target with the classifier.
        no_neck (str): Error for ``algorithm`` without a decoder.
        both (str): Error for ``algorithm`` with a classifier (the keys it
            would drop are appended).
        no_head (str, optional): Error for ``head_target`` without a
            classifier (None: the backbone alone is fine).

    Returns:
        tuple: (target state dict, resolved target, discarded keys).
    """
    has_neck = any(k.startswith('neck.') for k in state_dict)
    has_head = any(k.startswith(head) for k in state_dict)
    if to == 'auto':
        to = 'algorithm' if has_neck else (
            head_target if has_head else 'backbone')
    if to == 'algorithm' and not has_neck:
        raise ConversionError(no_neck)
    if to == head_target and not has_head and no_head is not None:
        raise ConversionError(no_head)
    keep = {
        'algorithm': ('backbone.', 'neck.'),
        head_target: ('backbone.', head)
    }.get(to, ('backbone.', ))
    out: StateDict = OrderedDict()
    discarded = []
    for k, v in state_dict.items():
        if not k.startswith(keep):
            discarded.append(k)
        elif to == 'backbone':  # a bare backbone state dict
            out[k[len('backbone.'):]] = v
        else:
            out[k] = v
    if to == 'algorithm' and has_head:
        raise ConversionError(
            both + f'{[k for k in discarded if k.startswith(head)]}')
    return out, to, discarded


def find_hf_config(src: str, given: Optional[str] = None) -> Optional[str]:
    """``given``, else the ``config.json`` of the HF folder ``src`` is in
    (None when there is none)."""
    if given is not None:
        return given
    path = osp.join(osp.dirname(osp.abspath(src)), 'config.json')
    return path if osp.isfile(path) else None


def apply_hf_config(cfg: dict, state_dict: Mapping[str, torch.Tensor],
                    hf_config=None) -> None:
    """Put what HF keeps outside the weights into an inferred config.

    The LayerNorm epsilons (HF: ``layer_norm_eps``, default 1e-12, in the
    blocks and the final norm; 1e-5 in ``fc_norm``/``decoder.norm``) and,
    with a ``config.json``, the heads and the clip size. Without the
    epsilons the converted model is off HF by ~1e-5.

    Args:
        cfg (dict): From :func:`~mmmae.checkpoint.arch.infer_videomae_config`;
            updated in place.
        state_dict (Mapping): The unwrapped HF state dict.
        hf_config (optional): HF ``config.json`` (see
            :func:`mmmae.checkpoint.hf.load_hf_config`).
    """
    from .hf import inspect_hf_videomae
    info = inspect_hf_videomae(state_dict, hf_config=hf_config)
    for k in ('norm_eps', 'fc_norm_eps', 'img_size', 'num_frames'):
        if k in info['backbone']:
            cfg['backbone'][k] = info['backbone'][k]
    if hf_config is not None:
        cfg['backbone']['arch']['num_heads'] = \
            info['backbone']['arch']['num_heads']
    if cfg.get('neck') is not None and info['neck'] is not None:
        for k in ('norm_eps', 'final_norm_eps'):
            cfg['neck'][k] = info['neck'][k]
        if hf_config is not None:
            cfg['neck']['decoder_num_heads'] = info['neck'][
                'decoder_num_heads']


def convert_videomae_checkpoint(ckpt: Mapping,
                                to: str = 'auto',
                                *,
                                hf_config=None,
                                strict: bool = False) -> VideoMAEConversion:
    """Convert a loaded VideoMAE checkpoint to mmmae and check it against
    the model its weights imply.

    Args:
        ckpt (Mapping): Loaded checkpoint or state dict, any layout of the
            module docstring.
        to (str): One of :data:`TARGETS`. Defaults to ``'auto'``.
        hf_config (optional): HF config of a HF source (path, mapping or
            ``PretrainedConfig``); ignored for other sources.
        strict (bool): Missing keys, an unbuildable target model and the
            HF first-token caveat are errors too.

    Returns:
        VideoMAEConversion: The weights and the report; ``errors`` non-empty
        when they must not be written.

    Raises:
        ConversionError: No state dict, an unknown layout, tensors without
            an mmmae counterpart or a target the weights cannot give.
    """
    if to not in TARGETS:
        raise ConversionError(f'to must be one of {TARGETS}, got {to!r}')
    sd = unwrap_for_conversion(ckpt)
    notes: List[str] = []
    if detect_videomae_format(sd) != 'hf':
        hf_config = None
    elif hf_config is not None:
        notes.append(f'HF config: {hf_config}')
    conv, fmt, more = convert_any_videomae(sd, hf_config=hf_config)
    notes += more
    out, to, discarded = select_videomae_target(conv, to)
    if to != 'algorithm' and 'backbone.norm.weight' in conv \
            and 'backbone.fc_norm.weight' not in conv:
        notes.append(
            'encoder with a final norm (pretraining layout): the official '
            'fine-tuning recipe uses VideoMAEViT(use_mean_pooling=True), '
            'which has no backbone.norm and a fresh fc_norm; load with '
            'strict=False there (as the official fine-tuning does)')
    cfg = infer_videomae_config(conv)
    if fmt == 'hf':
        apply_hf_config(cfg, sd, hf_config)
    report = VideoMAEConversion(
        state_dict=out,
        source_format=fmt,
        target=to,
        num_source_tensors=len(sd),
        inferred_config=cfg,
        discarded=discarded,
        notes=notes,
        hf_config=hf_config)
    try:
        shapes = videomae_target_shapes(cfg, to)
    except Exception as exc:  # helper model not importable / mismatch
        msg = (f'could not build the target model from the inferred shapes '
               f'({type(exc).__name__}: {exc}); missing/unexpected keys '
               'not checked')
        notes.append(msg)
        if strict:
            report.errors.append(msg)
    else:
        report.check_shapes(shapes, strict)
    if strict:
        report.errors += [
            f'--strict: {n}' for n in notes if 'FIRST PATCH TOKEN' in n
        ]
    return report


def convert_videomae_file(src: str,
                          dst: Optional[str] = None,
                          *,
                          to: str = 'auto',
                          hf_config=None,
                          strict: bool = False,
                          trusted: bool = False) -> VideoMAEConversion:
    """Convert a VideoMAE checkpoint file (official V1/V2, HF, MMAction2,
    mmmae) to mmmae; what ``tools/model_converters/videomae2mmmae.py``
    does.

    Args:
        src (str): Source checkpoint (``.pth``/``.pt``/``.bin``/
            ``.safetensors``).
        dst (str, optional): Where to write the MMEngine checkpoint; None
            only converts (write it later with ``report.save(dst)``).
        to (str): One of :data:`TARGETS`. Defaults to ``'auto'``.
        hf_config (optional): HF ``config.json`` of a HF source; default:
            the ``config.json`` next to ``src``, if any.
        strict (bool): See :func:`convert_videomae_checkpoint`.
        trusted (bool): Load ``src`` as a full pickle (only for files you
            trust).

    Returns:
        VideoMAEConversion: The weights and the report.

    Raises:
        ConversionError: ``src`` cannot be loaded or converted, or ``dst``
            is given and the report has errors (nothing written).
    """
    return _convert_file(
        convert_videomae_checkpoint,
        src,
        dst,
        trusted,
        to=to,
        hf_config=find_hf_config(src, hf_config),
        strict=strict)


def _convert_file(convert: Callable[..., ConversionReport], src: str,
                  dst: Optional[str], trusted: bool,
                  **kwargs) -> ConversionReport:
    """Load ``src``, ``convert`` it, and write the result to ``dst``
    (when given)."""
    obj, notes = load_checkpoint_file(src, trusted=trusted)
    report = convert(obj, **kwargs)
    report.src = src
    report.notes[:0] = notes
    if dst is not None:
        report.save(dst)
    return report


# --------------------------------------------------------------------------
# mmmae -> official: the model the input must come from
# --------------------------------------------------------------------------
_SKIP = ('data_preprocessor.', )
_TABLES = ('pos_embed', 'backbone.pos_embed', 'neck.pos_embed')
_SHOW = 20  # a wholly different model would list every tensor


def _weights(sd: Mapping[str, torch.Tensor]) -> Tuple[dict, bool]:
    """The model weights of an unwrapped mmmae state dict, prefixed
    (``backbone.*`` for a bare backbone), and whether it was bare.

    Normalisation buffers and fixed sin-cos tables are not weights (the
    export reports them separately)."""
    keys = [k for k in sd if not k.startswith(_SKIP) and k not in _TABLES]
    bare = bool(keys) and not any(
        k.startswith(('backbone.', 'neck.', 'cls_head.')) for k in keys)
    return {('backbone.' + k if bare else k): sd[k] for k in keys}, bare


def config_shapes(config: str, bare: bool = False) -> Shapes:
    """State-dict shapes of ``config``'s ``model`` (built on the meta
    device: shapes only, no memory or init time).

    Args:
        config (str): Config file.
        bare (bool): The checkpoint is a bare backbone: compare with the
            model's ``backbone.*`` only.

    Returns:
        dict: key -> shape, ``backbone.`` prefixed.
    """
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope
    cfg = Config.fromfile(config)
    scope = cfg.get('default_scope', None) or 'mmmae'
    with DefaultScope.overwrite_default_scope(scope):
        try:
            with torch.device('meta'):
                model = MODELS.build(copy.deepcopy(cfg.model))
        except Exception:  # e.g. an init that needs real tensors
            model = MODELS.build(copy.deepcopy(cfg.model))
    shapes = {
        k: v.shape
        for k, v in model.state_dict().items()
        if not k.startswith(_SKIP) and k not in _TABLES
    }
    if bare:
        shapes = {k: v for k, v in shapes.items() if k.startswith('backbone.')}
    return shapes


def inferred_shapes(weights: Mapping[str, torch.Tensor],
                    kind: str) -> Tuple[Shapes, str]:
    """Shapes of the mmmae model ``weights`` imply, and its description.

    Args:
        weights (Mapping): ``backbone.*`` (+ ``neck.*`` or
            ``cls_head.fc_cls.*``).
        kind (str): Resolved export kind; decides the final norm when the
            weights have neither ``norm`` nor ``fc_norm`` (a pretraining
            encoder ends with ``norm``, a fine-tuned one with ``fc_norm``).

    Returns:
        tuple: (key -> shape, ``backbone.`` prefixed; a one-line summary).
    """
    cfg = infer_videomae_config(weights,
                                use_mean_pooling=kind == 'finetune')
    if any(k.startswith('neck.') for k in weights):
        to = 'algorithm'
    elif any(k.startswith('cls_head.') for k in weights):
        to = 'recognizer'
    else:
        to = 'backbone'
    shapes = videomae_target_shapes(cfg, to)
    if to == 'backbone':
        shapes = {'backbone.' + k: v for k, v in shapes.items()}
    bb = cfg['backbone']
    what = (f"the VideoMAE {to} its weights imply (embed_dims="
            f"{bb['arch']['embed_dims']}, {bb['arch']['num_layers']} blocks, "
            f"patch_size={bb['patch_size']}, tubelet_size="
            f"{bb['tubelet_size']}, in_channels={bb['in_channels']}"
            + (f", decoder_embed_dims={cfg['neck']['decoder_embed_dims']}"
               if to == 'algorithm' else '') + ')')
    return shapes, what


def _listed(keys: List[str]) -> str:
    if len(keys) <= _SHOW:
        return str(keys)
    return str(keys[:_SHOW])[:-1] + f', ... (+{len(keys) - _SHOW} more)]'


def check_export_input(ckpt: Mapping,
                       kind: str,
                       config: Optional[str] = None) -> List[str]:
    """Compare an mmmae checkpoint with the model it must come from.

    Args:
        ckpt (Mapping): The loaded checkpoint or state dict.
        kind (str): Resolved export kind (``'pretrain'``/``'finetune'``).
        config (str, optional): Config whose model to compare with;
            default: the model the weights imply.

    Returns:
        list[str]: Error lines (empty when everything matches).
    """
    weights, bare = _weights(unwrap_checkpoint(ckpt))
    if config is not None:
        shapes, what = config_shapes(config, bare), f'the model of {config}'
    else:
        shapes, what = inferred_shapes(weights, kind)
    missing, unexpected, mismatch = compare_shapes(weights, shapes)
    if bare:  # name the keys as they are in the file
        def strip(keys):
            return [k[len('backbone.'):] for k in keys]
        missing, unexpected, mismatch = (strip(missing), strip(unexpected),
                                         strip(mismatch))
    errors = []
    if missing:
        errors.append(f'{len(missing)} missing key(s) (the checkpoint is '
                      f'incomplete for {what}): {_listed(missing)}')
    if unexpected:
        errors.append(f'{len(unexpected)} unexpected key(s) ({what} has no '
                      f'place for them): {_listed(unexpected)}')
    if mismatch:
        n = len(mismatch)
        shown = mismatch[:_SHOW] + ([f'... (+{n - _SHOW} more)']
                                    if n > _SHOW else [])
        errors.append(
            f"{_mismatches(n)} with {what} (key: checkpoint shape vs model "
            'shape):\n    ' + '\n    '.join(shown))
    return errors


@dataclass
class OfficialFileExport(_Savable):
    """Result of :func:`export_to_official_file`.

    Attributes:
        result (OfficialExport, optional): The official state dict and what
            happened to the other entries; None when the input was refused
            (see ``errors``).
        wrapper (str): Top-level key of the written file (``'model'``,
            ``'module'``) or ``'none'`` (the bare state dict).
        src (str, optional): Source file.
        notes (list[str]): What the user should know.
        errors (list[str]): Why nothing may be written (empty when it may).
    """
    result: Optional[OfficialExport]
    wrapper: str = 'none'
    src: Optional[str] = None
    notes: List[str] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)

    @property
    def num_tensors(self) -> int:
        """Tensors in the official state dict (0 when refused)."""
        return 0 if self.result is None else len(self.result.state_dict)

    def checkpoint(self) -> dict:
        """What is written: the official state dict, wrapped."""
        sd = self.result.state_dict
        return sd if self.wrapper == 'none' else {self.wrapper: sd}

    def summary(self) -> List[str]:
        """The report as lines (empty when the input was refused)."""
        res = self.result
        if res is None:
            return []
        lines = [
            f'source: {self.src}',
            f'target: official {res.layout}, {len(res.state_dict)} tensors, '
            f"wrapper {self.wrapper if self.wrapper != 'none' else '(none)'}"
        ]
        if res.dropped:
            lines.append('  dropped (fixed sin-cos tables the official code '
                         f'recomputes): {format_key_list(res.dropped)}')
        if res.left_out:
            lines.append('  left out (not model weights): '
                         f'{format_key_list(list(res.left_out))}')
        return lines + [f'  note: {n}' for n in self.notes
                        ] + [f'  caveat: {c}' for c in res.caveats]

    def config_lines(self) -> List[str]:
        """Nothing: the official layout has no config to report."""
        return []


def export_to_official_file(src: str,
                            dst: Optional[str] = None,
                            *,
                            kind: str = 'auto',
                            wrapper: str = 'auto',
                            config: Optional[str] = None,
                            strict: bool = False,
                            trusted: bool = False) -> OfficialFileExport:
    """Export an mmmae checkpoint file to the official VideoMAE layout;
    what ``tools/model_converters/mmmae2videomae.py`` does.

    Args:
        src (str): mmmae / MMEngine checkpoint.
        dst (str, optional): Where to write the official checkpoint; None
            only exports (write it later with ``report.save(dst)``).
        kind (str): ``'auto'``, ``'pretrain'`` or ``'finetune'`` (see
            :mod:`mmmae.checkpoint.official_export`).
        wrapper (str): One of :data:`WRAPPERS`: ``'auto'`` is the official
            ``--model_key`` of the kind (``'model'`` for pretrain,
            ``'module'`` for finetune); ``'none'`` writes the bare state dict.
        config (str, optional): Config whose ``model`` ``src`` must match
            (keys and shapes); default: the model the weights imply.
        strict (bool): The caveats (the official model could not load the
            result strictly) are errors too.
        trusted (bool): Load ``src`` as a full pickle (only for files you
            trust).

    Returns:
        OfficialFileExport: The export and the report.

    Raises:
        ConversionError: ``src`` cannot be loaded, or ``dst`` is given and
            the report has errors (nothing written).
    """
    if wrapper not in WRAPPERS:
        raise ConversionError(
            f'wrapper must be one of {WRAPPERS}, got {wrapper!r}')
    obj, notes = load_checkpoint_file(src, trusted=trusted)
    report = OfficialFileExport(None, src=src, notes=notes)
    try:
        res = export_to_official(obj, kind=kind, strict=True)
    except (KeyError, TypeError, ValueError) as exc:
        report.errors.append(exc.args[0] if exc.args else str(exc))
        return _written(report, dst)
    report.errors = check_export_input(obj, res.kind, config)
    if report.errors:
        return _written(report, dst)
    official = official_wrapper_key(res.kind)
    report.result = res
    report.wrapper = official if wrapper == 'auto' else wrapper
    report.notes += res.notes
    if report.wrapper not in ('none', official):
        report.notes.append(
            f'wrapper {report.wrapper!r}: the official {res.kind} files use '
            f'{official!r}; pass --model_key {report.wrapper} to the '
            'official scripts')
    if strict:
        report.errors += [f'--strict: {c}' for c in res.caveats]
    return _written(report, dst)


def _written(report: OfficialFileExport,
             dst: Optional[str]) -> OfficialFileExport:
    if dst is not None:
        report.save(dst)
    return report


# --------------------------------------------------------------------------
# the end of every converter tool
# --------------------------------------------------------------------------
def save_with_report(report, dst: str) -> int:
    """Print a converter's report, then write the result to ``dst`` or,
    when the report has errors, print them instead.

    The report (:meth:`ConversionReport.summary`) goes to stdout; each error
    is one ``ERROR: ...`` line on stderr, followed by ``nothing written``.

    Args:
        report (ConversionReport | OfficialFileExport): What a converter
            returned.
        dst (str): Output file.

    Returns:
        int: Exit status: 0 written, 1 nothing written.
    """
    lines = report.summary()
    if lines:
        print('\n'.join(lines))
    if report.errors:
        for e in report.errors:
            print(f'ERROR: {e}', file=sys.stderr)
        print('nothing written', file=sys.stderr)
        return 1
    report.save(dst)
    print('\n'.join(report.config_lines() +
                    [f'saved {report.num_tensors} tensors to {dst}']))
    return 0
