#!/bin/bash
# Build the library and the avx512/amx test driver on the AVX-512/AMX Xeon, check both
# backends against the scalar one, then time them. Full logs under $OUT (or /tmp/xeon_out).
#   tests/x86_xeon/run_on_xeon.sh [bench_budget_s (100)] [check_cases (400)] [rows: full|final]
# (tests/gpu_machine.sh runs the same driver as part of its xeon / xeonbench steps.)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUTD=${OUT:-/tmp/xeon_out}
mkdir -p "$OUTD"
BUILD=${BUILD:-/tmp/build-x512}
BUDGET=${1:-100}
CASES=${2:-400}
ROWS=${3:-full}
CFG="-G Ninja -DQMM_CUDA=OFF -DQMM_BUILD_BENCH=OFF -DQMM_BUILD_CONFORMANCE=OFF -DQMM_BUILD_C_TESTS=OFF"
DRV="g++ -O2 -std=c++17 -fopenmp -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq"
t0=$(date +%s)
{ cmake -S "$ROOT" -B "$BUILD" $CFG && ninja -C "$BUILD"; } > "$OUTD/build.log" 2>&1 || { tail -30 "$OUTD/build.log"; exit 1; }
$DRV -I"$ROOT/csrc/include" "$ROOT/tests/x86_xeon/xeon_test.cpp" -L"$BUILD" -lqmatmul \
  -Wl,-rpath,"$BUILD" -o "$BUILD/xeon_test" >> "$OUTD/build.log" 2>&1 || { tail -30 "$OUTD/build.log"; exit 1; }
echo "built in $(( $(date +%s) - t0 )) s; $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo)"
"$BUILD/xeon_test" features
for b in avx512 amx; do
  timeout 120 "$BUILD/xeon_test" check $b "$CASES" > "$OUTD/check_$b.log" 2>&1
  echo "check $b exit=$?"; tail -14 "$OUTD/check_$b.log"
done
echo "== load before timing: $(cat /proc/loadavg)"
timeout $((BUDGET + 60)) "$BUILD/xeon_test" bench "$BUDGET" "$ROWS" 2>&1 | tee "$OUTD/bench.log"
echo "bench exit=${PIPESTATUS[0]}; load $(cat /proc/loadavg)"
echo "total $(( $(date +%s) - t0 )) s"
