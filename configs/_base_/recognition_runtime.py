# Copyright (c) mmmae contributors. All rights reserved.
# Runtime of the recognition (fine-tuning / testing) configs: the default
# runtime in MMAction2's scope. Every MMAction2 part keeps its plain name and
# only the mmmae parts are written `mmmae.X`, exactly as in an MMAction2
# project. The checkpoint hook also keeps the best validation checkpoint.
_base_ = ['./default_runtime.py']
default_scope = 'mmaction'
# `mmmae.X` types resolve once mmmae is imported (mmmae's tools do it anyway;
# this makes MMAction2's own tools/train.py work with these configs too)
custom_imports = dict(imports=['mmmae'], allow_failed_imports=False)

default_hooks = dict(
    checkpoint=dict(save_best='auto'),
    sync_buffers=dict(type='SyncBuffersHook'))

visualizer = dict(type='ActionVisualizer')
