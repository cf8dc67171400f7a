// avx2_float_gemm_w4 / _w8: float mode, fp32 FMA on weights dequantized in registers.
//
// Layout read: weight units of 32 bytes per row (canonical rows, or the packed 4-row tiles of
// avx2_pack.cpp; see avx2_kernels.h); scales [N, G] fp32, zero points [N, G] int8 or none.
// One 256-bit load of a unit gives 8 dword lanes; lane l holds elements P*l .. P*l+P-1
// (int4: P = 8 nibbles, unit = 64 elements; int8: P = 4 bytes, unit = 32 elements). After
// xor 0x88.. (0x80..) every field holds u = q + 8 (q + 128) unsigned. The low half of the fields
// is taken IN PLACE from the lane with one vpand each, the high half from the lane >> 16 (one
// vpsrld per unit), and converted with vcvtdq2ps, giving u * 2^(bits*(i % half)) exactly; X is
// permuted once per call to the same lane order and pre-scaled by 2^-(bits*(i % half)), so the
// product is x*u exactly, without a shift per field, and only 4 (2) mask registers are live.
// The zero point leaves the inner loop: sum_k x_k (q_k - zp) = sum_k x_k u_k - (zp + 8) sum_k x_k
// (zp + 128 for int8), with per-group sums of X computed once; that correction is applied per
// output after the main loop.
//
// Inner loop per unit (32 bytes) and weight row: 1 load, 1 vpxor, then per field
//   M == 1 (tile 1 x 4 weight rows): fields in place (1 vpsrld per unit, 1 vpand per field, X
//     pre-scaled), vcvtdq2ps, one vfmadd231ps with X as a memory operand;
//   M > 1 (tiles of up to 4 rows of X x 1 weight row: wider tiles spill the 16 ymm registers):
//     fields shifted down (vpsrld + vpand, X not scaled: one mask register), vcvtdq2ps, then one
//     vfmadd231ps per row of X, so the conversion is shared by 4 rows; K is walked in chunks so
//     the X rows of a chunk stay in L1 while the 4 weight rows of a tile reuse them.
// Two accumulator sets (even/odd fields) give 8 independent FMA chains; their sum is scaled
// into the running total once per group (once per unit when group_size % 64 == 32).
// Threads split N in 4-row tiles (static schedule); every output is computed by one thread in
// a fixed order, so results do not depend on the thread count. The vcvtdq2ps (one per 8
// weights) bounds the M == 1 kernel at ~9.4 cycles per 32 bytes of weights and row on Zen 3
// (~11 GB/s per core with cache-resident weights), i.e. below two cores' DRAM bandwidth.
//
// Measured 2026-11-23, AMD EPYC Zen 3 VM, 2 threads, gcc 12 (tests/x86/README.md): M=1, 8192x8192
// g128: 4-bit 1.85-1.95 ms = 63% of the 30.9 GB/s streaming read, 8-bit 79%; M=16 ~30 ms.
#include <omp.h>

#include <new>

#include "x86_amx/avx2_common.h"

