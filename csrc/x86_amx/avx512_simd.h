// AVX-512 helpers shared by the avx512*/amx* kernel TUs only (never included by baseline code;
// everything is static inline, so no ISA-specific copy can be picked for another TU).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "qmatmul/qmatmul.h"

namespace qmm {
namespace x512 {

// fp32 -> bf16 bits with round-to-nearest-even and quiet NaNs, exactly as f32_to_bf16.
static inline __m256i cvt_f32_bf16_rne(__m512 v) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb);
  r = _mm512_srli_epi32(r, 16);
  const __m512i qnan = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
  const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  r = _mm512_mask_mov_epi32(r, nan, qnan);
  return _mm512_cvtepi32_epi16(r);
}

// Store n (0..16) fp32 values to y (dtype t) with store_from_f32's rounding.
static inline void store_f32x16(void* y, qmm_dtype t, __m512 v, int n) {
  const __mmask16 m = n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1u);
  if (t == QMM_DTYPE_F32) {
    _mm512_mask_storeu_ps(y, m, v);
  } else if (t == QMM_DTYPE_F16) {
    const __m256i h = _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_mask_storeu_epi16(y, m, h);
  } else {
    _mm256_mask_storeu_epi16(y, m, cvt_f32_bf16_rne(v));
  }
}

// Store one row of a panel's output: 32 fp32 values (v0: columns 0..15, v1: 16..31), the
// first `ncols` of them, to y + n0 (dtype t).
static inline void store_row32(void* yrow, qmm_dtype t, __m512 v0, __m512 v1, int ncols) {
  store_f32x16(yrow, t, v0, ncols < 16 ? ncols : 16);
  if (ncols > 16) {
    char* y1 = static_cast<char*>(yrow) + (t == QMM_DTYPE_F32 ? 64 : 32);
    store_f32x16(y1, t, v1, ncols - 16);
  }
}

}  // namespace x512
}  // namespace qmm
