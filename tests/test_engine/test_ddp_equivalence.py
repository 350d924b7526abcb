# Copyright (c) mmmae contributors. All rights reserved.
"""2-process DDP on CPU (gloo) follows the 1-process loss trajectory.

The tiny VideoMAE demo config is trained for 6 iterations twice, from the
same seed: (a) ``tools/train.py`` with one process and 4 clips per batch,
(b) ``tools/dist_train.sh CONFIG 2`` (gloo) with 2 clips per process. The
global batches then hold the same samples and DDP averages the gradients
over the ranks, so both runs take the same optimizer steps up to float
summation order. The per-iteration global losses must therefore agree to
``RTOL`` (relative). What has to be identical, and how it is made so:

- **Samples of global batch k.** ``DefaultSampler(shuffle=True)`` draws
  one permutation per epoch from the shared seed and gives rank ``r`` the
  indices ``perm[r::world_size]``, so batch k of run (b), both ranks
  together, is the set of batch k of run (a). Checked from the
  ``sample_idx`` every rank records.
- **Augmentation and masks.** The data pipeline draws from the numpy
  global RNG of the process (or worker), which is seeded from the seed and,
  in effect, from which samples that process has already drawn, so a given
  clip gets a different mask in the two runs. Here the clip offset is
  deterministic (``SampleFrames(test_mode=True)``, no random crop) and the
  tube mask is drawn by the real :class:`TubeMaskGenerator` after seeding
  numpy with ``(seed, sample_idx)`` (:class:`IndexSeededTubeMask` below),
  so it is a function of the sample only. ``num_workers=0``.
- **Initial weights.** Same seed, same init (DDP also broadcasts rank 0's
  weights); iteration 0's loss is the first point compared. The ViT has
  no BatchNorm (nothing to sync) and no dropout/drop-path in pretraining.
- **Loss normalisation.** The VideoMAE loss is the mean over the masked
  tokens of the batch. DDP averages the per-rank gradients, i.e. the
  gradient of the mean of the per-rank losses, which equals the global
  mean over the 4 clips only because every clip has the same number of
  masked tokens (tube masking: ``T' * int(ratio * H' * W')``). With
  per-sample token counts that differ (e.g. a variable mask ratio) the
  two runs would optimise different weightings.

MMEngine's logger does not all-reduce ``log_vars``: the 2-process run's
json log holds rank 0's loss over its half of the batch. A small hook
(:class:`RecordLossHook`) therefore records every rank's loss with full
precision; the global loss of run (b) is the mean over ranks, compared with
the loss run (a) logs. Rank 0's record is also checked against its own
json scalars, tying the comparison to what MMEngine logs.

Why ``RTOL = 1e-5``: the forward pass of one clip is the same computation
in both runs (ViT ops are per-sample; the batch size changes only how
matmuls are blocked), the per-rank gradient sums are added by gloo's
all-reduce instead of inside one backward pass, and AdamW then divides by
``sqrt(v)``. Those reorderings give float32 rounding differences of order
1e-7 relative (float32's epsilon) that grow slowly over the steps
(measured: at most 1.6e-7 over the 6 iterations); the bound leaves room
for other BLAS builds and thread counts. A wrong sample set, mask, init or
gradient scaling changes the loss by percents (the loss itself moves 5%
over the run).
"""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from mmcv.transforms import BaseTransform
from mmengine.hooks import Hook

from mmmae.datasets.transforms.masking import TubeMaskGenerator
from mmmae.registry import HOOKS, TRANSFORMS

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CFG = osp.join(REPO_ROOT, 'configs', 'videomae',
                    'videomae_vit-tiny-p8_1xb8-30e_moving-digits.py')
THIS_DIR = osp.dirname(osp.abspath(__file__))
MODULE = osp.splitext(osp.basename(__file__))[0]

SEED = 0
NUM_CLIPS = 8
PER_RANK_BATCH = 2
WORLD_SIZE = 2
MAX_EPOCHS = 3  # 8 clips / 4 per global batch = 2 iterations per epoch
RTOL = 1e-5
RECORD = 'losses_rank{}.jsonl'

# --------------------------------------------------------------------------
# helpers imported by the training subprocesses (``custom_imports``)
# --------------------------------------------------------------------------


