# Copyright (c) mmmae contributors. All rights reserved.
"""Frozen-feature probes: how much a (pretraining) encoder already knows.

The masked-reconstruction loss is a poor progress meter on data with flat
regions (per-patch normalisation blows their noise up to unit variance), so
representation learning is judged by probes on frozen, mean-pooled encoder
features: a weighted k-nearest-neighbour vote and, optionally, a multinomial
logistic regression.

Dense labels (semantic segmentation) are probed per patch instead: every
patch token of the encoder is a sample whose label is the majority class of
the pixels it covers (:func:`patch_features`), scored by top-1 (patch
accuracy) and by the mean IoU over classes (:func:`mean_iou`).
"""
from contextlib import contextmanager
from typing import Callable, Iterable, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    'pooled_features', 'patch_features', 'patch_majority_labels',
    'knn_predict', 'knn_top1', 'linear_predict', 'linear_top1', 'mean_iou'
]


@contextmanager
def _eval_mode(model: torch.nn.Module):
    """The model in eval mode inside the block, its mode restored after."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _preprocess(model: torch.nn.Module, batch,
                collate_fn: Optional[Callable]) -> dict:
    """``collate_fn`` (when given), then the model's data preprocessor."""
    if collate_fn is not None:
        batch = collate_fn(batch)
    return model.data_preprocessor(batch, False)


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
    feats, labels = [], []
    with _eval_mode(model):
        for batch in batches:
            data = _preprocess(model, batch, collate_fn)
            out = model(**data, mode='tensor')
            if isinstance(out, (tuple, list)):
                out = out[-1]
            if out.dim() > 2:
                out = out.flatten(1, -2).mean(1)
            samples = data['data_samples']
            out = out.float().reshape(len(samples), -1, out.shape[-1])
            feats.append(out.mean(1).cpu())
            labels += [int(s.gt_label.reshape(-1)[0]) for s in samples]
    if not feats:
        raise ValueError('pooled_features: no samples')
    return torch.cat(feats).numpy(), np.asarray(labels, dtype=np.int64)


def patch_majority_labels(label_map: torch.Tensor,
                          grid: Tuple[int, int],
                          ignore_index: Optional[int] = 255) -> torch.Tensor:
    """Majority class of the pixels under each patch of a token grid.

    The label map is cut into ``grid[0] x grid[1]`` equal blocks, block
    ``(i, j)`` covering rows ``i * sh:(i + 1) * sh`` and columns
    ``j * sw:(j + 1) * sw`` (``sh = h / grid[0]``, ``sw = w / grid[1]``), and
    the blocks are listed in row-major order: the order of the patch tokens
    of a ViT over the same image (``Conv2d`` stride ``P``, ``flatten(2)``).
    The map may have any resolution the grid divides: full resolution
    (``P x P`` pixels per patch) or e.g. the 1/4 map of
    ``SemSegDownsample`` (``P/4 x P/4``).

    Ignored pixels vote like a class of their own; a patch whose majority is
    ``ignore_index`` gets ``ignore_index``. Ties go to the smallest class id,
    and a real class beats ``ignore_index`` on a tie.

    Args:
        label_map (Tensor): ``(B, h, w)`` (or ``(B, 1, h, w)``) integer ids.
        grid (tuple[int, int]): Token grid ``(gh, gw)``.
        ignore_index (int, optional): Label of unlabelled pixels. None: every
            value must be a class id ``>= 0``. Defaults to 255.

    Returns:
        Tensor: ``(B, gh * gw)`` int64 labels, on the map's device.
    """
    if label_map.dim() == 4 and label_map.shape[1] == 1:
        label_map = label_map[:, 0]
    if label_map.dim() != 3:
        raise ValueError(f'patch_majority_labels: expected a (B, h, w) '
                         f'label map, got {tuple(label_map.shape)}')
    B, h, w = label_map.shape
    gh, gw = grid
    if h % gh or w % gw:
        raise ValueError(
            f'patch_majority_labels: a {h}x{w} label map does not split '
            f'into the {gh}x{gw} token grid; give the labels at a '
            'resolution the grid divides (e.g. full resolution)')
    sh, sw = h // gh, w // gw
    labels = label_map.long()
    ignored = (labels == ignore_index) if ignore_index is not None else \
        torch.zeros_like(labels, dtype=torch.bool)
    if bool((labels[~ignored] < 0).any()):
        raise ValueError('patch_majority_labels: negative class ids other '
                         f'than ignore_index={ignore_index}')
    num_classes = int(labels[~ignored].max()) + 1 if bool(
        (~ignored).any()) else 0
    # ignored pixels get their own last bin, so a tie favours a real class
    labels = labels.masked_fill(ignored, num_classes)
    blocks = labels.reshape(B, gh, sh, gw, sw).permute(0, 1, 3, 2, 4)
    blocks = blocks.reshape(B * gh * gw, sh * sw)
    counts = torch.zeros(B * gh * gw, num_classes + 1, dtype=torch.long,
                         device=labels.device)
    counts.scatter_add_(1, blocks, torch.ones_like(blocks))
    major = counts.argmax(1)  # first maximum: the smallest id wins ties
    if ignore_index is not None:
        major = major.masked_fill(major == num_classes, ignore_index)
    return major.reshape(B, gh * gw)


