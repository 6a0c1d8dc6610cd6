#!/usr/bin/env bash
# Builds the GGUF fuzzer with clang into native/build-fuzz and runs it for
# SECONDS (default 60) on a corpus seeded from the shared test models and
# vocabularies plus small files made by the test builder. Exits non-zero when
# libFuzzer finds a crash, leak, timeout or out-of-memory; the failing input is
# saved under native/build-fuzz/artifacts/.
#   usage: native/fuzz/run.sh [SECONDS]
set -euo pipefail

seconds="${1:-60}"
native="$(cd "$(dirname "$0")/.." && pwd)"
build="$native/build-fuzz"
testdata="$native/../../shared/testdata"

if ! command -v clang++ >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq clang
  else
    echo "run.sh: clang++ is needed (apt-get install clang)" >&2
    exit 1
  fi
fi

# The reader needs no GPU code; CUDA stays off whatever the machine has.
cmake -S "$native" -B "$build" -DGHOSTLINE_FUZZ=ON -DGHOSTLINE_CUDA=OFF -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$build" -j"$(nproc)" --target gguf_fuzz gguf_fuzz_seeds

seeds="$build/seeds"
corpus="$build/corpus"
artifacts="$build/artifacts"
mkdir -p "$seeds" "$corpus" "$artifacts"
"$build/gguf_fuzz_seeds" "$seeds"
for f in "$testdata"/models/*.gguf "$testdata"/vocab/*.gguf; do
  if [ -f "$f" ]; then cp -f "$f" "$seeds/"; fi
done

# New inputs go to corpus/ (kept between runs); the seeds are read as well.
# max_len covers the largest seed (the 1.2 MB F32 model).
"$build/gguf_fuzz" "$corpus" "$seeds" \
  -max_len=2000000 -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
  -artifact_prefix="$artifacts/" -print_final_stats=1
