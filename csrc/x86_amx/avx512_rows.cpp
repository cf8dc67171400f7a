// avx512 float mode for decode on canonical weights: 1..4 rows of X against weight rows read
// in place, with no panel gather (the 32-row panel transpose of avx512_gemm.cpp costs the
// canonical path 1.4-2x at M=1).
//
// The dot product runs along k: a 16-lane vector covers 16 (bits=8) or 32 (bits=4) consecutive
// k of one weight row, and each lane's partial sums are added across lanes only at the end.
//   bits=4: VPMOVZXBD of 16 canonical bytes (32 nibbles, low nibble = even k) -> 16 dwords;
//           VPERMPS from the 16-entry table of two's-complement nibble values gives the even-k
//           weights directly (it reads only the index's low 4 bits), after one VPSRLD by 4 the
//           odd-k ones. X is stored per 32-k block as its 16 even-k values then its 16 odd-k
//           values (arrange_x4), so each weight vector meets its X vector lane for lane.
//   bits=8: VPMOVSXBD of 16 bytes + VCVTDQ2PS; X in natural order.
// Per group the exact integer-weighted sums are scaled once (tot += acc * scale); the zero
// point is removed at the end per output: y = sum_g s_g * acc_g - sum_g s_g * zp_g * xsum_g.
// R weight rows are processed together (4 for one X row, 2 for two, 1 for three or four) so
// 8 FMA chains are in flight; each row is its own sequential stream, prefetched kPrefetch
// bytes ahead. Threads split the weight rows statically; every output is computed by one
// thread in a fixed order (bit-identical for any thread count). Results are not bit-identical
// to the panel kernels (other summation order), both are within the SPEC bound.
//
// int8 mode (rows_int8_run), M <= kRowsMaxM, groups of 128k (bits=4) / 64k (bits=8): the same
// row walk with VPDPBUSD on the quantized X (SPEC section 4, prepare_int8_rows). A 64-byte load
// of one weight row, xor 0x88 (0x80), gives the unsigned u = w + 8 (w + 128) of 128 (64) k:
// bits=4 as two vectors (low nibbles = even k, VPSRLW + VPAND for the odd k), X stored per
// 128-k block as its 64 even-k then its 64 odd-k bytes (arrange_q4). Per group and output the
// 16 lanes are added (exact int32: |sum| <= 65536 * 255 * 127 < 2^31, wrapping sums of the
// parts are exact), the offset removed exactly, isum = sum u*q - (8 + zp) * sum q (128 + zp)
// with q the quantized X, then acc += (sx * s) * float(isum) in increasing g with a separate
// multiply and add: the scalar backend's arithmetic, so the results are the same bit for bit.
//
// AMD CPUs with AVX512_BF16 (dpbf16_fast), M = 1, bits=4, group_size % 128 == 0: VDPBF16PS
// instead (rows_tile_bf16), with the weight trick of avx512_bf16.cpp on canonical dwords: lane
// j of a 64-byte load holds k = 8j .. 8j+7 of one row (nibble n is k = 8j + n); one shift
// puts nibbles i and i + 4 at bits 3..6 and 19..22 and one VPTERNLOGD makes the exact bf16 pair
// (24 + w[8j+i], 24 + w[8j+i+4]) (= 16 + (w ^ 8)), so a 64-byte load gives 4 vectors of 32
// weights for 8 ops. X is split once per call into bf16 hi + lo (exact for fp16 and bf16 X,
// 16 significant bits for fp32 X), stored per 128-k block as the 4 hi then the 4 lo vectors of
// the matching pairs (bf16 X: lo = 0, skipped). The offset leaves at the end, per output:
// y = sum_g s_g * acc_g - sum_g s_g * (24 + zp_g) * xsum_g (xsum of hi + lo).
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <type_traits>

#include "core/numeric.h"
#include "core/threading.h"
#include "x86_amx/avx512_tiles.h"

