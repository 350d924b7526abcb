# Copyright (c) mmmae contributors. All rights reserved.
"""Draw MultiMAE predictions, including cross-modal ones, with a checkpoint.

One PNG per image, ``OUT/<name>_<maskmode>.png``: a title line (image name,
visible tokens per modality, mask mode), then one **row per decoder task**
(config order; for the demo config ``rgb``, ``norm_rgb`` twice, ``depth``,
``semseg``) and three **columns**:

``input | masked input (grey = hidden) | prediction``

* rgb: the image; prediction un-normalised with the ImageNet mean/std.
* norm_rgb (per-patch normalised target) gets two rows: the prediction
  un-normalised with the **ground-truth** mean/std of every rgb patch (what
  upstream visualisations show: colour and contrast of hidden patches come
  from the answer) and the raw per-patch z-scores (-3..3 -> black..white),
  the honest one.
* depth: the truncated-standardised map the model sees and predicts,
  viridis over the 10-90 % range of the input (the
  part the truncated standardisation keeps) (of the prediction when depth
  is not given); dark = near.
* semseg: class ids through a palette (``classes.json`` next to the split
  folder when it has one, else a fixed table), prediction = argmax of the
  1/4-resolution logits, shown at full size.

Inputs that are not given (a plain rgb image has no depth/semseg) have a
dark "not given" input tile; their masked-input tile is all grey (they are
fully masked). The token mask used is saved next to the PNG as
``<name>_<maskmode>_mask.npz``: one ``(h, w)`` uint8 array per model input
modality, **1 = masked** (hidden from the encoder), the format
``--mask-file`` reads back.

Masks (mask mode in the file name):

* ``--visible rgb`` (``vis-rgb``): listed modalities fully visible, the
  others fully masked (cross-modal prediction from rgb only);
  ``--visible rgb:0.5 depth:0`` (``vis-rgb0.5-depth0-seed0``): that fraction
  of each listed modality's tokens visible at random positions, unlisted
  ones fully masked;
* ``--num-visible N`` (``randN-seedS``): N visible tokens shared across the
  modalities by a Dirichlet draw (the config's mask-generator ``alpha``), as
  in pre-training; with ``--visible`` the listed modalities are fixed and
  the unlisted ones share what remains of N;
* ``--mask-file F.npz`` (``maskfile-F``): per-modality ``(h, w)`` (or flat)
  0/1 arrays, 1 = masked; a modality missing from the file is fully masked;
* nothing: a random draw with the config's ``num_visible`` (else 1/6 of
  the tokens).

Random draws use numpy with seed ``--seed + k`` for the k-th image, so a run
is reproducible. Preprocessing is deterministic: the config's loader
settings (depth scale, ...), the short side resized to the model input size
and a centre crop (one transform chain for all modalities, nearest for
labels), semseg down-sampled to 1/4. The model runs in eval mode under
``torch.inference_mode``, one image at a time.

INPUT: a split folder with modality subfolders (``data/scenes/val``:
``rgb/``, ``depth/``, ``semseg/`` matched by name; missing subfolders are
"not given", a missing file is an error naming it), a plain folder of
images, a ``.txt`` list of image paths, or one image (rgb only; the other
modalities are predicted). CHECKPOINT ``none`` keeps the random init.

Examples::

    python tools/visualize_multimae.py CONFIG CKPT data/scenes/val --out vis \\
        --visible rgb --max-images 4
    python tools/visualize_multimae.py CONFIG CKPT data/scenes/val --out vis \\
        --visible rgb:0.25 depth:0.25
    python tools/visualize_multimae.py CONFIG CKPT data/scenes/val --out vis \\
        --num-visible 32 --seed 1
    python tools/visualize_multimae.py CONFIG CKPT photo.jpg --out vis

Exit status: 0 on success, 2 for a usage error (bad path, bad mask, a
config without a MultiMAE model); the message names the culprit. The work
is :mod:`mmmae.apis.multimae` (masks, prediction) and
:func:`mmmae.visualization.render_multimae_prediction` (drawing).
"""
import argparse
import os
import os.path as osp
import re
import sys
from typing import Dict, List, Optional

import numpy as np

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _REPO not in sys.path:  # run as a script from a source checkout
    sys.path.insert(0, _REPO)

