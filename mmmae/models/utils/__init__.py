# Copyright (c) mmmae contributors. All rights reserved.
from .patch_ops import patchify, unpatchify
from .pos_embed import (build_2d_sincos_posemb, get_sinusoid_table,
                        interpolate_pos_table, resize_pos_emb_2d)
from .token_select import (common_count, gather_rows, gather_tokens,
                           kept_indices)
from .transformer import (Attention, CrossAttention, DropPath, Mlp,
                          TransformerBlock, build_norm,
                          init_weights_official_finetune,
                          init_weights_official_pretrain)
from .vit_arch import VIT_ARCH_ZOO, parse_vit_arch

__all__ = [
    'Attention', 'DropPath', 'Mlp', 'TransformerBlock', 'build_norm',
    'init_weights_official_finetune', 'init_weights_official_pretrain',
    'get_sinusoid_table', 'interpolate_pos_table', 'patchify', 'unpatchify',
    'CrossAttention', 'build_2d_sincos_posemb', 'resize_pos_emb_2d',
    'VIT_ARCH_ZOO', 'parse_vit_arch', 'common_count', 'gather_rows',
    'gather_tokens', 'kept_indices'
]
