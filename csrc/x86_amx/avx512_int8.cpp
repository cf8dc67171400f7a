// avx512 int8 mode (docs/semantics.md "int8 mode"), one weight panel (32 rows of W, layout in
// avx512_kernels.h) against up to 4 rows of quantized X at a time.
// VPDPBUSD multiplies unsigned by signed bytes: the unsigned operand is the weight as stored
// (u = w + 8 or w + 128) and the signed one is q (4 bytes broadcast per k-quad), so
//   sum u*q = sum w*q + off*sum_q  and  isum = acc - (off + zp) * sum_q  (exact in int32:
//   |acc| <= 65536 * 255 * 127 < 2^31 for the group sizes the backend accepts).
// Tile: MR (1..4) rows x 32 columns: MR x 2 int32 accumulators per group, MR x 2 fp32 totals.
// Per k-octet: bits=4 one 64-byte load per half, low nibbles (VPANDD) = k-quad 2o, high nibbles
// (VPSRLD + VPANDD) = k-quad 2o + 1; bits=8 one 64-byte load per half and k-quad; then per row
// 2 broadcasts and 4 VPDPBUSD. Epilogue per group and row, exactly the scalar backend's:
//   acc += (sx * scale) * float(isum)   (VPMULLD, VPSUBD, VCVTDQ2PS, 2 VMULPS, VADDPS)
// so results are bit-identical to the scalar backend's and independent of the thread count.
// Measured (16-core Xeon, 2026-11-23, tests/x86_xeon/RESULTS.md): M=1 on (28672, 8192) g128
// packed: bits=4 1.33-1.39 ms = 83-86% of streaming-read bandwidth, bits=8 2.48 ms = 90%.
#include <immintrin.h>

#include <cstring>

#include "core/numeric.h"  // convert_to_f32 (out of line, baseline)

#include "x86_amx/avx512_simd.h"
#include "x86_amx/avx512_tiles.h"

