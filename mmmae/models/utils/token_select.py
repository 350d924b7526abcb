# Copyright (c) mmmae contributors. All rights reserved.
"""Select the same number of tokens from every sample, without host syncs.

``x[keep].reshape(B, -1, C)`` is the obvious way to drop masked tokens, but
boolean indexing has a data-dependent output size: on a GPU it waits for the
device (``nonzero``) and under ``torch.compile`` it splits the graph. When
the caller knows the per-sample count on the host (the data preprocessor
counts the masks while they are still on the CPU), the same selection is a
stable ``argsort`` of the mask plus a ``gather``: fixed shapes, no sync, one
graph. A device-side assertion still catches a count that does not match the
mask, so a stale count cannot silently pick the wrong tokens.
"""
from typing import Optional

import torch

__all__ = ['common_count', 'gather_rows', 'gather_tokens', 'kept_indices']


def common_count(keep: torch.Tensor, what: str = 'keep') -> int:
    """The number of True entries shared by every row of ``keep``.

    This reads the counts back to the host, which synchronises with the
    device; call it only when no host-side count is known.

    Args:
        keep (Tensor): ``(B, N)`` bool.
        what (str): What a row keeps, for the error message.

    Returns:
        int: The common count.

    Raises:
        ValueError: Rows with different counts (they cannot share one
            batch tensor).
    """
    counts = keep.sum(1)
    if keep.shape[0] > 1 and not bool((counts == counts[0]).all()):
        raise ValueError(f'every sample must {what} the same number of '
                         f'tokens, got {counts.tolist()}')
    return int(counts[0]) if keep.shape[0] else 0


def kept_indices(keep: torch.Tensor,
                 num_keep: Optional[int] = None,
                 source: str = 'the count given') -> torch.Tensor:
    """Indices of the True entries of each row, ascending.

    Args:
        keep (Tensor): ``(B, N)`` bool; every row holds ``num_keep`` Trues.
        num_keep (int, optional): That count, known on the host. None counts
            (and checks) it with :func:`common_count`, a device sync.
        source (str): Where ``num_keep`` came from, for the error message.

    Returns:
        Tensor: ``(B, num_keep)`` int64.

    Raises:
        ValueError: Rows with different counts (``num_keep=None``), or, for
            CPU masks outside ``torch.compile``, rows whose count is not
            ``num_keep``. Elsewhere a device-side assertion fails instead:
            checking on the host would sync.
    """
    if num_keep is None:
        num_keep = common_count(keep)
    elif keep.device.type == 'cpu' and not torch.compiler.is_compiling():
        counts = keep.sum(1)
        if not bool((counts == num_keep).all()):
            raise ValueError(f'the masks keep {counts.tolist()} tokens per '
                             f'sample, expected {num_keep} ({source})')
    else:
        torch._assert_async((keep.sum(1) == num_keep).all(),
                            f'token masks do not keep {num_keep} tokens in '
                            f'every sample ({source})')
    # A stable sort of "dropped" flags puts the kept tokens first, in their
    # original order.
    order = torch.argsort(
        keep.logical_not().to(torch.uint8), dim=1, stable=True)
    return order[:, :num_keep]


def gather_tokens(x: torch.Tensor,
                  keep: torch.Tensor,
                  num_keep: Optional[int] = None,
                  source: str = 'the count given') -> torch.Tensor:
    """``x[keep]`` per sample, as a batch.

    Args:
        x (Tensor): ``(B, N, C)``, or ``(1, N, C)`` broadcast over ``B``.
        keep (Tensor): ``(B, N)`` bool; every row keeps the same count.
        num_keep (int, optional): That count, known on the host: no device
            sync and a fixed shape for ``torch.compile``. None counts it
            (a sync) and raises ``ValueError`` on unequal rows.
        source (str): Where ``num_keep`` came from, for the error message.

    Returns:
        Tensor: ``(B, num_keep, C)`` in ascending token order.
    """
    return gather_rows(x, kept_indices(keep, num_keep, source))


def gather_rows(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``x[b, idx[b]]`` for every sample ``b``, as one ``torch.gather``.

    Args:
        x (Tensor): ``(B, N, *rest)``, or ``(1, N, *rest)`` broadcast over
            ``B``.
        idx (Tensor): ``(B, n)`` int64 token indices.

    Returns:
        Tensor: ``(B, n, *rest)``.
    """
    B, n = idx.shape
    rest = x.shape[2:]
    index = idx.view(B, n, *(1, ) * len(rest)).expand(B, n, *rest)
    return torch.gather(x.expand(B, *x.shape[1:]), 1, index)
