# Copyright (c) mmmae contributors. All rights reserved.
"""High-level api (MMAction2's ``mmaction.apis`` style).

The command-line tools (``tools/train.py``, ``tools/test.py``,
``tools/extract_features.py``, ``tools/visualize_reconstruction.py``,
``tools/visualize_multimae.py``, ``tools/visualize_multimodal_video.py``)
are argparse wrappers of these functions:

* :func:`train_model`, :func:`test_model`: train or evaluate from a config
  with the tools' options (:func:`prepare_train_config`,
  :func:`prepare_test_config` give the config without running it);

* :func:`init_model`, :func:`inference_recognizer`: build any mmmae model
  from its config (right default scope, checkpoint, eval mode) and
  classify a video with a fine-tuned VideoMAE recognizer;
* :func:`extract_features`: sliding-window VideoMAE encoder features,
  decoded and preprocessed by the dataset transforms;
* :func:`reconstruct_video`: a VideoMAE's masked input, prediction and
  target for one clip;
* :func:`predict_multimae`, :func:`predict_cross_modal`: MultiMAE
  predictions, e.g. depth and semseg from RGB alone;
* :func:`predict_video_cross_modal`: a multi-modal video MAE's
  predictions of a clip, e.g. depth and semseg video from rgb tubes;
* :func:`visualize_reconstructions`, :func:`visualize_multimae`,
  :func:`visualize_multimodal_video`: the above, drawn to PNG files for a
  folder, list or dataset split;
* :func:`quiet_init_weights`: ``init_weights()`` without the
  per-parameter log.

:mod:`mmmae.apis.recipes` (not re-exported here) holds what the demo and
study drivers share: launching the runs, comparing pretrained and scratch
runs over seeds, the summary tables.
"""
from .features import (CheckpointError, VideoDecodeError, build_backbone,
                       compute_features, extract_features, feature_settings,
                       init_backbone,
                       load_backbone_weights, normalization_from_config,
                       resolve_layers, resolve_window_settings,
                       save_video_features, window_frame_indices,
                       window_starts)
from .inference import (InputError, build_pipeline, find_dataset_pipeline,
                        inference_recognizer, init_model, load_config,
                        quiet_init_weights)
from .inputs import VIDEO_EXTS, collect_videos
from .multimae import (build_multimae_pipeline, collect_images,
                       draw_multimae_masks, find_class_info,
                       init_multimae_model, load_mask_file,
                       mask_generator_cfg, multimae_geometry, parse_visible,
                       predict_cross_modal, predict_multimae)
from .multimodal_video import (build_video_pipeline, open_video_split,
                               predict_video_cross_modal, video_mae_geometry,
                               visualize_multimodal_video)
from .reconstruction import (build_reconstruction_pipeline,
                             find_train_pipeline, make_deterministic_pipeline,
                             reconstruct_video)
from .runner import (NoTestLoopError, build_runner, fix_amp_on_cpu,
                     has_test_loop, merge_test_options, merge_train_options,
                     prepare_test_config, prepare_train_config, test_model,
                     train_model)
from .visualize import (existing_videos, multimae_mask_mode,
                        visualize_multimae, visualize_reconstructions)

__all__ = [
    'InputError', 'load_config', 'init_model', 'quiet_init_weights',
    'find_dataset_pipeline', 'build_pipeline', 'inference_recognizer',
    'VIDEO_EXTS', 'collect_videos', 'VideoDecodeError', 'CheckpointError',
    'window_starts', 'window_frame_indices', 'build_backbone',
    'load_backbone_weights', 'init_backbone', 'normalization_from_config',
    'resolve_layers', 'resolve_window_settings', 'compute_features',
    'extract_features', 'feature_settings', 'save_video_features',
    'find_train_pipeline',
    'make_deterministic_pipeline', 'build_reconstruction_pipeline',
    'reconstruct_video', 'init_multimae_model', 'multimae_geometry',
    'build_multimae_pipeline', 'mask_generator_cfg', 'parse_visible',
    'load_mask_file', 'collect_images', 'find_class_info',
    'draw_multimae_masks', 'predict_multimae', 'predict_cross_modal',
    'NoTestLoopError', 'merge_train_options', 'fix_amp_on_cpu',
    'prepare_train_config', 'has_test_loop', 'merge_test_options',
    'prepare_test_config', 'build_runner', 'train_model', 'test_model',
    'existing_videos', 'visualize_reconstructions', 'multimae_mask_mode',
    'visualize_multimae', 'video_mae_geometry', 'build_video_pipeline',
    'open_video_split', 'predict_video_cross_modal',
    'visualize_multimodal_video'
]
