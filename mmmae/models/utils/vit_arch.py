# Copyright (c) mmmae contributors. All rights reserved.
"""ViT width presets shared by the VideoMAE and MultiMAE encoders."""
from typing import Dict, Mapping, Optional, Union

__all__ = ['VIT_ARCH_ZOO', 'parse_vit_arch']


def _arch(dims: int, layers: int, heads: int, ffn: int) -> Dict[str, int]:
    return dict(
        embed_dims=dims,
        num_layers=layers,
        num_heads=heads,
        feedforward_channels=ffn)


#: Standard ViT sizes (ViT-g is VideoMAE V2's, with patch 14).
VIT_ARCH_ZOO: Dict[str, Dict[str, int]] = {
    **dict.fromkeys(['t', 'tiny'], _arch(192, 12, 3, 768)),
    **dict.fromkeys(['s', 'small'], _arch(384, 12, 6, 1536)),
    **dict.fromkeys(['b', 'base'], _arch(768, 12, 12, 3072)),
    **dict.fromkeys(['l', 'large'], _arch(1024, 24, 16, 4096)),
    **dict.fromkeys(['h', 'huge'], _arch(1280, 32, 16, 5120)),
    **dict.fromkeys(['g', 'giant'], _arch(1408, 40, 16, 6144)),
}


def parse_vit_arch(arch: Union[str, Mapping],
                   zoo: Mapping[str, Mapping[str, int]] = VIT_ARCH_ZOO,
                   default_mlp_ratio: Optional[float] = None
                   ) -> Dict[str, int]:
    """Resolve an ``arch`` argument to the four ViT widths.

    Args:
        arch (str | Mapping): A preset name of ``zoo`` or a dict with
            ``embed_dims``, ``num_layers``, ``num_heads`` and
            ``feedforward_channels`` (or ``mlp_ratio``).
        zoo (Mapping): Presets. Defaults to :data:`VIT_ARCH_ZOO`.
        default_mlp_ratio (float, optional): Used when the dict gives
            neither ``feedforward_channels`` nor ``mlp_ratio``; None makes
            that an error.

    Returns:
        dict: ``embed_dims``, ``num_layers``, ``num_heads``,
        ``feedforward_channels``.

    Raises:
        KeyError: Unknown preset or missing keys.
        TypeError: ``arch`` is neither a str nor a mapping.
    """
    if isinstance(arch, str):
        key = arch.lower()
        if key not in zoo:
            raise KeyError(f'unknown arch {arch!r}; choose from '
                           f'{sorted(set(zoo))} or pass a dict')
        return dict(zoo[key])
    if not isinstance(arch, Mapping):
        raise TypeError(f'arch must be str or dict, got {type(arch)}')
    missing = {'embed_dims', 'num_layers', 'num_heads'} - set(arch)
    if missing:
        raise KeyError(f'arch dict lacks {sorted(missing)}')
    cfg = {k: int(arch[k]) for k in ('embed_dims', 'num_layers', 'num_heads')}
    if 'feedforward_channels' in arch:
        cfg['feedforward_channels'] = int(arch['feedforward_channels'])
    elif 'mlp_ratio' in arch or default_mlp_ratio is not None:
        ratio = arch.get('mlp_ratio', default_mlp_ratio)
        cfg['feedforward_channels'] = int(cfg['embed_dims'] * ratio)
    else:
        raise KeyError('arch dict needs feedforward_channels or mlp_ratio')
    return cfg
