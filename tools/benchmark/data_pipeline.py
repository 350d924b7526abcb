# Copyright (c) mmmae contributors. All rights reserved.
"""Clips per second of video training pipelines: MMAction2's vs ours.

Generates realistic test videos (a textured background panning, three
moving discs; H.264 ``libx264`` crf 23, 30 fps, keyframe every 250 frames,
B-frames; 10 s) at 320x240 and 1280x720 into a temp dir (or ``--video-dir``,
reused when present), then times, in one process:

- ``mma-decord``: MMAction2's default decord training pipeline (its
  VideoMAE / ViT K400 fine-tune configs): DecordInit, SampleFrames(16, 4, 1),
  DecordDecode, Resize(-1, 256), RandomResizedCrop, Resize(224, 224,
  keep_ratio=False), Flip(0.5), FormatShape NCTHW, PackActionInputs;
- ``mma-pyav`` / ``mma-opencv``: the same with PyAVInit/PyAVDecode and
  OpenCVInit/OpenCVDecode;
- ``ours``: the VideoMAE pretraining pipeline of
  ``configs/_base_/datasets/kinetics400_videomae-pretrain.py`` as is, read
  from the file (VideoInit with the keyframe-seeking PyAV reader,
  SampleFrames 16x4, VideoDecode, MultiScaleCrop, Resize 224, FormatShape,
  TubeMaskGenerator 0.9, PackActionInputs); ``ours-rep2``: the same
  with ``num_repeats=2`` (one decode, two augmented clips);
- ``ours-ft`` / ``ours-ft-rep2``: the training pipeline of the K400
  fine-tuning base config (PyAV reader, the official RandAugment + random
  erasing recipe, heavier than MMAction2's), alone and with the
  ``num_repeats=2`` of the ``-rep2-`` fine-tuning recipes;
- ``ours+fast``: the same with :class:`VideoInit`/:class:`VideoDecode`
  (decord on the path, 1 thread) and the fused
  :class:`MultiScaleCropResize`; ``ours+fast-t0``: decord with
  ``num_threads=0`` (auto); ``ours+fast-pyav``: the keyframe-seeking PyAV
  reader; ``ours+fast-rep2/4``: repeated sampling (``num_repeats``, one
  decode, 2/4 clips delivered); ``ours+fast-pyav-rep4``: both;
- ``ours-devaug`` / ``ours-devaug-rep2``: the pretraining recipe with
  augmentation on the device
  (``videomae_vit-base-p16_64xb32-devaug-800e_kinetics400.py``): the
  workers decode, draw the crop and the mask, and pack the uint8 frames;
  the crop, resize and normalisation run in the data preprocessor (timed
  separately, on 1 CPU thread, as what moved to the GPU);
- ``ours+cache`` / ``ours+cache-rep4``: the pre-decoded ``.npy`` frame
  cache (``--cache-short-side``, never upscaled; built once, untimed).
- ``ours-noguard`` / ``ours+fast-noguard``: ``ours`` / ``ours+fast`` with
  ``load_timeout=None``. Every other ``ours*`` variant runs with the
  dataset's default guarded loading (the loading stage in a killable helper
  process); the summary prints what the default costs against these.

Timing: variants alternate in rounds; before each variant's samples the
RNGs are re-seeded with the round's seed, so every variant reads the same
clip offsets. The main numbers are **CPU time** of the process (all its
threads, ``time.process_time``) plus that of its guarded-loading helper
process (which reports its own ``time.process_time``), which a shared
machine distorts less than wall time; wall time is printed too. Clips/s
counts *clips delivered*: a sample of a ``num_repeats=4`` dataset is 4
clips.

Peak memory: each variant runs a few samples in a fresh subprocess, which
reports its peak RSS (``ru_maxrss``) and the peak above the RSS after
imports and dataset construction.

Per stage: ``--stage-variants`` also run in process with every transform
timed, giving CPU ms per clip for read (container open), decode (sampling,
demux, decode), augment, convert (layout, tensors) and collate, and the
MiB of frames a worker ships per clip. The clips ``ours-devaug`` decoded
are then decoded once more with a bare PyAV loop that does only what any
frame-exact reader must (every reference frame from the keyframe to the
last wanted frame, the wanted ones; packets demuxed beforehand, no RGB
conversion): that floor bounds the ratio any reader of these files can
reach against ``mma-decord``.

DataLoader: the main variants also run through one real
``torch.utils.data.DataLoader`` (2 workers, batch 8 clips, persistent
workers, prefetch 2), wall clock after a warm-up batch. On a shared 2-core
machine this is noisy and bounded by the cores, not the pipeline.

Usage::

    python tools/benchmark/data_pipeline.py            # everything
    python tools/benchmark/data_pipeline.py --res 240 --rounds 5 --json o.json
    python tools/benchmark/data_pipeline.py --no-memory --no-loader
"""
import argparse
import gc
import json
import os
import os.path as osp
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

