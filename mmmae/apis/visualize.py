# Copyright (c) mmmae contributors. All rights reserved.
"""Pictures of what a pretrained model predicts, written as PNG files.

* :func:`visualize_reconstructions`: for every video, a VideoMAE's masked
  input, prediction and target (``tools/visualize_reconstruction.py``);
* :func:`visualize_multimae`: for every image, a MultiMAE's predictions of
  every task from the visible tokens, e.g. depth and semseg from RGB alone
  (``tools/visualize_multimae.py``; the figure is described there).
"""
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence

import numpy as np

from .inference import InputError, load_config

__all__ = [
    'existing_videos', 'visualize_reconstructions', 'multimae_mask_mode',
    'visualize_multimae'
]


def _device(device: Optional[str]) -> str:
    import torch
    return device or ('cuda:0' if torch.cuda.is_available() else 'cpu')


def existing_videos(path: str,
                    data_root: Optional[str] = None,
                    max_videos: Optional[int] = None) -> List[str]:
    """The videos named by ``path`` (:func:`collect_videos`) that exist.

    Listed files that do not exist are reported once and dropped.

    Args:
        path: A video file, a folder of videos or an annotation list.
        data_root: Root of relative list entries (default: the list folder).
        max_videos: Keep at most this many.

    Returns:
        list[str]: Video paths.

    Raises:
        FileNotFoundError: ``path`` does not exist or names no video.
    """
    from .inputs import collect_videos
    vids = [v for v, _ in collect_videos(path, data_root)]
    missing = [v for v in vids if not osp.isfile(v)]
    if missing:
        print(f'{len(missing)} listed videos not found, skipped '
              f'(first: {missing[0]})')
    vids = [v for v in vids if osp.isfile(v)][:max_videos]
    if not vids:
        raise FileNotFoundError(f'no videos found in {path}')
    return vids


def _unique_name(video: str, used: set) -> str:
    """The video's stem, suffixed ``_1``, ``_2``... when already used."""
    stem = osp.splitext(osp.basename(video))[0]
    name, k = stem, 1
    while name in used:
        name = f'{stem}_{k}'
        k += 1
    used.add(name)
    return name


def visualize_reconstructions(config: str,
                              checkpoint: str,
                              video: str,
                              out_dir: str,
                              *,
                              mask_ratio: Optional[float] = None,
                              seed: int = 0,
                              num_frames_shown: Optional[int] = None,
                              max_videos: Optional[int] = None,
                              data_root: Optional[str] = None,
                              device: Optional[str] = None,
                              cfg_options: Optional[dict] = None
                              ) -> List[str]:
    """Draw a pretrained VideoMAE's reconstruction of each video.

    One PNG per video and view, ``OUT/<stem>[_view_<v>]_recon.png``, drawn
    by :func:`mmmae.visualization.save_reconstruction`. A video that cannot
    be read is reported and skipped.

    Args:
        config: The pretraining config.
        checkpoint: Its checkpoint.
        video: A video, a folder of videos or an annotation list.
        out_dir: Output folder.
        mask_ratio: Override the mask generator's ratio.
        seed: Seed of the mask and the frame sampling.
        num_frames_shown: Frames (rows) per image; default up to 8.
        max_videos: At most this many videos.
        data_root: Root of relative list entries.
        device: e.g. ``'cpu'``; default ``cuda:0`` when available.
        cfg_options: Config overrides.

    Returns:
        list[str]: The PNGs written (empty when no video could be read).
    """
    import torch

    from mmmae.visualization import save_reconstruction
    from .inference import init_model
    from .reconstruction import (build_reconstruction_pipeline,
                                 reconstruct_video)
    videos = existing_videos(video, data_root, max_videos)
    model = init_model(config, checkpoint, _device(device),
                       cfg_options=cfg_options)
    pipeline = build_reconstruction_pipeline(model.cfg, mask_ratio)
    os.makedirs(out_dir, exist_ok=True)
    used: set = set()
    paths = []
    for vid in videos:
        try:
            results = reconstruct_video(model, vid, pipeline, seed=seed)
        except InputError as e:
            print(f'{e}, skipped')
            continue
        name = _unique_name(vid, used)
        for v, res in enumerate(results):
            suffix = f'_view_{v}' if len(results) > 1 else ''
            path = osp.join(out_dir, f'{name}{suffix}_recon.png')
            hidden = float(torch.as_tensor(res['mask']).float().mean())
            save_reconstruction(
                path,
                res['original'],
                res['mask'],
                res['pred_video'],
                res['pred_video_gt_stats'],
                patch_size=res['patch_size'],
                tubelet_size=res['tubelet_size'],
                decoder_mask=res['decoder_mask'],
                frames=num_frames_shown,
                title=f'{osp.basename(vid)}: {hidden:.0%} of patches hidden')
            msg = f'{path}  (masked-patch MSE raw {res["mse"]:.4f}'
            if res['mse_gt_stats'] is not None:
                msg += f', GT-stats/leaky {res["mse_gt_stats"]:.4f}'
            print(msg + ')', flush=True)
            paths.append(path)
    return paths


