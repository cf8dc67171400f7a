// avx2_int8_gemm_w4 / _w8: int8 mode. X is quantized per row and weight group with
// avx2_quantize_row_int8 (bit-identical to quantize_group_int8), then integer dot products.
//
// Layout read: weight units of 32 bytes per row (canonical or packed 4-row tiles, see
// avx2_kernels.h), scales [N, G] fp32, zero points [N, G] int8 or none. Activations int8
// [rows, K]; for int4 weights each 64-element (or 32-element) block of activations is stored as
// its even elements then its odd elements, the order the nibble unpack below produces.
//
// int4, group_size % 64 == 0, per 64 elements and weight row: one 32-byte load, vpxor 0x88,
// vpand 0x0f (even k) and vpsrlw 4 + vpand (odd k); per X row two vpmaddubsw and two vpaddw
// (activations stored per 64 as 32 even then 32 odd elements). Otherwise, per 32 elements: vbroadcasti128 of 16 bytes, vpxor 0x88 (each nibble
// becomes u = q + 8 in 0..15), vpsrlvd by (0,0,0,0,4,4,4,4), vpand 0x0f -> 32 unsigned bytes
// [low nibbles | high nibbles]; then per X row one vpmaddubsw (u x q, pairs <= 2*15*127, no
// saturation) and one vpaddw; up to 8 blocks are summed in int16 (<= 30480) before one
// vpmaddwd by ones into int32. isum = sum u*q - (zp + 8) * sum q.
// int8, per 32 elements: vpabsb(w) once per weight row, then per X row vpsignb(q, w),
// vpmaddubsw(|w|, q*sign(w)) (pairs <= 2*128*127, no saturation), vpmaddwd by ones, vpaddd.
// isum = sum w*q - zp * sum q. Both exact in int32 for group_size <= 65536.
// Epilogue per group: the row sums of up to 4 weight rows are reduced together (3 vphaddd),
// then acc += (sx[m,g] * s[n,g]) * float(isum) in fp32, lane by lane in increasing g: the same
// operations in the same order as the scalar backend, so results match it bit for bit.
// Tiles: M == 1: 1 x 4 weight rows; M > 1: up to 4 rows of X x 2 weight rows, K walked in
// chunks of whole groups so the chunk of activations stays in L1. Threads split N in 4-row
// tiles (static schedule): results do not depend on the thread count.
//
// Measured 2026-11-23, AMD EPYC Zen 3 VM, 2 threads, gcc 12 (tests/x86/README.md): M=1, 8192x8192
// g128: 4-bit 1.45-1.49 ms = 81% of the 30.9 GB/s streaming read, 8-bit 93%; M=16 4-bit 14 ms.
#include <omp.h>

#include <new>

#include "x86_amx/avx2_common.h"

namespace qmm {
namespace avx2 {
namespace {

// [sum v0, sum v1, sum v2, sum v3]
inline __m128i reduce4(__m256i v0, __m256i v1, __m256i v2, __m256i v3) {
  const __m256i t0 = _mm256_hadd_epi32(v0, v1);
  const __m256i t1 = _mm256_hadd_epi32(v2, v3);
  const __m256i t2 = _mm256_hadd_epi32(t0, t1);
  return _mm_add_epi32(_mm256_castsi256_si128(t2), _mm256_extracti128_si256(t2, 1));
}

// Tile: MR rows of activations (a rows lda apart; sx/sq rows ldg apart) x NR weight rows,
// groups [g0, g1); st[m*4 + r] accumulates the fp32 epilogue.
template <int BITS, bool FULL, int MR, int NR>
void int8_tile(const int8_t* a, int64_t lda, const float* sx, const int32_t* sq, int64_t ldg,
               const uint8_t* const* rp, int64_t ustep, const float* s, const int8_t* z,
               int64_t G, int64_t gs, int64_t g0, int64_t g1, float* st,
               const M1Prefetch* pf = nullptr) {
  const __m256i ones16 = _mm256_set1_epi16(1);
  const __m256i x88 = _mm256_set1_epi8(int8_t(0x88));
  const __m256i lo4 = _mm256_set1_epi8(0x0f);
  const __m256i cnt = _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4);
  const int64_t bpg = gs / 32;
  __m128 acc[MR];
  for (int m = 0; m < MR; ++m) {
    alignas(16) float t[4] = {0, 0, 0, 0};
    for (int r = 0; r < NR; ++r) t[r] = st[m * 4 + r];
    acc[m] = _mm_load_ps(t);
  }

