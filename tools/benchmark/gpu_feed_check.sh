#!/usr/bin/env bash
# One-shot check of how well the data pipeline feeds a GPU (issue 20), for
# an offline CUDA machine with PyTorch; same setup as gpu_check.sh (the
# OpenMMLab stack from a local wheel folder when it is not importable).
#
# Steps:
#   1. end to end vs model only (tools/benchmark/feed_gpu.py): ViT-B
#      VideoMAE pretraining, batch 32, bf16 autocast, generated 320x240
#      H.264 mp4s, all host cores but 2 as DataLoader workers; the eager
#      recipe (augmentation in the workers), the -devaug recipe
#      (augmentation in the data preprocessor, on the GPU), and the -devaug
#      recipe on a frame cache of the videos with num_repeats=4;
#   2. the same with num_repeats=2 (one decode, two clips);
#   3. the CPU side alone: the data-pipeline benchmark at 320x240 with the
#      per-stage breakdown, on this host's CPU;
#   4. the compiled step at batch 128 bf16 (MFU), one lever at a time
#      (pretrain_step.py): torch.compile's default mode, then
#      max-autotune, then cuDNN attention.
#
# Usage: bash tools/benchmark/gpu_feed_check.sh [WHEEL_DIR] [OUT_DIR]
# STEPS="1 3" runs only those steps. Budget: step 1 ~4 min (video
# generation included), 2 ~3, 3 ~2, 4 ~8 (more than one 15-minute device
# session holds: run STEPS="1 2 3" and STEPS=4 in separate sessions).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
WHEELS="${1:-$ROOT/.whl}"
DEST="${2:-${OUT:-$ROOT/work_dirs/gpu_feed_check}}"
PY="${PYTHON:-python3}"
STEPS=" ${STEPS:-1 2 3 4} "
run_step() { [[ "$STEPS" == *" $1 "* ]]; }
mkdir -p "$DEST" "$DEST/videos"
. "$ROOT/tools/benchmark/gpu_env.sh"
WORKERS=$(( $(nproc) > 4 ? $(nproc) - 2 : 2 ))

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
    lscpu | grep -E 'Model name|^CPU\(s\)'
    echo "DataLoader workers: $WORKERS"
} 2>&1 | tee "$DEST/env.txt"

step() {
    local n="$1" title="$2" limit="$3" name="$4"
    shift 4
    run_step "$n" || return 0
    echo "=== [$n] $title ==="
    local t0=$SECONDS
    timeout "$limit" "$@" 2>&1 | grep -v -E '^\s|^[a-z_]+ = |^\)' \
        | tee "$DEST/$name.log"
    echo "[$n] took $((SECONDS - t0)) s" | tee -a "$DEST/$name.log"
}

FEED="$PY tools/benchmark/feed_gpu.py --device cuda --batch 32 --amp \
    --workers $WORKERS --iters 30 --warmup 8 --videos 32 \
    --video-dir $DEST/videos"
step 1 "end to end vs model only, ViT-B batch 32 bf16" 420 feed_b32 \
    $FEED --json "$DEST/feed_b32.json" --recipes cpu-augment \
    device-augment device-augment-cache-rep4
step 2 "the same with num_repeats=2" 300 feed_b32_rep2 \
    $FEED --json "$DEST/feed_b32_rep2.json" --cfg-options \
    train_dataloader.dataset.num_repeats=2 \
    train_dataloader.batch_size=16 \
    train_dataloader.collate_fn.type=repeat_pseudo_collate
step 3 "CPU per clip by stage, 320x240, this host" 240 data_pipeline_240 \
    $PY tools/benchmark/data_pipeline.py --res 240 --rounds 3 \
    --video-dir "$DEST/videos" --no-memory --no-loader \
    --json "$DEST/data_pipeline_240.json"
STEP="$PY tools/benchmark/pretrain_step.py --device cuda --batch-size 128 \
    --iters 8 --warmup 3 --precision bf16 --impl mmmae --fused-adamw \
    --compile --flops --measure-matmul"
step 4 "compiled ViT-B step, batch 128 bf16, default mode" 200 \
    compile_b128 $STEP --json "$DEST/compile_b128.json"
step 4 "the same, max-autotune" 400 compile_b128_autotune $STEP \
    --compile-mode max-autotune --json "$DEST/compile_b128_autotune.json"
step 4 "the same, cuDNN attention" 200 compile_b128_cudnn $STEP \
    --sdpa-backend cudnn --json "$DEST/compile_b128_cudnn.json"
echo "=== summary ==="
grep -h -E '^\| |MFU|clips/s' "$DEST"/*.log
