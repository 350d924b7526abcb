# Copyright (c) mmmae contributors. All rights reserved.
"""Draw VideoMAE reconstructions of videos with a trained checkpoint.

Each PNG shows, for evenly spaced frames, ``original | masked input |
reconstruction (raw prediction) | reconstruction (GT patch statistics)``.
The last column un-normalizes the prediction with the ground-truth mean/std
of every hidden patch (what upstream ``run_videomae_vis.py`` shows): it leaks
the answer. Judge a model by the raw-prediction column.

The clip is read with the config's training pipeline made deterministic:
frame sampling in test mode, random crops replaced by a short-side resize and
a center crop to the model input size, flips/colour jitter dropped; the
pipeline's mask generator is kept (``--mask-ratio`` overrides its ratio) and
seeded by ``--seed``.

Examples::

    python tools/visualize_reconstruction.py CONFIG CKPT video.mp4 --out vis/
    python tools/visualize_reconstruction.py CONFIG CKPT videos/ --out vis/
    python tools/visualize_reconstruction.py CONFIG CKPT ann.txt --out vis/ \\
        --max-videos 4 --mask-ratio 0.75
"""
import argparse
import copy
import os
import os.path as osp
import sys
from typing import List, Optional, Tuple

VIDEO_EXTS = ('.mp4', '.avi', '.mkv', '.webm', '.mov', '.m4v', '.flv', '.mpeg',
              '.mpg')

#: Random spatial crops, replaced by resize + center crop.
RANDOM_CROPS = ('MultiScaleCrop', 'RandomResizedCrop', 'RandomCrop',
                'RandomRescale', 'RandomScale')
#: Random augmentations that are dropped.
RANDOM_AUGS = ('Flip', 'ColorJitter', 'RandAugment', 'RandomErasing',
               'PytorchVideoWrapper', 'ImgAug', 'TorchVisionWrapper',
               'PoseCompact')


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
    """Resolve VIDEO to a list of video files.

    Args:
        path (str): a video, a folder (searched recursively for video
            extensions) or an annotation list (``.txt``/``.csv``/``.lst``;
            first whitespace- or comma-separated column).
        data_root (str, optional): prefix for relative list entries.
        max_videos (int, optional): keep the first this many.

    Returns:
        list[str]: existing video paths, sorted for folders, in list order
        for annotation lists.
    """
    if osp.isdir(path):
        vids = []
        for root, _, files in os.walk(path):
            vids += [
                osp.join(root, f) for f in files
                if f.lower().endswith(VIDEO_EXTS)
            ]
        vids.sort()
    elif osp.isfile(path) and path.lower().endswith(('.txt', '.csv', '.lst')):
        root = data_root if data_root is not None else osp.dirname(
            osp.abspath(path))
        vids = []
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith('#'):
                    continue
                first = line.replace(',', ' ').split()[0]
                vids.append(
                    first if osp.isabs(first) else osp.join(root, first))
        missing = [v for v in vids if not osp.isfile(v)]
        if missing:
            print(f'[visualize_reconstruction] {len(missing)} listed videos '
                  f'not found, skipped (first: {missing[0]})')
        vids = [v for v in vids if osp.isfile(v)]
    elif osp.isfile(path):
        vids = [path]
    else:
        raise FileNotFoundError(f'{path} is not a file or folder')
    if max_videos is not None:
        vids = vids[:max_videos]
    if not vids:
        raise FileNotFoundError(f'no videos found in {path}')
    return vids


def _short(type_name) -> str:
    return str(type_name).split('.')[-1]


def _scope_prefix(type_name) -> str:
    s = str(type_name)
    return s[:s.rindex('.') + 1] if '.' in s else ''


def find_train_pipeline(cfg) -> Tuple[list, Optional[str]]:
    """The train dataset's ``pipeline`` and the registry scope to build it in.

    Dataset wrappers (``dataset=dict(dataset=...)`` or ``datasets=[...]``)
    are unwrapped. The scope is the innermost ``_scope_`` on the way (e.g.
    ``'mmaction'`` for mmaction's ``RepeatAugDataset``), None for the default
    scope.

    Returns:
        tuple: ``(pipeline, scope)``.
    """
    ds = cfg.get('train_dataloader', {}).get('dataset')
    scope = None
    while ds is not None:
        scope = ds.get('_scope_', scope)
        if 'pipeline' in ds:
            break
        inner = ds.get('dataset')
        if inner is None and ds.get('datasets'):
            inner = ds['datasets'][0]
        ds = inner
    if ds is None:
        raise KeyError('the config has no train_dataloader.dataset.pipeline')
    return copy.deepcopy(list(ds['pipeline'])), scope


def _crop_size(step: dict) -> Optional[Tuple[int, int]]:
    """``(w, h)`` a crop transform produces, when it says."""
    for key in ('input_size', 'crop_size', 'size'):
        v = step.get(key)
        if v is None:
            continue
        if isinstance(v, int):
            return v, v
        v = tuple(v)
        if len(v) == 2 and min(v) > 0:
            return int(v[0]), int(v[1])
    return None


def _fixed_resize(step: dict) -> Optional[Tuple[int, int]]:
    if _short(step.get('type')) != 'Resize':
        return None
    scale = step.get('scale')
    if isinstance(
            scale,
        (tuple, list)) and len(scale) == 2 and min(scale) > 0 and not step.get(
            'keep_ratio', True):
        return int(scale[0]), int(scale[1])
    return None


