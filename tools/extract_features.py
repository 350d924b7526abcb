# Copyright (c) mmmae contributors. All rights reserved.
"""Extract VideoMAE encoder features from (long) videos with sliding windows.

One ``.npy`` (float32) and one ``.json`` sidecar are written per video under
``OUT_DIR``, mirroring the input sub-folders (``OUT_DIR/<rel/path/stem>.npy``).
The work is :func:`mmmae.apis.extract_features` (windows, preprocessing
through the dataset transforms, feature definitions: see
``mmmae/apis/features.py``).

Windows
    Window ``w`` starts at frame ``s_w = w * stride`` and samples
    ``clip_len`` frames every ``frame_interval``; windows are added until
    one reaches the end of the video, so every frame is covered (a video
    shorter than ``clip_len * frame_interval`` gives one padded window). The
    sidecar lists ``window_starts`` (frames), ``window_start_sec``, ``fps``,
    ``num_frames`` and the settings, so features can be aligned with time.

Checkpoints: any VideoMAE layout (mmmae/MMEngine pretraining or
``Recognizer3D`` fine-tuning, official V1/V2, MMAction2, HuggingFace);
every backbone key must come from the file. ``none`` = random init.

Unreadable videos are skipped with a warning and listed in
``OUT_DIR/skipped.txt``. Exit status: 0 when at least one video was
extracted (or already existed with ``--skip-existing``), 1 when none was, 2
on a usage / config / checkpoint error.

Examples::

    python tools/extract_features.py CONFIG CKPT videos/ feats/
    python tools/extract_features.py CONFIG CKPT ann.txt feats/ \\
        --data-prefix data/k400/videos --batch-size 16 --amp
    python tools/extract_features.py CONFIG CKPT long.mp4 feats/ \\
        --feature tokens --layers 5 -1 --stride 8 --device cuda
"""
import argparse
import contextlib
import os
import os.path as osp
import sys
from collections import OrderedDict
from typing import List, Optional, Sequence, Tuple

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _REPO not in sys.path:  # run as a script from a source checkout
    sys.path.insert(0, _REPO)

import mmmae  # noqa: E402,F401,I001  (compat patches + registries first)

import torch  # noqa: E402

from mmmae.apis import (InputError, VideoDecodeError,  # noqa: E402
                        build_backbone, collect_videos, feature_settings,
                        load_backbone_weights, normalization_from_config,
                        resolve_layers, resolve_window_settings,
                        save_video_features)
from mmmae.apis.inputs import VIDEO_EXTS  # noqa: E402