namespace qmm {
namespace avx2 {
namespace {

template <int BITS>
struct Fmt;
// Fields of a dword lane: the low half of the fields is taken from w, the high half from
// w >> 16, each with one of H masks in place, so field i comes out as u * 2^(BITS*(i % H)).
template <>
struct Fmt<4> {
  static constexpr int B = 64, P = 8, H = 4, kZpOffset = 8;
  static constexpr uint32_t kXor = 0x88888888u, kField = 0xfu;
};
template <>
struct Fmt<8> {
  static constexpr int B = 32, P = 4, H = 2, kZpOffset = 128;
  static constexpr uint32_t kXor = 0x80808080u, kField = 0xffu;
};

inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256i load_unit(const uint8_t* p, bool half) {
  if (half) return _mm256_zextsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// Group bookkeeping for units [u0, u1) without a division per unit.
struct GroupWalk {
  int64_t g, off, gs;
  GroupWalk(int64_t k, int64_t group_size) : g(k / group_size), off(k % group_size), gs(group_size) {}
  void advance(int64_t d) {
    off += d;
    while (off >= gs) {
      off -= gs;
      ++g;
    }
  }
};

// Tile: MR rows of X (xp rows ldxp apart) x NR weight rows (rp[r], units ustep bytes apart),
// units [u0, u1); lo / hi: the groups of elements u0*B and u0*B + 32. The running sums
// state[(m*4 + r)*8 .. +8] (in and out) receive scale * (partial dot product) at every group
// boundary and at u1; in between, two accumulator sets per output (even / odd fields) give 8
// independent FMA chains (latency 4 on 2 pipes). INPLACE (M == 1): fields taken in place
// with H masks and X pre-scaled; else fields shifted down with one mask (fewer registers).
// SPLIT (int4, group_size % 64 == 32): the two 32-element halves of a unit may have different
// groups, the scale is applied per unit; `half_unit` is the unit that holds only 32 elements
// (K % 64 == 32), or -1.
template <int BITS, bool SPLIT, int MR, int NR, bool INPLACE>
void float_tile(const float* xp, int64_t ldxp, const uint8_t* const* rp, int64_t ustep,
                const float* s, int64_t G, int64_t gs, int64_t u0, int64_t u1, int64_t half_unit,
                GroupWalk lo, GroupWalk hi, float* state, const M1Prefetch* pf = nullptr) {
  using F = Fmt<BITS>;
  constexpr int B = F::B, P = F::P;
  constexpr int H = F::H;
  const __m256i vxor = _mm256_set1_epi32(int(F::kXor));
  __m256i mask[H];
  for (int i = 0; i < H; ++i) mask[i] = _mm256_set1_epi32(int(F::kField << (INPLACE ? BITS * i : 0)));

  __m256 acc[2][MR][NR];
  for (int m = 0; m < MR; ++m)
    for (int r = 0; r < NR; ++r) acc[0][m][r] = acc[1][m][r] = _mm256_setzero_ps();

  const int64_t upg = SPLIT ? 1 : gs / B;  // units per group (non-split)
  int64_t left = SPLIT ? 1 : upg - lo.off / B;  // units until the next group boundary
  auto scale_vec = [&](int r) -> __m256 {
    if (!SPLIT) return _mm256_broadcast_ss(s + r * G + lo.g);
    const float slo = s[r * G + lo.g];
    const float shi = (hi.g < G) ? s[r * G + hi.g] : 0.0f;
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_set1_ps(slo)), _mm_set1_ps(shi), 1);
  };

