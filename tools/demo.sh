#!/usr/bin/env bash
# The mmmae main job: make the moving-digits video set, pretrain a tiny VideoMAE on
# it with the MMEngine Runner (checkpoints, logs, reconstruction images), fine-tune
# it and a from-scratch baseline with the same recipe, test both, print a summary.
# Installs what it needs on first use. Extra arguments go to tools/demo.py.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="$(bash tools/setup_env.sh | tail -n 1)"
exec "$PY" tools/demo.py "$@"
