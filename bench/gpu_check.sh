#!/usr/bin/env bash
# One call on the GPU machine: build the library + qmm_bench (Google Benchmark if installed,
# else the minibench harness), run the C++ quick suite on every available backend, install the package
# offline and run `qmatmul bench` on the CUDA backend and on the best CPU backend.
# Usage (from the repository root): QMM_COMMIT=<git hash> bench/gpu_check.sh [extra qmatmul-bench args]
# (QMM_COMMIT: the device's copy of the tree has no .git, so say which commit it is.)
# Logs, JSON and a copy of bench/RESULTS.md with the gpu-h100 and cpu-xeon sections filled in are
# packed into $OUT/gpu_check.tar.gz (default OUT=bench/out/gpu), the plots copied beside it; to
# keep them: tar -xzf gpu_check.tar.gz -C bench ./RESULTS.md ./roofline_gpu.png
# ./roofline_cpu_xeon.png ./results_gpu.json ./results_cpu_xeon.json ./results_cpu_xeon_1t.json
# The last lines printed are a short summary.
set -uo pipefail
FINAL=${OUT:-bench/out/gpu}
OUT=$(mktemp -d)  # everything is written here, then packed into $FINAL/gpu_check.tar.gz
BUILD=${QMM_GPU_BUILD:-build-gpu}
SUITE=${QMM_BENCH_SUITE:-quick}
# Parts to run (a device call is limited to 10 minutes: split a full-suite run over calls, e.g.
# QMM_GPU_PARTS="build gpu", then "build cpu"; build outputs persist while the machine is warm).
PARTS=${QMM_GPU_PARTS:-"build cpp gpu cpu cpu1"}
# C++ microbenchmarks: the quick suite on every available backend unless told otherwise (scalar
# at M=4096 on the 70B shapes would take hours).
CPP_SUITE=${QMM_CPP_SUITE:-quick}
CPP_BACKENDS=${QMM_CPP_BACKENDS:-}
has() { case " $PARTS " in *" $1 "*) return 0;; esac; return 1; }
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  lscpu | grep -E "Model name|^CPU\(s\)|L3"
} > "$OUT/machine.txt" 2>&1
if has build; then
  cmake -S . -B "$BUILD" -G Ninja -DQMM_CUDA_ARCHITECTURES=90a > "$OUT/cmake.log" 2>&1 &&
    ninja -C "$BUILD" qmm_bench > "$OUT/build.log" 2>&1
  echo "build rc=$?"
  python3 -m pip install --no-build-isolation --no-deps --target "$BUILD/site" \
    -C build-dir="$BUILD/py" -C cmake.define.QMM_CUDA_ARCHITECTURES=90a . > "$OUT/pip.log" 2>&1
  echo "pip rc=$?"
fi
if has cpp; then
  "$BUILD/bench/qmm_bench" --qmm_suite="$CPP_SUITE" ${CPP_BACKENDS:+--qmm_backends=$CPP_BACKENDS} \
    --benchmark_out="$OUT/qmm_bench.json" > "$OUT/qmm_bench.txt" 2> "$OUT/qmm_bench.err"
  echo "qmm_bench rc=$?"
fi
# (QMM_GPU_BUILD may be relative or absolute, as tests/gpu_machine.sh passes it)
case $BUILD in /*) SITE=$BUILD/site ;; *) SITE=$PWD/$BUILD/site ;; esac
export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
cp bench/RESULTS.md "$OUT/RESULTS.md"  # both runs write their sections into this copy
if has gpu; then (cd "$OUT" && python3 -m qmatmul bench --suite "$SUITE" --backend cuda --compute float,int8 \
  --json results_gpu.json --plot roofline_gpu.png --markdown RESULTS.md \
  --markdown-section gpu "$@" > bench_gpu.txt 2> bench_gpu.err)
echo "qmatmul bench (cuda) rc=$?"; fi
# CPU: every x86 backend at 16 threads (M up to 1024: PERFORMANCE.md's CPU cases), then at one
# thread for the decode cases (no baseline: the 16-thread rows carry it).
if has cpu; then (cd "$OUT" && python3 -m qmatmul bench --suite "$SUITE" --compute float,int8 \
  --backend ${QMM_CPU_BACKENDS:-amx,avx512,avx2} --M ${QMM_CPU_MS:-1,16,256,1024} \
  --json results_cpu_xeon.json --plot roofline_cpu_xeon.png --markdown RESULTS.md \
  --markdown-section cpu-xeon "$@" > bench_cpu.txt 2> bench_cpu.err)
echo "qmatmul bench (cpu) rc=$?"; fi
if has cpu1; then (cd "$OUT" && python3 -m qmatmul bench --suite "$SUITE" --compute float,int8 \
  --backend ${QMM_CPU_BACKENDS:-amx,avx512,avx2} --M 1,16 --threads 1 --no-baseline \
  --json results_cpu_xeon_1t.json --markdown RESULTS.md \
  --markdown-section cpu-xeon-1t "$@" > bench_cpu1.txt 2> bench_cpu1.err)
echo "qmatmul bench (cpu, 1 thread) rc=$?"; fi
echo "== summary"
cat "$OUT/machine.txt"
grep -hE "ceiling|median|ERROR" "$OUT/qmm_bench.txt" "$OUT/qmm_bench.err" 2>/dev/null | cut -c1-200 | tail -40
tail -n 2 "$OUT/pip.log" 2>/dev/null
cat "$OUT/bench_gpu.txt" "$OUT/bench_cpu.txt" "$OUT/bench_cpu1.txt" 2>/dev/null | cut -c1-200
tail -n 3 "$OUT/bench_gpu.err" "$OUT/bench_cpu.err" "$OUT/bench_cpu1.err" 2>/dev/null
mkdir -p "$FINAL"
cp "$OUT"/*.png "$FINAL"/ 2>/dev/null
tar -czf "$FINAL/gpu_check.tar.gz" -C "$OUT" .
