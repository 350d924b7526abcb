# Copyright (c) mmmae contributors. All rights reserved.
"""Crop, resize and flip a batch of clips on the device, with parameters
drawn on the CPU by MMAction2's lazy transforms
(:class:`~mmmae.datasets.transforms.PackLazyActionInputs`).

One ``grid_sample`` call does the whole batch: every clip's frames are
channels of one image (the box is the same for all frames of a clip), and
each clip gets its own sampling grid. The grid places output pixel ``u`` at
source ``left + (u + 0.5) * crop_w / out_w - 0.5``, clamped to the crop, as
``cv2.resize`` (``mmcv.imresize``, hence ``mmaction.Fuse`` and the eager
transforms) samples a crop view: the pixels agree within the rounding of
cv2's fixed-point uint8 arithmetic.
"""
from typing import List, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ['apply_lazy_geometry', 'apply_lazy_erasing', 'lazy_params']


def lazy_params(samples: Sequence, field: str = 'lazy_aug') -> List[dict]:
    """The recorded geometry of every sample, or [] when none has it.

    Raises:
        ValueError: Some samples have it and others not.
    """
    if not samples:
        return []
    params = [s.get(field, None) for s in samples]
    if all(p is None for p in params):
        return []
    if any(p is None for p in params):
        missing = [i for i, p in enumerate(params) if p is None]
        raise ValueError(f'data samples {missing} have no {field!r} while '
                         'others do: pack every sample with '
                         'PackLazyActionInputs, or none')
    return params


def _axis_coords(start: torch.Tensor, stop: torch.Tensor, size: int,
                 padded: int, flip: torch.Tensor) -> torch.Tensor:
    """Normalised sampling coordinates of one axis for every clip.

    Args:
        start, stop (Tensor): ``(B,)`` crop bounds in source pixels
            (integers, ``stop`` exclusive).
        size (int): Output pixels along the axis.
        padded (int): Source pixels of the padded batch along the axis.
        flip (Tensor): ``(B,)`` bool, reverse the axis.

    Returns:
        Tensor: ``(B, size)`` in ``[-1, 1]`` (``align_corners=False``).
    """
    u = torch.arange(size, device=start.device, dtype=torch.float64) + 0.5
    scale = (stop - start).double() / size
    src = start.double()[:, None] + u[None] * scale[:, None] - 0.5
    # cv2 samples a crop *view*: neighbours outside it are its edge pixels
    src = torch.minimum(torch.maximum(src, start.double()[:, None]),
                        (stop - 1).double()[:, None])
    src = torch.where(flip[:, None], src.flip(-1), src)
    return ((src + 0.5) / padded * 2 - 1).float()


