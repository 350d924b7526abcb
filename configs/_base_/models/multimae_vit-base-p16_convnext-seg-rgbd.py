# The ConvNeXt semseg model of multimae_vit-base-p16_convnext-seg.py on RGB-D
# input: the pipeline packs RGB (3 channels) and depth (1), the one shared
# encoder embeds both into tokens and the head decodes the RGB tokens
# (main_tasks), as official. The -rgb / -depth recipes drop a modality with
# data_preprocessor.keep and their own input adapters.
_base_ = ['./multimae_vit-base-p16_convnext-seg.py']
model = dict(
    data_preprocessor=dict(
        modalities=dict(rgb=3, depth=1), keep=('rgb', 'depth')),
    backbone=dict(
        input_adapters=dict(
            rgb=dict(type='mmmae.PatchedInputAdapter', in_channels=3),
            depth=dict(type='mmmae.PatchedInputAdapter', in_channels=1)),
        input_channels=dict(rgb=3, depth=1)))
