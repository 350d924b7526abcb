# Copyright (c) mmmae contributors. All rights reserved.
from .reconstruction_loss import PixelReconstructionLoss

__all__ = ['PixelReconstructionLoss']
from .multimae_losses import (MaskedCrossEntropyLoss,  # noqa: E402
                              MaskedL1Loss, MaskedMSELoss, norm_pix_target)

__all__ += [
    'MaskedMSELoss', 'MaskedL1Loss', 'MaskedCrossEntropyLoss',
    'norm_pix_target'
]
