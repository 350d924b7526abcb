# Copyright (c) mmmae contributors. All rights reserved.
"""Report the videos the training dataset had to skip."""
import logging
from typing import Any, List, Optional, Sequence, Tuple

from mmengine.hooks import Hook

from mmmae.registry import HOOKS

__all__ = ['BadSampleLoggerHook']

DATA_BATCH = Optional[Any]


def find_skip_reporting_datasets(obj: Any, _depth: int = 0) -> List[Any]:
    """Datasets under ``obj`` that report skipped videos.

    Looks through DataLoaders (``.dataset``) and MMEngine dataset wrappers
    (``ConcatDataset.datasets``, ``RepeatDataset.dataset``,
    ``ClassBalancedDataset.dataset``) for objects with ``skipped_videos``
    and ``num_skipped`` (e.g. :class:`~mmmae.datasets.VideoMAEDataset`).

    Args:
        obj: a DataLoader, dataset or dataset wrapper.

    Returns:
        list: the reporting datasets, each once, in traversal order.
    """
    if obj is None or _depth > 8:
        return []
    if hasattr(obj, 'skipped_videos') and hasattr(obj, 'num_skipped'):
        return [obj]
    found: List[Any] = []
    children = list(getattr(obj, 'datasets', None) or [])
    inner = getattr(obj, 'dataset', None)
    if inner is not None:
        children.append(inner)
    for child in children:
        for ds in find_skip_reporting_datasets(child, _depth + 1):
            if all(ds is not seen for seen in found):
                found.append(ds)
    return found


@HOOKS.register_module()
class BadSampleLoggerHook(Hook):
    """Log the unreadable videos the training dataset skipped.

    After every training epoch and at the end of training it logs, through
    ``runner.logger``::

        skipped 3 unreadable videos (2 corrupt, 1 missing): a.mp4 (corrupt),
        b.mp4 (corrupt), c.mp4 (missing)

    (a warning when new ones appeared since the last report, the names
    capped at ``max_names``), then, when the dataset trained on substitutes
    (``VideoMAEDataset(on_bad_video='replace')``), the substitutes::

        replaced 2 bad videos: a.mp4 -> d.mp4, b.mp4 -> e.mp4

    After every training iteration it puts the running count into the
    message hub as ``train/skipped_videos``, so the logger hook writes
    ``skipped_videos`` into the text and json logs.

    The dataset may be a :class:`~mmmae.datasets.VideoMAEDataset` or any
    MMEngine wrapper around one (``ConcatDataset``, ``RepeatDataset``,
    ``ClassBalancedDataset``). Failures found in DataLoader workers are
    included (the dataset shares its flags across workers). The per-iteration
    count is this rank's; the epoch report merges all ranks (a collective
    call every rank makes).

    Args:
        max_names (int): how many names to list before "and N more".
            Defaults to 20.
    """

    priority = 'NORMAL'  # before LoggerHook (BELOW_NORMAL) reads the hub

    def __init__(self, max_names: int = 20) -> None:
        self.max_names = max_names
        self._last_report: Optional[Tuple[Tuple[str, str], ...]] = None

    @staticmethod
    def _datasets(runner) -> List[Any]:
        # Inside the train hooks the train loop, hence its DataLoader, is
        # built; a config dict (no loop yet) has nothing to report.
        loader = getattr(runner, 'train_dataloader', None)
        if loader is None or isinstance(loader, dict):
            return []
        return find_skip_reporting_datasets(loader)

    def _replacements(self, runner) -> List[Tuple[str, str]]:
        pairs: List[Tuple[str, str]] = []
        for ds in self._datasets(runner):
            pairs += list(getattr(ds, 'replacements', []))
        return pairs

    def _count(self, runner) -> int:
        return sum(ds.num_skipped for ds in self._datasets(runner))

    def _collect(self, runner) -> List[Tuple[str, str]]:
        entries: List[Tuple[str, str]] = []
        for ds in self._datasets(runner):
            getter = getattr(ds, 'get_skipped_videos', None)
            entries += (getter(all_ranks=True)
                        if getter is not None else list(ds.skipped_videos))
        return entries

    def before_val(self, runner) -> None:
        """Score unreadable validation videos as wrong, if asked to."""
        self._enable_wrong_scoring(getattr(runner, 'val_loop', None))

    def before_test(self, runner) -> None:
        """Score unreadable test videos as wrong, if asked to."""
        self._enable_wrong_scoring(getattr(runner, 'test_loop', None))

    def _enable_wrong_scoring(self, loop) -> None:
        """For a loop whose dataset has ``on_bad_video='score_wrong'``:
        wrap its metrics in
        :class:`~mmmae.evaluation.ScoreBadVideosAsWrong`, then let the
        dataset yield placeholders (before its workers start)."""
        if loop is None or isinstance(loop, dict):
            return
        datasets = [
            ds for ds in find_skip_reporting_datasets(
                getattr(loop, 'dataloader', None))
            if getattr(ds, 'on_bad_video', None) == 'score_wrong'
        ]
        if not datasets:
            return
        from mmmae.evaluation import ScoreBadVideosAsWrong
        evaluator = loop.evaluator
        evaluator.metrics = [
            m if isinstance(m, ScoreBadVideosAsWrong) else
            ScoreBadVideosAsWrong(m, self.max_names)
            for m in evaluator.metrics
        ]
        for ds in datasets:
            ds.enable_wrong_scoring()

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        """Put this rank's running count into the message hub."""
        runner.message_hub.update_scalar('train/skipped_videos',
                                         self._count(runner))

    def after_train_epoch(self, runner) -> None:
        """Log the skipped videos of all ranks."""
        self._report(runner)

    def after_train(self, runner) -> None:
        """Final report (skipped when identical to the last epoch's)."""
        self._report(runner)

    def _report(self, runner) -> None:
        entries = self._collect(runner)
        runner.message_hub.update_scalar('train/skipped_videos', len(entries))
        current = tuple(entries)
        if current == self._last_report:
            return
        new = self._last_report is None or len(entries) > len(
            self._last_report)
        self._last_report = current
        if not entries:
            return
        runner.logger.log(logging.WARNING if new else logging.INFO,
                          self.format_message(entries, self.max_names))
        pairs = self._replacements(runner)
        if pairs:
            shown = ', '.join(f'{a} -> {b}' for a, b in pairs[:self.max_names])
            if len(pairs) > self.max_names:
                shown += f' and {len(pairs) - self.max_names} more'
            noun = 'video' if len(pairs) == 1 else 'videos'
            runner.logger.log(logging.INFO,
                              f'replaced {len(pairs)} bad {noun}: {shown}')

    @staticmethod
    def format_message(entries: Sequence[Tuple[str, str]],
                       max_names: int = 20) -> str:
        """``'skipped N unreadable videos (counts per reason): a.mp4
        (corrupt), ... and K more'``.

        Args:
            entries (Sequence[tuple[str, str]]): ``(path, reason)`` pairs.
            max_names (int): names listed before "and K more".

        Returns:
            str: the log line.
        """
        shown = ', '.join(f'{p} ({r})' for p, r in entries[:max_names])
        if len(entries) > max_names:
            shown += f' and {len(entries) - max_names} more'
        noun = 'video' if len(entries) == 1 else 'videos'
        counts: dict = {}
        for _, r in entries:
            counts[r] = counts.get(r, 0) + 1
        per_reason = ', '.join(f'{n} {r}' for r, n in sorted(
            counts.items(), key=lambda kv: (-kv[1], kv[0])))
        return (f'skipped {len(entries)} unreadable {noun} ({per_reason}): '
                f'{shown}')