def make_deterministic_pipeline(pipeline: list,
                                input_size: Optional[int] = None,
                                mask_ratio: Optional[float] = None) -> list:
    """Turn a training pipeline into a deterministic one.

    * frame samplers (``*Sample*`` transforms): ``test_mode=True``,
      ``num_clips=1``;
    * random crops (:data:`RANDOM_CROPS`): replaced by
      ``Resize(scale=(-1, S))`` + ``CenterCrop(S)`` where ``S`` is the crop's
      output size, the size of a later fixed ``Resize``, or ``input_size``;
    * random augmentations (:data:`RANDOM_AUGS`): dropped;
    * encoder mask generators (``*MaskGenerator``, not the V2 running-cell
      decoder mask): ``mask_ratio`` set when given.

    Args:
        pipeline (list[dict]): the training pipeline (not modified).
        input_size (int, optional): fallback crop size.
        mask_ratio (float, optional): encoder mask ratio override.

    Returns:
        list[dict]: the new pipeline.
    """
    src = copy.deepcopy(list(pipeline))
    out = []
    for k, step in enumerate(src):
        name = _short(step.get('type'))
        prefix = _scope_prefix(step.get('type'))
        if name in RANDOM_CROPS:
            size = _crop_size(step)
            if size is None:
                for later in src[k + 1:]:
                    size = _fixed_resize(later)
                    if size is not None:
                        break
            if size is None and input_size is not None:
                size = (int(input_size), int(input_size))
            if size is None:
                raise ValueError(f'cannot tell the output size of {name}; '
                                 'pass input_size')
            out.append(dict(type=prefix + 'Resize', scale=(-1, max(size))))
            out.append(dict(type=prefix + 'CenterCrop', crop_size=size))
            continue
        if name in RANDOM_AUGS:
            continue
        if 'Sample' in name and 'Mask' not in name:
            step['test_mode'] = True
            if 'num_clips' in step:
                step['num_clips'] = 1
        if name.endswith('MaskGenerator') and 'RunningCell' not in name \
                and mask_ratio is not None:
            step['mask_ratio'] = float(mask_ratio)
        out.append(step)
    return out


def _input_size(cfg) -> Optional[int]:
    bb = cfg.get('model', {}).get('backbone', {})
    size = bb.get('img_size') if hasattr(bb, 'get') else None
    if isinstance(size, (tuple, list)):
        size = size[0]
    return size


def build_model(cfg, checkpoint: str, device: str):
    """Build ``cfg.model``, load ``checkpoint`` and move it to ``device``."""
    from mmengine.runner import load_checkpoint

    from mmmae.registry import MODELS
    model = MODELS.build(cfg.model)
    load_checkpoint(model, checkpoint, map_location='cpu', strict=False)
    model.to(device)
    model.eval()
    return model


def _out_name(video: str, used: set) -> str:
    stem = osp.splitext(osp.basename(video))[0]
    name, k = stem, 1
    while name in used:
        name = f'{stem}_{k}'
        k += 1
    used.add(name)
    return name


def main(argv=None) -> List[str]:
    """Entry point.

    Args:
        argv (list[str], optional): command-line arguments (default
            ``sys.argv[1:]``).

    Returns:
        list[str]: paths of the PNGs written.
    """
    args = parse_args(argv)
    import torch
    from mmengine.config import Config
    from mmengine.dataset import Compose, pseudo_collate
    from mmengine.registry import DefaultScope, init_default_scope

    import mmmae  # noqa: F401  (compat patches, registries)
    from mmmae.visualization import (infer_token_geometry, masked_mse,
                                     predict_reconstructions, predicted_pixels,
                                     save_reconstruction, seeded)

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmmae'))
    device = args.device or ('cuda:0' if torch.cuda.is_available() else 'cpu')

    videos = collect_videos(args.video, args.data_root, args.max_videos)
    model = build_model(cfg, args.checkpoint, device)
    patch, tube = infer_token_geometry(model)
    train_pipeline, scope = find_train_pipeline(cfg)
    steps = make_deterministic_pipeline(train_pipeline, _input_size(cfg),
                                        args.mask_ratio)
    if scope:
        with DefaultScope.overwrite_default_scope(scope):
            pipeline = Compose(steps)
    else:
        pipeline = Compose(steps)

    os.makedirs(args.out, exist_ok=True)
    used: set = set()
    paths = []
    for video in videos:
        info = dict(filename=video, label=-1, start_index=0, modality='RGB')
        with seeded(args.seed):
            sample = pipeline(info)
        if sample is None:
            print(f'[visualize_reconstruction] {video}: the pipeline '
                  'returned nothing (unreadable?), skipped')
            continue
        results = predict_reconstructions(model, [sample], pseudo_collate)
        name = _out_name(video, used)
        for v, res in enumerate(results):
            suffix = f'_view_{v}' if len(results) > 1 else ''
            path = osp.join(args.out, f'{name}{suffix}_recon.png')
            orig, mask = res['original'], res['mask']
            raw, leaky = res['pred_video'], res['pred_video_gt_stats']
            save_reconstruction(
                path,
                orig,
                mask,
                raw,
                leaky,
                patch_size=patch,
                tubelet_size=tube,
                decoder_mask=res['decoder_mask'],
                frames=args.num_frames_shown,
                title=f'{osp.basename(video)}: '
                f'{float(torch.as_tensor(mask).float().mean()):.0%} of '
                'patches hidden')
            pix = predicted_pixels(mask, orig.shape, patch, tube,
                                   res['decoder_mask'])
            msg = f'{path}  (masked-patch MSE raw ' \
                  f'{masked_mse(raw, orig, pix):.4f}'
            if leaky is not None:
                msg += f', GT-stats/leaky {masked_mse(leaky, orig, pix):.4f}'
            print(msg + ')', flush=True)
            paths.append(path)
    if not paths:
        sys.exit('[visualize_reconstruction] no image written')
    return paths


if __name__ == '__main__':
    main()
