#!/usr/bin/env bash
# Builds the native core without Node and runs its C++ tests, once plainly and
# once under AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
jobs="${JOBS:-2}"

cmake -S "$here" -B "$here/build-tests" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$here/build-tests" -j "$jobs" --target ghostline_tests
"$here/build-tests/ghostline_tests" "$@"

# CUDA is compiled and its CPU fallback tested in the build above; the sanitizers check the host code.
cmake -S "$here" -B "$here/build-asan" -DCMAKE_BUILD_TYPE=Debug -DGHOSTLINE_SANITIZE=ON -DGHOSTLINE_CUDA=OFF >/dev/null
cmake --build "$here/build-asan" -j "$jobs" --target ghostline_tests
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$here/build-asan/ghostline_tests" "$@"
