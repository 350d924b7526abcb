#!/usr/bin/env bash
# One-shot GPU check for an offline CUDA machine that has PyTorch.
#
#   1. installs the OpenMMLab stack from a local wheel folder (made with
#      tools/benchmark/make_wheelhouse.sh) into a private target dir, unless
#      it is importable already;
#   2. ViT-B VideoMAE pretraining step, 16x224x224, 90% tube mask, batch 32,
#      fp32 and bf16 autocast, mmmae (V1 and V2 dual masking) vs HF
#      VideoMAEForPreTraining (SDPA), same weights: clips/s, working memory,
#      FLOPs per clip and model-FLOPs utilisation (MFU) against the card's
#      measured bf16 / fp32 matmul rate;
#   3. the same step with activation checkpointing (memory vs speed);
#   4. the CPU benchmark of the README (batch 2) on this machine's CPU, which
#      usually has native bf16 (AVX-512 BF16 / AMX).
#
# Usage: bash tools/benchmark/gpu_check.sh [WHEEL_DIR] [OUT_DIR]
# Logs and JSON land in OUT_DIR (default: $OUT or work_dirs/gpu_check).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
WHEELS="${1:-$ROOT/.whl}"
DEST="${2:-${OUT:-$ROOT/work_dirs/gpu_check}}"
PY="${PYTHON:-python3}"
SITE="${MMMAE_SITE:-/tmp/mmmae_site}"
export PYTHONUNBUFFERED=1
mkdir -p "$DEST"

if ! "$PY" -c 'import mmengine, mmcv, mmaction, mmseg, mmpretrain' 2>/dev/null; then
    if [ ! -d "$WHEELS" ]; then
        echo "OpenMMLab stack missing and no wheel folder $WHEELS: run" \
             "'bash tools/benchmark/make_wheelhouse.sh $WHEELS <python version>'" \
             "where pip can reach an index, and copy the folder here" >&2
        exit 2
    fi
    echo "[gpu_check] installing $(ls "$WHEELS"/*.whl | wc -l) wheels into $SITE"
    "$PY" -m pip install -q --no-index --no-deps --no-compile \
        --target "$SITE" "$WHEELS"/*.whl || exit 2
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm \
        --format=csv 2>&1
    lscpu | grep -E 'Model name|^CPU\(s\)|Thread|Flags' \
        | sed -E 's/^(Flags:).*/\1 '"$(grep -o -w -E 'avx512f|avx512_bf16|amx_bf16|amx_tile|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')"'/'
    "$PY" -c 'import torch, transformers, mmengine, mmmae; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__, "mmengine", mmengine.__version__, "mmmae", mmmae.__version__)'
} 2>&1 | tee "$DEST/env.txt"

BENCH="$PY tools/benchmark/pretrain_step.py"
echo "=== [1] GPU ViT-B batch 32: mmmae V1 / V2 vs HF, fp32 + bf16 ==="
timeout 300 $BENCH --device cuda --batch-size 32 --iters 10 --warmup 3 \
    --precision fp32 bf16 --impl mmmae mmmae-v2 hf --flops --measure-matmul \
    --json "$DEST/gpu_vitb_b32.json" 2>&1 | tee "$DEST/gpu_vitb_b32.log"
echo "=== [2] GPU ViT-B batch 32 bf16 with activation checkpointing ==="
timeout 120 $BENCH --device cuda --batch-size 32 --iters 5 --warmup 2 \
    --precision bf16 --impl mmmae mmmae-v2 --with-cp \
    --json "$DEST/gpu_vitb_b32_cp.json" 2>&1 | tee "$DEST/gpu_vitb_b32_cp.log"
echo "=== [3] CPU ViT-B batch 2 (README benchmark) on this machine's CPU ==="
timeout 300 $BENCH --device cpu --batch-size 2 --iters 3 --warmup 1 \
    --precision fp32 bf16 --impl mmmae mmmae-v2 hf \
    --json "$DEST/cpu_vitb_b2.json" 2>&1 | tee "$DEST/cpu_vitb_b2.log"
echo "=== summary ==="
grep -h -E 'speed-up|ratio|matmul rate|^\|' "$DEST"/*.log