SKIPPED_FILE = 'skipped.txt'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line (default ``sys.argv[1:]``)."""
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(
        description='Extract VideoMAE encoder features from videos with '
        'sliding windows (one .npy + .json per video).',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='Windows\n' + __doc__.split('Windows\n')[1].split('\n\n')[0] +
        '\n\nExamples::' + __doc__.split('Examples::')[-1])
    add = p.add_argument
    add('config', help='config whose model has a (mmmae.)VideoMAEViT '
        'backbone (pretraining VideoMAE or fine-tuning Recognizer3D)')
    add('checkpoint', help='mmmae/MMEngine checkpoint (backbone.* keys), '
        'bare backbone or official VideoMAE state dict; "none" = random init')
    add('videos', help='a video file, a folder (searched recursively for '
        f'{"/".join(VIDEO_EXTS)}), or a list file (one path per line, extra '
        'columns such as labels ignored)')
    add('out_dir', help='output folder')
    add('--feature', choices=['pooled', 'tokens'], default='pooled',
        help='pooled: (windows, D) [or (windows, L, D) with --layers]; '
        'tokens: (windows, N, D) [or (windows, L, N, D)]. Default: pooled')
    add('--layers', type=int, nargs='+', default=None,
        help='block indices (negative from the end, e.g. -1 = last) to take '
        'features from, before the final norm. Default: the model output')
    add('--clip-len', type=int, default=None,
        help='frames per window (multiple of the tubelet size). Default: '
        'the backbone num_frames')
    add('--frame-interval', type=int, default=4,
        help='sample every K-th frame inside a window. Default: 4')
    add('--stride', type=int, default=16,
        help='frames between window starts. Default: 16')
    add('--input-size', type=int, nargs='+', default=None, metavar='SIZE',
        help='network input size: S or H W (multiples of the patch size). '
        'Default: the backbone img_size')
    add('--short-side', type=int, default=None,
        help='resize the short side to this before the center crop. '
        'Default: the input size')
    add('--crop', choices=['center', 'none'], default='center',
        help='center: keep-ratio resize + center crop; none: resize frames '
        'to the input size directly. Default: center')
    add('--batch-size', type=int, default=8,
        help='windows per forward pass. Default: 8')
    add('--device', default=None,
        help='cpu, cuda or cuda:N. Default: cuda when available, else cpu')
    add('--amp', action='store_true',
        help='autocast (float16 on CUDA, bfloat16 on CPU); features are '
        'still saved as float32')
    add('--skip-existing', action='store_true',
        help='skip videos whose output .npy already exists')
    add('--data-prefix', default=None,
        help='folder that relative paths of a list file are resolved '
        'against. Default: the list file folder')
    add('--decode-threads', type=int, default=0,
        help='decoding threads (0 = decord default). Default: 0')
    add('--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value (e.g. '
        'model.backbone.use_mean_pooling=False)')
    args = p.parse_args(argv)
    for name in ('frame_interval', 'stride', 'batch_size'):
        if getattr(args, name) < 1:
            p.error(f'--{name.replace("_", "-")} must be >= 1')
    if args.clip_len is not None and args.clip_len < 1:
        p.error('--clip-len must be >= 1')
    if args.input_size is not None and len(args.input_size) not in (1, 2):
        p.error('--input-size takes S or H W')
    if args.short_side is not None and args.short_side < 1:
        p.error('--short-side must be >= 1')
    return args


class _Progress:
    """A tqdm bar over videos, and one over windows for long videos."""

    def __init__(self, total: int) -> None:
        from tqdm import tqdm
        self._tqdm, self._inner = tqdm, None
        self.bar = tqdm(total=total, unit='video', dynamic_ncols=True)

    def write(self, msg: str) -> None:
        self._tqdm.write(msg, file=sys.stderr)

    def windows(self, done: int, total: int) -> None:
        if self._inner is None and done >= total:
            return  # no inner bar for videos of one batch
        if self._inner is None:
            self._inner = self._tqdm(total=total, unit='win', leave=False,
                                     dynamic_ncols=True)
        self._inner.update(done - self._inner.n)

    def step(self, name: str) -> None:
        if self._inner is not None:
            self._inner.close()
            self._inner = None
        self.bar.set_postfix_str(name[-40:], refresh=False)
        self.bar.update()


def _fail(msg: str) -> int:
    print(f'[extract_features] error: {msg}', file=sys.stderr)
    return 2


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns the exit status (0, 1 or 2, see above)."""
    args = parse_args(argv)
    from mmengine.config import Config
    try:
        cfg = Config.fromfile(args.config)
    except Exception as e:
        return _fail(f'cannot read config {args.config}: {e}')
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    device = torch.device(args.device or (
        'cuda' if torch.cuda.is_available() else 'cpu'))
    if device.type == 'cuda' and not torch.cuda.is_available():
        return _fail('--device cuda but CUDA is not available')
    try:
        backbone = build_backbone(cfg)
    except (InputError, KeyError, TypeError) as e:
        return _fail(f'{args.config}: {e}')
    try:
        loaded = load_backbone_weights(backbone, args.checkpoint)
        # settings validated before touching any video
        clip_len, input_size = resolve_window_settings(
            backbone, args.clip_len, args.input_size, args.short_side,
            args.crop)
        layers = resolve_layers(backbone, args.layers)
        videos = collect_videos(args.videos, args.data_prefix)
    except (InputError, FileNotFoundError, IndexError, OSError) as e:
        return _fail(str(e))
    if not videos:
        return _fail(f'no videos found in {args.videos}')
    backbone.to(device).eval()
    mean, std, to_rgb = normalization_from_config(cfg)
    opts = dict(mode=args.feature, layers=layers, clip_len=clip_len,
                frame_interval=args.frame_interval, stride=args.stride,
                input_size=input_size, short_side=args.short_side,
                crop=args.crop, mean=mean, std=std, to_rgb=to_rgb,
                batch_size=args.batch_size, amp=args.amp,
                decode_threads=args.decode_threads)
    settings = OrderedDict(config=osp.abspath(args.config),
                           checkpoint=loaded)
    settings.update(feature_settings(backbone, **opts))

    os.makedirs(args.out_dir, exist_ok=True)
    extracted, existing = 0, 0
    skipped: List[Tuple[str, str]] = []
    progress = _Progress(len(videos))
    try:
        for path, key in videos:
            out_npy = osp.join(args.out_dir, key + '.npy')
            if args.skip_existing and osp.isfile(out_npy):
                existing += 1
            else:
                try:
                    save_video_features(backbone, path, out_npy, settings,
                                        on_batch=progress.windows, **opts)
                    extracted += 1
                except VideoDecodeError as e:
                    skipped.append((path, str(e)))
                    progress.write('[extract_features] WARNING: skipped '
                                   f'{path}: {e}')
            progress.step(key)
    finally:
        progress.bar.close()

    skipped_path = osp.join(args.out_dir, SKIPPED_FILE)
    if skipped:
        with open(skipped_path, 'w') as f:
            f.writelines(f'{path}\t{why}\n' for path, why in skipped)
    else:
        with contextlib.suppress(OSError):
            os.remove(skipped_path)  # stale list from an earlier run
    line = f'extracted {extracted}, skipped {len(skipped)}'
    if skipped:
        line += f' (listed in {skipped_path})'
    if existing:
        line += f', {existing} already done'
    print(line, flush=True)
    return 0 if extracted + existing > 0 else 1


if __name__ == '__main__':
    sys.exit(main())
