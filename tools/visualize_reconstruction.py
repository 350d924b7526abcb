# Copyright (c) mmmae contributors. All rights reserved.
"""Draw VideoMAE reconstructions of videos with a trained checkpoint.

Each PNG shows, for evenly spaced frames, ``original | masked input |
reconstruction (raw prediction) | reconstruction (GT patch statistics)``.
The last column un-normalizes the prediction with the ground-truth mean/std
of every hidden patch (what upstream ``run_videomae_vis.py`` shows): it leaks
the answer. Judge a model by the raw-prediction column.

The clip is read with the config's training pipeline made deterministic
(:func:`mmmae.apis.make_deterministic_pipeline`): frame sampling in test
mode, random crops replaced by a short-side resize and a center crop to the
model input size, flips/colour jitter dropped; the pipeline's mask generator
is kept (``--mask-ratio`` overrides its ratio) and seeded by ``--seed``. The
work is :func:`mmmae.apis.reconstruct_video`.

Examples::

    python tools/visualize_reconstruction.py CONFIG CKPT video.mp4 --out vis/
    python tools/visualize_reconstruction.py CONFIG CKPT videos/ --out vis/
    python tools/visualize_reconstruction.py CONFIG CKPT ann.txt --out vis/ \\
        --max-videos 4 --mask-ratio 0.75
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _REPO not in sys.path:  # run as a script from a source checkout
    sys.path.insert(0, _REPO)

TAG = '[visualize_reconstruction]'


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(
        description='Visualize VideoMAE reconstructions of videos.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('Examples::')[-1])
    p.add_argument('config', help='model/training config file')
    p.add_argument('checkpoint', help='checkpoint file')
    p.add_argument(
        'video',
        help='a video file, a folder of videos, or an annotation list '
        '(.txt/.csv, first column = path relative to the list)')
    p.add_argument('--out', required=True, help='output folder for PNGs')
    p.add_argument(
        '--mask-ratio',
        type=float,
        default=None,
        help='override the mask ratio of the pipeline mask generator')
    p.add_argument('--seed', type=int, default=0, help='mask/sampling seed')
    p.add_argument(
        '--num-frames-shown',
        type=int,
        default=None,
        help='frames (rows) per image; default up to 8 evenly spaced')
    p.add_argument('--max-videos',
                   type=int,
                   default=None,
                   help='at most this many videos from a folder or list')
    p.add_argument('--data-root',
                   default=None,
                   help='root for relative paths of an annotation list '
                   '(default: the list folder)')
    p.add_argument(
        '--device',
        default=None,
        help='device, e.g. cpu or cuda:0 (default: cuda:0 when available)')
    p.add_argument('--cfg-options',
                   nargs='+',
                   action=DictAction,
                   help='override config settings, key=value')
    return p.parse_args(argv)


def collect_videos(path: str,
                   data_root: Optional[str] = None,
                   max_videos: Optional[int] = None) -> List[str]:
    """Existing videos named by VIDEO (:func:`mmmae.apis.collect_videos`);
    listed files that do not exist are reported and dropped.

    Raises:
        FileNotFoundError: ``path`` does not exist or names no video.
    """
    from mmmae.apis import collect_videos as collect
    vids = [v for v, _ in collect(path, data_root)]
    missing = [v for v in vids if not osp.isfile(v)]
    if missing:
        print(f'{TAG} {len(missing)} listed videos not found, skipped '
              f'(first: {missing[0]})')
    vids = [v for v in vids if osp.isfile(v)][:max_videos]
    if not vids:
        raise FileNotFoundError(f'no videos found in {path}')
    return vids


def _out_name(video: str, used: set) -> str:
    stem = osp.splitext(osp.basename(video))[0]
    name, k = stem, 1
    while name in used:
        name = f'{stem}_{k}'
        k += 1
    used.add(name)
    return name


def main(argv=None) -> List[str]:
    """Entry point; returns the paths of the PNGs written."""
    args = parse_args(argv)
    import torch

    import mmmae  # noqa: F401  (compat patches, registries)
    from mmmae.apis import (InputError, build_reconstruction_pipeline,
                            init_model, reconstruct_video)
    from mmmae.visualization import save_reconstruction

    device = args.device or ('cuda:0' if torch.cuda.is_available() else 'cpu')
    videos = collect_videos(args.video, args.data_root, args.max_videos)
    model = init_model(args.config, args.checkpoint, device,
                       cfg_options=args.cfg_options)
    pipeline = build_reconstruction_pipeline(model.cfg, args.mask_ratio)

    os.makedirs(args.out, exist_ok=True)
    used: set = set()
    paths = []
    for video in videos:
        try:
            results = reconstruct_video(model, video, pipeline,
                                        seed=args.seed)
        except InputError as e:
            print(f'{TAG} {e}, skipped')
            continue
        name = _out_name(video, used)
        for v, res in enumerate(results):
            suffix = f'_view_{v}' if len(results) > 1 else ''
            path = osp.join(args.out, f'{name}{suffix}_recon.png')
            mask = res['mask']
            save_reconstruction(
                path,
                res['original'],
                mask,
                res['pred_video'],
                res['pred_video_gt_stats'],
                patch_size=res['patch_size'],
                tubelet_size=res['tubelet_size'],
                decoder_mask=res['decoder_mask'],
                frames=args.num_frames_shown,
                title=f'{osp.basename(video)}: '
                f'{float(torch.as_tensor(mask).float().mean()):.0%} of '
                'patches hidden')
            msg = f'{path}  (masked-patch MSE raw {res["mse"]:.4f}'
            if res['mse_gt_stats'] is not None:
                msg += f', GT-stats/leaky {res["mse_gt_stats"]:.4f}'
            print(msg + ')', flush=True)
            paths.append(path)
    if not paths:
        sys.exit(f'{TAG} no image written')
    return paths


if __name__ == '__main__':
    main()