  for (int64_t g = g0; g < g1; ++g) {
    if (pf) {  // M == 1, 4 rows: a group's worth of each row ahead (M1Prefetch)
      const int64_t bg = gs * BITS / 8;  // once per 64-byte line start in this group's bytes
      for (int64_t off = round_up(g * bg, 64); off < (g + 1) * bg; off += 64) pf->at(off);
    }
    __m256i acc32[MR][NR];
    for (int m = 0; m < MR; ++m)
      for (int r = 0; r < NR; ++r) acc32[m][r] = _mm256_setzero_si256();
    const int64_t kg = g * gs;
    if (BITS == 4 && FULL) {
      // whole units: 32 bytes = 64 elements, low nibbles (even k) | high nibbles (odd k)
      const __m256i lo4v = _mm256_set1_epi8(0x0f);
      const int64_t upg = gs / 64;
      for (int64_t u0 = 0; u0 < upg; u0 += 4) {
        const int64_t u1 = min64(upg, u0 + 4);
        __m256i acc16[MR][NR];
        for (int m = 0; m < MR; ++m)
          for (int r = 0; r < NR; ++r) acc16[m][r] = _mm256_setzero_si256();
        for (int64_t u = u0; u < u1; ++u) {
          const int64_t k = kg + 64 * u;
          __m256i we[NR], wo[NR];
          for (int r = 0; r < NR; ++r) {
            const __m256i wb = _mm256_xor_si256(
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rp[r] + (k >> 6) * ustep)), x88);
            we[r] = _mm256_and_si256(wb, lo4v);
            wo[r] = _mm256_and_si256(_mm256_srli_epi16(wb, 4), lo4v);
          }
          for (int m = 0; m < MR; ++m) {
            const __m256i ae = _mm256_load_si256(reinterpret_cast<const __m256i*>(a + m * lda + k));
            const __m256i ao = _mm256_load_si256(reinterpret_cast<const __m256i*>(a + m * lda + k + 32));
            for (int r = 0; r < NR; ++r)
              acc16[m][r] = _mm256_add_epi16(
                  acc16[m][r], _mm256_add_epi16(_mm256_maddubs_epi16(we[r], ae),
                                                _mm256_maddubs_epi16(wo[r], ao)));
          }
        }
        for (int m = 0; m < MR; ++m)
          for (int r = 0; r < NR; ++r)
            acc32[m][r] = _mm256_add_epi32(acc32[m][r], _mm256_madd_epi16(acc16[m][r], ones16));
      }
    } else if (BITS == 4) {
      for (int64_t b0 = 0; b0 < bpg; b0 += 8) {
        const int64_t b1 = min64(bpg, b0 + 8);
        __m256i acc16[MR][NR];
        for (int m = 0; m < MR; ++m)
          for (int r = 0; r < NR; ++r) acc16[m][r] = _mm256_setzero_si256();
        for (int64_t b = b0; b < b1; ++b) {
          const int64_t k = kg + 32 * b;
          const int64_t kb = k >> 1;
          __m256i wn[NR];
          for (int r = 0; r < NR; ++r) {
            const __m128i raw =
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(rp[r] + (kb >> 5) * ustep + (kb & 31)));
            const __m256i wb = _mm256_xor_si256(_mm256_broadcastsi128_si256(raw), x88);
            wn[r] = _mm256_and_si256(_mm256_srlv_epi32(wb, cnt), lo4);
          }
          for (int m = 0; m < MR; ++m) {
            const __m256i av = _mm256_load_si256(reinterpret_cast<const __m256i*>(a + m * lda + k));
            for (int r = 0; r < NR; ++r)
              acc16[m][r] = _mm256_add_epi16(acc16[m][r], _mm256_maddubs_epi16(wn[r], av));
          }
        }
        for (int m = 0; m < MR; ++m)
          for (int r = 0; r < NR; ++r)
            acc32[m][r] = _mm256_add_epi32(acc32[m][r], _mm256_madd_epi16(acc16[m][r], ones16));
      }
    } else {
      for (int64_t b = 0; b < bpg; ++b) {
        const int64_t k = kg + 32 * b;
        __m256i w[NR], aw[NR];
        for (int r = 0; r < NR; ++r) {
          w[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rp[r] + (k >> 5) * ustep));
          aw[r] = _mm256_abs_epi8(w[r]);
        }
        for (int m = 0; m < MR; ++m) {
          const __m256i av = _mm256_load_si256(reinterpret_cast<const __m256i*>(a + m * lda + k));
          for (int r = 0; r < NR; ++r) {
            const __m256i p16 = _mm256_maddubs_epi16(aw[r], _mm256_sign_epi8(av, w[r]));
            acc32[m][r] = _mm256_add_epi32(acc32[m][r], _mm256_madd_epi16(p16, ones16));
          }
        }
      }
    }
    // epilogue for group g
    // scales and zero points of the NR rows, gathered in registers (a vector reload of
    // scalar stores would stall on store forwarding)
    const float* sg = s + g;
    const int zoff = BITS == 4 ? 8 : 0;
    auto zat = [&](int r) { return (z ? int32_t(z[r * G + g]) : 0) + zoff; };
    const __m128 s4 = _mm_setr_ps(sg[0], NR > 1 ? sg[G] : 0.0f, NR > 2 ? sg[2 * G] : 0.0f,
                                  NR > 3 ? sg[3 * G] : 0.0f);
    const __m128i z4 = _mm_setr_epi32(zat(0), NR > 1 ? zat(1) : 0, NR > 2 ? zat(2) : 0,
                                      NR > 3 ? zat(3) : 0);
    const bool has_z = BITS == 4 || z != nullptr;
    const __m256i zero = _mm256_setzero_si256();
    for (int m = 0; m < MR; ++m) {
      __m128i isum = reduce4(acc32[m][0], NR > 1 ? acc32[m][NR > 1 ? 1 : 0] : zero,
                             NR > 2 ? acc32[m][NR > 2 ? 2 : 0] : zero,
                             NR > 3 ? acc32[m][NR > 3 ? 3 : 0] : zero);
      if (has_z) isum = _mm_sub_epi32(isum, _mm_mullo_epi32(z4, _mm_set1_epi32(sq[m * ldg + g])));
      const __m128 t = _mm_mul_ps(_mm_mul_ps(_mm_set1_ps(sx[m * ldg + g]), s4), _mm_cvtepi32_ps(isum));
      acc[m] = _mm_add_ps(acc[m], t);
    }
  }
  for (int m = 0; m < MR; ++m) {
    alignas(16) float t[4];
    _mm_store_ps(t, acc[m]);
    for (int r = 0; r < NR; ++r) st[m * 4 + r] = t[r];
  }
}

