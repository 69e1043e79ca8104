#!/usr/bin/env bash
# The release's ImageNet recipe for one network: 240 epochs, 4 GPUs x 128, NAG lr 0.075, 5 warmup epochs then
# cosine, label smoothing, mixup 0.2 off for the last 5 epochs, last-gamma, no-wd, float16. --faithful-aug keeps the
# original's behaviour of NOT applying --auto_aug to record data (the reported models were trained without
# AutoAugment); drop it to train with AutoAugment.
# Usage: scripts/train_release_imagenet.sh resnet|resnext ASKC_TYPE NAME [extra train_imagenet.py flags]
# Environment: REC_DIR (train/val .rec/.idx, default ~/.mxnet/datasets/imagenet/rec), NUM_GPUS (4),
# BATCH_SIZE per GPU (128), WORKERS (32), SAVE_DIR (params_NAME), PYTHON (the interpreter; default: the checkout's
# .venv/bin/python, created by `make venv`, else python3 on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
FAMILY=$1 ASKC_TYPE=$2 NAME=$3
shift 3
REC_DIR=${REC_DIR:-~/.mxnet/datasets/imagenet/rec}
SAVE_DIR=${SAVE_DIR:-params_$NAME}
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
"$PYTHON" scripts/train_imagenet.py \
    --model "$FAMILY" --askc-type "$ASKC_TYPE" --num-layer 50 --start-layer 3 \
    --use-rec --rec-train "$REC_DIR/train.rec" --rec-train-idx "$REC_DIR/train.idx" \
    --rec-val "$REC_DIR/val.rec" --rec-val-idx "$REC_DIR/val.idx" \
    --batch-size "${BATCH_SIZE:-128}" --num-gpus "${NUM_GPUS:-4}" -j "${WORKERS:-32}" --dtype float16 \
    --num-epochs 240 --lr 0.075 --lr-mode cosine --warmup-epochs 5 --momentum 0.9 --wd 0.0001 \
    --label-smoothing --mixup --mixup-alpha 0.2 --mixup-off-epoch 5 --last-gamma --no-wd \
    --auto_aug --faithful-aug --mode hybrid --input-size 224 --crop-ratio 0.875 \
    --save-frequency 1 --save-dir "$SAVE_DIR" --logging-file "$SAVE_DIR/$NAME.log" --log-interval 50 "$@"
