# Copyright (c) mmmae contributors. All rights reserved.
from .patch_ops import patchify, unpatchify
from .pos_embed import get_sinusoid_table, interpolate_pos_table
from .transformer import (Attention, DropPath, Mlp, TransformerBlock,
                          build_norm, init_weights_official_finetune,
                          init_weights_official_pretrain)

__all__ = [
    'Attention', 'DropPath', 'Mlp', 'TransformerBlock', 'build_norm',
    'init_weights_official_finetune', 'init_weights_official_pretrain',
    'get_sinusoid_table', 'interpolate_pos_table', 'patchify', 'unpatchify'
]
