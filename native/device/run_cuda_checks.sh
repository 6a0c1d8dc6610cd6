#!/usr/bin/env bash
# Builds the native core with the CUDA backend on a GPU machine (no Node
# needed), then runs: the host orchestration tests, the CUDA tests (stories260K
# against llama.cpp and the CPU, synthetic shapes, the 1,000-request soak) and
# the backend bench on the TinyLlama-shaped model, with the decode kernels, their
# bulk copies, the fusions and programmatic dependent launch on and off. Logs go to $OUT (or ./cuda-checks-out); the summary is printed last.
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
# The tests again under other settings (TEST_VARIANTS="A=1 B=2;C=3": one run per ';').
IFS=';' read -ra test_variants <<<"${TEST_VARIANTS:-}"
for v in "${test_variants[@]}"; do
  [ -n "$v" ] || continue
  echo "== cuda tests with $v"
  # shellcheck disable=SC2086
  # TEST_VARIANT_FILTER: only the tests whose names hold it, under these settings.
  env $v timeout "${TEST_TIMEOUT:-300}" "$build/ghostline_cuda_tests" ${TEST_VARIANT_FILTER:+"$TEST_VARIANT_FILTER"} \
    >"$out/cuda_tests_variant.log" 2>&1 || status=1
  grep -E "^(ok|FAIL)|passed|six-dispatch" "$out/cuda_tests_variant.log"
done

echo "== bench (TinyLlama shape, 512- and 16-token prompts, 128 decoded tokens)"
: >"$out/bench.log"
# Variants as environment settings, all in one process per prompt on this one card,
# taking their runs in turn (bench_backend --variants): the default (decode steps of
# five dispatches a layer through GL_K_MATVEC_DECODE, weights streamed by bulk copies,
# programmatic dependent launch), the same streaming weights through registers, and
# the plans before them.
bench_set() {  # bench_set PROMPT "A=1 B=2;C=3" (the defaults come first)
  echo "-- prompt $1, variants: defaults;$2" | tee -a "$out/bench.log"
  timeout "${BENCH_TIMEOUT:-400}" "$build/bench_backend" --backend cuda --prompt "$1" --gen 128 --runs "${RUNS:-3}" --variants "${2:+;$2}" \
    2>&1 | tee -a "$out/bench.log" || status=1
}
registers="GHOSTLINE_CUDA_BULK=0 GHOSTLINE_CUDA_KV_AHEAD=0 GHOSTLINE_CUDA_CARVEOUT=0"  # five, weights through registers
previous="GHOSTLINE_CUDA_DECODE=0"  # six dispatches a layer: fused norm/SwiGLU products + PDL
original="$previous GHOSTLINE_CUDA_FUSE=0 GHOSTLINE_CUDA_PDL=0"  # nine: neither
standard="$registers;$previous;$original"
[ "${STANDARD:-1}" = 1 ] || standard=""
join() { local r=""; for x in "$@"; do [ -n "$x" ] && r="${r:+$r;}$x"; done; echo "$r"; }
# Extra settings to time: EXTRA="A=1 B=2;C=3" after the 16-token prompt (like
# llama-bench's tg128), EXTRA512 after the 512-token one.
bench_set 512 "$(join "$standard" "${EXTRA512:-}")"
bench_set 16 "$(join "$standard" "${EXTRA:-}")"

if [ "${PROFILE:-1}" = 1 ]; then
  # PROFILE_VARIANTS="A=1;B=2": the same for other settings, one profile each.
  IFS=';' read -ra profile_variants <<<";${PROFILE_VARIANTS:-}"
  for v in "${profile_variants[@]}"; do
    echo "== kernel profile (graphs off, one run, prompt ${PROFILE_PROMPT:-512}${v:+, $v})"
    # shellcheck disable=SC2086
    env $v GHOSTLINE_CUDA_PROFILE=1 timeout 150 "$build/bench_backend" --backend cuda --prompt "${PROFILE_PROMPT:-512}" \
      --gen 128 --runs 1 >"$out/profile.log" 2>&1 || status=1
    grep -A40 "cuda profile" "$out/profile.log"
  done
  if [ "${PROFILE_PREVIOUS:-0}" = 1 ]; then
    # shellcheck disable=SC2086
    env $previous GHOSTLINE_CUDA_PROFILE=1 timeout 150 "$build/bench_backend" --backend cuda --prompt 512 --gen 128 \
      --runs 1 >"$out/profile_previous.log" 2>&1 || status=1
    grep -A40 "cuda profile" "$out/profile_previous.log"
  fi
fi

if [ "${NCU:-0}" = 1 ] && command -v ncu >/dev/null; then
  # Nsight Compute on two layers of one decode step after a 512-token prompt (each
  # kernel alone: durations without launch gaps or overlap, DRAM throughput, stalls).
  echo "== ncu: two layers of a decode step"
  timeout 240 ncu --clock-control none -k regex:"decode|attention" --launch-skip 588 --launch-count 10 \
    --section SpeedOfLight --section WarpStateStats --section Occupancy --section LaunchStats \
    "$build/bench_backend" --backend cuda --prompt 512 --gen 16 --runs 1 >"$out/ncu.txt" 2>&1 || echo "ncu failed"
  grep -E "_kernel|Duration|DRAM Throughput|Registers Per|Achieved Occupancy|Warp Cycles Per Issued|Grid Size|Block Size" \
    "$out/ncu.txt" | sed -E 's/\(ghostline::cuda::[^)]*\)//' | head -120
fi

echo "== summary"
nvidia-smi --query-gpu=name --format=csv,noheader
grep -E "^(ok|FAIL)|passed" "$out/cuda_tests.log"
grep -E "^--|RESULT|programmatic|refused|kernels per|failed" "$out/bench.log"
exit $status
