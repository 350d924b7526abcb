# Copyright (c) mmmae contributors. All rights reserved.
from .depth_metric import DepthMetric  # noqa: E402

__all__ = ['DepthMetric']