# force=True: pytest and the subprocesses may import this module under
# different names, and a second registration must not fail.
@TRANSFORMS.register_module(force=True)
class IndexSeededTubeMask(BaseTransform):
    """A :class:`TubeMaskGenerator` mask that depends on the sample only.

    numpy's global RNG is seeded with ``(seed, results['sample_idx'])`` for
    the draw and restored afterwards, so the mask of a sample is the same
    whichever process, rank or worker loads it, and the rest of the
    pipeline's randomness is left as it was.

    Args:
        input_size (Sequence[int]): token grid ``(T', H', W')``.
        mask_ratio (float): tube masking ratio.
        seed (int): the run's seed.
    """

    def __init__(self, input_size, mask_ratio, seed=0):
        self.generator = TubeMaskGenerator(input_size, mask_ratio)
        self.seed = int(seed)

    def transform(self, results):
        """Add ``results['mask']``, ``(N,)`` bool."""
        state = np.random.get_state()
        try:
            np.random.seed([self.seed, int(results['sample_idx'])])
            results['mask'] = self.generator.generate()
        finally:
            np.random.set_state(state)
        return results


@HOOKS.register_module(force=True)
class RecordLossHook(Hook):
    """Append ``{iter, loss, sample_idx}`` per iteration, on every rank.

    Written to ``work_dir/losses_rank{rank}.jsonl``, with the loss as a
    full-precision float (the logger keeps only rank 0's value).
    """

    priority = 'VERY_LOW'

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        """Record the iteration's loss and the sample indices it used."""
        from mmengine.dist import get_rank
        record = dict(
            iter=runner.iter + 1,  # 1-based, as in the json log
            loss=float(outputs['loss']),
            sample_idx=[
                int(s.metainfo['sample_idx'])
                for s in data_batch['data_samples']
            ])
        path = osp.join(runner.work_dir, RECORD.format(get_rank()))
        with open(path, 'a') as f:
            f.write(json.dumps(record) + '\n')


# --------------------------------------------------------------------------
# the test
# --------------------------------------------------------------------------


@pytest.fixture(scope='module')
def clips_dir(tmp_path_factory):
    """``NUM_CLIPS`` small real mp4 files and their annotation list."""
    from conftest import random_video, write_mp4
    root = tmp_path_factory.mktemp('ddp_clips')
    lines = []
    for i in range(NUM_CLIPS):
        name = f'clip_{i}.mp4'
        write_mp4(str(root / name), random_video(24, (48, 64), seed=i))
        lines.append(name)
    (root / 'ann.txt').write_text('\n'.join(lines) + '\n')
    return root


def _write_cfg(path, clips_dir):
    """The demo config, shrunk: narrow model, deterministic pipeline with
    per-sample masks, constant lr, no validation, visualisation or
    checkpoints, the loss logged every iteration.

    The clip geometry is the demo's (8 frames of 64x64, token grid
    ``(4, 8, 8)``), written out because a child config cannot read the
    base file's variables.
    """
    path.write_text(f"""
_base_ = {DEMO_CFG!r}
custom_imports = dict(imports=[{MODULE!r}], allow_failed_imports=False)
train_pipeline = [
    dict(type='mmaction.DecordInit', num_threads=1),
    dict(type='mmaction.SampleFrames', clip_len=8, frame_interval=4,
         num_clips=1, test_mode=True),
    dict(type='mmaction.DecordDecode'),
    dict(type='mmaction.Resize', scale=(64, 64), keep_ratio=False),
    dict(type='mmaction.FormatShape', input_format='NCTHW'),
    dict(type='IndexSeededTubeMask', input_size=(4, 8, 8),
         mask_ratio=0.75, seed={SEED}),
    dict(type='mmaction.PackActionInputs', algorithm_keys=('mask', ),
         meta_keys=('img_shape', 'sample_idx')),
]
train_dataloader = dict(
    batch_size={PER_RANK_BATCH}, num_workers=0, persistent_workers=False,
    dataset=dict(ann_file={str(clips_dir / 'ann.txt')!r},
                 data_prefix=dict(video={str(clips_dir)!r}),
                 pipeline=train_pipeline))
model = dict(
    backbone=dict(arch=dict(embed_dims=64, num_layers=2, num_heads=2,
                            feedforward_channels=128)),
    neck=dict(embed_dims=64, decoder_embed_dims=32, decoder_depth=1,
              decoder_num_heads=2))
# A constant lr large enough that the loss moves well beyond RTOL.
param_scheduler = None
train_cfg = dict(max_epochs={MAX_EPOCHS})
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=-1, save_last=False))
log_processor = dict(window_size=1)
custom_hooks = [dict(type='RecordLossHook')]
randomness = dict(seed={SEED}, diff_rank_seed=False)
""")
    return str(path)


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _run(cmd, **env):
    full_env = dict(os.environ)
    # THIS_DIR: the subprocesses import this module for its helpers.
    full_env['PYTHONPATH'] = os.pathsep.join(
        [REPO_ROOT, THIS_DIR,
         full_env.get('PYTHONPATH', '')])
    full_env['OMP_NUM_THREADS'] = '1'
    full_env.update(env)
    proc = subprocess.run(
        cmd,
        cwd=REPO_ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=240)
    assert proc.returncode == 0, proc.stdout[-6000:]


