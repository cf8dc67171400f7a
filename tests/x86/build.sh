#!/bin/sh
# Builds the avx2 backend's test/bench driver against a library build directory.
#   tests/x86/build.sh [BUILD_DIR (default build-avx2)] [extra compiler flags...]
set -e
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build-avx2}
[ $# -gt 0 ] && shift
c++ -O2 -g -std=c++17 -mavx2 -mfma -mf16c -fopenmp -ffp-contract=off "$@" \
  -I"$ROOT/csrc/include" -I"$ROOT/csrc" \
  "$ROOT/tests/x86/avx2_test.cpp" "$ROOT/csrc/x86_amx/avx2_quantize_int8.cpp" \
  -L"$BUILD" -lqmatmul -Wl,-rpath,"$BUILD" -o "$BUILD/avx2_test"
echo "built $BUILD/avx2_test"