namespace qmm {
namespace x512 {
namespace {

// Software prefetch distance per weight row, bytes.
constexpr int kPrefetch = 1024;
// Weight rows per work item (a multiple of 4), and the bytes of fp32 X one pass over them reads:
// K is walked in passes of whole groups so the X rows of a pass stay in L1 while the block's
// rows go by (per row and pass one contiguous piece of its weights).
constexpr int kBlockRows = 16;
constexpr int64_t kXChunkBytes = 24 << 10;

inline void prefetch(const uint8_t* p) {
  _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0);
}
// Where a row's prefetch kPrefetch bytes ahead of byte `pos` goes: the same row, or once that
// passes the end of this pass (end, bytes from the row start), the row R further on (the next
// tile's, whose pass starts at the same k; rows are rb bytes apart): short rows (K = 4096 at 4
// bits is 2 KB) would otherwise start every tile with cold misses.
// 2-core Zen 4 VM, canonical (4096, 4096) g128, 2 threads, 3 alternating rounds: bits=4 M=1
// 652-880 us vs 1103-1193 us without it, M=2 669-868 vs 1179-1303; bits=8 M=1 801-1147 vs
// 1111-1280 (the VM was noisy; (28672, 8192) about even). Not measured on the Xeon.
struct PrefetchPlan {
  int64_t end, wrap;
  PrefetchPlan(int R, int64_t rb, int64_t begin, int64_t end_)
      : end(end_), wrap(R * rb - (end_ - begin)) {}
  const uint8_t* at(const uint8_t* wp, int64_t pos) const {
    return wp + kPrefetch + (pos + kPrefetch >= end ? wrap : 0);
  }
};

inline __m128i load16(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// X for rows_tile<4>: per 32-k block its 16 even-k values, then its 16 odd-k values.
void arrange_x4(const float* xf, int64_t K, float* xr) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int64_t k = 0; k < K; k += 32) {
    const __m512 a = _mm512_loadu_ps(xf + k), b = _mm512_loadu_ps(xf + k + 16);
    _mm512_storeu_ps(xr + k, _mm512_permutex2var_ps(a, even, b));
    _mm512_storeu_ps(xr + k + 16, _mm512_permutex2var_ps(a, odd, b));
  }
}

// The loop both row kernels share: R weight rows x MR rows of X over groups g0..g1-1, the
// running totals tot_io[r * MR + m] (per-lane partial sums, in memory between passes) kept in
// registers; per group two accumulators per (r, m) filled by step(r, k, acc[r]) for each KSTEP
// k of the group, then tot += (acc0 + acc1) * scale[r][g].
template <int MR, int R, int KSTEP, class Step>
inline void rows_groups(const float* s, int64_t G, int64_t gs, int64_t g0, int64_t g1,
                        __m512* tot_io, Step&& step) {
  __m512 tot[R][MR];
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < MR; ++m) tot[r][m] = tot_io[r * MR + m];
  for (int64_t g = g0; g < g1; ++g) {
    __m512 acc[R][MR][2];
    for (int r = 0; r < R; ++r)
      for (int m = 0; m < MR; ++m) acc[r][m][0] = acc[r][m][1] = _mm512_setzero_ps();
    for (int64_t k = g * gs; k < (g + 1) * gs; k += KSTEP)
      for (int r = 0; r < R; ++r) step(r, k, acc[r]);
    for (int r = 0; r < R; ++r) {
      const __m512 sv = _mm512_set1_ps(s[r * G + g]);
      for (int m = 0; m < MR; ++m)
        tot[r][m] = _mm512_fmadd_ps(_mm512_add_ps(acc[r][m][0], acc[r][m][1]), sv, tot[r][m]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < MR; ++m) tot_io[r * MR + m] = tot[r][m];
}

// R weight rows (w, row stride rb bytes; scales s, stride G) x MR rows of arranged X (xr,
// stride K), groups g0..g1-1: tot[r * MR + m] += per-lane partial sums of
// sum_g s[r][g] * sum_{k in g} w[r][k] * x[m][k].
template <int BITS, int MR, int R>
void rows_tile(const uint8_t* w, int64_t rb, const float* s, int64_t G, int64_t gs, int64_t g0,
               int64_t g1, const float* xr, int64_t K, __m512* tot_io) {
  const __m512 lut = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1);
  constexpr int kPerByte = BITS == 4 ? 2 : 1;
  const PrefetchPlan pf(R, rb, g0 * gs / kPerByte, g1 * gs / kPerByte);
  rows_groups<MR, R, 32>(s, G, gs, g0, g1, tot_io, [&](int r, int64_t k, __m512 (&acc)[MR][2]) {
    __m512 wa, wb;
    if (BITS == 4) {
      const uint8_t* wp = w + r * rb + k / 2;
      if ((k & 127) == 0) prefetch(pf.at(wp, k / 2));
      const __m512i v = _mm512_cvtepu8_epi32(load16(wp));
      wa = _mm512_permutexvar_ps(v, lut);
      wb = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), lut);
    } else {
      const uint8_t* wp = w + r * rb + k;
      if ((k & 63) == 0) prefetch(pf.at(wp, k));
      wa = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load16(wp)));
      wb = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load16(wp + 16)));
    }
    for (int m = 0; m < MR; ++m) {
      acc[m][0] = _mm512_fmadd_ps(wa, _mm512_loadu_ps(xr + m * K + k), acc[m][0]);
      acc[m][1] = _mm512_fmadd_ps(wb, _mm512_loadu_ps(xr + m * K + k + 16), acc[m][1]);
    }
  });
}