namespace qmm {
namespace x512 {
namespace {

inline __m512i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

template <int BITS, bool ZP, int MR>
void int8_tile(const Panel& pan, const int8_t* q, int64_t ldq, const float* sx, const int32_t* sq,
               int64_t G, int64_t gs, const OutRows& out) {
  const __m512i m0f = _mm512_set1_epi8(0x0f);
  constexpr int kOff = BITS == 4 ? 8 : 128;
  __m512 tot[MR][2];
  for (int m = 0; m < MR; ++m) tot[m][0] = tot[m][1] = _mm512_setzero_ps();
  constexpr int64_t kBytesPerK = BITS == 4 ? 16 : 32;
  for (int64_t g = 0; g < G; ++g) {
    __m512i acc[MR][2];
    for (int m = 0; m < MR; ++m) acc[m][0] = acc[m][1] = _mm512_setzero_si512();
    const int64_t k0 = g * gs;
    const uint8_t* wg = pan.w + k0 * kBytesPerK;
    const int8_t* qg = q + k0;
    for (int64_t o = 0; o < gs / 8; ++o) {
      const int8_t* qo = qg + o * 8;
      if (BITS == 4) {
        const __m512i A = _mm512_loadu_si512(wg + o * 128);
        const __m512i B = _mm512_loadu_si512(wg + o * 128 + 64);
        const __m512i la = _mm512_and_si512(A, m0f);
        const __m512i lb = _mm512_and_si512(B, m0f);
        const __m512i ha = _mm512_and_si512(_mm512_srli_epi32(A, 4), m0f);
        const __m512i hb = _mm512_and_si512(_mm512_srli_epi32(B, 4), m0f);
        for (int m = 0; m < MR; ++m) {
          const __m512i x0 = bcast4(qo + m * ldq);
          const __m512i x1 = bcast4(qo + m * ldq + 4);
          acc[m][0] = _mm512_dpbusd_epi32(acc[m][0], la, x0);
          acc[m][1] = _mm512_dpbusd_epi32(acc[m][1], lb, x0);
          acc[m][0] = _mm512_dpbusd_epi32(acc[m][0], ha, x1);
          acc[m][1] = _mm512_dpbusd_epi32(acc[m][1], hb, x1);
        }
      } else {
        const __m512i A0 = _mm512_loadu_si512(wg + o * 256);
        const __m512i B0 = _mm512_loadu_si512(wg + o * 256 + 64);
        const __m512i A1 = _mm512_loadu_si512(wg + o * 256 + 128);
        const __m512i B1 = _mm512_loadu_si512(wg + o * 256 + 192);
        for (int m = 0; m < MR; ++m) {
          const __m512i x0 = bcast4(qo + m * ldq);
          const __m512i x1 = bcast4(qo + m * ldq + 4);
          acc[m][0] = _mm512_dpbusd_epi32(acc[m][0], A0, x0);
          acc[m][1] = _mm512_dpbusd_epi32(acc[m][1], B0, x0);
          acc[m][0] = _mm512_dpbusd_epi32(acc[m][0], A1, x1);
          acc[m][1] = _mm512_dpbusd_epi32(acc[m][1], B1, x1);
        }
      }
    }
    __m512i z0 = _mm512_set1_epi32(kOff), z1 = _mm512_set1_epi32(kOff);
    if (ZP) {
      z0 = _mm512_add_epi32(z0, _mm512_cvtepi8_epi32(_mm_loadu_si128(
                                    reinterpret_cast<const __m128i*>(pan.z + g * kPanelN))));
      z1 = _mm512_add_epi32(z1, _mm512_cvtepi8_epi32(_mm_loadu_si128(
                                    reinterpret_cast<const __m128i*>(pan.z + g * kPanelN + 16))));
    }
    const __m512 s0 = _mm512_loadu_ps(pan.s + g * kPanelN);
    const __m512 s1 = _mm512_loadu_ps(pan.s + g * kPanelN + 16);
    for (int m = 0; m < MR; ++m) {
      const __m512i sqv = _mm512_set1_epi32(sq[m * G + g]);
      const __m512 sxv = _mm512_set1_ps(sx[m * G + g]);
      const __m512 f0 = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[m][0], _mm512_mullo_epi32(z0, sqv)));
      const __m512 f1 = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[m][1], _mm512_mullo_epi32(z1, sqv)));
      tot[m][0] = _mm512_add_ps(tot[m][0], _mm512_mul_ps(_mm512_mul_ps(sxv, s0), f0));
      tot[m][1] = _mm512_add_ps(tot[m][1], _mm512_mul_ps(_mm512_mul_ps(sxv, s1), f1));
    }
  }
  const size_t ysz = out.yt == QMM_DTYPE_F32 ? 4 : 2;
  for (int m = 0; m < MR; ++m)
    store_row32(static_cast<char*>(out.y) + size_t(m) * size_t(out.ldy) * ysz, out.yt, tot[m][0],
                tot[m][1], out.ncols);
}

template <int BITS, bool ZP>
void rows_impl(const Panel& pan, const int8_t* q, int64_t ldq, const float* sx, const int32_t* sq,
               int64_t G, int64_t gs, int rows, const OutRows& out) {
  for_row_tiles(rows, out, [&](auto mr, int m, const OutRows& o) {
    int8_tile<BITS, ZP, decltype(mr)::value>(pan, q + m * ldq, ldq, sx + m * G, sq + m * G, G, gs, o);
  });
}

size_t dsize(qmm_dtype t) { return t == QMM_DTYPE_F32 ? 4 : 2; }