def _records(work_dir, rank):
    with open(osp.join(work_dir, RECORD.format(rank))) as f:
        return [json.loads(line) for line in f]


def _json_losses(work_dir):
    """``{iter: loss}`` from MMEngine's json scalars (rank 0's)."""
    paths = [
        osp.join(d, 'vis_data', 'scalars.json')
        for d in (osp.join(work_dir, n) for n in os.listdir(work_dir))
        if osp.isfile(osp.join(d, 'vis_data', 'scalars.json'))
    ]
    assert len(paths) == 1, paths
    with open(paths[0]) as f:
        rows = [json.loads(line) for line in f]
    return {r['iter']: r['loss'] for r in rows if 'loss' in r}


@pytest.mark.slow
def test_ddp_two_processes_match_one_process(clips_dir, tmp_path):
    cfg = _write_cfg(tmp_path / 'tiny_ddp.py', clips_dir)
    single, dist = str(tmp_path / 'single'), str(tmp_path / 'dist')
    global_batch = WORLD_SIZE * PER_RANK_BATCH
    _run([
        sys.executable, 'tools/train.py', cfg, '--work-dir', single,
        '--cfg-options', f'train_dataloader.batch_size={global_batch}'
    ])
    _run(['bash', 'tools/dist_train.sh', cfg,
          str(WORLD_SIZE), '--work-dir', dist],
         PYTHON=sys.executable,
         PORT=str(_free_port()))

    num_iters = MAX_EPOCHS * NUM_CLIPS // global_batch
    one = _records(single, 0)
    ranks = [_records(dist, r) for r in range(WORLD_SIZE)]
    assert [r['iter'] for r in one] == list(range(1, num_iters + 1))
    for recs in ranks:
        assert [r['iter'] for r in recs] == list(range(1, num_iters + 1))

    # the same samples in every global batch, each clip once per epoch
    for k in range(num_iters):
        parts = [recs[k]['sample_idx'] for recs in ranks]
        assert sorted(sum(parts, [])) == sorted(one[k]['sample_idx']), k
        assert len(one[k]['sample_idx']) == global_batch
    for e in range(MAX_EPOCHS):
        per_epoch = one[2 * e]['sample_idx'] + one[2 * e + 1]['sample_idx']
        assert sorted(per_epoch) == list(range(NUM_CLIPS))

    # what MMEngine logs: the global loss (1 process), rank 0's (2)
    logged_one = _json_losses(single)
    logged_dist = _json_losses(dist)
    for k in range(num_iters):
        assert logged_one[k + 1] == pytest.approx(one[k]['loss'], rel=1e-4)
        assert logged_dist[k + 1] == pytest.approx(
            ranks[0][k]['loss'], rel=1e-4)

    a = np.array([r['loss'] for r in one])
    b = np.mean([[r['loss'] for r in recs] for recs in ranks], axis=0)
    rel = np.abs(a - b) / np.abs(a)
    print(f'1 process: {a.tolist()}\n2 processes: {b.tolist()}\n'
          f'max relative difference: {rel.max():.3g}')
    # iteration 0 runs before any update: equal initial weights and masks
    assert rel[0] <= RTOL, (a[0], b[0])
    # the test has teeth only if training moves the loss well past RTOL
    assert abs(a[-1] - a[0]) / a[0] > 100 * RTOL, a
    np.testing.assert_allclose(b, a, rtol=RTOL, atol=0)
