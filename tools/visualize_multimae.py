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
is :func:`mmmae.apis.visualize_multimae`.
"""
import argparse
import os.path as osp
import sys

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _REPO not in sys.path:  # run as a script from a source checkout
    sys.path.insert(0, _REPO)

TAG = '[visualize_multimae]'


def parse_args(argv=None):
    from mmmae.utils.cli import add_device_and_cfg_options
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
    add_device_and_cfg_options(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Entry point; returns the exit status (0 ok, 2 usage error)."""
    from mmmae.apis import visualize_multimae
    from mmmae.utils.cli import run_input_tool
    return run_input_tool(
        parse_args, argv,
        lambda args: visualize_multimae(
            args.config, args.checkpoint, args.input, args.out,
            visible=args.visible, num_visible=args.num_visible,
            seed=args.seed, mask_file=args.mask_file,
            max_images=args.max_images, device=args.device,
            cfg_options=args.cfg_options),
        TAG)


if __name__ == '__main__':
    sys.exit(main())