def apply_lazy_geometry(frames: Sequence[torch.Tensor],
                        params: Sequence[Mapping],
                        device: torch.device,
                        non_blocking: bool = False,
                        dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Crop, resize and flip ``B`` clips in one batched op.

    Args:
        frames (Sequence[Tensor]): ``B`` uint8 clips ``(T, H_i, W_i, C)``
            (host or device); sizes may differ (they are padded).
        params (Sequence[Mapping]): Per clip, the ``lazy_aug`` dict of
            :class:`~mmmae.datasets.transforms.PackLazyActionInputs`
            (``crop_bbox``, ``flip``, ``flip_direction``, ``out_shape``,
            ``interpolation``).
        device (torch.device): Where to compute.
        non_blocking (bool): Non-blocking host-to-device copies.
        dtype (torch.dtype): Output dtype. Defaults to float32.

    Returns:
        Tensor: ``(B, C, T, h, w)`` in 0-255 units.

    Raises:
        ValueError: Clips with different ``T``, ``C``, output sizes or
            interpolation (they cannot share one batch), or a crop outside
            its frames.
    """
    if len(frames) != len(params) or not frames:
        raise ValueError(f'{len(frames)} clips and {len(params)} parameter '
                         'sets')
    shapes = [tuple(f.shape) for f in frames]
    if any(len(s) != 4 for s in shapes):
        raise ValueError(f'lazy clips must be (T, H, W, C), got {shapes}')
    T, C = shapes[0][0], shapes[0][3]
    for what, values in (('frames x channels', {(s[0], s[3])
                                                for s in shapes}),
                         ('out_shape', {tuple(p['out_shape'])
                                        for p in params}),
                         ('interpolation', {p['interpolation']
                                            for p in params})):
        if len(values) > 1:
            raise ValueError(f'the clips of a batch differ in {what}: '
                             f'{sorted(values)}')
    out_h, out_w = params[0]['out_shape']
    mode = params[0]['interpolation']
    H = max(s[1] for s in shapes)
    W = max(s[2] for s in shapes)
    B = len(frames)

    # Rounded as mmaction.Fuse rounds the composed box.
    boxes = np.stack([np.round(np.asarray(p['crop_bbox'], dtype=np.float64))
                      for p in params]).astype(np.int64)
    sizes = np.asarray([s[1:3] for s in shapes])  # (B, 2): H_i, W_i
    bad = ((boxes[:, :2] < 0).any(1) | (boxes[:, 2] > sizes[:, 1])
           | (boxes[:, 3] > sizes[:, 0]) | (boxes[:, 2] <= boxes[:, 0])
           | (boxes[:, 3] <= boxes[:, 1]))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f'clip {i}: crop_bbox {boxes[i].tolist()} is not '
                         f'inside its {shapes[i][2]}x{shapes[i][1]} frames')
    hflip = [p['flip'] and p.get('flip_direction', 'horizontal') in
             ('horizontal', None) for p in params]
    vflip = [p['flip'] and p.get('flip_direction') == 'vertical'
             for p in params]

    if len(set(shapes)) == 1:
        batch = torch.stack(list(frames)).to(device,
                                             non_blocking=non_blocking)
    else:
        batch = torch.zeros((B, T, H, W, C), dtype=torch.uint8,
                            device=device)
        for i, f in enumerate(frames):  # copies only: no compute per clip
            batch[i, :, :f.shape[1], :f.shape[2]] = f.to(
                device, non_blocking=non_blocking)
    # (B, T, H, W, C) -> (B, C*T, H, W): a clip's frames share the grid.
    # One strided copy does the layout change and the cast together.
    x = torch.empty((B, C, T, H, W), dtype=dtype, device=device)
    x.copy_(batch.permute(0, 4, 1, 2, 3))
    x = x.view(B, C * T, H, W)

    b = torch.from_numpy(boxes).to(device)
    gx = _axis_coords(b[:, 0], b[:, 2], out_w, W,
                      torch.tensor(hflip, device=device))
    gy = _axis_coords(b[:, 1], b[:, 3], out_h, H,
                      torch.tensor(vflip, device=device))
    grid = torch.stack(
        (gx[:, None, :].expand(B, out_h, out_w),
         gy[:, :, None].expand(B, out_h, out_w)), dim=-1).to(dtype)
    out = F.grid_sample(x, grid, mode=mode, padding_mode='border',
                        align_corners=False)
    return out.reshape(B, C, T, out_h, out_w)


def apply_lazy_erasing(batch: torch.Tensor,
                       params: Sequence[Mapping]) -> torch.Tensor:
    """Fill the boxes recorded by
    :class:`~mmmae.datasets.transforms.LazyRandomErasing`, in place.

    The fill follows the eager ``RandomErasing`` per pixel of every frame:
    ``'const'`` the fill colour, ``'rand'`` uniform integers in ``[0, 255]``
    or, with ``fill_std``, ``N(fill_color, fill_std)`` truncated to integers
    and clipped to ``[0, 255]``. The values come from one generator on the
    batch's device, seeded by the clips' recorded seeds.

    Args:
        batch (Tensor): ``(B, C, T, h, w)`` float clips in 0-255 units (the
            output of :func:`apply_lazy_geometry`).
        params (Sequence[Mapping]): The clips' ``lazy_aug`` dicts.

    Returns:
        Tensor: ``batch``.
    """
    erased = [(i, p['erase']) for i, p in enumerate(params)
              if p.get('erase') is not None]
    if not erased:
        return batch
    B, C, T, h, w = batch.shape
    device = batch.device
    gen = torch.Generator(device=device)
    gen.manual_seed(int(np.random.SeedSequence(
        [e['seed'] for _, e in erased]).generate_state(1)[0]))
    idx = torch.tensor([i for i, _ in erased], device=device)
    boxes = torch.tensor([e['box'] for _, e in erased], device=device)
    top, left, bh, bw = boxes.unbind(1)
    ys = torch.arange(h, device=device)
    xs = torch.arange(w, device=device)
    in_y = (ys >= top[:, None]) & (ys < (top + bh)[:, None])  # (n, h)
    in_x = (xs >= left[:, None]) & (xs < (left + bw)[:, None])  # (n, w)
    inside = in_y[:, :, None] & in_x[:, None, :]  # (n, h, w)
    n = len(erased)
    color = torch.tensor([e['fill_color'] for _, e in erased],
                         dtype=batch.dtype, device=device).view(n, C, 1, 1, 1)
    mode = {(e['mode'], e['fill_std'] is None) for _, e in erased}
    if len(mode) > 1:
        raise ValueError(f'clips of one batch erase differently: {mode}')
    kind, no_std = mode.pop()
    shape = (n, C, T, h, w)
    if kind == 'const':
        fill = color.expand(shape)
    elif no_std:
        fill = torch.randint(0, 256, shape, generator=gen, device=device,
                             dtype=torch.int64).to(batch.dtype)
    else:
        std = torch.tensor([e['fill_std'] for _, e in erased],
                           dtype=batch.dtype,
                           device=device).view(n, C, 1, 1, 1)
        noise = torch.randn(shape, generator=gen, device=device,
                            dtype=batch.dtype)
        fill = (color + std * noise).trunc().clamp_(0, 255)
    batch[idx] = torch.where(inside[:, None, None], fill, batch[idx])
    return batch
