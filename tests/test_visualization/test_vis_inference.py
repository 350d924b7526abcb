# Copyright (c) mmmae contributors. All rights reserved.
import random

import numpy as np
import pytest
import torch
import torch.nn as nn

from mmmae.visualization import infer_token_geometry, seeded


def test_seeded_is_repeatable_and_restores_state():
    np.random.seed(123)
    before = np.random.rand()
    np.random.seed(123)
    with seeded(5):
        a = (np.random.rand(), random.random(), torch.rand(1).item())
    assert np.random.rand() == before  # outer stream untouched
    with seeded(5):
        b = (np.random.rand(), random.random(), torch.rand(1).item())
    assert a == b
    with seeded(None):
        pass


def test_infer_token_geometry():
    class Head(nn.Module):
        patch_size = 8
        tubelet_size = 2

    m = nn.Module()
    m.head = Head()
    assert infer_token_geometry(m) == (8, 2)

    m = nn.Module()
    m.backbone = nn.Module()
    m.backbone.patch_embed = nn.Module()
    m.backbone.patch_embed.proj = nn.Conv3d(3, 4, (2, 16, 16), (2, 16, 16))
    assert infer_token_geometry(m) == (16, 2)

    with pytest.raises(AttributeError):
        infer_token_geometry(nn.Linear(2, 2))