// quantize_group_int8 (core/numeric.h) for n a multiple of 16, vectorized with the same
// arithmetic: a = max|x| (NaN if any NaN), inv = 127/a, q = clamp(rint(x*inv)) with a NaN
// product giving 0, sx = a/127; a == 0 gives q = 0, sx = 0. (numeric.h's inline functions are
// not called from ISA-specific code: an out-of-line copy could be picked for baseline callers.)
float quantize_group(const float* x, int64_t n, int8_t* q, int32_t* sum_q) {
  const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  __m512 amax = _mm512_setzero_ps();
  __mmask16 nan = 0;
  for (int64_t i = 0; i < n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    amax = _mm512_max_ps(amax, _mm512_and_ps(v, absmask));
  }
  float a = _mm512_reduce_max_ps(amax);
  if (nan) a = __builtin_nanf("");
  if (a == 0.0f) {
    std::memset(q, 0, size_t(n));
    *sum_q = 0;
    return 0.0f;
  }
  const float inv = 127.0f / a;
  const __m512 vinv = _mm512_set1_ps(inv);
  const __m512 hi = _mm512_set1_ps(127.0f), lo = _mm512_set1_ps(-127.0f);
  __m512i s = _mm512_setzero_si512();
  for (int64_t i = 0; i < n; i += 16) {
    const __m512 p = _mm512_mul_ps(_mm512_loadu_ps(x + i), vinv);
    const __mmask16 ok = _mm512_cmp_ps_mask(p, p, _CMP_ORD_Q);
    __m512 r = _mm512_roundscale_ps(p, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm512_min_ps(_mm512_max_ps(r, lo), hi);
    const __m512i v = _mm512_maskz_cvtps_epi32(ok, r);
    s = _mm512_add_epi32(s, v);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), _mm512_cvtepi32_epi8(v));
  }
  *sum_q = _mm512_reduce_add_epi32(s);
  return a / 127.0f;
}

}  // namespace

void int8_panel_rows(const Panel& pan, int bits, const int8_t* q, int64_t ldq, const float* sx,
                     const int32_t* sq, int64_t G, int64_t gs, int rows, const OutRows& out) {
  const bool zp = pan.z != nullptr;
  if (bits == 4) {
    zp ? rows_impl<4, true>(pan, q, ldq, sx, sq, G, gs, rows, out)
       : rows_impl<4, false>(pan, q, ldq, sx, sq, G, gs, rows, out);
  } else {
    zp ? rows_impl<8, true>(pan, q, ldq, sx, sq, G, gs, rows, out)
       : rows_impl<8, false>(pan, q, ldq, sx, sq, G, gs, rows, out);
  }
}

void prepare_int8_rows(const void* x, int64_t ldx, qmm_dtype xt, int rows, int64_t K, int64_t gs,
                       int8_t* q, int64_t q_row, int64_t q_group, float* sx, int32_t* sq,
                       int nthreads) {
  const int64_t G = K / gs;
  const size_t xsz = dsize(xt);
#pragma omp parallel num_threads(nthreads)
  {
    float* xr = nullptr;  // allocated by the threads that get a row (the team may be larger)
#pragma omp for schedule(static)
    for (int m = 0; m < rows; ++m) {
      if (!xr) xr = static_cast<float*>(aligned_alloc64(size_t(K) * sizeof(float)));
      convert_to_f32(static_cast<const char*>(x) + size_t(m) * size_t(ldx) * xsz, xt, K, xr);
      for (int64_t g = 0; g < G; ++g)
        sx[m * G + g] = quantize_group(xr + g * gs, gs, q + m * q_row + g * q_group, &sq[m * G + g]);
    }
    aligned_free64(xr);
  }
}

void prepare_float_rows(const void* x, int64_t ldx, qmm_dtype xt, int rows, int64_t K,
                        int64_t gs, float* xf, float* xsum, int nthreads) {
  const int64_t G = K / gs;
  const size_t xsz = dsize(xt);
#pragma omp parallel for schedule(static) num_threads(nthreads)
  for (int m = 0; m < rows; ++m) {
    float* xr = xf + size_t(m) * size_t(K);
    convert_to_f32(static_cast<const char*>(x) + size_t(m) * size_t(ldx) * xsz, xt, K, xr);
    for (int64_t g = 0; g < G; ++g) {
      float s = 0.0f;
      for (int64_t k = 0; k < gs; ++k) s += xr[g * gs + k];
      xsum[m * G + g] = s;
    }
  }
}

}  // namespace x512
}  // namespace qmm
