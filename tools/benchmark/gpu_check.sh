#!/usr/bin/env bash
# One-shot GPU check for an offline CUDA machine that has PyTorch.
#
# First it installs the OpenMMLab stack from a local wheel folder (made with
# tools/benchmark/make_wheelhouse.sh) into a private target dir, unless it is
# importable already. Then the steps:
#   1. ViT-B VideoMAE pretraining step, 16x224x224, 90% tube mask, batch 32,
#      fp32 and bf16 autocast, mmmae (V1 and V2 dual masking) vs HF
#      VideoMAEForPreTraining (SDPA), same weights: clips/s, working memory,
#      FLOPs per clip and model-FLOPs utilisation (MFU) against the card's
#      measured bf16 / fp32 matmul rate;
#   2. the same step with activation checkpointing (memory vs speed);
#   3. the CPU benchmark of the README (batch 2) on this machine's CPU, which
#      usually has native bf16 (AVX-512 BF16 / AMX);
#   4. 5x3-view inference (ViT-B, 8 videos = 120 views per call), mmmae vs HF,
#      fp32 and bf16 on the GPU;
#   5. the same inference (1 video) on this machine's CPU (native bf16);
#   6. the MFU attempt: batch 128, bf16, fused AdamW, V1 and V2, FLOPs and
#      the measured matmul rate; also V1 without host-side token counts
#      (mmmae-sync: every mask gather syncs with the device);
#   7. step 6 with cuDNN attention first in SDPA's kernel order (torch 2.11
#      on an H200 already picked it: the steps print the kernel used);
#   8. step 6 with torch.compile (static shapes) of the whole loss
#      (encoder, decoder, targets and loss in one graph);
#   9. step 8 with cuDNN attention (V1 only);
#  10. step 8 compiling only the encoder and decoder modules (V1 only).
#
# Usage: bash tools/benchmark/gpu_check.sh [WHEEL_DIR] [OUT_DIR]
# Logs and JSON land in OUT_DIR (default: $OUT or work_dirs/gpu_check).
# STEPS="4 6 8" runs only those steps (default: all); with a 15-minute
# device budget, steps 1-3 take about 8 minutes and 4-9 about 8.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
WHEELS="${1:-$ROOT/.whl}"
DEST="${2:-${OUT:-$ROOT/work_dirs/gpu_check}}"
PY="${PYTHON:-python3}"
STEPS=" ${STEPS:-1 2 3 4 5 6 7 8 9 10} "
run_step() { [[ "$STEPS" == *" $1 "* ]]; }
mkdir -p "$DEST"
. "$ROOT/tools/benchmark/gpu_env.sh"

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm \
        --format=csv 2>&1
    lscpu | grep -E 'Model name|^CPU\(s\)|Thread|Flags' \
        | sed -E 's/^(Flags:).*/\1 '"$(grep -o -w -E 'avx512f|avx512_bf16|amx_bf16|amx_tile|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')"'/'
    "$PY" -c 'import torch, transformers, mmengine, mmmae; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__, "mmengine", mmengine.__version__, "mmmae", mmmae.__version__)'
} 2>&1 | tee "$DEST/env.txt"

BENCH="$PY tools/benchmark/pretrain_step.py"
INFER="$PY tools/benchmark/inference_views.py"
# step N TITLE TIMEOUT NAME CMD...: run CMD (with --json) if N is selected,
# log to $DEST/NAME.log
step() {
    local n="$1" title="$2" limit="$3" name="$4"
    shift 4
    run_step "$n" || return 0
    echo "=== [$n] $title ==="
    local t0=$SECONDS
    timeout "$limit" "$@" --json "$DEST/$name.json" 2>&1 \
        | tee "$DEST/$name.log"
    echo "[$n] took $((SECONDS - t0)) s" | tee -a "$DEST/$name.log"
}
step 1 "GPU ViT-B batch 32: mmmae V1 / V2 vs HF, fp32 + bf16" 300 \
    gpu_vitb_b32 $BENCH --device cuda --batch-size 32 --iters 10 \
    --warmup 3 --precision fp32 bf16 --impl mmmae mmmae-v2 hf --flops \
    --measure-matmul
step 2 "GPU ViT-B batch 32 bf16 with activation checkpointing" 120 \
    gpu_vitb_b32_cp $BENCH --device cuda --batch-size 32 --iters 5 \
    --warmup 2 --precision bf16 --impl mmmae mmmae-v2 --with-cp
step 3 "CPU ViT-B batch 2 (README benchmark) on this machine's CPU" 300 \
    cpu_vitb_b2 $BENCH --device cpu --batch-size 2 --iters 3 --warmup 1 \
    --precision fp32 bf16 --impl mmmae mmmae-v2 hf
step 4 "GPU 5x3-view inference, ViT-B, 8 videos per call, fp32 + bf16" 150 \
    gpu_infer_vitb_5x3 $INFER --device cuda --videos 8 --iters 10 \
    --warmup 3 --precision fp32 bf16 --impl mmmae hf
step 5 "CPU 5x3-view inference, ViT-B, 1 video, fp32 + bf16" 240 \
    cpu_infer_vitb_5x3 $INFER --device cpu --videos 1 --iters 3 \
    --warmup 1 --precision fp32 bf16 --impl mmmae hf
step 6 "MFU: GPU ViT-B batch 128 bf16, fused AdamW" 180 \
    gpu_vitb_b128_fused $BENCH --device cuda --batch-size 128 --iters 8 \
    --warmup 3 --precision bf16 --impl mmmae mmmae-sync mmmae-v2 hf \
    --fused-adamw --flops --measure-matmul
step 7 "MFU: step 6 with cuDNN attention" 120 \
    gpu_vitb_b128_fused_cudnn $BENCH --device cuda --batch-size 128 \
    --iters 8 --warmup 3 --precision bf16 --impl mmmae mmmae-v2 \
    --fused-adamw --sdpa-backend cudnn --flops --measure-matmul
step 8 "MFU: step 6 with torch.compile of the whole loss" 300 \
    gpu_vitb_b128_fused_compile $BENCH --device cuda --batch-size 128 \
    --iters 8 --warmup 3 --precision bf16 --impl mmmae mmmae-v2 \
    --fused-adamw --compile --flops --measure-matmul --profile \
    --profile-top 30
step 9 "MFU: torch.compile with cuDNN attention" 240 \
    gpu_vitb_b128_fused_compile_cudnn $BENCH --device cuda \
    --batch-size 128 --iters 8 --warmup 3 --precision bf16 --impl mmmae \
    --fused-adamw --compile --sdpa-backend cudnn --flops --measure-matmul
step 10 "MFU: torch.compile of the encoder and decoder modules only" 240 \
    gpu_vitb_b128_fused_compile_modules $BENCH --device cuda \
    --batch-size 128 --iters 8 --warmup 3 --precision bf16 --impl mmmae \
    --fused-adamw --compile --compile-scope modules --flops --measure-matmul
echo "=== summary ==="
grep -h -E 'speed-up|ratio|matmul rate|^\|' "$DEST"/*.log