  // one pointer per X row, so that field offsets are immediate displacements (index
  // registers m*ldxp + i*8 per field would exhaust the general registers)
  const float* xr[MR];
  for (int m = 0; m < MR; ++m) xr[m] = xp + m * ldxp + u0 * B;
  for (int64_t u = u0; u < u1; ++u) {
    if (pf && (u & 1) == 0) pf->at(u * 32);  // M == 1, 4 rows (M1Prefetch)
    const bool half = (u == half_unit);
    __m256i w[NR], w2[NR];
    for (int r = 0; r < NR; ++r) {
      w[r] = _mm256_xor_si256(load_unit(rp[r] + u * ustep, half), vxor);
      if (INPLACE) w2[r] = _mm256_srli_epi32(w[r], 16);
    }
#pragma GCC unroll 8
    for (int i = 0; i < P; ++i) {
      __m256 xv[MR];
      for (int m = 0; m < MR; ++m) xv[m] = _mm256_load_ps(xr[m] + i * 8);
      for (int r = 0; r < NR; ++r) {
        __m256i f;
        if (INPLACE)
          f = _mm256_and_si256(i < H ? w[r] : w2[r], mask[i % H]);
        else
          f = i == 0 ? _mm256_and_si256(w[r], mask[0])
              : i == P - 1 ? _mm256_srli_epi32(w[r], BITS * (P - 1))
                           : _mm256_and_si256(_mm256_srli_epi32(w[r], BITS * (i > 0 ? i : 1)), mask[0]);
        const __m256 wf = _mm256_cvtepi32_ps(f);
        for (int m = 0; m < MR; ++m) acc[i & 1][m][r] = _mm256_fmadd_ps(xv[m], wf, acc[i & 1][m][r]);
      }
    }
    if (--left == 0 || u + 1 == u1) {
      left = upg;
      for (int r = 0; r < NR; ++r) {
        const __m256 sr = scale_vec(r);
        for (int m = 0; m < MR; ++m) {
          float* t = state + (m * 4 + r) * 8;
          const __m256 a = _mm256_add_ps(acc[0][m][r], acc[1][m][r]);
          _mm256_storeu_ps(t, _mm256_fmadd_ps(a, sr, _mm256_loadu_ps(t)));
          acc[0][m][r] = _mm256_setzero_ps();
          acc[1][m][r] = _mm256_setzero_ps();
        }
      }
    }
    for (int m = 0; m < MR; ++m) xr[m] += B;
    lo.advance(B);
    if (SPLIT) hi.advance(B);
  }
}

// corr = sum_g s[g] * (zp[g] + offset) * xsum[g] for one weight row and one X row.
inline float zero_point_term(const float* s, const int8_t* z, int offset, const float* xs,
                             int64_t G) {
  __m256 c = _mm256_setzero_ps();
  const __m256i voff = _mm256_set1_epi32(offset);
  int64_t g = 0;
  for (; g + 8 <= G; g += 8) {
    __m256i zi = voff;
    if (z)
      zi = _mm256_add_epi32(
          _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(z + g))), voff);
    const __m256 sz = _mm256_mul_ps(_mm256_loadu_ps(s + g), _mm256_cvtepi32_ps(zi));
    c = _mm256_fmadd_ps(sz, _mm256_loadu_ps(xs + g), c);
  }
  float t = hsum8(c);
  for (; g < G; ++g) t += s[g] * float((z ? int(z[g]) : 0) + offset) * xs[g];
  return t;
}

constexpr int64_t kRowBlock = 16;  // rows of X per pass over the weights

