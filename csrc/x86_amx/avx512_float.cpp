// avx512 float mode, one weight panel (32 rows of W, layout in avx512_kernels.h) against up to
// 4 rows of X at a time (fp32, converted once per block by the driver).
// Tile: MR (1..4) rows of X x 32 columns of Y = MR x 2 zmm accumulators per group plus MR x 2
// running totals. Per k: the two 16-lane weight vectors are made in registers,
//   bits=4: VPSRLD (the nibble's shift) + VPERMPS from a 16-entry table of the signed values
//           w = u - 8 (the table index is the low 4 bits: no mask, no int->float conversion);
//   bits=8: VPSRLD + VPANDD + VCVTDQ2PS of u = w + 128,
// then one VFMADD231PS per X row with the X value broadcast from memory. Per group the exact
// integer-valued sums are scaled once: total += acc * scale (one FMA), and the offsets are
// removed with the group sums of X: total -= scale * (zp + 128 or zp) * xsum. With one (two) X
// rows the k-loop rotates over 4 (2) accumulator sets so 8 FMA chains cover the latency.
// Every output is computed by one thread in a fixed order.
// Measured (16-core Xeon, AVX-512, 2026-11-23, tests/x86_xeon/RESULTS.md): M=1 on (28672, 8192)
// g128 packed: bits=4 1.87 ms = 62% of streaming-read bandwidth (compute-bound, below the 85%
// goal), bits=8 2.77 ms = 80%.
#include <immintrin.h>

#include "x86_amx/avx512_simd.h"
#include "x86_amx/avx512_tiles.h"

namespace qmm {
namespace x512 {
namespace {

template <int BITS, bool ZP, int MR>
void float_tile(const Panel& pan, const float* x, int64_t ldx, const float* xsum, int64_t G,
                int64_t gs, const OutRows& out) {
  constexpr int KS = MR == 1 ? 4 : MR == 2 ? 2 : 1;
  const __m512 lut = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
  const __m512i m255 = _mm512_set1_epi32(255);
  __m512 tot[MR][2];
  for (int m = 0; m < MR; ++m) tot[m][0] = tot[m][1] = _mm512_setzero_ps();
  constexpr int64_t kBytesPerK = BITS == 4 ? 16 : 32;
  for (int64_t g = 0; g < G; ++g) {
    __m512 acc[MR][2][KS];
    for (int m = 0; m < MR; ++m)
      for (int s = 0; s < KS; ++s) acc[m][0][s] = acc[m][1][s] = _mm512_setzero_ps();
    const int64_t k0 = g * gs;
    const uint8_t* wg = pan.w + k0 * kBytesPerK;
    const float* xg = x + k0;
    for (int64_t o = 0; o < gs / 8; ++o) {
      const float* xo = xg + o * 8;
      if (BITS == 4) {
        const __m512i A = _mm512_loadu_si512(wg + o * 128);
        const __m512i B = _mm512_loadu_si512(wg + o * 128 + 64);
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
          const int sh = 8 * (j & 3) + 4 * (j >> 2);
          const __m512 wa = _mm512_permutexvar_ps(sh ? _mm512_srli_epi32(A, sh) : A, lut);
          const __m512 wb = _mm512_permutexvar_ps(sh ? _mm512_srli_epi32(B, sh) : B, lut);
          for (int m = 0; m < MR; ++m) {
            const __m512 xv = _mm512_set1_ps(xo[m * ldx + j]);
            acc[m][0][j % KS] = _mm512_fmadd_ps(wa, xv, acc[m][0][j % KS]);
            acc[m][1][j % KS] = _mm512_fmadd_ps(wb, xv, acc[m][1][j % KS]);
          }
        }
      } else {
#pragma GCC unroll 2
        for (int kq = 0; kq < 2; ++kq) {
          const __m512i A = _mm512_loadu_si512(wg + o * 256 + kq * 128);
          const __m512i B = _mm512_loadu_si512(wg + o * 256 + kq * 128 + 64);
#pragma GCC unroll 4
          for (int j = 0; j < 4; ++j) {
            __m512i a = j ? _mm512_srli_epi32(A, 8 * j) : A;
            __m512i b = j ? _mm512_srli_epi32(B, 8 * j) : B;
            if (j < 3) {
              a = _mm512_and_si512(a, m255);
              b = _mm512_and_si512(b, m255);
            }
            const __m512 wa = _mm512_cvtepi32_ps(a);
            const __m512 wb = _mm512_cvtepi32_ps(b);
            const int jj = kq * 4 + j;
            for (int m = 0; m < MR; ++m) {
              const __m512 xv = _mm512_set1_ps(xo[m * ldx + jj]);
              acc[m][0][jj % KS] = _mm512_fmadd_ps(wa, xv, acc[m][0][jj % KS]);
              acc[m][1][jj % KS] = _mm512_fmadd_ps(wb, xv, acc[m][1][jj % KS]);
            }
          }
        }
      }
    }
    const __m512 s0 = _mm512_loadu_ps(pan.s + g * kPanelN);
    const __m512 s1 = _mm512_loadu_ps(pan.s + g * kPanelN + 16);
    for (int m = 0; m < MR; ++m) {
      __m512 a0 = acc[m][0][0], a1 = acc[m][1][0];
      for (int s = 1; s < KS; ++s) {
        a0 = _mm512_add_ps(a0, acc[m][0][s]);
        a1 = _mm512_add_ps(a1, acc[m][1][s]);
      }
      tot[m][0] = _mm512_fmadd_ps(a0, s0, tot[m][0]);
      tot[m][1] = _mm512_fmadd_ps(a1, s1, tot[m][1]);
    }
    if (ZP || BITS == 8) {
      __m512i z0 = _mm512_setzero_si512(), z1 = _mm512_setzero_si512();
      if (ZP) {
        z0 = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(pan.z + g * kPanelN)));
        z1 = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(pan.z + g * kPanelN + 16)));
      }
      if (BITS == 8) {
        z0 = _mm512_add_epi32(z0, _mm512_set1_epi32(128));
        z1 = _mm512_add_epi32(z1, _mm512_set1_epi32(128));
      }
      const __m512 sz0 = _mm512_mul_ps(s0, _mm512_cvtepi32_ps(z0));
      const __m512 sz1 = _mm512_mul_ps(s1, _mm512_cvtepi32_ps(z1));
      for (int m = 0; m < MR; ++m) {
        const __m512 xs = _mm512_set1_ps(xsum[m * G + g]);
        tot[m][0] = _mm512_fnmadd_ps(sz0, xs, tot[m][0]);
        tot[m][1] = _mm512_fnmadd_ps(sz1, xs, tot[m][1]);
      }
    }
  }
  const size_t ysz = out.yt == QMM_DTYPE_F32 ? 4 : 2;
  for (int m = 0; m < MR; ++m)
    store_row32(static_cast<char*>(out.y) + size_t(m) * size_t(out.ldy) * ysz, out.yt, tot[m][0],
                tot[m][1], out.ncols);
}

