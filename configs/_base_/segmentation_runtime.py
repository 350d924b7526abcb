# Copyright (c) mmmae contributors. All rights reserved.
# Runtime of the MultiMAE dense fine-tuning configs (semantic segmentation and
# depth estimation, both MMSegmentation models): MMSegmentation's default
# runtime in its scope, with the mmmae parts written `mmmae.X` and logs by
# epoch (the dense schedules are epoch-based).
_base_ = ['mmseg::_base_/default_runtime.py']
default_scope = 'mmseg'
# `mmmae.X` types resolve once mmmae is imported (mmmae's tools do it anyway;
# this makes MMSegmentation's own tools/train.py work with these configs too)
custom_imports = dict(imports=['mmmae'], allow_failed_imports=False)
log_processor = dict(by_epoch=True)