// X for rows_tile_bf16: per 128-k block 8 vectors of 16 dwords, hi pairs i = 0..3 then lo
// pairs; lane j of pair vector i = (x[8j + i], x[8j + i + 4]) as bf16 (low, high half);
// xsum [G]: per group the sum of hi + lo.
void arrange_x_bf16(const float* xf, int64_t K, int64_t gs, uint32_t* xb, float* xsum) {
  for (int64_t b = 0; b < K / 128; ++b) {
    if (b * 128 % gs == 0) xsum[b * 128 / gs] = 0.0f;  // gs % 128 == 0: a block is in one group
    float& s = xsum[b * 128 / gs];
    uint16_t hi[128], lo[128];
    for (int k = 0; k < 128; ++k) {
      const float v = xf[b * 128 + k];
      const uint32_t h = f32_to_bits(v) & 0xffff0000u;
      hi[k] = uint16_t(h >> 16);
      lo[k] = f32_to_bf16(v - bits_to_f32(h));  // X is finite here (exact rows run elsewhere)
      s += bits_to_f32(h) + bf16_to_f32(lo[k]);  // hi + lo, the value the kernel multiplies
    }
    uint32_t* d = xb + b * 128;
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 16; ++j) {
        d[i * 16 + j] = uint32_t(hi[8 * j + i]) | uint32_t(hi[8 * j + i + 4]) << 16;
        d[64 + i * 16 + j] = uint32_t(lo[8 * j + i]) | uint32_t(lo[8 * j + i + 4]) << 16;
      }
  }
}

template <int I>
inline __m512i nibble_pair(__m512i d) {  // nibbles I and I + 4 of each dword to bits 3 and 19
  return I == 0 ? _mm512_slli_epi32(d, 3) : _mm512_srli_epi32(d, 4 * I - 3);
}

// As rows_tile for bits=4 and groups of 128k, with VDPBF16PS on xb (arrange_x_bf16, stride K
// dwords): tot[r * MR + m] += per-lane partial sums of sum_g s[r][g] * sum_{k in g} (w + 24) * x.
template <int MR, int R, bool LO>
void rows_tile_bf16(const uint8_t* w, int64_t rb, const float* s, int64_t G, int64_t gs,
                    int64_t g0, int64_t g1, const uint32_t* xb, int64_t K, __m512* tot_io) {
  const __m512i keep = _mm512_set1_epi32(0x00780078), bias = _mm512_set1_epi32(0x41c041c0);
  const PrefetchPlan pf(R, rb, g0 * gs / 2, g1 * gs / 2);
  rows_groups<MR, R, 128>(s, G, gs, g0, g1, tot_io, [&](int r, int64_t k, __m512 (&acc)[MR][2]) {
    const uint8_t* wp = w + r * rb + k / 2;
    prefetch(pf.at(wp, k / 2));
    const __m512i A = _mm512_loadu_si512(wp);
    auto step = [&](auto ic) {
      constexpr int i = decltype(ic)::value;
      // (a & b) ^ c: the pair's nibbles, xor 8 and the bf16 exponent of 16 in one op
      const __m512bh wv = (__m512bh)_mm512_ternarylogic_epi32(nibble_pair<i>(A), keep, bias, 0x6a);
      for (int m = 0; m < MR; ++m) {
        const uint32_t* xm = xb + m * K + k;
        acc[m][i & 1] =
            _mm512_dpbf16_ps(acc[m][i & 1], wv, (__m512bh)_mm512_loadu_si512(xm + 16 * i));
        if (LO)
          acc[m][i & 1] =
              _mm512_dpbf16_ps(acc[m][i & 1], wv, (__m512bh)_mm512_loadu_si512(xm + 64 + 16 * i));
      }
    };
    step(std::integral_constant<int, 0>());
    step(std::integral_constant<int, 1>());
    step(std::integral_constant<int, 2>());
    step(std::integral_constant<int, 3>());
  });
}

