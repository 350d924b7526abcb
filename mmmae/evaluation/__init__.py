# Copyright (c) mmmae contributors. All rights reserved.
from .bad_video_metric import ScoreBadVideosAsWrong, wrong_scores
from .depth_metric import DepthMetric  # noqa: E402

__all__ = ['DepthMetric', 'ScoreBadVideosAsWrong', 'wrong_scores']
