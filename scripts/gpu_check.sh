#!/usr/bin/env bash
# The PyTorch engine's GPU check (issue 14), one prepared run from a checkout on a GPU machine without afflib
# installed and without MXNet: generated JPEG records (core RecordIO writer), the ImageNet data loader's rate on
# them (CPU workers; then finishing batches on the GPU), and the training CLI end to end on them:
# AFF-ResNet-50 in bf16 + channels_last, and AFF-ResNet-18 in fp16 with the gradient scaler, then eval_imagenet of
# the bf16 run's checkpoint alone. Logs and run records go to $OUT (default /tmp/gpu_check); checkpoints stay in
# $WORK. Sizes: IMAGES, VAL_IMAGES, BATCH, WORKERS, MEASURE (batches timed after the workers' prefetch); RUNS: the
# training runs (default both), EVAL=0 skips the eval. CPU dry run: DEVICE=cpu IMAGES=64 VAL_IMAGES=32 BATCH=8 SIZE=64
# MEASURE=2 WORKERS=2.
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD
PY=${PYTHON:-python}
OUT=${OUT:-/tmp/gpu_check}
WORK=${WORK:-/tmp/gpu_check_work}
IMAGES=${IMAGES:-6144}
VAL_IMAGES=${VAL_IMAGES:-1024}
BATCH=${BATCH:-256}
SIZE=${SIZE:-224}
WORKERS=${WORKERS:-$(( $(nproc) > 1 ? $(nproc) - 1 : 1 ))}
DEVICE=${DEVICE:-cuda}
MEASURE=${MEASURE:-12}
RUNS=${RUNS:-aff_resnet50_bf16 aff_resnet18_fp16}
EVAL=${EVAL:-1}
mkdir -p "$OUT" "$WORK"
step() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$OUT/steps.log"; }

step environment
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || true
  $PY -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__, 'cuda', torch.cuda.is_available())"
  lscpu | grep -E "Model name|^CPU\(s\)" ; } > "$OUT/environment.txt" 2>&1

step records + loader rate on CPU workers
timeout 120 $PY -m afflib_torch.cli.make_synthetic_records --out "$WORK/rec" --images "$IMAGES" \
  --val-images "$VAL_IMAGES" -j "$WORKERS" --measure "$MEASURE" --batch-size "$BATCH" --input-size "$SIZE" \
  > "$OUT/loader.log" 2>&1; echo "rc=$?" >> "$OUT/loader.log"
if [ "$DEVICE" != cpu ]; then
  step loader rate finishing batches on the GPU
  timeout 90 $PY -m afflib_torch.cli.make_synthetic_records --out "$WORK/rec" --images "$IMAGES" -j "$WORKERS" \
    --measure "$MEASURE" --batch-size "$BATCH" --input-size "$SIZE" --device "$DEVICE" --keep >> "$OUT/loader.log" 2>&1
  echo "rc=$?" >> "$OUT/loader.log"
fi

train() {  # name, extra flags...
  local name=$1; shift
  step "train $name"
  timeout 150 $PY scripts/train_imagenet.py --engine torch --use-rec \
    --rec-train "$WORK/rec/train.rec" --rec-train-idx "$WORK/rec/train.idx" \
    --rec-val "$WORK/rec/val.rec" --rec-val-idx "$WORK/rec/val.idx" --input-size "$SIZE" \
    --batch-size "$BATCH" -j "$WORKERS" --device "$DEVICE" --num-epochs 1 --lr 0.1 \
    --log-interval 4 --no-progress --save-dir "$WORK/run_$name" --logging-file "$OUT/train_$name.log" "$@" \
    > "$OUT/train_$name.out" 2>&1
  echo "rc=$?" >> "$OUT/train_$name.out"
  mkdir -p "$OUT/run_$name" && cp "$WORK/run_$name"/*.json "$OUT/run_$name/" 2>/dev/null || true
}
if [ "$DEVICE" = cpu ]; then
  train aff_resnet18_f32 --model-name aff_resnet18
else
  for run in $RUNS; do
    case $run in
      aff_resnet50_bf16) train "$run" --model-name aff_resnet50 --dtype bfloat16 --channels-last ;;
      aff_resnet18_fp16) train "$run" --model-name aff_resnet18 --dtype float16 --channels-last ;;
    esac
  done
fi

[ "$EVAL" = 0 ] && { step done; exit 0; }
step "eval of a run checkpoint alone"
params=$(ls "$WORK"/run_*/*-last.params 2>/dev/null | head -1)
timeout 60 $PY scripts/eval_imagenet.py --engine torch --params "$params" --use-rec --rec-val "$WORK/rec/val.rec" \
  --rec-val-idx "$WORK/rec/val.idx" --batch-size "$BATCH" -j "$WORKERS" --device "$DEVICE" --no-progress \
  > "$OUT/eval.log" 2>&1; echo "rc=$? params=$params" >> "$OUT/eval.log"
step done
