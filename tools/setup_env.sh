#!/usr/bin/env bash
# Create/refresh the project virtualenv (.venv) and install mmmae into it.
# Idempotent: a stamp of the requirement files makes a second run take seconds.
# Usage: source-free; `bash tools/setup_env.sh` prints the python to use on its last line.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
VENV="${MMMAE_VENV:-$ROOT/.venv}"

"$PY" - <<'PYEOF'
import sys
if sys.version_info < (3, 10):
    sys.exit(f'mmmae needs Python >= 3.10, found {sys.version.split()[0]}; '
             'set PYTHON=/path/to/python3.10+')
PYEOF

if [ ! -x "$VENV/bin/python" ]; then
    echo "[mmmae] creating virtualenv $VENV" >&2
    "$PY" -m venv "$VENV"
fi
STAMP="$VENV/.mmmae_env_stamp"
WANT="$(cat requirements.txt requirements/*.txt | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "[mmmae] installing requirements into $VENV (first run takes a few minutes)" >&2
    # pip byte-compiles the installed files one by one on one core (~100 s of
    # a ~210 s setup on the 2-core CI machine); compileall -j 0 does the same
    # on every core (~45 s). The .pyc files must exist: with
    # PYTHONDONTWRITEBYTECODE set nothing caches them later, and every test
    # subprocess would compile torch from source. Files that do not compile
    # (other Python versions' test data) are skipped, as pip skips them.
    "$VENV/bin/python" -m pip install -q --no-compile -r requirements.txt >&2
    SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    "$VENV/bin/python" -m compileall -q -j 0 "$SITE" > /dev/null 2>&1 || true
    echo "$WANT" > "$STAMP"
fi
# The editable install points at one checkout: a venv shared by two clones
# (MMMAE_VENV) must import the mmmae of the clone that runs, so the stamp
# holds the checkout's path as well as setup.py.
PKG_STAMP="$VENV/.mmmae_pkg_stamp"
PKG_WANT="$( (echo "$ROOT"; cat setup.py) | sha256sum | cut -d' ' -f1)"
if [ ! -f "$PKG_STAMP" ] || [ "$(cat "$PKG_STAMP")" != "$PKG_WANT" ]; then
    echo "[mmmae] installing mmmae from $ROOT (editable)" >&2
    "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e . >&2
    echo "$PKG_WANT" > "$PKG_STAMP"
fi
# Configs of MMAction2/MMSeg/mmpretrain may then name mmmae.X without
# custom_imports (mmmae_startup.py); the guard keeps other environments
# quiet if mmmae is uninstalled later.
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
PTH_LINE="import importlib.util as u; u.find_spec('mmmae_startup') and __import__('mmmae_startup').install()"
if [ "$(cat "$SITE/mmmae-startup.pth" 2>/dev/null)" != "$PTH_LINE" ]; then
    echo "$PTH_LINE" > "$SITE/mmmae-startup.pth"
fi
echo "$VENV/bin/python"
