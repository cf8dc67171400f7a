#!/usr/bin/env bash
# Builds bench/llama_cpp/side_by_side.cpp: qmatmul beside llama.cpp's ggml Q4_0 matmul (CPU
# backend) in one process. ggml is built from the llama.cpp sources vendored in the
# llama-cpp-python sdist on PyPI; it is a benchmark baseline only, never part of the package.
#
#   bench/llama_cpp/build.sh OUT [native|sapphirerapids] [QMATMUL_BUILD_DIR]
#
# native: ggml for this CPU (GGML_NATIVE); sapphirerapids: AVX-512 (F, BW, VL, DQ, VNNI, BF16,
# VBMI) + AMX (tile, int8, bf16), for the GPU machine's Xeon. QMATMUL_BUILD_DIR (default
# build-ci) holds a CMake build of libqmatmul; OUT receives `side_by_side` and a copy of that
# libqmatmul (rpath $ORIGIN), so OUT can be copied to a machine without network and run there:
#
#   OUT/side_by_side THREADS [M,M,...] [BACKEND,...]
#
# LLAMA_SDIST=path uses an sdist already downloaded instead of `pip download`.
set -eu
cd "$(dirname "$0")/../.."
OUT=${1:?usage: build.sh OUT [native|sapphirerapids] [QMATMUL_BUILD_DIR]}
ARCH=${2:-native}
QB=${3:-build-ci}
WORK=${LLAMA_WORK:-/tmp/qmm_llama_cpp}
mkdir -p "$WORK" "$OUT"
SDIST=${LLAMA_SDIST:-}
if [ -z "$SDIST" ]; then
  SDIST=$(ls "$WORK"/llama_cpp_python-*.tar.gz 2>/dev/null | head -1 || true)
  if [ -z "$SDIST" ]; then
    python3 -m pip download --no-deps --no-build-isolation --no-binary :all: llama-cpp-python \
      -d "$WORK" > "$WORK/pip.log" 2>&1 || { tail -5 "$WORK/pip.log"; exit 1; }
    SDIST=$(ls "$WORK"/llama_cpp_python-*.tar.gz | head -1)
  fi
fi
SRC="$WORK/src"
if [ ! -d "$SRC" ]; then
  mkdir -p "$SRC"
  tar xzf "$SDIST" -C "$SRC" --strip-components=1
fi
G="$SRC/vendor/llama.cpp/ggml"
[ -f "$G/ggml.pc.in" ] || touch "$G/ggml.pc.in"  # not in the sdist; only its install step reads it
case $ARCH in
  native) FLAGS=(-DGGML_NATIVE=ON) ;;
  sapphirerapids)
    FLAGS=(-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
      -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AVX512_VBMI=ON
      -DGGML_AMX_TILE=ON -DGGML_AMX_INT8=ON -DGGML_AMX_BF16=ON) ;;
  *) echo "unknown arch $ARCH"; exit 2 ;;
esac
GB="$WORK/ggml-$ARCH"
cmake -S "$G" -B "$GB" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DGGML_OPENMP=ON \
  -DGGML_BUILD_TESTS=OFF -DGGML_BUILD_EXAMPLES=OFF "${FLAGS[@]}" > "$WORK/ggml-$ARCH.cmake.log"
ninja -C "$GB" > "$WORK/ggml-$ARCH.build.log"
cp -L "$QB/libqmatmul.so.0" "$OUT/"
g++ -O2 -std=c++17 -Wall -fopenmp bench/llama_cpp/side_by_side.cpp -I"$G/include" -Icsrc/include \
  "$GB/src/libggml.a" "$GB/src/libggml-cpu.a" "$GB/src/libggml-base.a" -L"$OUT" -l:libqmatmul.so.0 \
  -Wl,-rpath,'$ORIGIN' -lpthread -ldl -o "$OUT/side_by_side"
echo "built $OUT/side_by_side (ggml $(basename "$SDIST"), $ARCH, qmatmul from $QB)"