// M == 1, int4, group_size in {64, 128, 192, 256} (at most 4 units per group, so the int16
// sums of a group cannot overflow: 4 x 2 x 2 x 15 x 127 = 30480), one tile of 4 weight rows
// over all of K: int8_tile<4, true, 1, 4>'s arithmetic in the same order (bit-identical),
// with per-row pointers walked by ustep instead of indexed, the int16 sums folded to int32
// once per group, and the tile's scales / zero points gathered group-major for up to 64
// groups at a time (4 x 8 transposes instead of 4 scalar loads and 3 inserts per group each).
// (callgrind, 4096 x 4096 g128, one thread: 6.7M -> 5.2M instructions per call, ~26 -> ~20
// per 32-byte unit and row; 2-core Zen 4 VM, qmm_bench quick avx2 int8 M=1, 3 alternating
// rounds: 687-747 -> 624-648 us. The group-major gather and the branch-free prefetch,
// 1024 x 4096: 1.52M -> 1.29M instructions per call, time within the VM's noise: the loop
// is bound by its ~45 vector ops per unit of 4 rows on Zen 4's four vector pipes.)
void int8_m1_tile4(const int8_t* a, const float* sx, const int32_t* sq, const uint8_t* const* rp,
                   int64_t ustep, const float* s, const int8_t* z, int64_t G, int64_t gs,
                   float* st, const M1Prefetch& pf) {
  const __m256i ones16 = _mm256_set1_epi16(1);
  const __m256i x88 = _mm256_set1_epi8(int8_t(0x88));
  const __m256i lo4 = _mm256_set1_epi8(0x0f);
  const int upg = int(gs / 64);
  const uint8_t* w0 = rp[0];
  const uint8_t* w1 = rp[1];
  const uint8_t* w2 = rp[2];
  const uint8_t* w3 = rp[3];
  const float* const sr[4] = {s, s + G, s + 2 * G, s + 3 * G};
  const int8_t* const zr[4] = {z, z ? z + G : nullptr, z ? z + 2 * G : nullptr,
                               z ? z + 3 * G : nullptr};
  constexpr int64_t kChunk = 64;                // groups per gather
  alignas(16) float sb[kChunk][4];               // [group][row] scales
  alignas(32) int32_t zb[kChunk][4];             // [group][row] zero point + 8
  __m128 acc = _mm_loadu_ps(st);
  int64_t un = 0;  // unit index along the row (the prefetch stream's position)
  for (int64_t g0 = 0; g0 < G; g0 += kChunk) {
    const int64_t gn = min64(kChunk, G - g0);
    int64_t j = 0;
    for (; j + 8 <= gn; j += 8) {
      const __m256 r0 = _mm256_loadu_ps(sr[0] + g0 + j), r1 = _mm256_loadu_ps(sr[1] + g0 + j);
      const __m256 r2 = _mm256_loadu_ps(sr[2] + g0 + j), r3 = _mm256_loadu_ps(sr[3] + g0 + j);
      const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
      const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
      const __m256 v0 = _mm256_shuffle_ps(t0, t2, 0x44), v1 = _mm256_shuffle_ps(t0, t2, 0xee);
      const __m256 v2 = _mm256_shuffle_ps(t1, t3, 0x44), v3 = _mm256_shuffle_ps(t1, t3, 0xee);
      _mm_store_ps(sb[j], _mm256_castps256_ps128(v0));      // groups j .. j+3
      _mm_store_ps(sb[j + 1], _mm256_castps256_ps128(v1));
      _mm_store_ps(sb[j + 2], _mm256_castps256_ps128(v2));
      _mm_store_ps(sb[j + 3], _mm256_castps256_ps128(v3));
      _mm_store_ps(sb[j + 4], _mm256_extractf128_ps(v0, 1));  // groups j+4 .. j+7
      _mm_store_ps(sb[j + 5], _mm256_extractf128_ps(v1, 1));
      _mm_store_ps(sb[j + 6], _mm256_extractf128_ps(v2, 1));
      _mm_store_ps(sb[j + 7], _mm256_extractf128_ps(v3, 1));
      const __m256i eight = _mm256_set1_epi32(8);
      __m256i zv[4] = {eight, eight, eight, eight};  // groups (j, j+1), (j+2, j+3), ...
      if (z) {
        auto ld8 = [&](int r) {
          return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(zr[r] + g0 + j));
        };
        const __m128i a01 = _mm_unpacklo_epi8(ld8(0), ld8(1));  // (row 0, row 1) per group
        const __m128i a23 = _mm_unpacklo_epi8(ld8(2), ld8(3));
        const __m128i q = _mm_unpacklo_epi16(a01, a23);          // groups j .. j+3, 4 rows each
        const __m128i h = _mm_unpackhi_epi16(a01, a23);          // groups j+4 .. j+7
        zv[0] = _mm256_add_epi32(eight, _mm256_cvtepi8_epi32(q));
        zv[1] = _mm256_add_epi32(eight, _mm256_cvtepi8_epi32(_mm_srli_si128(q, 8)));
        zv[2] = _mm256_add_epi32(eight, _mm256_cvtepi8_epi32(h));
        zv[3] = _mm256_add_epi32(eight, _mm256_cvtepi8_epi32(_mm_srli_si128(h, 8)));
      }
      for (int e = 0; e < 4; ++e)
        _mm256_store_si256(reinterpret_cast<__m256i*>(zb[j + 2 * e]), zv[e]);
    }
    for (; j < gn; ++j)
      for (int r = 0; r < 4; ++r) {
        sb[j][r] = sr[r][g0 + j];
        zb[j][r] = (z ? int32_t(zr[r][g0 + j]) : 0) + 8;
      }
    for (int64_t jg = 0; jg < gn; ++jg) {
      const int64_t g = g0 + jg;
      __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0;
      for (int u = 0; u < upg; ++u, ++un) {
        pf.unit(un);
        const __m256i ae = _mm256_load_si256(reinterpret_cast<const __m256i*>(a));
        const __m256i ao = _mm256_load_si256(reinterpret_cast<const __m256i*>(a + 32));
        a += 64;
        auto dot = [&](const uint8_t* w, __m256i c) {
          const __m256i wb = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w)), x88);
          const __m256i we = _mm256_and_si256(wb, lo4);
          const __m256i wo = _mm256_and_si256(_mm256_srli_epi16(wb, 4), lo4);
          return _mm256_add_epi16(c, _mm256_add_epi16(_mm256_maddubs_epi16(we, ae),
                                                      _mm256_maddubs_epi16(wo, ao)));
        };
        c0 = dot(w0, c0);
        c1 = dot(w1, c1);
        c2 = dot(w2, c2);
        c3 = dot(w3, c3);
        w0 += ustep;
        w1 += ustep;
        w2 += ustep;
        w3 += ustep;
      }
      __m128i isum = reduce4(_mm256_madd_epi16(c0, ones16), _mm256_madd_epi16(c1, ones16),
                             _mm256_madd_epi16(c2, ones16), _mm256_madd_epi16(c3, ones16));
      const __m128i z4 = _mm_load_si128(reinterpret_cast<const __m128i*>(zb[jg]));
      isum = _mm_sub_epi32(isum, _mm_mullo_epi32(z4, _mm_set1_epi32(sq[g])));
      const __m128 s4 = _mm_load_ps(sb[jg]);
      acc = _mm_add_ps(acc, _mm_mul_ps(_mm_mul_ps(_mm_set1_ps(sx[g]), s4), _mm_cvtepi32_ps(isum)));
    }
  }
  _mm_storeu_ps(st, acc);
}

