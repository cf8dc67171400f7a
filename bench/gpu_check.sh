#!/usr/bin/env bash
# One call on the GPU machine: build the library + qmm_bench (minibench harness: no Google
# Benchmark there), run the C++ quick suite on every available backend, install the package
# offline and run `qmatmul bench` on the CUDA backend and on the best CPU backend.
# Usage (from the repository root): QMM_COMMIT=<git hash> bench/gpu_check.sh [extra qmatmul-bench args]
# (QMM_COMMIT: the device's copy of the tree has no .git, so say which commit it is.)
# Logs, JSON and a copy of bench/RESULTS.md with the gpu-h100 and cpu-xeon sections filled in are
# packed into $OUT/gpu_check.tar.gz (default OUT=bench/out/gpu), the plots copied beside it; to
# keep them: tar -xzf gpu_check.tar.gz -C bench ./RESULTS.md ./roofline_gpu_h100.png
# ./roofline_cpu_xeon.png ./results_gpu_h100.json ./results_cpu_xeon.json
# The last lines printed are a short summary.
set -uo pipefail
FINAL=${OUT:-bench/out/gpu}
OUT=$(mktemp -d)  # everything is written here, then packed into $FINAL/gpu_check.tar.gz
BUILD=${QMM_GPU_BUILD:-build-gpu}
SUITE=${QMM_BENCH_SUITE:-quick}
# Parts to run (a device call is limited to 10 minutes: split a full-suite run over calls, e.g.
# QMM_GPU_PARTS="build gpu", then "build cpu"; build outputs persist while the machine is warm).
PARTS=${QMM_GPU_PARTS:-"build cpp gpu cpu"}
# C++ backends: every available one for the quick suite, only cuda otherwise (scalar at M=4096
# on the 70B shapes would take hours).
if [ "$SUITE" = quick ]; then CPP_BACKENDS=${QMM_CPP_BACKENDS:-}; else CPP_BACKENDS=${QMM_CPP_BACKENDS:-cuda}; fi
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
  "$BUILD/bench/qmm_bench" --qmm_suite="$SUITE" ${CPP_BACKENDS:+--qmm_backends=$CPP_BACKENDS} \
    --benchmark_out="$OUT/qmm_bench.json" > "$OUT/qmm_bench.txt" 2> "$OUT/qmm_bench.err"
  echo "qmm_bench rc=$?"
fi
export PYTHONPATH="$PWD/$BUILD/site${PYTHONPATH:+:$PYTHONPATH}"
cp bench/RESULTS.md "$OUT/RESULTS.md"  # both runs write their sections into this copy
if has gpu; then (cd "$OUT" && python3 -m qmatmul bench --suite "$SUITE" --backend cuda --compute float,int8 \
  --json results_gpu_h100.json --plot roofline_gpu_h100.png --markdown RESULTS.md \
  --markdown-section gpu-h100 "$@" > bench_gpu.txt 2> bench_gpu.err)
echo "qmatmul bench (cuda) rc=$?"; fi
if has cpu; then (cd "$OUT" && python3 -m qmatmul bench --suite "$SUITE" --compute float,int8 \
  --json results_cpu_xeon.json --plot roofline_cpu_xeon.png --markdown RESULTS.md \
  --markdown-section cpu-xeon "$@" > bench_cpu.txt 2> bench_cpu.err)
echo "qmatmul bench (cpu) rc=$?"; fi
echo "== summary"
cat "$OUT/machine.txt"
grep -hE "ceiling|median|ERROR" "$OUT/qmm_bench.txt" "$OUT/qmm_bench.err" 2>/dev/null | cut -c1-200 | tail -40
tail -n 2 "$OUT/pip.log" 2>/dev/null
cat "$OUT/bench_gpu.txt" "$OUT/bench_cpu.txt" 2>/dev/null | cut -c1-200
tail -n 3 "$OUT/bench_gpu.err" "$OUT/bench_cpu.err" 2>/dev/null
mkdir -p "$FINAL"
cp "$OUT"/*.png "$FINAL"/ 2>/dev/null
tar -czf "$FINAL/gpu_check.tar.gz" -C "$OUT" .
