# Copyright (c) mmmae contributors. All rights reserved.
"""Score unreadable evaluation videos as wrong, and say so in the metrics."""
import logging
from typing import Any, Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

__all__ = ['ScoreBadVideosAsWrong', 'wrong_scores']


def wrong_scores(label: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Class scores that rank every true class last.

    Args:
        label (torch.Tensor): ``(1,)`` class index or ``(num_classes,)``
            multi-hot labels.
        num_classes (int): length of the score vector.

    Returns:
        torch.Tensor: ``(num_classes,)`` float scores, -1 at the true
        class(es) and 0 elsewhere: wrong under top-k accuracy for any
        ``k < num_classes`` and under mean class accuracy.
    """
    scores = torch.zeros(num_classes)
    if label.numel() == num_classes and num_classes > 1:
        scores[label.bool()] = -1.0  # multi-hot
    else:
        scores[label.long().view(-1)] = -1.0
    return scores


class ScoreBadVideosAsWrong(BaseMetric):
    """Wrap a classification metric so that placeholder samples of
    unreadable videos count as wrong predictions.

    :class:`~mmmae.datasets.VideoMAEDataset` with
    ``on_bad_video='score_wrong'`` (test mode) yields, for an unreadable
    video, a placeholder sample whose metainfo has ``bad_video`` (the
    reason) and the video's own label. Before the wrapped metric sees it,
    its ``pred_score`` is replaced by :func:`wrong_scores`. The metrics
    gain ``videos_listed`` (every sample) and ``videos_evaluated`` (the
    readable ones), and a warning names the unreadable files, so a number
    is never reported on fewer videos than the list holds without saying
    so. :class:`~mmmae.engine.BadSampleLoggerHook` installs this wrapper
    around every metric of the loop whose dataset asks for it.

    Args:
        metric (BaseMetric): the metric to wrap (e.g. MMAction2's
            ``AccMetric``).
        max_names (int): file names listed in the warning. Defaults to 20.
    """

    def __init__(self, metric: BaseMetric, max_names: int = 20) -> None:
        # prefix '': the counts keep their plain names
        super().__init__(collect_device=metric.collect_device, prefix='')
        self.metric = metric
        self.max_names = max_names

    @property
    def dataset_meta(self) -> Optional[dict]:
        return self.metric.dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, meta: dict) -> None:
        self.metric.dataset_meta = meta

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Replace the scores of placeholder samples, then pass the batch
        on; remember ``(filename, reason)`` per sample (None if fine)."""
        for sample in data_samples:
            reason = sample.get('bad_video')
            if reason:
                pred = sample['pred_score']
                sample['pred_score'] = wrong_scores(
                    sample['gt_label'], pred.numel()).to(pred)
                self.results.append((sample.get('filename', '?'), reason))
            else:
                self.results.append(None)
        self.metric.process(data_batch, data_samples)

    def compute_metrics(self, results: List[Any]) -> Dict[str, float]:
        bad = [r for r in results if r is not None]
        if bad:
            shown = ', '.join(f'{f} ({why})'
                              for f, why in bad[:self.max_names])
            if len(bad) > self.max_names:
                shown += f' and {len(bad) - self.max_names} more'
            print_log(
                f'{type(self.metric).__name__}: evaluated '
                f'{len(results) - len(bad)} of {len(results)} videos; '
                f'{len(bad)} unreadable, scored as wrong: {shown}',
                logger='current',
                level=logging.WARNING)
        return dict(videos_listed=float(len(results)),
                    videos_evaluated=float(len(results) - len(bad)))

    def evaluate(self, size: int) -> dict:
        """The wrapped metric's results plus ``videos_listed`` and
        ``videos_evaluated``."""
        metrics = self.metric.evaluate(size)
        metrics.update(super().evaluate(size))
        return metrics