constexpr int64_t kRowBlock = 16;

template <int BITS, bool FULL>
void int8_gemm(const Problem& p, const Options& o, const WeightView& wv) {
  const int64_t M = p.M, N = p.N, K = p.K, G = p.groups, gs = p.group_size;
  const int64_t MB = min64(M, kRowBlock);
  const size_t xsz = p.x_dtype == QMM_DTYPE_F32 ? 4 : 2;
  ScratchBuffer a_buf(size_t(MB) * size_t(K + 64)), q_buf(size_t(MB) * size_t(K)),
      xf_buf(size_t(MB) * size_t(K) * 4), sx_buf(size_t(MB) * size_t(G) * 4),
      sq_buf(size_t(MB) * size_t(G) * 4);
  int8_t* act = a_buf.as<int8_t>();
  int8_t* qn = q_buf.as<int8_t>();
  float* xf = xf_buf.as<float>();
  float* sx = sx_buf.as<float>();
  int32_t* sq = sq_buf.as<int32_t>();
  if (!act || !qn || !xf || !sx || !sq) throw std::bad_alloc();
  const bool m1 = M == 1;
  const int64_t lda = K + 64;  // row stride of the activations: breaks power-of-two set aliasing
  // Groups per K chunk for M > 1: the chunk of MB rows of activations stays around 16 KiB.
  const int64_t gc = m1 ? G : max64(1, (16384 / MB) / gs);
  const int64_t tiles = (N + kAvx2TileRows - 1) / kAvx2TileRows;
  // even/odd split of each 32-byte block within 128-bit lanes, then lanes (0, 2, 1, 3)
  const __m256i eo = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15, 0, 2,
                                      4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);