// sum_g s[g] * (offset + zp[g]) * xsum[g] (z may be null: zp = 0)
float offset_term(const float* s, const int8_t* z, int offset, const float* xsum, int64_t G) {
  __m512 t = _mm512_setzero_ps();
  for (int64_t g = 0; g < G; g += 16) {
    const __mmask16 mk = G - g >= 16 ? __mmask16(0xffff) : __mmask16((1u << (G - g)) - 1u);
    __m512i zi = _mm512_set1_epi32(offset);
    if (z) zi = _mm512_add_epi32(zi, _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mk, z + g)));
    t = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, s + g), _mm512_cvtepi32_ps(zi)),
                        _mm512_maskz_loadu_ps(mk, xsum + g), t);
  }
  return _mm512_reduce_add_ps(t);
}

// Kernel kinds: FMA (rows_tile, X fp32 as arrange_x4 / natural for bits=8), BF16 with or
// without the lo halves (rows_tile_bf16, X as arrange_x_bf16).
enum Kind { kFma = 0, kBf16 = 1, kBf16HiOnly = 2 };

// The work split both row drivers share: threads take blocks of kBlockRows weight rows (static
// schedule: every output is computed by one thread in a fixed order). block(n0, rows) runs per
// block; inside it, row_passes walks K in passes of gc groups, each pass over the block's rows
// in tiles of R rows (1 for the remainder): tile(rr, r, g0, g1), rr the tile's rows as an
// std::integral_constant.
template <class Block>
inline void for_row_blocks(int64_t N, int nt, Block&& block) {
  const int64_t blocks = (N + kBlockRows - 1) / kBlockRows;
#pragma omp parallel for schedule(static) num_threads(nt)
  for (int64_t b = 0; b < blocks; ++b)
    block(b * kBlockRows, int(std::min<int64_t>(kBlockRows, N - b * kBlockRows)));
}

template <int R, class Tile>
inline void row_passes(int rows, int64_t G, int64_t gc, Tile&& tile) {
  for (int64_t g0 = 0; g0 < G; g0 += gc) {
    const int64_t g1 = std::min(G, g0 + gc);
    for (int r = 0; r < rows;) {
      if (rows - r >= R) {
        tile(std::integral_constant<int, R>(), r, g0, g1);
        r += R;
      } else {
        tile(std::integral_constant<int, 1>(), r, g0, g1);
        r += 1;
      }
    }
  }
}

// Weight rows per tile for MR rows of X (8 accumulator chains in flight for the FMA kernels).
template <int MR> constexpr int kTileRows = MR == 1 ? 4 : MR == 2 ? 2 : 1;

// f(std::integral_constant<int, M>()) for M = 1 .. 4 (the row kernels' rows of X).
template <class F>
inline void with_rows_of_x(int64_t M, F&& f) {
  switch (M) {
    case 1: f(std::integral_constant<int, 1>()); break;
    case 2: f(std::integral_constant<int, 2>()); break;
    case 3: f(std::integral_constant<int, 3>()); break;
    default: f(std::integral_constant<int, 4>()); break;
  }
}

template <int BITS, int MR, int KIND, int RR>
inline void tile(const Problem& p, int64_t n, int64_t g0, int64_t g1, const void* xr, __m512* tot) {
  const int64_t G = p.groups, rb = p.row_bytes();
  if constexpr (KIND == kFma)
    rows_tile<BITS, MR, RR>(p.w + n * rb, rb, p.scales + n * G, G, p.group_size, g0, g1,
                            static_cast<const float*>(xr), p.K, tot);
  else
    rows_tile_bf16<MR, RR, KIND == kBf16>(p.w + n * rb, rb, p.scales + n * G, G, p.group_size,
                                          g0, g1, static_cast<const uint32_t*>(xr), p.K, tot);
}

