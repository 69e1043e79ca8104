#!/usr/bin/env bash
# One of the release's ImageNet runs from its recipe (afflib/core/recipes/RECIPE.json: 240 epochs, 4 GPUs x 128,
# NAG, warmup then cosine, label smoothing, mixup, last-gamma, no-wd, float16, --auto_aug ignored on records as in
# the original). This script adds only what depends on the machine: record files, devices, workers, outputs.
# Usage: scripts/train_release_imagenet.sh RECIPE NAME [extra train_imagenet.py flags, which override the recipe]
# Environment: REC_DIR (train/val .rec/.idx, default ~/.mxnet/datasets/imagenet/rec), NUM_GPUS (4),
# BATCH_SIZE per GPU (default: the recipe's), WORKERS (32), SAVE_DIR (params_NAME), PYTHON (the interpreter;
# default: the checkout's .venv/bin/python, created by `make venv`, else python3 on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
RECIPE=$1 NAME=$2
shift 2
REC_DIR=${REC_DIR:-~/.mxnet/datasets/imagenet/rec}
SAVE_DIR=${SAVE_DIR:-params_$NAME}
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
"$PYTHON" scripts/train_imagenet.py --recipe "$RECIPE" \
    --use-rec --rec-train "$REC_DIR/train.rec" --rec-train-idx "$REC_DIR/train.idx" \
    --rec-val "$REC_DIR/val.rec" --rec-val-idx "$REC_DIR/val.idx" \
    ${BATCH_SIZE:+--batch-size "$BATCH_SIZE"} --num-gpus "${NUM_GPUS:-4}" -j "${WORKERS:-32}" \
    --save-dir "$SAVE_DIR" --logging-file "$SAVE_DIR/$NAME.log" "$@"