def multimae_mask_mode(fractions: Optional[Dict[str, float]],
                       num_visible: Optional[int],
                       seed: int = 0,
                       mask_file: Optional[str] = None) -> str:
    """The ``<maskmode>`` part of :func:`visualize_multimae`'s file names,
    e.g. ``vis-rgb``, ``vis-rgb0.5-depth0-seed0``, ``rand32-seed1``,
    ``maskfile-<stem>``."""
    if mask_file:
        mode = 'maskfile-' + osp.splitext(osp.basename(mask_file))[0]
    elif fractions is not None:
        parts = [m if f == 1.0 else f'{m}{f:g}' for m, f in fractions.items()]
        mode = 'vis-' + '-'.join(parts)
        if num_visible is not None:
            mode += f'_rand{num_visible}-seed{seed}'
        elif any(0.0 < f < 1.0 for f in fractions.values()):
            mode += f'-seed{seed}'
    else:
        mode = f'rand{num_visible}-seed{seed}'
    return re.sub(r'[^A-Za-z0-9._-]+', '_', mode)


def visualize_multimae(config: str,
                       checkpoint: str,
                       input: str,
                       out_dir: str,
                       *,
                       visible: Optional[Sequence[str]] = None,
                       num_visible: Optional[int] = None,
                       seed: int = 0,
                       mask_file: Optional[str] = None,
                       max_images: Optional[int] = None,
                       device: Optional[str] = None,
                       cfg_options: Optional[dict] = None) -> List[dict]:
    """Draw a MultiMAE's predictions for every image of ``input``.

    Writes ``OUT/<name>_<maskmode>.png`` (rows: decoder tasks; columns:
    input, masked input, prediction) and ``OUT/<name>_<maskmode>_mask.npz``
    (one ``(h, w)`` uint8 array per modality, 1 = masked).

    Args:
        config: A MultiMAE config.
        checkpoint: Its checkpoint, or ``'none'`` for the random init.
        input: A split folder with modality subfolders, a folder of
            images, a ``.txt`` list of images or one image.
        out_dir: Output folder.
        visible: ``MOD`` (fully visible) or ``MOD:FRAC`` items; unlisted
            modalities are fully masked unless ``num_visible`` is given.
        num_visible: Visible tokens in all, shared by a Dirichlet draw
            across the modalities ``visible`` does not fix.
        seed: Image ``k`` draws its mask with ``seed + k``.
        mask_file: An ``.npz`` of masks (1 = masked), instead of a draw.
        max_images: At most this many images.
        device: e.g. ``'cpu'``; default ``cuda:0`` when available.
        cfg_options: Config overrides.

    Returns:
        list[dict]: One record per PNG: ``png``, ``mask_file``, ``masks``
        (``{mod: (h, w) bool}``), ``layout`` (tile boxes, see
        :func:`mmmae.visualization.make_image_grid`) and ``metrics``
        (hidden-pixel rgb MSE / depth L1 / semseg accuracy).

    Raises:
        InputError: A path, mask or option is wrong (the message names it).
    """
    from mmmae.visualization import (make_palette, render_multimae_prediction,
                                     save_image, seeded)
    from .multimae import (build_multimae_pipeline, collect_images,
                           draw_multimae_masks, find_class_info,
                           init_multimae_model, load_mask_file,
                           mask_generator_cfg, multimae_geometry,
                           parse_visible, predict_multimae)
    for p, what in ((config, 'config'), (input, 'input')):
        if not osp.exists(p):
            raise InputError(f'{what} {p} does not exist')
    if mask_file and (visible or num_visible is not None):
        raise InputError('--mask-file cannot be combined with --visible or '
                         '--num-visible')
    try:
        cfg = load_config(config, cfg_options)
    except Exception as e:  # noqa: BLE001 (syntax errors, bad options...)
        raise InputError(f'cannot read config {config}: {e}')
    model = init_multimae_model(cfg, checkpoint, _device(device))
    if checkpoint.lower() == 'none':
        print('checkpoint none: randomly initialised model')
    geom = multimae_geometry(model)
    samples = collect_images(input, geom['modalities'], max_images)
    pipeline = build_multimae_pipeline(model.cfg, geom)

    gen_cfg = mask_generator_cfg(model.cfg)
    n = geom['grid'][0] * geom['grid'][1]
    fractions = file_masks = None
    if mask_file:
        file_masks = load_mask_file(mask_file, geom['modalities'],
                                    geom['grid'])
    elif visible:
        fractions = parse_visible(visible, geom['modalities'])
    elif num_visible is None:
        num_visible = int(gen_cfg.get('num_visible')
                          or round(n * len(geom['modalities']) / 6))
    if num_visible is not None and num_visible < 1:
        raise InputError(f'--num-visible must be >= 1, got {num_visible}')
    mode = multimae_mask_mode(fractions, num_visible, seed, mask_file)

    classes, palette = find_class_info(input)
    seg_classes = max([1] + list(geom['num_classes'].values()) + [
        t['channels'] for t in geom['tasks'] if t['kind'] == 'semseg'])
    if not palette or len(palette) < seg_classes:
        palette, classes = make_palette(seg_classes), None

    os.makedirs(out_dir, exist_ok=True)
    records = []
    for k, s in enumerate(samples):
        given = list(s['img_path'])
        with seeded(seed + k):
            masks = draw_multimae_masks(geom, given, fractions, num_visible,
                                        file_masks, gen_cfg.get('alpha', 1.))
        res = predict_multimae(model, s['img_path'], masks, pipeline, geom)
        vis = ', '.join(f'{m} {int((~masks[m]).sum())}/{n}' +
                        ('' if m in given else ' (not given)')
                        for m in geom['modalities'])
        title = f'{s["name"]}: visible tokens {vis} [{mode}]'
        img, layout, metrics = render_multimae_prediction(
            model.data_preprocessor, geom, res['inputs'], masks,
            res['preds'], palette, classes, title)
        png = osp.join(out_dir, f'{s["name"]}_{mode}.png')
        save_image(png, img)
        npz = osp.join(out_dir, f'{s["name"]}_{mode}_mask.npz')
        grid_masks = {m: masks[m].reshape(geom['grid'])
                      for m in geom['modalities']}
        np.savez(npz, **{m: v.astype(np.uint8)
                         for m, v in grid_masks.items()})
        msg = ', '.join(f'{k_} {v:.4f}' for k_, v in metrics.items())
        print(png + (f'  (hidden pixels: {msg})' if msg else ''), flush=True)
        records.append(dict(png=png, mask_file=npz, masks=grid_masks,
                            layout=layout, metrics=metrics))
    if not records:
        raise InputError(f'no image to draw in {input}')
    return records
