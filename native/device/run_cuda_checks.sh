#!/usr/bin/env bash
# Builds the native core with the CUDA backend on a GPU machine (no Node
# needed), then runs: the host orchestration tests, the CUDA tests (stories260K
# against llama.cpp and the CPU, synthetic shapes, the 1,000-request soak) and
# the backend bench on the TinyLlama-shaped model, with the decode fusions and
# programmatic dependent launch on and off. Logs go to $OUT (or ./cuda-checks-out); the summary is printed last.
#
#   OUT=/tmp/out native/device/run_cuda_checks.sh
# The stories260K files are read from $GHOSTLINE_CUDA_TESTDATA/models
# (default: .carry/cuda-testdata at the repository root, carried to the device).
set -uo pipefail
native=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$PWD/cuda-checks-out}
build=${BUILD_DIR:-$native/build-cuda}
mkdir -p "$out"
export GHOSTLINE_CUDA_TESTDATA=${GHOSTLINE_CUDA_TESTDATA:-$native/../.carry/cuda-testdata}
status=0

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv | tee "$out/gpu.txt"
nvcc --version | tail -1

echo "== configure and build"
start=$(date +%s)
if ! cmake -S "$native" -B "$build" -DGHOSTLINE_CUDA=ON -DCMAKE_BUILD_TYPE=Release >"$out/build.log" 2>&1 ||
   ! cmake --build "$build" -j "$(nproc)" >>"$out/build.log" 2>&1; then
  grep -E "error|Error" "$out/build.log" | head -40
  exit 1
fi
echo "built in $(( $(date +%s) - start )) s"

echo "== host tests (shared orchestration, reference executor)"
# (the other host tests read ../shared/testdata, which the device does not have)
"$build/ghostline_tests" "gpu plan" >"$out/host_tests.log" 2>&1 || status=1
"$build/ghostline_tests" "backend choice" >>"$out/host_tests.log" 2>&1 || status=1
"$build/ghostline_tests" "gpu fusion" >>"$out/host_tests.log" 2>&1 || status=1
grep -E "passed" "$out/host_tests.log"

echo "== cuda tests"
timeout 300 "$build/ghostline_cuda_tests" 2>&1 | tee "$out/cuda_tests.log" || status=1

echo "== bench (TinyLlama shape, 512-token prompt, 128 decoded tokens)"
: >"$out/bench.log"
# Variants as environment settings: the default (fused norm/SwiGLU products and
# programmatic dependent launch), each switched off, and both off (the plan
# before either existed), all in this one run on this one card.
bench_variant() {  # bench_variant PROMPT SETTINGS...
  local prompt=$1
  shift
  echo "-- prompt $prompt, settings: ${*:-defaults}" | tee -a "$out/bench.log"
  env "$@" timeout 150 "$build/bench_backend" --backend cuda --prompt "$prompt" --gen 128 --runs 3 \
    2>&1 | tee -a "$out/bench.log" || status=1
}
bench_variant 512
bench_variant 512 GHOSTLINE_CUDA_PDL=0
bench_variant 512 GHOSTLINE_CUDA_FUSE=0
bench_variant 512 GHOSTLINE_CUDA_FUSE=0 GHOSTLINE_CUDA_PDL=0
# llama-bench's tg128 decodes from an almost empty context: the same, for comparison.
bench_variant 16
bench_variant 16 GHOSTLINE_CUDA_FUSE=0 GHOSTLINE_CUDA_PDL=0

if [ "${PROFILE:-1}" = 1 ]; then
  echo "== kernel profile (graphs off, one run)"
  GHOSTLINE_CUDA_PROFILE=1 timeout 150 "$build/bench_backend" --backend cuda --prompt 512 --gen 128 --runs 1 \
    >"$out/profile.log" 2>&1 || status=1
  grep -A40 "cuda profile" "$out/profile.log"
fi

echo "== summary"
nvidia-smi --query-gpu=name --format=csv,noheader
grep -E "^(ok|FAIL)|passed" "$out/cuda_tests.log"
grep -E "^--|RESULT|programmatic" "$out/bench.log"
exit $status
