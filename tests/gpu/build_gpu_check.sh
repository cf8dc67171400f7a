#!/usr/bin/env bash
# Build libqmatmul (with the cuda backend, static cudart) and the gpu_check driver into
# build-gpu/ here, so that run_gpu_checks.sh can run them on the GPU machine (carry build-gpu).
# ONLY_CUDA=1 builds from a snapshot of the tree without the x86 kernel files (when another
# backend's work in progress does not compile).
set -eu
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${BUILD:-$ROOT/build-cuda}
SRC=$ROOT
if [ "${ONLY_CUDA:-0}" = 1 ]; then
  SRC=/tmp/qmm-cuda-src
  BUILD=$ROOT/build-cuda-only
  mkdir -p "$SRC"
  rm -rf "$SRC" && mkdir -p "$SRC" && tar -C "$ROOT" --exclude="./build*" --exclude=./.git -cf - . | tar -C "$SRC" -xf -
  find "$SRC/csrc/x86_amx" -name '*.cpp' ! -name 'cpu_features_x86.cpp' -delete
fi
cmake -S "$SRC" -B "$BUILD" -G Ninja -DQMM_CUDA=ON -DQMM_BUILD_BENCH=OFF > /dev/null
ninja -C "$BUILD" qmatmul
mkdir -p build-gpu
cp -L "$BUILD/libqmatmul.so.0" build-gpu/
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
g++ -O2 -std=c++17 tests/gpu/gpu_check.cpp -Icsrc/include -I"$CUDA_HOME/include" -Lbuild-gpu \
  -l:libqmatmul.so.0 "$CUDA_HOME/lib64/libcudart_static.a" -lpthread -ldl -lrt \
  -Wl,-rpath,'$ORIGIN' -o build-gpu/gpu_check
ls -la build-gpu