import numpy as np

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

RESOLUTIONS = {'240': (320, 240), '720': (1280, 720)}
BASELINE = 'mma-decord'
# the pretraining recipe with the crop and resize on the device
DEVAUG_CFG = 'configs/videomae/videomae_vit-base-p16_64xb32-devaug-800e_' \
    'kinetics400.py'
# transform name (last part) -> stage of the per-stage CPU breakdown
STAGES = ('read', 'decode', 'augment', 'convert', 'collate')
_STAGE_OF = dict(
    VideoInit='read', DecordInit='read', PyAVInit='read',
    OpenCVInit='read', FrameCacheInit='read', SampleFrames='decode',
    VideoDecode='decode', DecordDecode='decode', PyAVDecode='decode',
    OpenCVDecode='decode', FormatShape='convert',
    PackActionInputs='convert', PackLazyActionInputs='convert')


# ---------------------------------------------------------------- videos
def make_video(path: str,
               width: int,
               height: int,
               seconds: float = 10,
               fps: int = 30,
               gop: int = 250,
               seed: int = 0) -> str:
    """Write a realistic H.264 test video with PyAV (libx264).

    Content: a blurred random texture panning right and bobbing, with three
    coloured discs moving on their own paths, so that motion compensation
    has real work and the bitrate is typical (about 0.5 Mbit/s at 320x240,
    2.6 Mbit/s at 720p with crf 23).
    """
    import av
    import cv2
    rng = np.random.default_rng(seed)
    tex_h, tex_w = height // 4 + 64, width // 4 + 64
    tex = rng.integers(0, 256, (tex_h, tex_w, 3), dtype=np.uint8)
    tex = cv2.resize(tex, (tex_w * 4, tex_h * 4),
                     interpolation=cv2.INTER_CUBIC)
    tex = cv2.GaussianBlur(tex, (0, 0), 1.5)
    container = av.open(path, 'w')
    stream = container.add_stream('libx264', rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, 'yuv420p'
    stream.gop_size = gop
    stream.options = {
        'crf': '23',
        'preset': 'veryfast',
        'keyint_min': str(gop),
        'sc_threshold': '0'
    }
    for t in range(int(seconds * fps)):
        dx = int(t * 1.5) % 240
        dy = int(40 + 30 * np.sin(t / 20))
        img = tex[dy:dy + height, dx:dx + width].copy()
        for k in range(3):
            cx = int(width / 2 + width / 3 * np.sin(t / 15 + 2 * k))
            cy = int(height / 2 + height / 3 * np.cos(t / 11 + k))
            color = tuple(255 * int(k == c) for c in range(3))
            cv2.circle(img, (cx, cy), height // 8, color, -1)
        frame = av.VideoFrame.from_ndarray(img, format='rgb24')
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def prepare_videos(video_dir: str, res: str, num: int,
                   gop: int = 250) -> str:
    """Write ``num`` videos of resolution ``res`` (a keyframe every
    ``gop`` frames) and an annotation list."""
    w, h = RESOLUTIONS[res]
    names = []
    tag = res if gop == 250 else f'{res}_gop{gop}'
    for i in range(num):
        name = f'bench_{tag}_{i}.mp4'
        path = osp.join(video_dir, name)
        if not osp.isfile(path):
            make_video(path, w, h, seed=i, gop=gop)
        names.append(f'{name} 0')
    ann = osp.join(video_dir, f'ann_{tag}.txt')
    with open(ann, 'w') as f:
        f.write('\n'.join(names) + '\n')
    return ann


# -------------------------------------------------------------- pipelines
def mma_pipeline(init: dict, decode: dict) -> List[dict]:
    """MMAction2's ViT/VideoMAE K400 fine-tune training pipeline."""
    return [
        init,
        dict(
            type='mmaction.SampleFrames',
            clip_len=16,
            frame_interval=4,
            num_clips=1),
        decode,
        dict(type='mmaction.Resize', scale=(-1, 256)),
        dict(type='mmaction.RandomResizedCrop'),
        dict(type='mmaction.Resize', scale=(224, 224), keep_ratio=False),
        dict(type='mmaction.Flip', flip_ratio=0.5),
        dict(type='mmaction.FormatShape', input_format='NCTHW'),
        dict(type='mmaction.PackActionInputs'),
    ]


def ours_pipeline(fast: bool, init: dict = None) -> List[dict]:
    """The VideoMAE pretraining pipeline (config), or its fast version."""
    if not fast:
        return config_pipeline()
    sample = dict(
        type='mmaction.SampleFrames', clip_len=16, frame_interval=4,
        num_clips=1)
    crop = dict(
        input_size=224,
        scales=(1, .875, .75, .66),
        random_crop=False,
        max_wh_scale_gap=1,
        num_fixed_crops=13)
    tail = [
        dict(type='mmaction.FormatShape', input_format='NCTHW'),
        dict(
            type='mmmae.TubeMaskGenerator',
            input_size=(8, 14, 14),
            mask_ratio=0.9),
        dict(type='mmaction.PackActionInputs', algorithm_keys=('mask', )),
    ]
    init = init or dict(type='mmmae.VideoInit', num_threads=1)
    return [
        init, sample,
        dict(type='mmmae.VideoDecode'),
        dict(type='mmmae.MultiScaleCropResize', **crop)
    ] + tail


def config_pipeline(name: str = 'kinetics400_videomae-pretrain.py',
                    scope: str = 'mmmae') -> List[dict]:
    """``train_pipeline`` of a K400 config, read from the file so that
    ``ours`` always times what the configs use.

    Args:
        name (str): file in ``configs/_base_/datasets``, or a path relative
            to the repository.
        scope (str): the default scope of the configs that use it (the
            pretraining ones: mmmae; the fine-tuning ones: mmaction).
    """
    from mmengine.config import Config
    path = osp.join(_REPO, name)
    if not osp.isfile(path):
        path = osp.join(_REPO, 'configs', '_base_', 'datasets', name)
    cfg = Config.fromfile(path)
    pipeline = cfg.get('train_pipeline') or \
        cfg.train_dataloader.dataset.pipeline
    return [
        dict(t, type=t['type'] if '.' in t['type'] else f'{scope}.{t["type"]}')
        for t in pipeline
    ]


def variant_specs(ann: str, root: str, cache_ann: str,
                  cache_root: str) -> Dict[str, dict]:
    """name -> dataset config."""
    mma = dict(type='mmaction.VideoDataset', ann_file=ann,
               data_prefix=dict(video=root))
    ours = dict(type='mmmae.VideoMAEDataset', ann_file=ann,
                data_prefix=dict(video=root))
    cache = dict(type='mmmae.VideoMAEDataset', ann_file=cache_ann,
                 data_prefix=dict(video=cache_root))
    fc = dict(type='mmmae.FrameCacheInit')
    specs = {
        'mma-decord':
        dict(mma, pipeline=mma_pipeline(
            dict(type='mmaction.DecordInit'),
            dict(type='mmaction.DecordDecode'))),
        'mma-pyav':
        dict(mma, pipeline=mma_pipeline(
            dict(type='mmaction.PyAVInit'),
            dict(type='mmaction.PyAVDecode'))),
        'mma-opencv':
        dict(mma, pipeline=mma_pipeline(
            dict(type='mmaction.OpenCVInit'),
            dict(type='mmaction.OpenCVDecode'))),
        'ours':
        dict(ours, pipeline=ours_pipeline(False)),
        'ours-rep2':
        dict(ours, pipeline=ours_pipeline(False), num_repeats=2),
        'ours-ft':
        dict(ours, pipeline=config_pipeline(
            'kinetics400_videomae-finetune.py', 'mmaction')),
        'ours-ft-rep2':
        dict(ours, pipeline=config_pipeline(
            'kinetics400_videomae-finetune.py', 'mmaction'), num_repeats=2),
        'ours+fast':
        dict(ours, pipeline=ours_pipeline(True)),
        'ours+fast-t0':
        dict(ours, pipeline=ours_pipeline(
            True, dict(type='mmmae.VideoInit', num_threads=0))),
        'ours+fast-pyav':
        dict(ours, pipeline=ours_pipeline(
            True, dict(type='mmmae.VideoInit', backend='pyav'))),
        'ours+fast-rep2':
        dict(ours, pipeline=ours_pipeline(True), num_repeats=2),
        'ours+fast-rep4':
        dict(ours, pipeline=ours_pipeline(True), num_repeats=4),
        'ours+fast-pyav-rep4':
        dict(ours, pipeline=ours_pipeline(
            True, dict(type='mmmae.VideoInit', backend='pyav')),
            num_repeats=4),
        'ours+cache':
        dict(cache, pipeline=ours_pipeline(True, fc)),
        'ours+cache-rep4':
        dict(cache, pipeline=ours_pipeline(True, fc), num_repeats=4),
        'ours-devaug':
        dict(ours, pipeline=config_pipeline(DEVAUG_CFG)),
        'ours-devaug-rep2':
        dict(ours, pipeline=config_pipeline(DEVAUG_CFG), num_repeats=2),
        'ours-noguard':
        dict(ours, pipeline=ours_pipeline(False), load_timeout=None),
        'ours+fast-noguard':
        dict(ours, pipeline=ours_pipeline(True), load_timeout=None),
    }
    return specs


def build(cfg: dict):
    import mmmae  # noqa: F401  (registers mmmae.* and applies compat)
    from mmengine.registry import DATASETS
    return DATASETS.build(dict(cfg))


def clips_of(sample) -> int:
    return len(sample) if isinstance(sample, list) else 1


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)


def run_samples(ds, num: int, seed: int) -> int:
    """Run ``num`` samples with re-seeded RNGs; return clips delivered."""
    seed_all(seed)
    clips = 0
    for i in range(num):
        clips += clips_of(ds[i % len(ds)])
    return clips


def helper_cpu(ds) -> float:
    """CPU seconds used so far by the guarded-loading helper process of
    ``ds`` (0 without one): ``time.process_time`` does not see it."""
    guard = getattr(ds, '_guard', None)
    return 0.0 if guard is None else guard.cpu_time()


def _vm_hwm() -> int:
    """Peak RSS in bytes since the last reset (``/proc/self/status``)."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ----------------------------------------------------------------- modes
def time_variants(datasets: Dict[str, object], rounds: int,
                  per_round: int) -> Dict[str, dict]:
    stats = {n: dict(cpu=0.0, wall=0.0, clips=0) for n in datasets}
    for name, ds in datasets.items():  # warm-up: imports, first opens
        run_samples(ds, 1, 0)
    for r in range(rounds):
        for name, ds in datasets.items():
            gc.collect()
            c0, w0 = time.process_time(), time.perf_counter()
            h0 = helper_cpu(ds)
            clips = run_samples(ds, per_round, 1000 + r)
            stats[name]['cpu'] += (time.process_time() - c0 +
                                   helper_cpu(ds) - h0)
            stats[name]['wall'] += time.perf_counter() - w0
            stats[name]['clips'] += clips
    for s in stats.values():
        s['clips_per_s_cpu'] = s['clips'] / s['cpu']
        s['cpu_ms_per_clip'] = 1e3 * s['cpu'] / s['clips']
        s['wall_ms_per_clip'] = 1e3 * s['wall'] / s['clips']
    return stats


class _Timed:
    """A pipeline transform that adds its CPU time to a stage (and, given
    ``records``, notes which frames of which file a decode step read)."""

    def __init__(self, transform, stage: str, acc: Dict[str, float],
                 records: Optional[list] = None):
        self.transform, self.stage, self.acc = transform, stage, acc
        self.records = records

    def __call__(self, results):
        c0 = time.process_time()
        out = self.transform(results)
        self.acc[self.stage] += time.process_time() - c0
        if self.records is not None and out.get('imgs') is not None:
            self.records.append(
                (out['filename'], np.asarray(out['frame_inds']).copy()))
        return out


def stage_breakdown(spec: dict,
                    samples: int,
                    batch: int = 8,
                    records: Optional[list] = None) -> dict:
    """CPU ms per delivered clip in each stage of one variant, in process
    (``load_timeout=None``: the loading stage runs here, not in a helper).

    Stages: read (container open), decode (sampling, demux and decode),
    augment (crops, resize, flip, masks, RandAugment), convert
    (``FormatShape``, packing to tensors) and collate (``pseudo_collate``
    of ``batch`` clips, what the DataLoader worker does last).
    ``records`` (a list) receives ``(file, frame_inds)`` of every decode.
    Also ``shipped_mb``: MiB of packed frames per clip.
    """
    if spec['type'].startswith('mmmae.'):
        spec = dict(spec, load_timeout=None)
    ds = build(spec)
    acc = {k: 0.0 for k in STAGES}
    ds.pipeline.transforms = [
        _Timed(t, _STAGE_OF.get(type(t).__name__, 'augment'), acc,
               records if type(t).__name__ == 'VideoDecode' else None)
        for t in ds.pipeline.transforms
    ]
    run_samples(ds, 1, 0)  # warm-up
    for k in acc:
        acc[k] = 0.0
    if records is not None:
        records.clear()
    seed_all(7)
    packed = []
    for i in range(samples):
        out = ds[i % len(ds)]
        packed.extend(out if isinstance(out, list) else [out])
    clips = len(packed)
    for i in range(0, clips, batch):
        c0 = time.process_time()
        flat_collate(packed[i:i + batch])
        acc['collate'] += time.process_time() - c0
    out = {k: 1e3 * v / clips for k, v in acc.items()}
    # what a worker hands on per clip (shared memory, then host to device)
    out['shipped_mb'] = sum(p['inputs'].numel() * p['inputs'].element_size()
                            for p in packed) / clips / 2**20
    return out


def decode_floor(records: list) -> Dict[str, float]:
    """Lower bounds, CPU ms per decoded clip, of what any frame-exact reader
    of these clips spends: opening the container (as FFmpeg opens it,
    stream probing included), and decoding every
    reference frame from the keyframe before each clip up to its last
    wanted frame plus the wanted frames themselves (non-reference frames
    that are not wanted are skipped). The packets are demuxed beforehand
    (untimed) and nothing is converted to RGB.

    Args:
        records (list): ``(file, frame_inds)`` of the clips.
    """
    import av

    from mmmae.datasets.transforms.video_decode import PyAVSeekReader
    open_s = decode_s = 0.0
    for path, inds in records:
        index = PyAVSeekReader(path)  # presentation order and keyframes
        want = set(index._pts[np.unique(inds)].tolist())
        keys = {index._keyframe_before(p) for p in want}
        index.close()
        c0 = time.process_time()
        container = av.open(path)
        stream = container.streams.video[0]
        open_s += time.process_time() - c0
        stream.thread_count = 1
        packets = [p for p in container.demux(stream) if p.size]
        ctx = stream.codec_context
        # one pass per keyframe the clip needs, as a seeking reader makes
        for key in sorted(keys):
            first = next(i for i, p in enumerate(packets) if p.pts == key)
            todo = {p for p in want if index._keyframe_before(p) == key}
            run = []
            for p in packets[first:]:
                run.append((p, p.pts not in todo))
                todo.discard(p.pts)
                if not todo:
                    break
            c0 = time.process_time()
            ctx.flush_buffers()
            for packet, skip in run:
                ctx.skip_frame = 'NONREF' if skip else 'DEFAULT'
                ctx.decode(packet)
            ctx.decode(None)
            decode_s += time.process_time() - c0
        container.close()
    n = len(records)
    return dict(open=1e3 * open_s / n, decode=1e3 * decode_s / n)


def fmt_floor(floor: Dict[str, float], stages: Dict[str, dict]) -> str:
    """The floor, and the most any exact reader could gain on these files
    against the baseline's per-stage total."""
    base = stages.get(BASELINE)
    cost = floor['open'] + floor['decode']
    line = (f'\nexact-decode floor on the same clips (container open '
            f'{floor["open"]:.1f} + decode {floor["decode"]:.1f} ms, no '
            'conversion, no augmentation): ')
    if not base:
        return line + f'{cost:.1f} ms per decoded clip'
    total = sum(base[k] for k in STAGES)
    return line + (f'{cost:.1f} ms per decoded clip, so at most '
                   f'{total / cost:.2f}x against {BASELINE} ({total:.1f} ms) '
                   f'with one clip per decode, {2 * total / cost:.2f}x with '
                   'two (num_repeats=2)')


def device_side_cpu_ms(ds, batch: int = 8) -> float:
    """CPU ms per clip of what the device-augment recipe leaves to the
    data preprocessor (crop, resize, normalise), were it run on this CPU
    (1 thread): the work that moved off the workers."""
    from mmengine.dataset import pseudo_collate

    from mmmae.models import VideoMAEDataPreprocessor
    seed_all(7)
    samples = []
    while len(samples) < batch:
        out = ds[len(samples) % len(ds)]
        samples.extend(out if isinstance(out, list) else [out])
    data = pseudo_collate(samples[:batch])
    pre = VideoMAEDataPreprocessor()
    pre(data)  # warm-up
    c0 = time.process_time()
    pre(data)
    return 1e3 * (time.process_time() - c0) / batch


def fmt_stages(stages: Dict[str, dict]) -> str:
    base = stages.get(BASELINE)
    lines = ['\nCPU ms per delivered clip by stage (in process, '
             'load_timeout=None):\n',
             '| variant | ' + ' | '.join(STAGES) +
             ' | total | vs mma-decord | shipped MiB/clip |',
             '|---' * (len(STAGES) + 4) + '|']
    for name, st in stages.items():
        total = sum(st[k] for k in STAGES)
        ratio = (f'{sum(base[k] for k in STAGES) / total:.2f}x'
                 if base else '-')
        lines.append(f'| {name} | ' + ' | '.join(
            f'{st[k]:.1f}' for k in STAGES) +
            f' | {total:.1f} | {ratio} | {st["shipped_mb"]:.2f} |')
    return '\n'.join(lines)


def memory_of(name: str, paths: list, samples: int) -> dict:
    """Peak RSS of ``samples`` samples of one variant, in a subprocess."""
    cmd = [
        sys.executable,
        osp.abspath(__file__), '--mem-child',
        json.dumps(dict(name=name, paths=paths, samples=samples))
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return dict(error=out.stderr.strip().splitlines()[-1:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def mem_child(arg: str) -> None:
    import cv2

    from mmmae.utils.benchmark import rss_bytes
    cv2.setNumThreads(1)
    spec = json.loads(arg)
    ds = build(variant_specs(*spec['paths'])[spec['name']])
    run_samples(ds, 1, 0)  # first-use allocations (codec tables, ...)
    gc.collect()
    base = rss_bytes()
    # Linux: writing 5 to clear_refs resets the peak RSS (VmHWM), so the
    # peak of the imports does not hide the peak of the samples
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    run_samples(ds, spec['samples'], 0)
    peak = _vm_hwm()
    print(json.dumps(dict(peak_rss_mib=peak / 2**20,
                          peak_above_base_mib=(peak - base) / 2**20)))


def flat_collate(batch):
    from mmengine.dataset import pseudo_collate
    flat = []
    for s in batch:
        flat.extend(s if isinstance(s, list) else [s])
    return pseudo_collate(flat)


def loader_rate(ds, clips_per_batch: int, batches: int, workers: int,
                seed: int) -> dict:
    """Wall-clock clips/s of a real DataLoader, after one warm-up batch."""
    import torch
    from torch.utils.data import DataLoader, RandomSampler
    reps = getattr(ds, 'num_repeats', 1)
    gen = torch.Generator().manual_seed(seed)
    loader = DataLoader(
        ds,
        batch_size=max(1, clips_per_batch // reps),
        sampler=RandomSampler(
            ds, replacement=True, num_samples=10**6, generator=gen),
        num_workers=workers,
        persistent_workers=workers > 0,
        prefetch_factor=2 if workers > 0 else None,
        collate_fn=flat_collate,
        worker_init_fn=_worker_init)
    it = iter(loader)
    next(it)
    t0 = time.perf_counter()
    clips = 0
    for _ in range(batches):
        clips += len(next(it)['inputs'])
    wall = time.perf_counter() - t0
    del it, loader
    return dict(clips=clips, wall=wall, clips_per_s_wall=clips / wall)


def _worker_init(worker_id: int) -> None:
    import cv2
    cv2.setNumThreads(1)
    seed_all(1234 + worker_id)


# ------------------------------------------------------------------ main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--res', nargs='+', default=['240', '720'],
                   choices=sorted(RESOLUTIONS))
    p.add_argument('--video-dir', help='folder of the test videos (created, '
                   'reused); default: a temp dir')
    p.add_argument('--num-videos', type=int, default=2)
    p.add_argument('--gop', type=int, default=250,
                   help='keyframe interval of the test videos (250: x264 '
                   'and ffmpeg default; re-encoding a dataset with a short '
                   'one cuts the frames decoded before each clip)')
    p.add_argument('--variants', nargs='+', help='subset of variants')
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--per-round', type=int, nargs=2, default=[4, 2],
                   metavar=('N240', 'N720'),
                   help='samples per variant per round at 240p and 720p')
    p.add_argument('--cache-short-side', type=int, default=256)
    p.add_argument('--no-memory', action='store_true')
    p.add_argument('--mem-samples', type=int, default=3)
    p.add_argument('--no-loader', action='store_true')
    p.add_argument('--loader-variants', nargs='+', default=[
        'mma-decord', 'ours', 'ours+fast', 'ours+fast-rep4',
        'ours+cache-rep4', 'ours-devaug', 'ours-devaug-rep2'
    ])
    p.add_argument('--loader-batches', type=int, default=6)
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--stage-variants', nargs='+', default=[
        'mma-decord', 'ours', 'ours-rep2', 'ours-devaug', 'ours-devaug-rep2'
    ], help='variants of the per-stage CPU breakdown')
    p.add_argument('--stage-samples', type=int, default=8,
                   help='samples per variant in the breakdown')
    p.add_argument('--no-stages', action='store_true')
    p.add_argument('--json', help='write all results to this file')
    p.add_argument('--mem-child', help=argparse.SUPPRESS)
    return p.parse_args(argv)


def fmt_table(res: str, stats: dict, mem: dict, loader: dict) -> str:
    base = stats.get(BASELINE)
    lines = [
        f'\n### {RESOLUTIONS[res][0]}x{RESOLUTIONS[res][1]}\n',
        '| variant | clips/s (CPU) | vs mma-decord | CPU ms/clip | '
        'wall ms/clip | peak RSS MiB (above base) | DataLoader clips/s '
        '(wall) |', '|---|---|---|---|---|---|---|'
    ]
    for name, s in stats.items():
        ratio = (f'{s["clips_per_s_cpu"] / base["clips_per_s_cpu"]:.2f}x'
                 if base else '-')
        m = mem.get(name, {})
        mtxt = (f'{m["peak_rss_mib"]:.0f} ({m["peak_above_base_mib"]:.0f})'
                if 'peak_rss_mib' in m else m.get('error', '-'))
        ld = loader.get(name)
        ltxt = f'{ld["clips_per_s_wall"]:.1f}' if ld else '-'
        lines.append(f'| {name} | {s["clips_per_s_cpu"]:.2f} | {ratio} | '
                     f'{s["cpu_ms_per_clip"]:.1f} | '
                     f'{s["wall_ms_per_clip"]:.1f} | {mtxt} | {ltxt} |')
    return '\n'.join(lines)


def guard_summary(stats: dict) -> str:
    """What the default guarded loading costs, in clips/s (CPU)."""
    lines = []
    for guarded in ('ours', 'ours+fast'):
        plain = stats.get(f'{guarded}-noguard')
        if plain and guarded in stats:
            ratio = (stats[guarded]['clips_per_s_cpu'] /
                     plain['clips_per_s_cpu'])
            extra_ms = (stats[guarded]['cpu_ms_per_clip'] -
                        plain['cpu_ms_per_clip'])
            lines.append(
                f'guarded loading (default) vs load_timeout=None, '
                f'{guarded}: {100 * (ratio - 1):+.1f}% clips/s (CPU), '
                f'{extra_ms:+.1f} ms CPU per clip')
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.mem_child:
        mem_child(args.mem_child)
        return 0
    import cv2
    import torch
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    from mmmae.datasets.frame_cache import cache_dataset

    tmp = None
    video_dir = args.video_dir
    if video_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix='mmmae_bench_')
        video_dir = tmp.name
    os.makedirs(video_dir, exist_ok=True)
    results = dict(
        machine=platform.processor() or platform.machine(),
        cpus=os.cpu_count(),
        date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
        argv=sys.argv[1:],
        torch_threads=1,
        cv2_threads=1,
        res={})
    for ri, res in enumerate(args.res):
        t0 = time.perf_counter()
        ann = prepare_videos(video_dir, res, args.num_videos, args.gop)
        gen_s = time.perf_counter() - t0
        cache_root = osp.join(
            video_dir, f'cache_{res}_g{args.gop}_{args.cache_short_side}')
        t0 = time.perf_counter()
        cache_ann, failed = cache_dataset(
            ann, video_dir, cache_root, short_side=args.cache_short_side)
        cache_s = time.perf_counter() - t0
        assert not failed, failed
        specs = variant_specs(ann, video_dir, cache_ann, cache_root)
        if args.variants:
            specs = {k: v for k, v in specs.items()
                     if k in args.variants or k == BASELINE}
        datasets = {k: build(v) for k, v in specs.items()}
        per_round = args.per_round[0 if res == '240' else 1]
        print(f'[{res}] {args.num_videos} videos ready ({gen_s:.1f} s), '
              f'cache built ({cache_s:.1f} s); timing {len(datasets)} '
              f'variants x {args.rounds} rounds x {per_round} samples',
              flush=True)
        stats = time_variants(datasets, args.rounds, per_round)
        mem = {}
        if not args.no_memory:
            paths = [ann, video_dir, cache_ann, cache_root]
            for name in specs:
                mem[name] = memory_of(name, paths, args.mem_samples)
        loader = {}
        if not args.no_loader:
            for name in args.loader_variants:
                if name in datasets:
                    loader[name] = loader_rate(datasets[name], 8,
                                               args.loader_batches,
                                               args.workers, 0)
        stages, device_ms, floor = {}, None, None
        if not args.no_stages:
            records = []
            for name in args.stage_variants:
                if name in specs:
                    stages[name] = stage_breakdown(
                        specs[name], args.stage_samples,
                        records=records if name == 'ours-devaug' else None)
            if records:
                floor = decode_floor(records)
            if 'ours-devaug' in datasets:
                device_ms = device_side_cpu_ms(datasets['ours-devaug'])
        results['res'][res] = dict(
            stats=stats, memory=mem, loader=loader, stages=stages,
            devaug_preprocessor_cpu_ms=device_ms, decode_floor=floor,
            cache_build_s=cache_s, videos=args.num_videos)
        print(fmt_table(res, stats, mem, loader), flush=True)
        print(guard_summary(stats), flush=True)
        if stages:
            print(fmt_stages(stages), flush=True)
        if floor:
            print(fmt_floor(floor, stages), flush=True)
        if device_ms is not None:
            print(f'ours-devaug leaves {device_ms:.1f} ms per clip (crop, '
                  'resize, normalise of a batch of 8 on 1 CPU thread) to '
                  'the data preprocessor: on the GPU in a GPU run',
                  flush=True)
    print(f'\nmachine: {results["machine"]}, {results["cpus"]} CPUs; '
          f'{results["date"]}; torch/cv2 threads 1 in the main process')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == '__main__':
    sys.exit(main())
