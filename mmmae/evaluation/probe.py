# Copyright (c) mmmae contributors. All rights reserved.
"""Frozen-feature probes: how much a (pretraining) encoder already knows.

The masked-reconstruction loss is a poor progress meter on data with flat
regions (per-patch normalisation blows their noise up to unit variance), so
representation learning is judged by probes on frozen, mean-pooled encoder
features: a weighted k-nearest-neighbour vote and, optionally, a multinomial
logistic regression.
"""
from typing import Callable, Iterable, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ['pooled_features', 'knn_top1', 'linear_top1']


@torch.no_grad()
def pooled_features(model: torch.nn.Module,
                    batches: Iterable[dict],
                    collate_fn: Optional[Callable] = None
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """Mean-pooled encoder features and labels of labelled samples.

    Each batch goes through ``model.data_preprocessor`` and
    ``model(..., mode='tensor')`` (the encoder of VideoMAE, MultiMAE or a
    recognizer's ``extract_feat``) in eval mode; the previous mode is
    restored. Token outputs ``(B, N, D)`` are averaged over ``N``; a sample
    with several views (``num_clips`` / crops) averages its views.

    Args:
        model (nn.Module): An unwrapped MMEngine model.
        batches (Iterable[dict]): Collated (or, with ``collate_fn``, lists of
            packed) samples with ``gt_label`` in their data samples.
        collate_fn (Callable, optional): Applied to each element first.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(N, D)`` float32 features and
        ``(N,)`` int64 labels.
    """
    was_training = model.training
    model.eval()
    feats, labels = [], []
    try:
        for batch in batches:
            if collate_fn is not None:
                batch = collate_fn(batch)
            data = model.data_preprocessor(batch, False)
            out = model(**data, mode='tensor')
            if isinstance(out, (tuple, list)):
                out = out[-1]
            if out.dim() > 2:
                out = out.flatten(1, -2).mean(1)
            samples = data['data_samples']
            out = out.float().reshape(len(samples), -1, out.shape[-1])
            feats.append(out.mean(1).cpu())
            labels += [int(s.gt_label.reshape(-1)[0]) for s in samples]
    finally:
        model.train(was_training)
    if not feats:
        raise ValueError('pooled_features: no samples')
    return torch.cat(feats).numpy(), np.asarray(labels, dtype=np.int64)


def knn_top1(bank: np.ndarray,
             bank_labels: np.ndarray,
             query: np.ndarray,
             query_labels: np.ndarray,
             k: int = 10,
             temperature: float = 0.07) -> float:
    """Top-1 of a weighted kNN vote on cosine similarity.

    Every query takes its ``k`` most similar bank features (L2-normalised)
    and votes for their labels with weights ``exp(sim / temperature)``, as
    the DINO / InstDisc kNN monitor.

    Args:
        bank (np.ndarray): ``(N, D)`` labelled features.
        bank_labels (np.ndarray): ``(N,)`` ints.
        query (np.ndarray): ``(M, D)`` features to classify.
        query_labels (np.ndarray): ``(M,)`` ints.
        k (int): Neighbours (capped at ``N``). Defaults to 10.
        temperature (float): Vote temperature. Defaults to 0.07.

    Returns:
        float: Fraction of queries whose vote is right.
    """
    bank_t = F.normalize(torch.as_tensor(bank, dtype=torch.float32), dim=1)
    query_t = F.normalize(torch.as_tensor(query, dtype=torch.float32), dim=1)
    labels = torch.as_tensor(bank_labels, dtype=torch.long)
    num_classes = int(max(labels.max(), int(query_labels.max()))) + 1
    sim, idx = (query_t @ bank_t.T).topk(min(k, len(bank_t)), dim=1)
    votes = torch.zeros(len(query_t), num_classes)
    votes.scatter_add_(1, labels[idx], (sim / temperature).exp())
    pred = votes.argmax(1).numpy()
    return float((pred == np.asarray(query_labels)).mean())


def linear_top1(train: np.ndarray,
                train_labels: np.ndarray,
                query: np.ndarray,
                query_labels: np.ndarray,
                cs: Sequence[float] = (1.0, ),
                val: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> float:
    """Top-1 of a logistic-regression probe on standardised features.

    Args:
        train (np.ndarray): ``(N, D)`` features to fit on.
        train_labels (np.ndarray): ``(N,)``.
        query (np.ndarray): ``(M, D)`` features to score.
        query_labels (np.ndarray): ``(M,)``.
        cs (Sequence[float]): Inverse L2 strengths to try. With more than
            one, ``val`` picks the best.
        val (tuple, optional): ``(features, labels)`` used to choose ``C``.

    Returns:
        float: Top-1 on ``query`` of the chosen probe.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    if len(cs) > 1 and val is None:
        raise ValueError('linear_top1: several C values need a val split')
    scaler = StandardScaler().fit(train)

    def score(c, feats, labels):
        clf = LogisticRegression(C=c, max_iter=1000)
        clf.fit(scaler.transform(train), train_labels)
        return float((clf.predict(scaler.transform(feats)) == labels).mean())

    best = cs[0] if len(cs) == 1 else max(cs, key=lambda c: score(c, *val))
    return score(best, query, query_labels)
