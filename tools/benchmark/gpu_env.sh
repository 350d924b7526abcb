# Shared set-up of the one-shot GPU scripts (gpu_check.sh,
# gpu_feed_check.sh); source it with WHEELS and PY set. Makes the
# OpenMMLab stack importable (installing it from the local wheel folder
# $WHEELS into $MMMAE_SITE when it is not) and puts the repository on
# PYTHONPATH.
SITE="${MMMAE_SITE:-/tmp/mmmae_site}"
export PYTHONUNBUFFERED=1
if ! "$PY" -c 'import mmengine, mmcv, mmaction, mmseg, mmpretrain' 2>/dev/null; then
    if [ ! -d "$WHEELS" ]; then
        echo "OpenMMLab stack missing and no wheel folder $WHEELS: run" \
             "'bash tools/benchmark/make_wheelhouse.sh $WHEELS <python version>'" \
             "where pip can reach an index, and copy the folder here" >&2
        exit 2
    fi
    echo "[gpu] installing $(ls "$WHEELS"/*.whl | wc -l) wheels into $SITE"
    "$PY" -m pip install -q --no-index --no-deps --no-compile \
        --target "$SITE" "$WHEELS"/*.whl || exit 2
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
