// avx512 float mode for bits=4 on AMD CPUs with AVX512_BF16 (VDPBF16PS: 32 multiply-adds per
// instruction), one 32-row weight panel against up to 4 rows of X at a time. avx512_gemm.cpp
// calls it only where cpu_features().avx512bf16 is set and the vendor is AMD (dpbf16_fast);
// avx512_float.cpp covers the rest.
//
// Weights: a nibble v (0..15) becomes the bf16 of 16 + v with bit operations only:
// bf16(16 + v) = 0x4180 | (v << 3). One shift puts nibble i of every dword at bits 3..6 and
// nibble i + 4 at bits 19..22; one VPTERNLOGD keeps those bits and sets the constant:
//   panel weights (u = w + 8, avx512_kernels.h):  (d & 0x00780078) | 0x41804180  -> 16 + u
//   raw panels (signed w, pack_panel_raw4_x512):  (d & 0x00780078) ^ 0x41c041c0  -> 16 + (w ^ 8)
// so each 64-byte vector of 16 dwords gives 4 vectors of 32 bf16 weights (16 rows x 2 k) for
// 4 shifts + 4 VPTERNLOGD. Every integer 16..31 is exact in bf16 and products of two bf16 are
// exact in fp32.
// Activations (prepare_bf16_rows, once per row): x = hi + lo with hi = x truncated to bf16 and
// lo = bf16(x - hi) (exact for fp16 and bf16 X; fp32 X keeps 16 significant bits, relative
// error <= 2^-16 per element), stored per k-octet as 8 dwords: the 4 hi pairs, then the 4 lo
// pairs, each pair (k_a, k_b) the two k that nibbles i and i + 4 of a panel dword hold (nibble
// order k0 k4 k1 k5 k2 k6 k3 k7): (0,2) (4,6) (1,3) (5,7); and the per-group sums of hi + lo.
// Raw panels (nibble order k0 k1 k4 k5 k2 k3 k6 k7, canonical weights) hold the same pairs in
// nibbles 0, 2, 1, 3: the same products accumulate in the same order (bit-identical results).
// Per group the kernel accumulates sum x * (16 + u) and removes the offset in fp32:
// total += scale * (acc - (24 + zp) * xsum) (16 + u = w + 24 - 8).
// The cancellation costs a few bits of fp32 (measured worst relative error vs float64 below).
// bf16 X has lo = 0: its lo products are skipped.
// Inner loop per k-octet and 16-row half: 1 load, 4 VPSRLD/VPSLLD, 4 VPTERNLOGD, then per X row
// 4 (bf16 X) or 8 VDPBF16PS with the X pair broadcast from memory; 16 accumulator chains at
// M = 1 (8 per half) cover the latency. Per 32 weights at M=1: 4 vector ops (the FMA kernel: 6).
// Prefetch as avx512_float.cpp (kPrefetch ahead, or Panel::pf).
// Measured (2026-12-01): AMD EPYC VM (Zen 4, 2 cores), one thread, L2-resident (256, 8192)
// g128: M=1 46 us vs 86 us for the FMA kernel, M=16 624 us vs 970 us; (28672, 8192) 2 threads
// M=1 packed about 2x faster (noisy VM). 16-core Xeon (Sapphire Rapids class): VDPBF16PS zmm
// measured 0.74 ns per instruction with 16 independent chains (FMA: 0.18 ns) and it blocks
// both vector ports, so this kernel was slower than the FMA one there (M=1 2.08-2.23 ms vs
// 1.81-1.98 ms without prefetch, 1.98-2.02 ms vs 1.48-1.60 ms with it; M=16 23.4 ms vs 9.2 ms)
// and is not used. Accuracy (xeon_test check, worst relative Frobenius error vs float64):
// fp16 X 4.3e-7, bf16 X 1.3e-7, fp32 X 4.7e-6 (the FMA kernel: 2.7e-7, 1.3e-7, 3.1e-7).
// Every output is computed by one thread in a fixed order.
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "x86_amx/avx512_simd.h"
#include "x86_amx/avx512_tiles.h"

