#!/usr/bin/env bash
# Trains the default model on the GPU machine: token ids from .train/data
# (made by training/corpus/tokenizeCorpus.ts), weights, check logits,
# metrics and the log to $OUT. Everything after start-up fits DEADLINE seconds.
set -euo pipefail
OUT=${OUT:-/tmp/ghostline-train-out}
DATA=${DATA:-.train/data}
TRAIN_SECONDS=${TRAIN_SECONDS:-300}
DEADLINE=${DEADLINE:-385}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,clocks.sm --format=csv,noheader || true
export PYTHONUNBUFFERED=1
python3 training/train.py --data "$DATA" --out "$OUT" --train-seconds "$TRAIN_SECONDS" --deadline-seconds "$DEADLINE" "$@" 2>&1 | tee "$OUT/train.log"