TAG = '[visualize_multimae]'


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(
        description='Visualize MultiMAE (cross-modal) predictions.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('Examples::')[-1])
    p.add_argument('config', help='MultiMAE config file')
    p.add_argument('checkpoint', help="checkpoint file, or 'none' (random "
                   'init, for smoke tests)')
    p.add_argument(
        'input',
        help='split folder with modality subfolders (rgb/, depth/, ...), a '
        'folder of images, a .txt list of images, or one image')
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument(
        '--visible', nargs='+', default=None, metavar='MOD[:FRAC]',
        help='modalities to show the encoder: MOD fully, MOD:FRAC a random '
        'fraction of its tokens; unlisted modalities are fully masked '
        '(unless --num-visible)')
    p.add_argument(
        '--num-visible', type=int, default=None,
        help='visible tokens in all, shared by a Dirichlet draw across the '
        'modalities not fixed by --visible')
    p.add_argument('--seed', type=int, default=0,
                   help='seed of random masks (image k uses seed + k)')
    p.add_argument(
        '--mask-file', default=None,
        help='.npz with one (h, w) 0/1 array per modality, 1 = masked')
    p.add_argument('--max-images', type=int, default=None,
                   help='at most this many images')
    p.add_argument('--device', default=None,
                   help='e.g. cpu or cuda:0 (default: cuda:0 if available)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value')
    return p.parse_args(argv)


def mask_mode(args, fractions: Optional[Dict[str, float]],
              num_visible: Optional[int]) -> str:
    """The ``<maskmode>`` part of the output names."""
    if args.mask_file:
        mode = 'maskfile-' + osp.splitext(osp.basename(args.mask_file))[0]
    elif fractions is not None:
        parts = [m if f == 1.0 else f'{m}{f:g}' for m, f in fractions.items()]
        mode = 'vis-' + '-'.join(parts)
        if num_visible is not None:
            mode += f'_rand{num_visible}-seed{args.seed}'
        elif any(0.0 < f < 1.0 for f in fractions.values()):
            mode += f'-seed{args.seed}'
    else:
        mode = f'rand{num_visible}-seed{args.seed}'
    return re.sub(r'[^A-Za-z0-9._-]+', '_', mode)


def run(args) -> List[dict]:
    """Draw every image; returns one record per PNG: ``png``, ``mask_file``,
    ``masks`` (``{mod: (h, w) bool}``), ``layout`` (see
    :func:`mmmae.visualization.make_image_grid`, plus ``rows``) and
    ``metrics`` (hidden-pixel rgb MSE / depth L1 / semseg accuracy)."""
    import torch

    import mmmae  # noqa: F401  (compat patches, registries)
    from mmmae.apis import (InputError, build_multimae_pipeline,
                            collect_images, draw_multimae_masks,
                            find_class_info, init_multimae_model,
                            load_config, load_mask_file, mask_generator_cfg,
                            multimae_geometry, parse_visible,
                            predict_multimae)
    from mmmae.visualization import (make_palette, render_multimae_prediction,
                                     save_image, seeded)

    for p, what in ((args.config, 'config'), (args.input, 'input')):
        if not osp.exists(p):
            raise InputError(f'{what} {p} does not exist')
    if args.mask_file and (args.visible or args.num_visible is not None):
        raise InputError('--mask-file cannot be combined with --visible or '
                         '--num-visible')
    device = args.device or ('cuda:0' if torch.cuda.is_available() else 'cpu')
    try:
        cfg = load_config(args.config, args.cfg_options)
    except Exception as e:  # noqa: BLE001 (syntax errors, bad options...)
        raise InputError(f'cannot read config {args.config}: {e}')
    model = init_multimae_model(cfg, args.checkpoint, device)
    if args.checkpoint.lower() == 'none':
        print(f'{TAG} checkpoint none: randomly initialised model')
    geom = multimae_geometry(model)
    samples = collect_images(args.input, geom['modalities'], args.max_images)
    pipeline = build_multimae_pipeline(model.cfg, geom)

    gen_cfg = mask_generator_cfg(model.cfg)
    n = geom['grid'][0] * geom['grid'][1]
    fractions = file_masks = None
    num_visible = args.num_visible
    if args.mask_file:
        file_masks = load_mask_file(args.mask_file, geom['modalities'],
                                    geom['grid'])
    elif args.visible:
        fractions = parse_visible(args.visible, geom['modalities'])
    elif num_visible is None:
        num_visible = int(gen_cfg.get('num_visible')
                          or round(n * len(geom['modalities']) / 6))
    if num_visible is not None and num_visible < 1:
        raise InputError(f'--num-visible must be >= 1, got {num_visible}')
    mode = mask_mode(args, fractions, num_visible)

    classes, palette = find_class_info(args.input)
    seg_classes = max([1] + list(geom['num_classes'].values()) + [
        t['channels'] for t in geom['tasks'] if t['kind'] == 'semseg'])
    if not palette or len(palette) < seg_classes:
        palette, classes = make_palette(seg_classes), None

    os.makedirs(args.out, exist_ok=True)
    records = []
    for k, s in enumerate(samples):
        given = list(s['img_path'])
        with seeded(args.seed + k):
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
        png = osp.join(args.out, f'{s["name"]}_{mode}.png')
        save_image(png, img)
        mask_file = osp.join(args.out, f'{s["name"]}_{mode}_mask.npz')
        grid_masks = {m: masks[m].reshape(geom['grid'])
                      for m in geom['modalities']}
        np.savez(mask_file, **{m: v.astype(np.uint8)
                               for m, v in grid_masks.items()})
        msg = ', '.join(f'{k_} {v:.4f}' for k_, v in metrics.items())
        print(png + (f'  (hidden pixels: {msg})' if msg else ''), flush=True)
        records.append(dict(png=png, mask_file=mask_file, masks=grid_masks,
                            layout=layout, metrics=metrics))
    if not records:
        raise InputError(f'no image to draw in {args.input}')
    return records


def main(argv=None) -> int:
    """Entry point; returns the exit status (0 ok, 2 usage error)."""
    try:
        args = parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or a bad option (2)
        return int(e.code or 0)
    from mmmae.apis import InputError
    try:
        run(args)
    except (InputError, FileNotFoundError) as e:
        print(f'{TAG} error: {e}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
