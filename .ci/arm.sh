#!/usr/bin/env bash
# The Arm backends under QEMU user mode, on an x86-64 CI machine (or anywhere with the tools).
#
#   .ci/arm.sh [VECTORS_DIR]
#
# Installs the aarch64 cross toolchain and qemu-user when missing, cross-builds libqmatmul, the
# conformance runner and tests/arm/arm_check.cpp (cmake/toolchain-aarch64.cmake), then for each
# CPU model
#   max          (i8mm + dotprod)  automatic dispatch must pick neon_i8mm
#   neoverse-n1  (dotprod, no i8mm) automatic dispatch must pick neon   (SDOT int8 path)
#   cortex-a72   (plain NEON)       automatic dispatch must pick neon   (SMULL int8 path)
# checks the detected features and the automatic choice, runs arm_check (every available Arm
# backend forced, against the scalar backend, canonical and prepacked weights, both compute
# modes) and, given VECTORS_DIR, the conformance runner on those vectors. QEMU raises SIGILL on
# an instruction the model lacks, so each run also proves that no path strays past its CPU.
# Environment: QMM_ARM_BUILD (build dir, default build-arm-ci), QMM_ARM_QUICK=1 (fewer cases).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${QMM_ARM_BUILD:-$ROOT/build-arm-ci}
VEC=${1:-}
JOBS=$(nproc 2>/dev/null || echo 2)
SYSROOT=/usr/aarch64-linux-gnu
export DEBIAN_FRONTEND=noninteractive
T0=$SECONDS
step() { printf '\n--- arm: %s (%ss)\n' "$1" "$((SECONDS - T0))"; }

step "tools"
need=()
command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 || need+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null 2>&1 || need+=(qemu-user)
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v ninja >/dev/null 2>&1 || need+=(ninja-build)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo -E"; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "installed: ${need[*]:-nothing needed}"
aarch64-linux-gnu-g++ --version | head -1
qemu-aarch64 --version | head -1

step "cross build (cmake/toolchain-aarch64.cmake)"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/toolchain-aarch64.cmake" \
  -DQMM_CUDA=OFF -DQMM_BUILD_BENCH=OFF -DQMM_BUILD_C_TESTS=OFF >/dev/null
ninja -C "$BUILD" -j "$JOBS" qmatmul qmm_conformance
aarch64-linux-gnu-g++ -O2 -std=c++17 -I"$ROOT/csrc/include" "$ROOT/tests/arm/arm_check.cpp" \
  -L"$BUILD" -lqmatmul -Wl,-rpath,'$ORIGIN' -o "$BUILD/arm_check"

QEMU=(qemu-aarch64 -L "$SYSROOT")
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
export LD_LIBRARY_PATH="$BUILD${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
MODE=""
[ "${QMM_ARM_QUICK:-0}" = 1 ] && MODE=quick

# Run a command under QEMU; a SIGILL (status 132) is reported as such.
qrun() {
  local cpu=$1
  shift
  local rc=0
  "${QEMU[@]}" -cpu "$cpu" "$@" || rc=$?
  if [ $rc = 132 ]; then echo "SIGILL under -cpu $cpu: a kernel used an instruction this CPU lacks" >&2; fi
  return $rc
}

declare -A EXPECT=([max]=neon_i8mm [neoverse-n1]=neon [cortex-a72]=neon)
declare -A FEAT_HAS=([max]="dotprod i8mm" [neoverse-n1]="dotprod" [cortex-a72]="neon")
declare -A FEAT_NOT=([max]="" [neoverse-n1]="i8mm" [cortex-a72]="dotprod i8mm")
summary=()
fail=0
for cpu in max neoverse-n1 cortex-a72; do
  step "-cpu $cpu: dispatch"
  out=$(qrun "$cpu" "$BUILD/arm_check" dispatch) || { fail=1; summary+=("$cpu: dispatch probe FAILED"); continue; }
  echo "$out"
  feats=$(sed -n 's/^cpu_features: //p' <<<"$out")
  ok=1
  for f in ${FEAT_HAS[$cpu]}; do grep -qw "$f" <<<"$feats" || { echo "expected feature $f"; ok=0; }; done
  for f in ${FEAT_NOT[$cpu]}; do grep -qw "$f" <<<"$feats" && { echo "unexpected feature $f"; ok=0; }; done
  for mode in float int8; do
    got=$(sed -n "s/^auto_$mode: //p" <<<"$out")
    [ "$got" = "${EXPECT[$cpu]}" ] || { echo "auto ($mode): got '$got', expected '${EXPECT[$cpu]}'"; ok=0; }
  done
  [ $ok = 1 ] || fail=1
  line="$cpu: auto=$(sed -n 's/^auto_int8: //p' <<<"$out") [$feats]"

  step "-cpu $cpu: arm_check (forced backends vs scalar)"
  if res=$(qrun "$cpu" "$BUILD/arm_check" compare $MODE); then
    line+=" | arm_check: $(tail -1 <<<"$res")"
  else
    echo "$res" | grep -v '^PASS' | tail -40
    line+=" | arm_check FAILED: $(tail -1 <<<"$res")"
    fail=1
  fi
  echo "$res" | head -2

  if [ -n "$VEC" ]; then
    step "-cpu $cpu: conformance vectors ($VEC)"
    if res=$(qrun "$cpu" "$BUILD/qmm_conformance" "$VEC" --quiet 2>&1); then
      line+=" | conformance: $(tail -1 <<<"$res")"
    else
      echo "$res" | tail -40
      line+=" | conformance FAILED: $(tail -1 <<<"$res")"
      fail=1
    fi
  fi
  [ $ok = 1 ] || line+=" | DISPATCH/FEATURES WRONG"
  summary+=("$line")
done

step "summary"
printf '%s\n' "${summary[@]}"
if [ $fail != 0 ]; then
  echo "arm: FAILED"
  exit 1
fi
echo "arm: passed in $((SECONDS - T0))s"
