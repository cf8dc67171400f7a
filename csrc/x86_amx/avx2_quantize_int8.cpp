// avx2_quantize_row_int8: the int8 mode's activation quantizer, 8 fp32 lanes at a time.
// Reads one fp32 row of K values, group by group (group_size % 8 == 0). Per group:
//   pass 1: a = max |x| (vandps + vmaxps), NaN seen via vcmpunordps
//   pass 2: p = x * inv (vmulps, no FMA), clamp to [-127, 127] in float (vmaxps/vminps put a NaN
//           product at -127 and the NaN mask then zeroes it), vcvtps2dq (MXCSR rounding:
//           round-half-even by default, as nearbyint in the scalar quantizer), sums in int32.
// Clamping before rounding equals rounding before clamping because the bounds are integers, and
// it keeps +-Inf products (tiny a makes 127/a infinite) at +-127 as the scalar code does.
// Bit-identical to quantize_group_int8 (tests/x86/avx2_test.cpp checks it on random data,
// ties, NaN, Inf, zeros and subnormals).
#include <immintrin.h>

#include "x86_amx/avx2_kernels.h"

namespace qmm {
namespace avx2 {
namespace {

inline float hmax8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

inline int32_t hsum8_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

}  // namespace

void avx2_quantize_row_int8(const float* x, int64_t K, int64_t gs, int8_t* q, float* sx,
                            int32_t* sum_q) {
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  const int64_t G = K / gs;
  for (int64_t g = 0; g < G; ++g) {
    const float* xg = x + g * gs;
    int8_t* qg = q + g * gs;
    __m256 vmax = _mm256_setzero_ps();
    __m256 vnan = _mm256_setzero_ps();
    for (int64_t k = 0; k < gs; k += 8) {
      const __m256 v = _mm256_loadu_ps(xg + k);
      vnan = _mm256_or_ps(vnan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
      vmax = _mm256_max_ps(vmax, _mm256_and_ps(v, absmask));
    }
    float a = hmax8(vmax);
    if (_mm256_movemask_ps(vnan)) a = __builtin_nanf("");
    if (a == 0.0f) {
      for (int64_t k = 0; k < gs; ++k) qg[k] = 0;
      sx[g] = 0.0f;
      sum_q[g] = 0;
      continue;
    }
    const float inv = 127.0f / a;
    const __m256 vinv = _mm256_set1_ps(inv);
    __m256i vsum = _mm256_setzero_si256();
    for (int64_t k = 0; k < gs; k += 8) {
      const __m256 p = _mm256_mul_ps(_mm256_loadu_ps(xg + k), vinv);
      const __m256 isnan = _mm256_cmp_ps(p, p, _CMP_UNORD_Q);
      const __m256 c = _mm256_min_ps(_mm256_max_ps(p, lo), hi);
      const __m256i r = _mm256_andnot_si256(_mm256_castps_si256(isnan), _mm256_cvtps_epi32(c));
      vsum = _mm256_add_epi32(vsum, r);
      // 8 int32 in [-127, 127] -> 8 int8 in order
      const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
      const __m128i b8 = _mm_packs_epi16(w16, w16);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(qg + k), b8);
    }
    sum_q[g] = hsum8_epi32(vsum);
    sx[g] = a / 127.0f;
  }
}

}  // namespace avx2
}  // namespace qmm
