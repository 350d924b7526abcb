# Copyright (c) mmmae contributors. All rights reserved.
from .reconstruction_loss import PixelReconstructionLoss

__all__ = ['PixelReconstructionLoss']
from .multimae_losses import (MaskedCrossEntropyLoss,  # noqa: E402
                              MaskedL1Loss, MaskedMSELoss, norm_pix_target)

__all__ += [
    'MaskedMSELoss', 'MaskedL1Loss', 'MaskedCrossEntropyLoss',
    'norm_pix_target'
]
from .berhu_loss import BerHuLoss, berhu_loss  # noqa: E402

__all__ += ['BerHuLoss', 'berhu_loss']
