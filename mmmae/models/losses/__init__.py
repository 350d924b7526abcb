# Copyright (c) mmmae contributors. All rights reserved.
from .reconstruction_loss import PixelReconstructionLoss

__all__ = ['PixelReconstructionLoss']
