#!/usr/bin/env bash
# Everything the GPU machine (H100 + 16-core AVX-512/AMX Xeon) checks, in one device call:
#   OUT=dir tests/gpu_machine.sh [STEP ...]
# Steps (default: all but bench and xeonbench, in this order):
#   package    pip install the package offline (CUDA sm_90a), pytest with every backend forced
#              in turn (avx2, avx512, amx, scalar, and the CUDA tests with torch and CuPy)
#   build      one CMake build (CUDA sm_90a): conformance runner, C API test, qmm_bench
#              (Google Benchmark if installed there, as on 2026-12-01; else the bench/minibench.h
#              stand-in), gpu_check, xeon_test
#   conformance  NumPy-written vectors through every available backend (host and cuda)
#   cuda       tests/gpu/gpu_check: check, graph capture, compute-sanitizer memcheck + racecheck
#   xeon       tests/x86_xeon/xeon_test check avx512 and amx (random cases vs scalar / float64)
#   bench      bench/gpu_check.sh (qmm_bench quick + `qmatmul bench` on cuda and the best CPU
#              backend; QMM_BENCH_SUITE=quick|full) -> $OUT/gpu_check.tar.gz with RESULTS.md
#   xeonbench  tests/x86_xeon/xeon_test bench (avx512/amx timing table, 1 and 16 threads)
#   xeondecode tests/x86_xeon/xeon_test bench decode (avx512 packed vs canonical, M = 1, 2, 4,
#              float and int8)
#   probe      tests/gpu/decode_probe.cu built and run (QMM_PROBE_MODE: decode (default), ncu,
#              or all for the read-pattern rows too)
#   gemmprobe  tests/gpu/gemm_probe.cu built (with cuBLAS when the toolkit has it) and run:
#              the wgmma GEMM checked against the mma.sync GEMM, then both timed beside cuBLAS
#              (QMM_GEMM_PROBE_MODE: all (default), check, time)
# Full logs under $OUT; the last lines printed are the summary.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-/tmp/qmm_gpu_machine}
mkdir -p "$OUT"
B=${QMM_GPU_BUILD:-$ROOT/build-gpu-machine}
STEPS=${*:-package build conformance cuda xeon}
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
summary=()
note() { summary+=("$1"); echo ">> $1"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1
echo "$(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"

for step in $STEPS; do
  t0=$SECONDS
  case $step in
    package)
      python3 -m pip install --no-build-isolation --no-deps -q \
        -C cmake.define.QMM_CUDA_ARCHITECTURES=90a . > "$OUT/pip.log" 2>&1
      note "pip install: rc=$? ($((SECONDS - t0))s)"
      python3 -c "import qmatmul, json; print(json.dumps(qmatmul.info()))" | tee "$OUT/info.json"
      (cd /tmp && timeout 400 python3 -m pytest -q -p no:cacheprovider -rs "$ROOT/tests" \
        > "$OUT/pytest.log" 2>&1)
      note "pytest: rc=$? $(tail -1 "$OUT/pytest.log") ($((SECONDS - t0))s)"
      grep -E "^(FAILED|ERROR|SKIPPED)" "$OUT/pytest.log" | head -20 ;;
    build)
      { cmake -S . -B "$B" -G Ninja -DQMM_CUDA=ON -DQMM_CUDA_ARCHITECTURES=90a &&
        ninja -C "$B"; } > "$OUT/build.log" 2>&1
      rc=$?
      g++ -O2 -std=c++17 tests/gpu/gpu_check.cpp -Icsrc/include -I"$CUDA_HOME/include" -L"$B" \
        -lqmatmul "$CUDA_HOME/lib64/libcudart_static.a" -lpthread -ldl -lrt \
        -Wl,-rpath,"$B" -o "$B/gpu_check" >> "$OUT/build.log" 2>&1 || rc=$?
      g++ -O2 -std=c++17 -fopenmp -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq \
        -Icsrc/include tests/x86_xeon/xeon_test.cpp -L"$B" -lqmatmul -Wl,-rpath,"$B" \
        -o "$B/xeon_test" >> "$OUT/build.log" 2>&1 || rc=$?
      [ $rc = 0 ] || tail -30 "$OUT/build.log"
      note "cmake build: rc=$rc ($((SECONDS - t0))s)" ;;
    conformance)
      VEC=$(mktemp -d)
      (cd /tmp && python3 -m qmatmul.conformance "$VEC" > /dev/null)
      # LD_LIBRARY_PATH: a prebuilt QMM_GPU_BUILD (carried build-gpu/) has no rpath to itself
      LD_LIBRARY_PATH="$B${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        timeout 300 "$B/qmm_conformance" "$VEC" --quiet > "$OUT/conformance.log" 2>&1
      note "conformance: rc=$? $(grep -E 'backends tested' "$OUT/conformance.log") | $(tail -1 "$OUT/conformance.log")"
      grep -E "^FAIL" "$OUT/conformance.log" | head -10
      LD_LIBRARY_PATH="$B${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$B/qmm_c_api_test" > "$OUT/c_api.log" 2>&1
      note "C API test: rc=$? $(tail -1 "$OUT/c_api.log")" ;;
    cuda)
      mkdir -p "$B/gpu" && cp "$B/gpu_check" "$B/gpu/" && cp -L "$B/libqmatmul.so.0" "$B/gpu/"
      OUT=$OUT/cuda STEPS=${QMM_CUDA_STEPS:-"check graph memcheck racecheck"} \
        bash tests/gpu/run_gpu_checks.sh "$B/gpu" > "$OUT/cuda.log" 2>&1
      note "cuda checks: rc=$? $(sed -n '/SUMMARY =/,$p' "$OUT/cuda.log" | tail -n +2 | tr '\n' ';' | cut -c1-400)" ;;
    xeon)
      for b in avx512 amx; do
        timeout 150 "$B/xeon_test" check $b "${QMM_XEON_CASES:-300}" > "$OUT/xeon_check_$b.log" 2>&1
        note "xeon check $b: rc=$? $(grep -E 'cases ran' "$OUT/xeon_check_$b.log" | tail -1)"
      done ;;
    bench)
      OUT=$OUT/bench QMM_GPU_BUILD="$B" QMM_GPU_PARTS="${QMM_GPU_PARTS:-cpp gpu cpu}" \
        bash bench/gpu_check.sh ${QMM_BENCH_ARGS:-} > "$OUT/bench.log" 2>&1
      note "bench: rc=$? ($((SECONDS - t0))s)"
      tail -40 "$OUT/bench.log" ;;
    xeonbench)
      timeout 300 "$B/xeon_test" bench "${QMM_XEON_BUDGET:-120}" full > "$OUT/xeon_bench.log" 2>&1
      note "xeon bench: rc=$? ($((SECONDS - t0))s)"
      cat "$OUT/xeon_bench.log" ;;
    xeondecode)
      timeout 300 "$B/xeon_test" bench "${QMM_XEON_BUDGET:-100}" decode > "$OUT/xeon_decode.log" 2>&1
      note "xeon decode bench: rc=$? ($((SECONDS - t0))s)"
      cat "$OUT/xeon_decode.log" ;;
    probe)
      mkdir -p "$B" && nvcc -O3 -std=c++17 -arch=sm_90a -Icsrc -Icsrc/include \
        tests/gpu/decode_probe.cu -o "$B/decode_probe" > "$OUT/probe_build.log" 2>&1 &&
        timeout 120 "$B/decode_probe" ${QMM_PROBE_MODE:-decode} > "$OUT/probe.log" 2>&1
      note "decode probe: rc=$? ($((SECONDS - t0))s)"
      cat "$OUT/probe.log" ;;
    gemmprobe)
      mkdir -p "$B"
      gp() { nvcc -O3 -std=c++17 -arch=sm_90a --expt-relaxed-constexpr -Icsrc -Icsrc/include \
        tests/gpu/gemm_probe.cu "$@" -o "$B/gemm_probe"; }
      { gp -lcublas || gp -DQMM_NO_CUBLAS; } > "$OUT/gemm_probe_build.log" 2>&1 &&
        timeout 300 "$B/gemm_probe" ${QMM_GEMM_PROBE_MODE:-all} > "$OUT/gemm_probe.log" 2>&1
      note "gemm probe: rc=$? ($((SECONDS - t0))s) $(grep 'GEMM PROBE CHECK' "$OUT/gemm_probe.log")"
      cat "$OUT/gemm_probe.log" ;;
    *) note "unknown step $step" ;;
  esac
done
echo
echo "===== summary ====="
printf '%s\n' "${summary[@]}"
