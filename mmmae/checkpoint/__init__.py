# Copyright (c) mmmae contributors. All rights reserved.
"""Checkpoints in every layout mmmae reads or writes.

* :mod:`.io`: safe (``weights_only``) loading with an allow-list, the
  trust opt-in and the diagnosis of empty / truncated / corrupt files;
* :mod:`.videomae`: detection of the VideoMAE layout (mmmae, official
  V1/V2 pretraining or fine-tuned, MMAction2, HF) and conversion to mmmae;
* :mod:`.hf`: HuggingFace ``transformers`` VideoMAE import and export;
* :mod:`.official_export`: mmmae -> official VideoMAE export;
* :mod:`.multimae`: official MultiMAE / MultiViT and timm conversion;
* :mod:`.convert_videomae`, :mod:`.convert_multimae`: whole-file
  conversions with their report (what ``tools/model_converters/*.py``
  run): :func:`convert_videomae_file`, :func:`export_to_official_file`,
  :func:`convert_multimae_file`;
* :mod:`.arch`: architecture inference from the tensors of a checkpoint;
* :mod:`.loaders`: the backbone loaders used by ``init_cfg=Pretrained``,
  with their loading report.

This package imports :mod:`mmmae.models` only inside functions, and
:mod:`mmmae.models` imports it only inside functions, so either can be
imported first. ``load_checkpoint_file`` here is the general loader of
:mod:`.io`; the converters' variant that raises ``ConversionError`` is
:func:`mmmae.checkpoint.videomae.load_checkpoint_file`.
"""
from .arch import (Votes, block_votes, heads_for, infer_videomae_config,
                   max_index, videomae_target_shapes)
from .convert_multimae import (MultiMAEConversion, convert_any_multimae,
                               convert_multimae_checkpoint,
                               convert_multimae_file, detect_multimae_format,
                               infer_multimae_config, multimae_target_shapes,
                               select_multimae_target)
from .convert_videomae import (ConversionReport, OfficialFileExport,
                               VideoMAEConversion, apply_hf_config,
                               check_export_input, config_shapes,
                               convert_videomae_checkpoint,
                               convert_videomae_file, export_to_official_file,
                               find_hf_config, inferred_shapes,
                               save_with_report, select_videomae_target,
                               unwrap_for_conversion)
from .hf import (HF_FIXED_NORM_EPS, HF_LAYER_NORM_EPS, HFConversionError,
                 HFExport, HFExportError, compare_with_hf, convert_hf_videomae,
                 export_to_hf, hf_bias_layout, inspect_hf_videomae,
                 is_hf_videomae, load_hf_config, load_model_for_export)
from .io import (TRUST_ENV, CorruptCheckpointError, UntrustedCheckpointError,
                 add_trust_pickle_argument, checkpoint_fault,
                 checkpoint_safe_globals, corrupt_checkpoint_error,
                 is_trusted_checkpoint, load_checkpoint_file,
                 load_checkpoint_or_url)
from .loaders import load_backbone_checkpoint, load_multimae_backbone
from .multimae import (convert_official_multimae, multimae_to_timm,
                       timm_to_multimae)
from .official_export import (KINDS, OfficialExport,
                              convert_mmmae_to_official, detect_mmmae_kind,
                              export_to_official, official_wrapper_key,
                              wrap_official)
from .videomae import (ConversionError, compare_shapes,
                       convert_any_videomae, convert_mmaction2_videomae,
                       convert_official_videomae, detect_videomae_format,
                       format_key_list, official_to_backbone, strip_prefixes,
                       unwrap_checkpoint)

__all__ = [
    # io
    'TRUST_ENV', 'UntrustedCheckpointError', 'CorruptCheckpointError',
    'add_trust_pickle_argument', 'checkpoint_fault',
    'checkpoint_safe_globals', 'corrupt_checkpoint_error',
    'is_trusted_checkpoint', 'load_checkpoint_file', 'load_checkpoint_or_url',
    # videomae
    'unwrap_checkpoint', 'convert_official_videomae', 'official_to_backbone',
    'strip_prefixes', 'ConversionError', 'detect_videomae_format',
    'convert_mmaction2_videomae', 'convert_any_videomae', 'format_key_list',
    'compare_shapes',
    # hf
    'is_hf_videomae', 'convert_hf_videomae', 'inspect_hf_videomae',
    'hf_bias_layout', 'HFConversionError', 'load_hf_config',
    'HF_LAYER_NORM_EPS', 'HF_FIXED_NORM_EPS', 'HFExportError', 'HFExport',
    'export_to_hf', 'compare_with_hf', 'load_model_for_export',
    # official_export
    'OfficialExport', 'detect_mmmae_kind', 'export_to_official',
    'convert_mmmae_to_official', 'wrap_official', 'official_wrapper_key',
    'KINDS',
    # multimae
    'convert_official_multimae', 'multimae_to_timm', 'timm_to_multimae',
    # arch
    'Votes', 'block_votes', 'max_index', 'infer_videomae_config',
    'videomae_target_shapes', 'heads_for',
    # loaders
    'load_backbone_checkpoint', 'load_multimae_backbone',
    # convert_videomae
    'ConversionReport', 'VideoMAEConversion', 'OfficialFileExport',
    'convert_videomae_file', 'convert_videomae_checkpoint',
    'export_to_official_file', 'save_with_report', 'unwrap_for_conversion',
    'select_videomae_target', 'find_hf_config', 'apply_hf_config',
    'config_shapes', 'inferred_shapes', 'check_export_input',
    # convert_multimae
    'MultiMAEConversion', 'convert_multimae_file',
    'convert_multimae_checkpoint', 'detect_multimae_format',
    'convert_any_multimae', 'select_multimae_target', 'infer_multimae_config',
    'multimae_target_shapes'
]