template <int BITS, int MR, int KIND>
void run_rows(const Problem& p, const void* xr, const float* xsum, int nt) {
  const int64_t G = p.groups, gs = p.group_size;
  // groups per pass: the MR rows of X for one pass (4 bytes per k) stay within kXChunkBytes (L1)
  const int64_t gc = std::max<int64_t>(1, kXChunkBytes / (MR * 4 * gs));
  const int offset = KIND == kFma ? 0 : 24;  // the bf16 kernels multiply by w + 24
  for_row_blocks(p.N, nt, [&](int64_t n0, int rows) {
    __m512 tot[kBlockRows * MR];
    for (auto& v : tot) v = _mm512_setzero_ps();
    row_passes<kTileRows<MR>>(rows, G, gc, [&](auto rr, int r, int64_t g0, int64_t g1) {
      tile<BITS, MR, KIND, decltype(rr)::value>(p, n0 + r, g0, g1, xr, tot + r * MR);
    });
    for (int r = 0; r < rows; ++r) {
      const int64_t n = n0 + r;
      for (int m = 0; m < MR; ++m) {
        float v = _mm512_reduce_add_ps(tot[r * MR + m]);
        if (p.zp || offset)
          v -= offset_term(p.scales + n * G, p.zp ? p.zp + n * G : nullptr, offset, xsum + m * G,
                           G);
        store_from_f32(p.y, m * p.ldy + n, p.y_dtype, v);
      }
    }
  });
}

// Quantized X for rows_tile_int8<4>: per 128-k block its 64 even-k bytes, then its 64 odd-k.
void arrange_q4(const int8_t* q, int64_t K, int8_t* qa) {
  for (int64_t b = 0; b < K; b += 128)
    for (int j = 0; j < 64; ++j) {
      qa[b + j] = q[b + 2 * j];
      qa[b + 64 + j] = q[b + 2 * j + 1];
    }
}

// The lane sums of four int32 vectors: (sum a, sum b, sum c, sum d) in 13 operations.
inline __m128i reduce4(__m512i a, __m512i b, __m512i c, __m512i d) {
  // per 128-bit lane: (a0+a2, b0+b2, a1+a3, b1+b3), then the full 4-lane sums of a, b, c, d
  const __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
  const __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(c, d), _mm512_unpackhi_epi32(c, d));
  const __m512i t = _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
  const __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(t), _mm512_extracti64x4_epi64(t, 1));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

