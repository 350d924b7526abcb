#!/usr/bin/env bash
# Copyright (c) mmmae contributors. All rights reserved.
# Usage: bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py args...]
# Env: GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS (''),
#      PYTHON (python).
set -x

PARTITION=$1
JOB_NAME=$2
CONFIG=$3
if [[ $# -ge 4 && "$4" != -* ]]; then
    WORK_DIR=$4
    PY_ARGS=("${@:5}")
else
    WORK_DIR=""
    PY_ARGS=("${@:4}")
fi
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHON=${PYTHON:-python}

WORK_DIR_ARGS=()
if [[ -n "$WORK_DIR" ]]; then
    WORK_DIR_ARGS=(--work-dir "$WORK_DIR")
fi

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
srun -p ${PARTITION} \
    --job-name=${JOB_NAME} \
    --gres=gpu:${GPUS_PER_NODE} \
    --ntasks=${GPUS} \
    --ntasks-per-node=${GPUS_PER_NODE} \
    --cpus-per-task=${CPUS_PER_TASK} \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "${PYTHON}" -u "$(dirname "$0")/train.py" "$CONFIG" \
    "${WORK_DIR_ARGS[@]}" --launcher slurm "${PY_ARGS[@]}"
