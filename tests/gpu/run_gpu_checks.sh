#!/usr/bin/env bash
# The cuda backend's device checks, in one call on the GPU machine:
#   tests/gpu/run_gpu_checks.sh [BIN_DIR]
# BIN_DIR holds gpu_check + libqmatmul.so.0 built elsewhere (see build_gpu_check.sh); if absent,
# the library is built here with cmake+ninja and the driver with g++.
# STEPS (env, default "check graph memcheck racecheck bench torch") picks what runs.
# Full logs go to $OUT (default /tmp/qmm_gpu_out); a summary is printed last.
set -u
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/qmm_gpu_out}
mkdir -p "$OUT"
BIN=${1:-build-gpu}
STEPS=${STEPS:-"check graph memcheck racecheck bench torch"}
if [ ! -x "$BIN/gpu_check" ]; then
  echo "building into $BIN"
  cmake -S . -B "$BIN/cmake" -G Ninja -DQMM_CUDA=ON -DQMM_CUDA_ARCHITECTURES=90a \
    -DQMM_BUILD_BENCH=OFF > "$OUT/cmake.log" 2>&1 && ninja -C "$BIN/cmake" qmatmul > "$OUT/ninja.log" 2>&1 \
    || { echo "build failed"; tail -30 "$OUT/ninja.log"; exit 1; }
  cp -L "$BIN/cmake/libqmatmul.so.0" "$BIN/"
  CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
  g++ -O2 -std=c++17 tests/gpu/gpu_check.cpp -Icsrc/include -I"$CUDA_HOME/include" -L"$BIN" \
    -l:libqmatmul.so.0 "$CUDA_HOME/lib64/libcudart_static.a" -lpthread -ldl -lrt \
    -Wl,-rpath,'$ORIGIN' -o "$BIN/gpu_check" || exit 1
fi
export LD_LIBRARY_PATH="$BIN:${LD_LIBRARY_PATH:-}"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv,noheader
"$BIN/gpu_check" probe
declare -A RES
for step in $STEPS; do
  t0=$(date +%s)
  case $step in
    check) timeout 400 "$BIN/gpu_check" check > "$OUT/check.log" 2>&1; rc=$?
           RES[check]="rc=$rc $(grep 'CHECK SUMMARY' "$OUT/check.log")"
           grep -E "FAIL|^ok" "$OUT/check.log" | head -40 ;;
    graph) "$BIN/gpu_check" graph > "$OUT/graph.log" 2>&1; rc=$?
           RES[graph]="rc=$rc $(grep 'SUMMARY' "$OUT/graph.log")"; cat "$OUT/graph.log" ;;
    memcheck) timeout 300 compute-sanitizer --tool memcheck --leak-check no "$BIN/gpu_check" sanitize \
               > "$OUT/memcheck.log" 2>&1; rc=$?
           RES[memcheck]="rc=$rc $(grep -E 'ERROR SUMMARY|SANITIZE CASES' "$OUT/memcheck.log" | tr '\n' ' ')" ;;
    racecheck) timeout 240 compute-sanitizer --tool racecheck "$BIN/gpu_check" sanitize \
               > "$OUT/racecheck.log" 2>&1; rc=$?
           RES[racecheck]="rc=$rc $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY|SANITIZE CASES' "$OUT/racecheck.log" | tr '\n' ' ')" ;;
    bench) "$BIN/gpu_check" bench > "$OUT/bench.log" 2>&1; rc=$?; RES[bench]="rc=$rc" ;;
    ncu) for cfg in "float 4 28672 8192 1" "float 8 28672 8192 1" "float 4 28672 8192 16" "float 4 8192 8192 4096" "int8 4 8192 8192 4096"; do
           echo "== ncu $cfg" >> "$OUT/ncu.log"
           timeout 60 ncu --launch-skip 2 --launch-count 1 -k regex:'decode|gemm' \
             --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats \
             --section MemoryWorkloadAnalysis --section SchedulerStats "$BIN/gpu_check" one $cfg 4 >> "$OUT/ncu.log" 2>&1
         done; RES[ncu]="see ncu.log" ;;
    torch) python3 tests/gpu/torch_baseline.py > "$OUT/torch.log" 2>&1; rc=$?; RES[torch]="rc=$rc" ;;
  esac
  echo "[$step done in $(( $(date +%s) - t0 )) s]"
done
echo "================ SUMMARY ================"
for step in $STEPS; do echo "$step: ${RES[$step]:-}"; done
if [ -f "$OUT/bench.log" ]; then python3 tests/gpu/summarize.py "$OUT/bench.log" "$OUT/torch.log"; fi
