#!/usr/bin/env bash
# Run the mmmae test suite (installs what it needs on first use).
# Extra arguments go to pytest, e.g. `bash tools/run_tests.sh tests/test_models -x`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="$(bash tools/setup_env.sh | tail -n 1)"
exec "$PY" -m pytest -q -ra --durations=15 "$@"
