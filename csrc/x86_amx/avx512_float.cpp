// avx512 float mode, one weight panel (32 rows of W, layout in avx512_kernels.h) against up to
// 4 rows of X at a time (fp32, converted once per block by the driver).
// Tile: MR (1..4) rows of X x 32 columns of Y = MR x 2 zmm accumulators per group plus MR x 2
// running totals. Per k: the two 16-lane weight vectors are made in registers,
//   bits=4: VPSRLD (the nibble's shift) + VPERMPS from a 16-entry table of the signed values
//           w = u - 8 (the table index is the low 4 bits: no mask, no int->float conversion);
//           raw panels (canonical weights, pack_panel_raw4_x512: signed nibbles in canonical
//           k order) use shift 4j and a table indexed by the two's-complement nibble: the same
//           values in the same order, so results are bit-identical to the packed ones;
//   bits=8: VPSRLD + VPANDD + VCVTDQ2PS of u = w + 128,
// then one VFMADD231PS per X row with the X value broadcast from memory. Per group the exact
// integer-valued sums are scaled once: total += acc * scale (one FMA), and the offsets are
// removed with the group sums of X: total -= scale * (zp + 128 or zp) * xsum. With one (two) X
// rows the k-loop rotates over 4 (2) accumulator sets so 8 FMA chains cover the latency.
// Per k-octet two (bits=8: four) PREFETCHT0 lines run kPrefetch bytes ahead in the panel, or
// for canonical weights through the next panel's rows (Panel::pf), so DRAM reads overlap this
// panel's arithmetic. Every output is computed by one thread in a fixed order.
// Measured (16-core Xeon, 2026-12-01, same-run comparisons with the previous version, 3 rounds
// each on two machine instances, (28672, 8192) g128 fp16 X/Y with zero points, 16 threads,
// weights rotated past 2x the L3): M=1 bits=4 packed 1.43-1.45 ms = 87-89 GB/s = 87-88% of the
// streaming-read probe (previous version 1.64-1.80 ms, 67-77%) and 1.78-1.82 ms on a slower
// instance (previous 2.22-2.46 ms); canonical 1.95-1.98 ms (previous 1.85-2.52 ms) / 2.12-2.24
// ms (previous 2.53-2.73 ms); bits=8 packed 2.04-2.81 ms (previous 2.75-3.16 ms). The prefetch
// alone took bits=4 M=1 from 2.04-2.14 ms to 1.44-1.51 ms.
// Without prefetch the kernel was not compute-bound: one thread ran at about half its port
// bound (VPSRLD on p0, VPERMPS on p5, FMA on either: 1.5 cycles per 16 weights).
#include <immintrin.h>

#include "x86_amx/avx512_simd.h"
#include "x86_amx/avx512_tiles.h"

namespace qmm {
namespace x512 {
namespace {

// Software prefetch distance in the panel (1024, 1536, 3072 and 4096 were tried: 2048 was the
// most consistent for M=1 bits=4 on the Xeon; PREFETCHT1 for the canonical next-panel stream
// was slower than T0).
constexpr int kPrefetch = 2048;

template <int BITS, bool ZP, bool RAW, int MR>
void float_tile(const Panel& pan, const float* x, int64_t ldx, const float* xsum, int64_t G,
                int64_t gs, const OutRows& out) {
  constexpr int KS = MR == 1 ? 4 : MR == 2 ? 2 : 1;
  // the signed value w of an index: u = w + 8 (panels) or w's two's-complement nibble (raw)
  const __m512 lut = RAW ? _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1)
                         : _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
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
    const uint8_t* pfg = (pan.pf ? pan.pf : pan.w + kPrefetch) + k0 * kBytesPerK;
    const float* xg = x + k0;
    for (int64_t o = 0; o < gs / 8; ++o) {
      const float* xo = xg + o * 8;
      {
        const char* pf = reinterpret_cast<const char*>(pfg + o * (BITS == 4 ? 128 : 256));
        _mm_prefetch(pf, _MM_HINT_T0);
        _mm_prefetch(pf + 64, _MM_HINT_T0);
        if (BITS == 8) {
          _mm_prefetch(pf + 128, _MM_HINT_T0);
          _mm_prefetch(pf + 192, _MM_HINT_T0);
        }
      }
      if (BITS == 4) {
        const __m512i A = _mm512_loadu_si512(wg + o * 128);
        const __m512i B = _mm512_loadu_si512(wg + o * 128 + 64);
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
          const int sh = RAW ? 4 * j : 8 * (j & 3) + 4 * (j >> 2);
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

template <int BITS, bool ZP, bool RAW>
void rows_impl(const Panel& pan, const float* x, int64_t ldx, const float* xsum, int64_t G,
               int64_t gs, int rows, const OutRows& out) {
  for_row_tiles(rows, out, [&](auto mr, int m, const OutRows& o) {
    float_tile<BITS, ZP, RAW, decltype(mr)::value>(pan, x + m * ldx, ldx, xsum + m * G, G, gs, o);
  });
}

}  // namespace

void float_panel_rows(const Panel& pan, int bits, bool raw, const float* x, int64_t ldx,
                      const float* xsum, int64_t G, int64_t gs, int rows, const OutRows& out) {
  const bool zp = pan.z != nullptr;
  if (bits == 4 && raw) {
    zp ? rows_impl<4, true, true>(pan, x, ldx, xsum, G, gs, rows, out)
       : rows_impl<4, false, true>(pan, x, ldx, xsum, G, gs, rows, out);
  } else if (bits == 4) {
    zp ? rows_impl<4, true, false>(pan, x, ldx, xsum, G, gs, rows, out)
       : rows_impl<4, false, false>(pan, x, ldx, xsum, G, gs, rows, out);
  } else {
    zp ? rows_impl<8, true, false>(pan, x, ldx, xsum, G, gs, rows, out)
       : rows_impl<8, false, false>(pan, x, ldx, xsum, G, gs, rows, out);
  }
}

}  // namespace x512
}  // namespace qmm
