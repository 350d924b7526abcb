#!/usr/bin/env bash
# Download the wheels gpu_check.sh installs on an offline CUDA machine that
# already has PyTorch (and numpy, matplotlib, opencv, scipy, rich, pyyaml,
# transformers, einops, timm): the OpenMMLab stack and its small pure-Python
# dependencies, nothing that would replace the machine's torch.
#
# Usage: bash tools/benchmark/make_wheelhouse.sh [OUT_DIR] [PYTHON_VERSION]
#        (defaults: .whl and 3.12; run where pip can reach an index)
set -euo pipefail
OUT="${1:-.whl}"
PYV="${2:-3.12}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT"
"$PY" -m pip download -q --no-deps --only-binary=:all: \
    --python-version "$PYV" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux2010_x86_64 \
    --platform any -d "$OUT" \
    mmengine==0.10.7 mmcv-lite==2.1.0 mmaction2==1.2.0 \
    mmsegmentation==1.2.2 mmpretrain==1.2.0 \
    addict yapf platformdirs termcolor ftfy wcwidth prettytable mat4py \
    modelindex model-index markdown ordered-set 'importlib_metadata<8.6' 'setuptools<81' decord==0.6.0
ls "$OUT"