template <int BITS, bool SPLIT>
void float_gemm(const Problem& p, const Options& o, const WeightView& wv) {
  using F = Fmt<BITS>;
  constexpr int B = F::B, P = F::P;
  const int64_t M = p.M, N = p.N, K = p.K, G = p.groups, gs = p.group_size;
  const int64_t units = wv.units;
  // Row stride of the permuted X: one cache line more than the padded K, so that rows of a
  // power-of-two K do not all map to the same L1 sets.
  const int64_t Kp = units * B + 16;
  const int64_t half_unit = (BITS == 4 && K % 64 != 0) ? units - 1 : -1;
  const int64_t MB = min64(M, kRowBlock);
  const int64_t ldxs = round_up(G, 8);
  const size_t xsz = p.x_dtype == QMM_DTYPE_F32 ? 4 : 2;
  ScratchBuffer xp_buf(size_t(MB) * size_t(Kp) * 4), xs_buf(size_t(MB) * size_t(ldxs) * 4),
      xf_buf(size_t(MB) * size_t(K) * 4);
  float* xp = xp_buf.as<float>();
  float* xs = xs_buf.as<float>();
  float* xf = xf_buf.as<float>();
  if (!xp || !xs || !xf) throw std::bad_alloc();
  float pscale[P];
  const bool m1 = M == 1;
  for (int i = 0; i < P; ++i) pscale[i] = m1 ? 1.0f / float(1u << (BITS * (i % F::H))) : 1.0f;
  // Units per K chunk for M > 1: the chunk of MB rows of fp32 X stays around 24 KiB.
  const int64_t kc = m1 ? units : max64(1, (24576 / (4 * MB)) / B);
  const int64_t tiles = (N + kAvx2TileRows - 1) / kAvx2TileRows;

#pragma omp parallel num_threads(o.num_threads)
  for (int64_t m0 = 0; m0 < M; m0 += MB) {
    const int64_t mb = min64(MB, M - m0);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < mb; ++i) {
      float* f = xf + i * K;
      row_to_f32(static_cast<const char*>(p.x) + size_t(m0 + i) * size_t(p.ldx) * xsz, p.x_dtype,
                 K, f);
      float* d = xp + i * Kp;
      for (int64_t u = 0; u < units; ++u)
        for (int j = 0; j < P; ++j)
          for (int l = 0; l < 8; ++l) {
            const int64_t k = u * B + l * P + j;
            d[u * B + j * 8 + l] = k < K ? f[k] * pscale[j] : 0.0f;
          }
      float* sums = xs + i * ldxs;
      for (int64_t g = 0; g < ldxs; ++g) {
        float t = 0.0f;
        if (g < G)
          for (int64_t k = g * gs; k < (g + 1) * gs; ++k) t += f[k];
        sums[g] = t;
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
      alignas(32) float state[kRowBlock * 4 * 8];
      float res[kRowBlock * 4];
      for (int64_t i = 0; i < mb * 4 * 8; ++i) state[i] = 0.0f;
      if (m1) {
        const GroupWalk lo0(0, gs), hi0(32, gs);
        const M1Prefetch pf(rp, wv);  // used for full 4-row tiles only
        int64_t r = 0;
        while (r < nt) {
          const float* sr = s + r * G;
#define QMM_TILE(NR_, PF_)                                                                     \
  float_tile<BITS, SPLIT, 1, NR_, true>(xp, Kp, rp + r, ustep, sr, G, gs, 0, units, half_unit, \
                                        lo0, hi0, state + r * 8, PF_)
          if (nt - r >= 4) {
            QMM_TILE(4, &pf);
            r += 4;
          } else if (nt - r >= 2) {
            QMM_TILE(2, nullptr);
            r += 2;
          } else {
            QMM_TILE(1, nullptr);
            r += 1;
          }
#undef QMM_TILE
        }
      } else {
        for (int64_t uc = 0; uc < units; uc += kc) {
          const int64_t ue = min64(units, uc + kc);
          const GroupWalk lo0(uc * B, gs), hi0(uc * B + 32, gs);
          for (int64_t r = 0; r < nt; ++r) {
            const float* sr = s + r * G;
            for (int64_t m = 0; m < mb; m += 4) {
              const int64_t mr = min64(4, mb - m);
              const float* xm = xp + m * Kp;
              float* st = state + (m * 4 + r) * 8;
#define QMM_TILE(MR_)                                                                    \
  float_tile<BITS, SPLIT, MR_, 1, false>(xm, Kp, rp + r, ustep, sr, G, gs, uc, ue, half_unit, \
                                         lo0, hi0, st)
              switch (mr) {
                case 4: QMM_TILE(4); break;
                case 3: QMM_TILE(3); break;
                case 2: QMM_TILE(2); break;
                default: QMM_TILE(1); break;
              }
#undef QMM_TILE
            }
          }
        }
      }
      for (int64_t m = 0; m < mb; ++m)
        for (int64_t r = 0; r < nt; ++r) res[m * 4 + r] = hsum8(_mm256_load_ps(state + (m * 4 + r) * 8));
      const int8_t* z = p.zp ? p.zp + n0 * G : nullptr;
      for (int64_t m = 0; m < mb; ++m)
        for (int64_t r = 0; r < nt; ++r) {
          const float corr =
              zero_point_term(s + r * G, z ? z + r * G : nullptr, F::kZpOffset, xs + m * ldxs, G);
          store_y(p.y, (m0 + m) * p.ldy + n0 + r, p.y_dtype, res[m * 4 + r] - corr);
        }
    }
  }
}

}  // namespace

qmm_status avx2_float_gemm(const Problem& p, const Options& o, const WeightView& wv) {
  if (p.bits == 4) {
    if (p.group_size % 64 == 0)
      float_gemm<4, false>(p, o, wv);
    else
      float_gemm<4, true>(p, o, wv);
  } else {
    float_gemm<8, false>(p, o, wv);
  }
  return QMM_OK;
}

}  // namespace avx2
}  // namespace qmm