#pragma omp parallel num_threads(o.num_threads)
  for (int64_t m0 = 0; m0 < M; m0 += MB) {
    const int64_t mb = min64(MB, M - m0);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < mb; ++i) {
      float* f = xf + i * K;
      row_to_f32(static_cast<const char*>(p.x) + size_t(m0 + i) * size_t(p.ldx) * xsz, p.x_dtype,
                 K, f);
      int8_t* d = act + i * lda;
      if (BITS == 8) {
        avx2_quantize_row_int8(f, K, gs, d, sx + i * G, sq + i * G);
      } else {
        int8_t* q = qn + i * K;
        avx2_quantize_row_int8(f, K, gs, q, sx + i * G, sq + i * G);
        if (FULL) {
          for (int64_t k = 0; k < K; k += 64) {
            const __m256i v0 = _mm256_permute4x64_epi64(
                _mm256_shuffle_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + k)), eo), 0xd8);
            const __m256i v1 = _mm256_permute4x64_epi64(
                _mm256_shuffle_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + k + 32)), eo), 0xd8);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + k), _mm256_permute2x128_si256(v0, v1, 0x20));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + k + 32), _mm256_permute2x128_si256(v0, v1, 0x31));
          }
        } else {
          for (int64_t k = 0; k < K; k += 32) {
            const __m256i v = _mm256_shuffle_epi8(
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + k)), eo);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + k), _mm256_permute4x64_epi64(v, 0xd8));
          }
        }
      }
    }
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t n0 = t * kAvx2TileRows;
      const int64_t nt = min64(kAvx2TileRows, N - n0);
      const uint8_t* rp[kAvx2TileRows];
      int64_t ustep;
      tile_rows(wv, n0, nt, rp, &ustep);
      const float* s = p.scales + n0 * G;
      const int8_t* z = p.zp ? p.zp + n0 * G : nullptr;
      const M1Prefetch pf(rp, wv);  // M == 1, full tiles only
      alignas(16) float st[kRowBlock * 4];
      for (int64_t i = 0; i < mb * 4; ++i) st[i] = 0.0f;
      for (int64_t gc0 = 0; gc0 < G; gc0 += gc) {
        const int64_t gc1 = min64(G, gc0 + gc);
        int64_t r = 0;
        while (r < nt) {
          const int64_t nr = m1 ? (nt - r >= 4 ? 4 : nt - r >= 2 ? 2 : 1) : (nt - r >= 2 ? 2 : 1);
          const float* sr = s + r * G;
          const int8_t* zr = z ? z + r * G : nullptr;
          for (int64_t m = 0; m < mb; m += 4) {
            const int64_t mr = min64(4, mb - m);
            const int8_t* am = act + m * lda;
            float* stm = st + m * 4 + r;
#define QMM_TILE(MR_, NR_, ...)                                                                \
  int8_tile<BITS, FULL, MR_, NR_>(am, lda, sx + m * G, sq + m * G, G, rp + r, ustep, sr, zr, G, gs, gc0, \
                            gc1, stm, ##__VA_ARGS__)
            if (nr == 4 && BITS == 4 && FULL && gs <= 256) {
              int8_m1_tile4(am, sx, sq, rp + r, ustep, sr, zr, G, gs, stm, pf);  // M == 1 only
            } else if (nr == 4) {
              QMM_TILE(1, 4, &pf);  // M == 1 only
            } else if (nr == 2) {
              switch (mr) {
                case 4: QMM_TILE(4, 2); break;
                case 3: QMM_TILE(3, 2); break;
                case 2: QMM_TILE(2, 2); break;
                default: QMM_TILE(1, 2); break;
              }
            } else {
              switch (mr) {
                case 4: QMM_TILE(4, 1); break;
                case 3: QMM_TILE(3, 1); break;
                case 2: QMM_TILE(2, 1); break;
                default: QMM_TILE(1, 1); break;
              }
            }
#undef QMM_TILE
          }
          r += nr;
        }
      }
      for (int64_t m = 0; m < mb; ++m)
        for (int64_t r = 0; r < nt; ++r)
          store_y(p.y, (m0 + m) * p.ldy + n0 + r, p.y_dtype, st[m * 4 + r]);
    }
  }
}

}  // namespace

qmm_status avx2_int8_gemm(const Problem& p, const Options& o, const WeightView& wv) {
  if (p.bits == 8)
    int8_gemm<8, false>(p, o, wv);
  else if (p.group_size % 64 == 0)
    int8_gemm<4, true>(p, o, wv);
  else
    int8_gemm<4, false>(p, o, wv);
  return QMM_OK;
}

}  // namespace avx2
}  // namespace qmm
