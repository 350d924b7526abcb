# Copyright (c) mmmae contributors. All rights reserved.
# Runtime of the MultiMAE ImageNet classification configs (fine-tuning and
# linear probe): mmpretrain's default runtime in its scope, with the mmmae
# parts written `mmmae.X`, the best validation checkpoint kept (the official
# scripts report the best validation accuracy over epochs) and the official
# seeding.
_base_ = ['mmpretrain::_base_/default_runtime.py']
default_scope = 'mmpretrain'
# `mmmae.X` types resolve once mmmae is imported (mmmae's tools do it anyway;
# this makes mmpretrain's own tools/train.py work with these configs too)
custom_imports = dict(imports=['mmmae'], allow_failed_imports=False)
default_hooks = dict(
    checkpoint=dict(
        type='mmmae.AtomicCheckpointHook', interval=1, max_keep_ckpts=3,
        save_best='auto'))
# official: seed 0 + rank
randomness = dict(seed=0, diff_rank_seed=True)
