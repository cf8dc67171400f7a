#!/usr/bin/env bash
# Everything that only the GPU machine (H100 + AVX-512/AMX Xeon) can run, in one call:
# builds and installs the package offline, runs pytest (every available backend forced in
# turn, the CUDA tests with torch and CuPy), the C++ conformance runner (host backends and the
# cuda backend on device copies), and prints a short summary last. Logs go to $OUT.
#   OUT=/some/dir bash tests/run_on_gpu_machine.sh
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/qmm_gpu_machine}
mkdir -p "$OUT"
summary=()
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1
lscpu | grep -E "Model name|^CPU\(s\)" | head -2

t0=$SECONDS
python3 -m pip install --no-build-isolation --no-deps -q . > "$OUT/pip.log" 2>&1
summary+=("pip install: rc=$? ($((SECONDS - t0))s)")
python3 -c "import qmatmul, json; print(json.dumps(qmatmul.info()))" | tee "$OUT/info.json"

t0=$SECONDS
(cd /tmp && python3 -m pytest -q -p no:cacheprovider "$OLDPWD/tests" > "$OUT/pytest.log" 2>&1)
summary+=("pytest: rc=$? $(tail -1 "$OUT/pytest.log") ($((SECONDS - t0))s)")
grep -E "^(FAILED|ERROR)|Error" "$OUT/pytest.log" | head -20

t0=$SECONDS
cmake -S . -B build-gpu-machine -G Ninja -DQMM_BUILD_BENCH=OFF -DQMM_CUDA_ARCHITECTURES=90a \
  > "$OUT/cmake.log" 2>&1 && ninja -C build-gpu-machine > "$OUT/ninja.log" 2>&1
summary+=("cmake build: rc=$? ($((SECONDS - t0))s)")
VEC=$(mktemp -d)
python3 -m qmatmul.conformance "$VEC" > /dev/null
./build-gpu-machine/qmm_conformance "$VEC" --quiet > "$OUT/conformance.log" 2>&1
summary+=("conformance: rc=$? $(grep -E 'backends tested' "$OUT/conformance.log") | $(tail -1 "$OUT/conformance.log")")
grep -E "^FAIL" "$OUT/conformance.log" | head -10
./build-gpu-machine/qmm_c_api_test > "$OUT/c_api.log" 2>&1
summary+=("C API test: rc=$? $(tail -1 "$OUT/c_api.log")")

if [ -n "${QMM_GPU_MACHINE_BENCH:-}" ]; then
  t0=$SECONDS
  (cd /tmp && eval "$QMM_GPU_MACHINE_BENCH") > "$OUT/bench.log" 2>&1
  summary+=("bench: rc=$? ($((SECONDS - t0))s)")
fi

echo
echo "===== summary ====="
printf '%s\n' "${summary[@]}"
