# Copyright (c) mmmae contributors. All rights reserved.
"""Log frozen-feature probe accuracy while a model (pre)trains."""
import copy
import time
from typing import List, Optional, Sequence

import numpy as np
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from mmmae.evaluation.probe import (knn_predict, linear_predict, mean_iou,
                                    patch_features, pooled_features)
from mmmae.registry import HOOKS
from mmmae.visualization import seeded, unwrap_model

__all__ = ['ProbeHook']


@HOOKS.register_module()
class ProbeHook(Hook):
    """kNN (and linear) top-1 of frozen encoder features (mean-pooled or
    per patch).

    Every ``interval`` epochs (iterations with ``by_epoch=False``) and after
    the last one, the (unwrapped) model encodes every clip of two labelled
    splits without masks (``model(..., mode='tensor')``, tokens averaged):
    ``train_dataloader`` is the kNN bank and the linear probe's training set,
    ``val_dataloader`` is scored. The results are logged by
    ``runner.logger`` and sent to ``runner.visualizer.add_scalars`` (so they
    land in ``vis_data/scalars.json`` and any TensorBoard / W&B backend) as
    ``probe/knn_top1`` (``probe/linear_top1``), with ``step`` = training
    iteration. Before the first iteration of a run that starts from its
    initialisation (no ``load_from``, not resumed) the same probe scores the
    untrained encoder once, logged at step 0 and as
    ``probe/knn_top1_random``: the baseline the curve must rise above.

    ``features='patch'`` probes dense labels (MultiMAE, semantic
    segmentation) instead: the encoder sees only ``probe_inputs`` (e.g. RGB
    alone), and every patch token is a sample labelled with the majority
    class of its pixels in ``label_key``
    (:func:`~mmmae.evaluation.probe.patch_features`). Besides top-1 (=
    patch accuracy) the mean IoU over classes of the same predictions is
    logged: ``probe/knn_miou`` (``probe/linear_miou``), with ``_random``
    twins for the baseline. A bank of more than ``max_bank`` patches is
    cut to a fixed random subset (seed 0: the same patches at every probe)
    before both probes; the kNN runs over chunks of queries, so its memory
    is ``chunk x bank``, not ``queries x bank``.

    Both splits are decoded once and kept in memory (the pipelines should be
    deterministic test pipelines), so each probe costs one forward pass over
    them; ``probe/time_s`` and the share of the training time so far are
    logged with every result. The global RNGs are saved and restored around
    the probe, so training draws the same random numbers with or without it
    (bit-exact resume keeps working).

    Args:
        train_dataloader (dict): Dataloader config of the labelled bank
            (e.g. the pretraining clips with their labels, which the
            pretraining itself never reads).
        val_dataloader (dict): Dataloader config of the scored split.
        interval (int): Every how many epochs (iterations). Defaults to 1.
        by_epoch (bool): Count ``interval`` in epochs. Defaults to True.
        k (int): kNN neighbours. Defaults to 10.
        temperature (float): kNN vote temperature. Defaults to 0.07.
        linear (bool): Also fit a logistic-regression probe (C=1 on
            standardised features). Defaults to False.
        baseline (bool): Score the untrained model before training.
            Defaults to True.
        prefix (str): Scalar name prefix. Defaults to ``'probe'``.
        features (str): ``'pooled'`` (one mean-pooled feature and
            ``gt_label`` per sample, default) or ``'patch'`` (one feature
            and majority label per patch token).
        probe_inputs (Sequence[str]): ``'patch'`` only: modalities the
            encoder sees. Defaults to ``('rgb',)``.
        label_key (str): ``'patch'`` only: input holding the class-id map
            (packed at full resolution or a resolution the token grid
            divides). Defaults to ``'semseg'``.
        ignore_index (int, optional): ``'patch'`` only: unlabelled id;
            patches where it is the majority are dropped. Defaults to 255.
        max_bank (int, optional): ``'patch'`` only: most bank patches kept
            (fixed random subset). None keeps all. Defaults to 50000.
    """

    priority = 'LOW'

    def __init__(self,
                 train_dataloader: dict,
                 val_dataloader: dict,
                 interval: int = 1,
                 by_epoch: bool = True,
                 k: int = 10,
                 temperature: float = 0.07,
                 linear: bool = False,
                 baseline: bool = True,
                 prefix: str = 'probe',
                 features: str = 'pooled',
                 probe_inputs: Sequence[str] = ('rgb', ),
                 label_key: str = 'semseg',
                 ignore_index: Optional[int] = 255,
                 max_bank: Optional[int] = 50000) -> None:
        if interval < 1:
            raise ValueError(f'ProbeHook: interval must be >= 1, got '
                             f'{interval}')
        if k < 1:
            raise ValueError(f'ProbeHook: k must be >= 1, got {k}')
        if features not in ('pooled', 'patch'):
            raise ValueError(f"ProbeHook: features must be 'pooled' or "
                             f"'patch', got {features!r}")
        if isinstance(probe_inputs, str):
            probe_inputs = (probe_inputs, )
        if not probe_inputs:
            raise ValueError('ProbeHook: probe_inputs must name a modality')
        if max_bank is not None and max_bank < 1:
            raise ValueError(f'ProbeHook: max_bank must be >= 1 or None, '
                             f'got {max_bank}')
        for name, cfg in (('train_dataloader', train_dataloader),
                          ('val_dataloader', val_dataloader)):
            if not isinstance(cfg, dict) or 'dataset' not in cfg:
                raise TypeError(
                    f'ProbeHook: {name} must be a dataloader config dict '
                    f'with a `dataset`, got {type(cfg).__name__}')
        self.loader_cfgs = dict(train=copy.deepcopy(train_dataloader),
                                val=copy.deepcopy(val_dataloader))
        self.interval = interval
        self.by_epoch = by_epoch
        self.k = k
        self.temperature = temperature
        self.linear = linear
        self.baseline = baseline
        self.prefix = prefix
        self.features = features
        self.probe_inputs = tuple(probe_inputs)
        self.label_key = label_key
        self.ignore_index = ignore_index
        self.max_bank = max_bank
        self._batches: Optional[dict] = None
        self._train_start: Optional[float] = None
        self._probe_time = 0.

    def _load(self, runner) -> dict:
        """Decode both splits once; keep the packed batches."""
        if self._batches is None:
            self._batches = {}
            for split, cfg in self.loader_cfgs.items():
                cfg = copy.deepcopy(cfg)
                # read once: workers need not outlive the first pass
                cfg['persistent_workers'] = False
                loader = runner.build_dataloader(cfg)
                batches: List = list(loader)
                if not batches:
                    ds = cfg['dataset']
                    where = ds.get('ann_file') or ds.get('data_root', '?')
                    raise RuntimeError(
                        f'ProbeHook: the {split} split ({where}) is empty')
                self._batches[split] = batches
        return self._batches

    def _features(self, model, batches):
        if self.features == 'patch':
            return patch_features(model, batches, self.probe_inputs,
                                  self.label_key, self.ignore_index)
        return pooled_features(model, batches)

    def _subsample(self, feats: np.ndarray, labels: np.ndarray):
        """At most ``max_bank`` rows: a fixed random subset (seed 0), so
        every probe of a run uses the same bank patches."""
        if self.max_bank is None or len(feats) <= self.max_bank:
            return feats, labels
        keep = np.sort(np.random.default_rng(0).choice(
            len(feats), self.max_bank, replace=False))
        return feats[keep], labels[keep]

    def probe(self, runner) -> dict:
        """Score the current model.

        Returns:
            dict: ``knn_top1`` (and ``linear_top1``) in ``[0, 1]``; with
            ``features='patch'`` also ``knn_miou`` (``linear_miou``).
        """
        with seeded(0):  # restores the training RNG states afterwards
            batches = self._load(runner)
            model = unwrap_model(runner.model)
            feats = {
                split: self._features(model, b)
                for split, b in batches.items()
            }
        (x_tr, y_tr), (x_va, y_va) = feats['train'], feats['val']
        dense = self.features == 'patch'
        if dense:
            x_tr, y_tr = self._subsample(x_tr, y_tr)
        preds = dict(knn=knn_predict(x_tr, y_tr, x_va, self.k,
                                     self.temperature))
        if self.linear:
            preds['linear'] = linear_predict(x_tr, y_tr, x_va)
        out = {}
        for name, pred in preds.items():
            out[f'{name}_top1'] = float((pred == y_va).mean())
            if dense:
                out[f'{name}_miou'] = mean_iou(pred, y_va)
        return out

    def _run(self, runner, step: int, tag: str, random: bool = False) -> None:
        if not is_main_process():
            return
        tic = time.perf_counter()
        result = self.probe(runner)
        took = time.perf_counter() - tic
        self._probe_time += took
        scalars = {f'{self.prefix}/{k}': v for k, v in result.items()}
        if random:
            scalars.update({f'{self.prefix}/{k}_random': v
                            for k, v in result.items()})
        scalars[f'{self.prefix}/time_s'] = took
        for key, value in scalars.items():
            runner.message_hub.update_info(key, value)
        runner.visualizer.add_scalars(scalars, step=step)
        train_time = (time.perf_counter() - self._train_start -
                      self._probe_time) if self._train_start else 0.
        share = (f', {100 * self._probe_time / train_time:.1f}% of the '
                 f'training time so far' if step > 0 and train_time > 0
                 else '')
        runner.logger.info(
            f'probe ({tag}): ' + ', '.join(
                f'{k} {100 * v:.1f}%' for k, v in result.items()) +
            f' ({took:.1f}s{share})')

    def before_train(self, runner) -> None:
        """Score the untrained encoder once (the random-init baseline)."""
        self._train_start = time.perf_counter()
        fresh = (runner.iter == 0 and not runner._resume
                 and runner._load_from is None)
        if self.baseline and fresh:
            self._run(runner, 0, 'random init', random=True)

    def after_train_epoch(self, runner) -> None:
        """Probe every ``interval`` epochs and after the last one."""
        if self.by_epoch and (self.every_n_epochs(runner, self.interval)
                              or self.is_last_train_epoch(runner)):
            self._run(runner, runner.iter, f'epoch {runner.epoch + 1}')

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        """Probe every ``interval`` iterations (``by_epoch=False``)."""
        if not self.by_epoch and (
                self.every_n_train_iters(runner, self.interval)
                or self.is_last_train_iter(runner)):
            self._run(runner, runner.iter + 1, f'iter {runner.iter + 1}')