// R weight rows (w, stride rb; scales s and zero points z, stride G) x MR rows of quantized X
// (xq, stride K; bits=4 arranged by arrange_q4; sx / sq stride G), groups g0..g1-1:
// acc[r * MR + m] += (sx[m][g] * s[r][g]) * float(isum[r][m][g]) in increasing g.
template <int BITS, int MR, int R>
void rows_tile_int8(const uint8_t* w, int64_t rb, const float* s, const int8_t* z, int64_t G,
                    int64_t gs, int64_t g0, int64_t g1, const int8_t* xq, int64_t K,
                    const float* sx, const int32_t* sq, float* acc) {
  constexpr int kK = BITS == 4 ? 128 : 64;  // k per 64-byte load of a weight row
  constexpr int32_t kOff = BITS == 4 ? 8 : 128;
  const __m512i flip = _mm512_set1_epi8(char(BITS == 4 ? 0x88 : 0x80));
  const __m512i low = _mm512_set1_epi8(0x0f);
  const PrefetchPlan pf(R, rb, g0 * gs * BITS / 8, g1 * gs * BITS / 8);
  constexpr int NA = R * MR;
  static_assert(NA <= 4, "one 4-lane epilogue per group");
  alignas(16) float in[4] = {};
  for (int i = 0; i < NA; ++i) in[i] = acc[i];
  __m128 av = _mm_load_ps(in);
  for (int64_t g = g0; g < g1; ++g) {
    __m512i ia[R][MR];
    for (int r = 0; r < R; ++r)
      for (int m = 0; m < MR; ++m) ia[r][m] = _mm512_setzero_si512();
    for (int64_t k = g * gs; k < (g + 1) * gs; k += kK) {
      for (int r = 0; r < R; ++r) {
        const uint8_t* wp = w + r * rb + k * BITS / 8;
        prefetch(pf.at(wp, k * BITS / 8));
        const __m512i v = _mm512_xor_si512(_mm512_loadu_si512(wp), flip);
        if (BITS == 4) {
          const __m512i lo = _mm512_and_si512(v, low);
          const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
          for (int m = 0; m < MR; ++m) {
            const int8_t* xm = xq + m * K + k;
            ia[r][m] = _mm512_dpbusd_epi32(ia[r][m], lo, _mm512_loadu_si512(xm));
            ia[r][m] = _mm512_dpbusd_epi32(ia[r][m], hi, _mm512_loadu_si512(xm + 64));
          }
        } else {
          for (int m = 0; m < MR; ++m)
            ia[r][m] = _mm512_dpbusd_epi32(ia[r][m], v, _mm512_loadu_si512(xq + m * K + k));
        }
      }
    }
    // The R * MR (<= 4) group sums at once, then the epilogue on 4 lanes (output i = r * MR + m)
    // with the scalar backend's operations per lane: exact int32, one conversion, mul, add.
    const __m512i zero = _mm512_setzero_si512();
    const __m128i sums = reduce4(ia[0][0], NA > 1 ? ia[(1 / MR) % R][1 % MR] : zero,
                                 NA > 2 ? ia[(2 / MR) % R][2 % MR] : zero,
                                 NA > 3 ? ia[(3 / MR) % R][3 % MR] : zero);
    // lane i = r * MR + m; lanes >= NA are zero (built in registers: no store forwarding)
    auto lane = [&](int i, auto f) { return i < NA ? f(i / MR, i % MR) : decltype(f(0, 0))(0); };
    auto offf = [&](int r, int) { return kOff + (z ? int32_t(z[r * G + g]) : 0); };
    auto sqf = [&](int, int m) { return sq[m * G + g]; };
    auto sxf = [&](int, int m) { return sx[m * G + g]; };
    auto sf = [&](int r, int) { return s[r * G + g]; };
    const __m128i offv = _mm_setr_epi32(lane(0, offf), lane(1, offf), lane(2, offf), lane(3, offf));
    const __m128i sqv = _mm_setr_epi32(lane(0, sqf), lane(1, sqf), lane(2, sqf), lane(3, sqf));
    const __m128 sxv = _mm_setr_ps(lane(0, sxf), lane(1, sxf), lane(2, sxf), lane(3, sxf));
    const __m128 sv = _mm_setr_ps(lane(0, sf), lane(1, sf), lane(2, sf), lane(3, sf));
    // wrapping int32 arithmetic: the exact value fits, so the modular result is exact
    const __m128i isum = _mm_sub_epi32(sums, _mm_mullo_epi32(offv, sqv));
    av = _mm_add_ps(av, _mm_mul_ps(_mm_mul_ps(sxv, sv), _mm_cvtepi32_ps(isum)));
  }
  alignas(16) float out[4];
  _mm_store_ps(out, av);
  for (int i = 0; i < NA; ++i) acc[i] = out[i];
}

template <int BITS, int MR>
void run_rows_int8(const Problem& p, const int8_t* xq, const float* sx, const int32_t* sq,
                   int nt) {
  const int64_t G = p.groups, gs = p.group_size, rb = p.row_bytes();
  // groups per pass: the MR rows of quantized X for one pass stay within kXChunkBytes (L1)
  const int64_t gc = std::max<int64_t>(1, kXChunkBytes / (MR * gs));
  for_row_blocks(p.N, nt, [&](int64_t n0, int rows) {
    float acc[kBlockRows * MR] = {};
    row_passes<kTileRows<MR>>(rows, G, gc, [&](auto rr, int r, int64_t g0, int64_t g1) {
      const int64_t n = n0 + r;
      rows_tile_int8<BITS, MR, decltype(rr)::value>(
          p.w + n * rb, rb, p.scales + n * G, p.zp ? p.zp + n * G : nullptr, G, gs, g0, g1, xq,
          p.K, sx, sq, acc + r * MR);
    });
    for (int r = 0; r < rows; ++r)
      for (int m = 0; m < MR; ++m)
        store_from_f32(p.y, m * p.ldy + n0 + r, p.y_dtype, acc[r * MR + m]);
  });
}

}  // namespace

bool rows_int8_covers(const Problem& p) {
  // group_size <= 65536 keeps every exact group sum within int32 (see rows_tile_int8)
  return p.M <= kRowsMaxM && p.group_size % (p.bits == 4 ? 128 : 64) == 0 &&
         p.group_size <= 65536;
}