template <int BITS, bool ZP>
void rows_impl(const Panel& pan, const float* x, int64_t ldx, const float* xsum, int64_t G,
               int64_t gs, int rows, const OutRows& out) {
  const size_t ysz = out.yt == QMM_DTYPE_F32 ? 4 : 2;
  int m = 0;
  for (; m + 4 <= rows; m += 4) {
    OutRows o = out;
    o.y = static_cast<char*>(out.y) + size_t(m) * size_t(out.ldy) * ysz;
    float_tile<BITS, ZP, 4>(pan, x + m * ldx, ldx, xsum + m * G, G, gs, o);
  }
  if (m < rows) {
    OutRows o = out;
    o.y = static_cast<char*>(out.y) + size_t(m) * size_t(out.ldy) * ysz;
    const float* xm = x + m * ldx;
    const float* sm = xsum + m * G;
    switch (rows - m) {
      case 1: float_tile<BITS, ZP, 1>(pan, xm, ldx, sm, G, gs, o); break;
      case 2: float_tile<BITS, ZP, 2>(pan, xm, ldx, sm, G, gs, o); break;
      default: float_tile<BITS, ZP, 3>(pan, xm, ldx, sm, G, gs, o); break;
    }
  }
}

}  // namespace

void float_panel_rows(const Panel& pan, int bits, const float* x, int64_t ldx, const float* xsum,
                      int64_t G, int64_t gs, int rows, const OutRows& out) {
  const bool zp = pan.z != nullptr;
  if (bits == 4) {
    zp ? rows_impl<4, true>(pan, x, ldx, xsum, G, gs, rows, out)
       : rows_impl<4, false>(pan, x, ldx, xsum, G, gs, rows, out);
  } else {
    zp ? rows_impl<8, true>(pan, x, ldx, xsum, G, gs, rows, out)
       : rows_impl<8, false>(pan, x, ldx, xsum, G, gs, rows, out);
  }
}

}  // namespace x512
}  // namespace qmm
