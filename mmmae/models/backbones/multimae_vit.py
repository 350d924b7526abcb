# Copyright (c) mmmae contributors. All rights reserved.
"""MultiMAE multi-modal ViT encoder (official MultiMAE / MultiViT layout).

Module and parameter names equal the official ones (``global_tokens``,
``input_adapters.{modality}.{pos_emb,proj.*,class_emb.weight}``,
``encoder.{i}.*``), so an official checkpoint converts by adding the
``backbone.`` prefix.
"""
from mmmae.registry import MODELS
from .adapters import PatchedInputAdapter, SemSegInputAdapter
from .multimodal_vit import (MultiModalTokenInfo, MultiModalViT,
                             init_weights_multimae, load_multimae_backbone)

__all__ = [
    'PatchedInputAdapter', 'SemSegInputAdapter', 'MultiMAEViT',
    'MultiMAETokenInfo', 'init_weights_multimae', 'load_multimae_backbone'
]

#: The encoder-to-decoder layout (the name the MultiMAE code uses).
MultiMAETokenInfo = MultiModalTokenInfo


@MODELS.register_module()
class MultiMAEViT(MultiModalViT):
    """Shared ViT encoder of MultiMAE over any subset of image modalities.

    :class:`~mmmae.models.backbones.multimodal_vit.MultiModalViT` with its
    MultiMAE defaults: image input adapters, one global token appended
    after the visible patch tokens, pre-LN blocks with a fused ``qkv`` bias
    (``encoder``), no final LayerNorm (official). Options and the downstream
    (MultiViT) modes are those of ``MultiModalViT``.

    Example::

        dict(type='mmmae.MultiMAEViT',
             input_adapters=dict(
                 rgb=dict(type='mmmae.PatchedInputAdapter', in_channels=3),
                 depth=dict(type='mmmae.PatchedInputAdapter', in_channels=1),
                 semseg=dict(type='mmmae.SemSegInputAdapter',
                             num_classes=133)),
             arch='b', img_size=224, patch_size=16)
    """