namespace qmm {
namespace x512 {
namespace {

constexpr int kPrefetch = 2048;  // bytes ahead in the panel, as avx512_float.cpp

inline __m512bh as_bh(__m512i v) { return (__m512bh)v; }

inline __m512i bcast(const uint32_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

template <int I>
inline __m512i nibble_pair(__m512i d) {
  return I == 0 ? _mm512_slli_epi32(d, 3) : _mm512_srli_epi32(d, 4 * I - 3);
}

template <bool ZP, bool LO, bool RAW, int MR>
void bf16_tile(const Panel& pan, const uint32_t* xp, int64_t ldx, const float* xsum, int64_t G,
               int64_t gs, const OutRows& out) {
  constexpr int kOps = LO ? 8 : 4;  // dpbf16 per row, half and octet
  constexpr int kSets = MR == 1 ? 8 : MR == 2 ? 4 : 2;
  constexpr int NS = kSets < kOps ? kSets : kOps;
  const __m512i keep = _mm512_set1_epi32(0x00780078);
  const __m512i bias = _mm512_set1_epi32(RAW ? 0x41c041c0 : 0x41804180);
  __m512 tot[MR][2];
  for (int m = 0; m < MR; ++m) tot[m][0] = tot[m][1] = _mm512_setzero_ps();
  for (int64_t g = 0; g < G; ++g) {
    __m512 acc[MR][2][NS];
    for (int m = 0; m < MR; ++m)
      for (int s = 0; s < NS; ++s) acc[m][0][s] = acc[m][1][s] = _mm512_setzero_ps();
    const int64_t k0 = g * gs;
    const uint8_t* wg = pan.w + k0 * 16;
    const uint8_t* pfg = (pan.pf ? pan.pf : pan.w + kPrefetch) + k0 * 16;
    const uint32_t* xg = xp + k0;
    for (int64_t o = 0; o < gs / 8; ++o) {
      const __m512i A = _mm512_loadu_si512(wg + o * 128);
      const __m512i B = _mm512_loadu_si512(wg + o * 128 + 64);
      const uint32_t* xo = xg + o * 8;
      _mm_prefetch(reinterpret_cast<const char*>(pfg + o * 128), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(pfg + o * 128) + 64, _MM_HINT_T0);
      auto step = [&](auto ic) {
        constexpr int i = decltype(ic)::value;  // pair (k_a, k_b) of the panel layout
        constexpr int j = RAW && (i == 1 || i == 2) ? 3 - i : i;  // the nibble that holds k_a
        __m512i wa, wb;
        if (RAW) {
          wa = _mm512_ternarylogic_epi32(nibble_pair<j>(A), keep, bias, 0x6a);  // (a & b) ^ c
          wb = _mm512_ternarylogic_epi32(nibble_pair<j>(B), keep, bias, 0x6a);
        } else {
          wa = _mm512_ternarylogic_epi32(nibble_pair<j>(A), keep, bias, 0xea);  // (a & b) | c
          wb = _mm512_ternarylogic_epi32(nibble_pair<j>(B), keep, bias, 0xea);
        }
        for (int m = 0; m < MR; ++m) {
          constexpr int sh = (LO ? 2 * i : i) % NS;
          const __m512i xh = bcast(xo + m * ldx + i);
          acc[m][0][sh] = _mm512_dpbf16_ps(acc[m][0][sh], as_bh(wa), as_bh(xh));
          acc[m][1][sh] = _mm512_dpbf16_ps(acc[m][1][sh], as_bh(wb), as_bh(xh));
          if (LO) {
            constexpr int sl = (2 * i + 1) % NS;
            const __m512i xl = bcast(xo + m * ldx + 4 + i);
            acc[m][0][sl] = _mm512_dpbf16_ps(acc[m][0][sl], as_bh(wa), as_bh(xl));
            acc[m][1][sl] = _mm512_dpbf16_ps(acc[m][1][sl], as_bh(wb), as_bh(xl));
          }
        }
      };
      step(std::integral_constant<int, 0>());
      step(std::integral_constant<int, 1>());
      step(std::integral_constant<int, 2>());
      step(std::integral_constant<int, 3>());
    }
    const __m512 s0 = _mm512_loadu_ps(pan.s + g * kPanelN);
    const __m512 s1 = _mm512_loadu_ps(pan.s + g * kPanelN + 16);
    __m512i z0 = _mm512_set1_epi32(24), z1 = z0;
    if (ZP) {
      z0 = _mm512_add_epi32(z0, _mm512_cvtepi8_epi32(_mm_loadu_si128(
                                    reinterpret_cast<const __m128i*>(pan.z + g * kPanelN))));
      z1 = _mm512_add_epi32(z1, _mm512_cvtepi8_epi32(_mm_loadu_si128(
                                    reinterpret_cast<const __m128i*>(pan.z + g * kPanelN + 16))));
    }
    const __m512 off0 = _mm512_cvtepi32_ps(z0), off1 = _mm512_cvtepi32_ps(z1);
    for (int m = 0; m < MR; ++m) {
      __m512 a0 = acc[m][0][0], a1 = acc[m][1][0];
      for (int s = 1; s < NS; ++s) {
        a0 = _mm512_add_ps(a0, acc[m][0][s]);
        a1 = _mm512_add_ps(a1, acc[m][1][s]);
      }
      const __m512 xs = _mm512_set1_ps(xsum[m * G + g]);
      tot[m][0] = _mm512_fmadd_ps(_mm512_fnmadd_ps(off0, xs, a0), s0, tot[m][0]);
      tot[m][1] = _mm512_fmadd_ps(_mm512_fnmadd_ps(off1, xs, a1), s1, tot[m][1]);
    }
  }
  const size_t ysz = out.yt == QMM_DTYPE_F32 ? 4 : 2;
  for (int m = 0; m < MR; ++m)
    store_row32(static_cast<char*>(out.y) + size_t(m) * size_t(out.ldy) * ysz, out.yt, tot[m][0],
                tot[m][1], out.ncols);
}

template <bool ZP, bool LO, bool RAW>
void rows_impl(const Panel& pan, const uint32_t* xp, int64_t ldx, const float* xsum, int64_t G,
               int64_t gs, int rows, const OutRows& out) {
  for_row_tiles(rows, out, [&](auto mr, int m, const OutRows& o) {
    bf16_tile<ZP, LO, RAW, decltype(mr)::value>(pan, xp + m * ldx, ldx, xsum + m * G, G, gs, o);
  });
}

template <bool ZP, bool LO>
void rows_dispatch(const Panel& pan, bool raw, const uint32_t* xp, int64_t ldx,
                   const float* xsum, int64_t G, int64_t gs, int rows, const OutRows& out) {
  raw ? rows_impl<ZP, LO, true>(pan, xp, ldx, xsum, G, gs, rows, out)
      : rows_impl<ZP, LO, false>(pan, xp, ldx, xsum, G, gs, rows, out);
}

// 16 values of X (dtype xt) as fp32.
inline __m512 load16_f32(const char* p, qmm_dtype xt) {
  if (xt == QMM_DTYPE_F32) return _mm512_loadu_ps(p);
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  if (xt == QMM_DTYPE_F16) return _mm512_cvtph_ps(h);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

}  // namespace

void bf16_panel_rows(const Panel& pan, bool raw, bool has_lo, const uint32_t* xp, int64_t ldx,
                     const float* xsum, int64_t G, int64_t gs, int rows, const OutRows& out) {
  const bool zp = pan.z != nullptr;
  if (has_lo) {
    zp ? rows_dispatch<true, true>(pan, raw, xp, ldx, xsum, G, gs, rows, out)
       : rows_dispatch<false, true>(pan, raw, xp, ldx, xsum, G, gs, rows, out);
  } else {
    zp ? rows_dispatch<true, false>(pan, raw, xp, ldx, xsum, G, gs, rows, out)
       : rows_dispatch<false, false>(pan, raw, xp, ldx, xsum, G, gs, rows, out);
  }
}

void prepare_bf16_rows(const void* x, int64_t ldx, qmm_dtype xt, int rows, int64_t K,
                       int64_t gs, uint32_t* xp, float* xsum, int nthreads) {
  const int64_t G = K / gs;
  const size_t xsz = xt == QMM_DTYPE_F32 ? 4 : 2;
  // word w of the output (two k-octets): words 0..31 of the input are hi(x0..x15), lo(x0..x15)
  static const short pairs[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  alignas(64) short idx[32];
  for (int oct = 0; oct < 2; ++oct)
    for (int j = 0; j < 8; ++j) {
      idx[oct * 16 + j] = short(8 * oct + pairs[j]);
      idx[oct * 16 + 8 + j] = short(16 + 8 * oct + pairs[j]);
    }
  const __m512i perm = _mm512_load_si512(idx);
  const __m512i hmask = _mm512_set1_epi32(int32_t(0xffff0000u));
#pragma omp parallel for schedule(static) num_threads(nthreads)
  for (int m = 0; m < rows; ++m) {
    const char* xr = static_cast<const char*>(x) + size_t(m) * size_t(ldx) * xsz;
    uint32_t* dr = xp + size_t(m) * size_t(K);
    for (int64_t g = 0; g < G; ++g) {
      __m512 s = _mm512_setzero_ps();
      for (int64_t k = g * gs; k < (g + 1) * gs; k += 16) {
        const __m512 v = load16_f32(xr + size_t(k) * xsz, xt);
        const __m512i hb = _mm512_and_si512(_mm512_castps_si512(v), hmask);
        const __m512 hi = _mm512_castsi512_ps(hb);
        const __mmask16 inf = _mm512_fpclass_ps_mask(v, 0x18);
        const __m512 d = _mm512_maskz_sub_ps(__mmask16(~inf), v, hi);
        const __m256i lo16 = (__m256i)_mm512_cvtneps_pbh(d);
        const __m512 lo = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(lo16), 16));
        s = _mm512_add_ps(s, _mm512_add_ps(hi, lo));
        const __m256i hi16 = _mm512_cvtepi32_epi16(_mm512_srli_epi32(hb, 16));
        const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(hi16), lo16, 1);
        _mm512_storeu_si512(dr + k, _mm512_permutexvar_epi16(perm, both));
      }
      xsum[m * G + g] = _mm512_reduce_add_ps(s);
    }
  }
}

}  // namespace x512
}  // namespace qmm
