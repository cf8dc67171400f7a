// The AVX-512 per-panel kernels (avx512_float.cpp, avx512_int8.cpp), called by the avx512
// driver (avx512_gemm.cpp) and by the AMX backend for its small-M and remainder work.
// AVX-512 translation units only.
#pragma once

#include <cstdint>
#include <type_traits>

#include "x86_amx/avx512_kernels.h"

namespace qmm {
namespace x512 {

// Output rows of one panel: `rows` rows of Y starting at y (already offset to the panel's
// first column), row stride ldy elements, dtype yt, the first ncols (1..32) columns written.
struct OutRows {
  void* y;
  int64_t ldy;
  qmm_dtype yt;
  int ncols;
};

// The row loop every panel kernel shares: tiles of 4 rows of X, then one tile of the 1..3 left.
// tile(std::integral_constant<int, MR>, m, out_m) computes rows m .. m+MR-1 into out_m.
template <class Tile>
void for_row_tiles(int rows, const OutRows& out, Tile&& tile) {
  const size_t ysz = out.yt == QMM_DTYPE_F32 ? 4 : 2;
  auto at = [&](int m) {
    OutRows o = out;
    o.y = static_cast<char*>(out.y) + size_t(m) * size_t(out.ldy) * ysz;
    return o;
  };
  int m = 0;
  for (; m + 4 <= rows; m += 4) tile(std::integral_constant<int, 4>(), m, at(m));
  switch (rows - m) {
    case 0: break;
    case 1: tile(std::integral_constant<int, 1>(), m, at(m)); break;
    case 2: tile(std::integral_constant<int, 2>(), m, at(m)); break;
    default: tile(std::integral_constant<int, 3>(), m, at(m)); break;
  }
}

// Float mode: x fp32 rows (stride ldx), xsum[m * G + g] = sum of row m's group g. raw (bits=4
// only): the panel is pack_panel_raw4_x512(swap12 = false)'s; results are bit-identical.
void float_panel_rows(const Panel& pan, int bits, bool raw, const float* x, int64_t ldx,
                      const float* xsum, int64_t G, int64_t gs, int rows, const OutRows& out);

// Float mode, bits=4, AVX512_BF16 CPUs only (avx512_bf16.cpp): xp as prepare_bf16_rows wrote
// it (row stride ldx dwords; has_lo false for bf16 X, whose lo halves are zero); raw: the panel
// holds canonical nibbles (pack_panel_raw4_x512(swap12 = true)), else the avx512_kernels.h layout.
void bf16_panel_rows(const Panel& pan, bool raw, bool has_lo, const uint32_t* xp, int64_t ldx,
                     const float* xsum, int64_t G, int64_t gs, int rows, const OutRows& out);
// X rows as bf16 hi/lo pairs, K dwords per row, and the per-group sums of hi + lo [rows][G].
void prepare_bf16_rows(const void* x, int64_t ldx, qmm_dtype xt, int rows, int64_t K,
                       int64_t gs, uint32_t* xp, float* xsum, int nthreads);
// bits=4 canonical panel for the float kernels' raw forms: the 16x16 dword transpose of
// pack_panel_x512 without its nibble reorder and offset (signed nibbles, canonical order k0..k7
// in each dword); swap12 (for bf16_panel_rows): bytes 1 and 2 of each dword swapped (nibble
// order k0 k1 k4 k5 k2 k3 k6 k7). Both kernels give bit-identical results on raw panels.
void pack_panel_raw4_x512(const Problem& p, int64_t pi, bool swap12, uint8_t* dw, float* ds,
                          int8_t* dz);

// int8 mode: q int8 rows (stride ldq), sx / sq [m * G + g] as quantize_group_int8 gives them.
void int8_panel_rows(const Panel& pan, int bits, const int8_t* q, int64_t ldq, const float* sx,
                     const int32_t* sq, int64_t G, int64_t gs, int rows, const OutRows& out);

// Activation preparation for a block of rows (row-parallel inside, deterministic).
// Float: xf [rows][K] fp32 and xsum [rows][G].
void prepare_float_rows(const void* x, int64_t ldx, qmm_dtype xt, int rows, int64_t K,
                        int64_t gs, float* xf, float* xsum, int nthreads);
// int8: q of row m, group g at q + m * q_row + g * q_group (row-major: q_row = K, q_group = gs;
// group-major: q_row = gs, q_group = rows_padded * gs), sx / sq [rows][G] (bit-identical to
// quantize_group_int8).
void prepare_int8_rows(const void* x, int64_t ldx, qmm_dtype xt, int rows, int64_t K, int64_t gs,
                       int8_t* q, int64_t q_row, int64_t q_group, float* sx, int32_t* sq,
                       int nthreads);

}  // namespace x512
}  // namespace qmm