qmm_status rows_int8_run(const Problem& p, const Options& o) {
  const int64_t M = p.M, K = p.K, G = p.groups;
  ScratchBuffer q(size_t(M) * size_t(K) + 64), qa(p.bits == 4 ? size_t(M) * size_t(K) + 64 : 64),
      sx(size_t(M) * size_t(G) * 4 + 64), sq(size_t(M) * size_t(G) * 4 + 64);
  if (!q.p || !qa.p || !sx.p || !sq.p)
    return set_error(QMM_OUT_OF_MEMORY, "avx512: could not allocate activation buffers");
  float* sxp = sx.as<float>();
  int32_t* sqp = sq.as<int32_t>();
  prepare_int8_rows(p.x, p.ldx, p.x_dtype, int(M), K, p.group_size, q.as<int8_t>(), K,
                    p.group_size, sxp, sqp, 1);
  const int nt = threads_for_work(o.num_threads, (long long)M * p.N * K);
  if (p.bits == 8) {
    with_rows_of_x(M, [&](auto mr) {
      run_rows_int8<8, decltype(mr)::value>(p, q.as<int8_t>(), sxp, sqp, nt);
    });
    return QMM_OK;
  }
  for (int64_t m = 0; m < M; ++m) arrange_q4(q.as<int8_t>() + m * K, K, qa.as<int8_t>() + m * K);
  with_rows_of_x(M, [&](auto mr) {
    run_rows_int8<4, decltype(mr)::value>(p, qa.as<int8_t>(), sxp, sqp, nt);
  });
  return QMM_OK;
}

bool rows_float_covers(const Problem& p) {
  return p.M <= (p.bits == 8 ? kRowsMaxM : kRowsMaxM4);
}

qmm_status rows_float_run(const Problem& p, const Options& o) {
  const int64_t M = p.M, K = p.K, G = p.groups;
  ScratchBuffer xf(size_t(M) * size_t(K) * 4 + 64),
      xr(p.bits == 4 ? size_t(M) * size_t(K) * 4 + 64 : 64),  // arranged X (bits=8: natural)
      xs(size_t(M) * size_t(G) * 4 + 64);
  if (!xf.p || !xr.p || !xs.p)
    return set_error(QMM_OUT_OF_MEMORY, "avx512: could not allocate activation buffers");
  prepare_float_rows(p.x, p.ldx, p.x_dtype, int(M), K, p.group_size, xf.as<float>(),
                     xs.as<float>(), 1);
  const int nt = threads_for_work(o.num_threads, (long long)M * p.N * K);
  // VDPBF16PS rows where it is fast, for one row of X only: on the 2-core Zen 4 VM, (28672, 8192)
  // g128 canonical, 2 threads, 3 alternating rounds (2026-12-01): M=1 5.6-6.1 ms vs 6.5-6.6 ms
  // with the FMA rows (cache-resident, 1 thread: 32.7 vs 25.7 Gweights/s); M=2 9.8-10.7 ms vs
  // 9.0-9.4 ms, so M=2 keeps the FMA rows.
  if (p.M == 1 && p.bits == 4 && p.group_size % 128 == 0 && dpbf16_fast()) {
    arrange_x_bf16(xf.as<float>(), K, p.group_size, xr.as<uint32_t>(), xs.as<float>());
    if (p.x_dtype == QMM_DTYPE_BF16)
      run_rows<4, 1, kBf16HiOnly>(p, xr.p, xs.as<float>(), nt);
    else
      run_rows<4, 1, kBf16>(p, xr.p, xs.as<float>(), nt);
    return QMM_OK;
  }
  if (p.bits == 8) {  // natural order: the kernel reads the converted rows as they are
    with_rows_of_x(M, [&](auto mr) {
      run_rows<8, decltype(mr)::value, kFma>(p, xf.p, xs.as<float>(), nt);
    });
    return QMM_OK;
  }
  for (int64_t m = 0; m < M; ++m) arrange_x4(xf.as<float>() + m * K, K, xr.as<float>() + m * K);
  // FMA rows for M = 1 .. kRowsMaxM4 at 4 bits (avx512_run sends no more)
  with_rows_of_x(M, [&](auto mr) {
    run_rows<4, decltype(mr)::value, kFma>(p, xr.p, xs.as<float>(), nt);
  });
  return QMM_OK;
}

}  // namespace x512
}  // namespace qmm