def _token_grid(model: torch.nn.Module, inputs: dict,
                num_patches: int) -> Tuple[int, int]:
    """Token grid of the image inputs: the input adapter's own when the
    model has one (MultiMAE), else square patches that give
    ``num_patches`` tokens."""
    name, x = next(iter(inputs.items()))
    adapters = getattr(getattr(model, 'backbone', None), 'input_adapters',
                       None)
    if adapters is not None and name in adapters and hasattr(
            adapters[name], 'get_grid'):
        return tuple(adapters[name].get_grid(x))
    h, w = x.shape[-2:]
    patch = round((h * w / max(num_patches, 1))**0.5)
    if patch < 1 or h % patch or w % patch or \
            (h // patch) * (w // patch) != num_patches:
        raise ValueError(f'cannot infer the token grid of a {h}x{w} input '
                         f'from {num_patches} patch tokens')
    return h // patch, w // patch


@torch.no_grad()
def patch_features(model: torch.nn.Module,
                   batches: Iterable[dict],
                   inputs: Sequence[str] = ('rgb', ),
                   label_key: str = 'semseg',
                   ignore_index: Optional[int] = 255,
                   collate_fn: Optional[Callable] = None
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """Per-patch encoder features and majority labels of labelled images.

    Each batch goes through ``model.data_preprocessor``; the model then
    encodes only the modalities in ``inputs`` (e.g. RGB alone, whatever
    else the batch holds) without masks, ``model(inputs, mode='tensor')``,
    in eval mode (the previous mode is restored). The token layout is
    MultiMAE's (:class:`~mmmae.models.MultiMAEViT`): per present modality,
    in the encoder's adapter order, ``gh * gw`` patch tokens in row-major
    grid order, then the global tokens, which are dropped. The feature of a
    patch is its tokens of all ``inputs`` concatenated (``K * D`` for ``K``
    modalities). Its label is the majority class of the pixels it covers in
    the batch's ``inputs[label_key]`` map (:func:`patch_majority_labels`;
    e.g. the ``semseg`` modality packed at full resolution with
    ``PackMultiModalInputs(semseg_stride=None)``, or the 1/4 map of the
    pretraining pipeline). Patches whose majority is ``ignore_index`` are
    dropped.

    Args:
        model (nn.Module): An unwrapped MultiMAE-style MMEngine model.
        batches (Iterable[dict]): Collated (or, with ``collate_fn``, lists of
            packed) samples whose inputs hold ``inputs`` and ``label_key``.
        inputs (Sequence[str]): Modalities fed to the encoder. Defaults to
            ``('rgb',)``.
        label_key (str): Input holding the ``(h, w)`` class-id map. Defaults
            to ``'semseg'``.
        ignore_index (int, optional): Unlabelled id. Defaults to 255.
        collate_fn (Callable, optional): Applied to each element first.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(M, K * D)`` float32 features and
        ``(M,)`` int64 labels, ``M`` = kept patches, in the order image,
        grid row, grid column.
    """
    if isinstance(inputs, str):
        inputs = (inputs, )
    if not inputs:
        raise ValueError('patch_features: inputs must name a modality')
    feats, labels = [], []
    with _eval_mode(model):
        for batch in batches:
            data = _preprocess(model, batch, collate_fn)
            available = data['inputs']
            missing = [k for k in (*inputs, label_key) if k not in available]
            if missing:
                raise KeyError(f'patch_features: the batch has no {missing} '
                               f'(it holds {sorted(available)})')
            feed = {k: available[k] for k in inputs}
            out = model(feed, mode='tensor')
            if isinstance(out, (tuple, list)):
                out = out[-1]
            B, N, D = out.shape
            K = len(inputs)
            expected = getattr(getattr(model, 'backbone', None),
                               'num_global_tokens', None)
            gh, gw = _token_grid(model, feed, (N - (expected or 0)) // K)
            P = gh * gw
            num_global = N - K * P
            if num_global < 0 or expected not in (None, num_global):
                raise ValueError(
                    f'patch_features: {N} tokens are not {K} modalities x '
                    f'{gh}x{gw} patches + {expected} global tokens (masked '
                    'inputs?)')
            # (B, K * P, D) -> (B, P, K * D): a patch's tokens side by side
            tokens = out[:, :K * P].float().reshape(B, K, P, D)
            tokens = tokens.permute(0, 2, 1, 3).reshape(B * P, K * D)
            y = patch_majority_labels(available[label_key], (gh, gw),
                                      ignore_index).reshape(-1)
            if ignore_index is not None:
                keep = y != ignore_index
                tokens, y = tokens[keep], y[keep]
            feats.append(tokens.cpu())
            labels.append(y.cpu())
    if not feats:
        raise ValueError('patch_features: no samples')
    return torch.cat(feats).numpy(), torch.cat(labels).numpy()


def knn_predict(bank: np.ndarray,
                bank_labels: np.ndarray,
                query: np.ndarray,
                k: int = 10,
                temperature: float = 0.07,
                chunk_size: int = 4096) -> np.ndarray:
    """Weighted kNN vote on cosine similarity.

    Every query takes its ``k`` most similar bank features (L2-normalised)
    and votes for their labels with weights ``exp(sim / temperature)``, as
    the DINO / InstDisc kNN monitor. Queries are processed ``chunk_size``
    at a time, so memory is ``chunk_size x N``, not ``M x N``.

    Args:
        bank (np.ndarray): ``(N, D)`` labelled features.
        bank_labels (np.ndarray): ``(N,)`` ints ``>= 0``.
        query (np.ndarray): ``(M, D)`` features to classify.
        k (int): Neighbours (capped at ``N``). Defaults to 10.
        temperature (float): Vote temperature. Defaults to 0.07.
        chunk_size (int): Queries per similarity matmul. Defaults to 4096.

    Returns:
        np.ndarray: ``(M,)`` int64 predicted labels.
    """
    bank_t = F.normalize(torch.as_tensor(bank, dtype=torch.float32), dim=1)
    query_t = F.normalize(torch.as_tensor(query, dtype=torch.float32), dim=1)
    labels = torch.as_tensor(np.asarray(bank_labels), dtype=torch.long)
    num_classes = int(labels.max()) + 1
    kk = min(k, len(bank_t))
    preds = []
    for start in range(0, len(query_t), chunk_size):
        q = query_t[start:start + chunk_size]
        sim, idx = (q @ bank_t.T).topk(kk, dim=1)
        votes = torch.zeros(len(q), num_classes)
        votes.scatter_add_(1, labels[idx], (sim / temperature).exp())
        preds.append(votes.argmax(1))
    if not preds:
        return np.zeros(0, dtype=np.int64)
    return torch.cat(preds).numpy()


def knn_top1(bank: np.ndarray,
             bank_labels: np.ndarray,
             query: np.ndarray,
             query_labels: np.ndarray,
             k: int = 10,
             temperature: float = 0.07,
             chunk_size: int = 4096) -> float:
    """Top-1 of a weighted kNN vote on cosine similarity
    (:func:`knn_predict`).

    Args:
        bank (np.ndarray): ``(N, D)`` labelled features.
        bank_labels (np.ndarray): ``(N,)`` ints.
        query (np.ndarray): ``(M, D)`` features to classify.
        query_labels (np.ndarray): ``(M,)`` ints.
        k (int): Neighbours (capped at ``N``). Defaults to 10.
        temperature (float): Vote temperature. Defaults to 0.07.
        chunk_size (int): Queries per similarity matmul. Defaults to 4096.

    Returns:
        float: Fraction of queries whose vote is right.
    """
    pred = knn_predict(bank, bank_labels, query, k, temperature, chunk_size)
    return float((pred == np.asarray(query_labels)).mean())


def linear_predict(train: np.ndarray,
                   train_labels: np.ndarray,
                   query: np.ndarray,
                   cs: Sequence[float] = (1.0, ),
                   val: Optional[Tuple[np.ndarray, np.ndarray]] = None
                   ) -> np.ndarray:
    """Predictions of a logistic-regression probe on standardised features.

    Args:
        train (np.ndarray): ``(N, D)`` features to fit on.
        train_labels (np.ndarray): ``(N,)``.
        query (np.ndarray): ``(M, D)`` features to classify.
        cs (Sequence[float]): Inverse L2 strengths to try. With more than
            one, ``val`` picks the best (top-1).
        val (tuple, optional): ``(features, labels)`` used to choose ``C``.

    Returns:
        np.ndarray: ``(M,)`` predicted labels of the chosen probe.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    if len(cs) > 1 and val is None:
        raise ValueError('linear probe: several C values need a val '
                         'split')
    scaler = StandardScaler().fit(train)
    x_train = scaler.transform(train)

    def fit_predict(c, feats):
        clf = LogisticRegression(C=c, max_iter=1000)
        clf.fit(x_train, train_labels)
        return clf.predict(scaler.transform(feats))

    best = cs[0] if len(cs) == 1 else max(
        cs, key=lambda c: float((fit_predict(c, val[0]) == val[1]).mean()))
    return fit_predict(best, query)


def linear_top1(train: np.ndarray,
                train_labels: np.ndarray,
                query: np.ndarray,
                query_labels: np.ndarray,
                cs: Sequence[float] = (1.0, ),
                val: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> float:
    """Top-1 of a logistic-regression probe on standardised features
    (:func:`linear_predict`).

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
    pred = linear_predict(train, train_labels, query, cs, val)
    return float((pred == np.asarray(query_labels)).mean())


def mean_iou(pred: np.ndarray,
             target: np.ndarray,
             num_classes: Optional[int] = None) -> float:
    """Mean over classes of intersection over union, as mmseg's mIoU.

    IoU of class ``c`` is ``|pred = c and target = c| / |pred = c or
    target = c|`` over all samples together; classes absent from both
    (union 0) are left out of the mean, a class that is predicted but never
    true counts with IoU 0.

    Args:
        pred (np.ndarray): ``(M,)`` predicted ids ``>= 0``.
        target (np.ndarray): ``(M,)`` true ids ``>= 0``.
        num_classes (int, optional): Number of classes; default the largest
            id seen plus one.

    Returns:
        float: mIoU in ``[0, 1]`` (NaN without samples).
    """
    pred = np.asarray(pred, dtype=np.int64).reshape(-1)
    target = np.asarray(target, dtype=np.int64).reshape(-1)
    if pred.shape != target.shape:
        raise ValueError(f'mean_iou: {pred.shape} predictions for '
                         f'{target.shape} targets')
    if not len(pred):
        return float('nan')
    n = num_classes or int(max(pred.max(), target.max())) + 1
    conf = np.bincount(target * n + pred, minlength=n * n).reshape(n, n)
    inter = np.diag(conf)
    union = conf.sum(0) + conf.sum(1) - inter
    present = union > 0
    return float((inter[present] / union[present]).mean())
