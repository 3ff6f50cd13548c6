#!/bin/sh
# Builds the libFuzzer harnesses of tl::io with clang-14 (ASan + UBSan) and runs each briefly,
# seeded with the fixtures of tests/data/weights. Exits 0 with "skipped" when clang-14 or its
# fuzzer runtime is missing, so CI without clang does not fail.
#   tests/fuzz/run_fuzz.sh [SECONDS_PER_HARNESS (default 20)] [BUILD_DIR (default /tmp/tl_fuzz)]
set -eu
SECONDS_EACH=${1:-20}
OUT=${2:-/tmp/tl_fuzz}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CXX=${TL_FUZZ_CXX:-clang++-14}
if ! command -v "$CXX" >/dev/null 2>&1; then
  echo "run_fuzz: skipped ($CXX not found)"
  exit 0
fi
mkdir -p "$OUT"
printf '#include <cstdint>\n#include <cstddef>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n' > "$OUT/probe.cpp"
if ! "$CXX" -fsanitize=fuzzer "$OUT/probe.cpp" -o "$OUT/probe" >/dev/null 2>&1; then
  echo "run_fuzz: skipped ($CXX cannot link -fsanitize=fuzzer; install libclang-rt-14-dev)"
  exit 0
fi
EIGEN=$(pkg-config --cflags eigen3 2>/dev/null || echo -I/usr/include/eigen3)
status=0
# Build (both harnesses at once; only when a source is newer than the binary).
pids=""
for h in fuzz_pth fuzz_safetensors; do
  bin="$OUT/$h"
  if [ ! -x "$bin" ] || [ -n "$(find "$HERE/$h.cpp" "$ROOT/include/tl/io" "$ROOT/include/tl/core" -newer "$bin" -name '*.?pp' 2>/dev/null | head -1)" ]; then
    echo "run_fuzz: building $h"
    "$CXX" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
      -I"$ROOT/include" $EIGEN "$HERE/$h.cpp" -o "$bin.tmp" && mv "$bin.tmp" "$bin" &
    pids="$pids $!"
  fi
done
for p in $pids; do wait "$p" || { echo "run_fuzz: build failed"; exit 1; }; done
for h in fuzz_pth fuzz_safetensors; do
  bin="$OUT/$h"
  corpus="$OUT/corpus_$h"
  mkdir -p "$corpus"
  cp "$ROOT"/tests/data/weights/* "$corpus"/ 2>/dev/null || true
  echo "run_fuzz: running $h for ${SECONDS_EACH}s"
  if ! "$bin" "$corpus" -max_total_time="$SECONDS_EACH" -max_len=65536 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
      -timeout=10 -print_final_stats=1 -artifact_prefix="$OUT/crash_${h}_" 2>"$OUT/$h.log"; then
    echo "run_fuzz: $h FOUND A PROBLEM (see $OUT/$h.log and $OUT/crash_${h}_*)"
    tail -40 "$OUT/$h.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$OUT/$h.log" | tail -2
  fi
done
exit $status
