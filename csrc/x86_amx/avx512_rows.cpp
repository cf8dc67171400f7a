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
//           values (arrange_x), so each weight vector meets its X vector lane for lane.
//   bits=8: VPMOVSXBD of 16 bytes + VCVTDQ2PS; X in natural order.
// Per group the exact integer-weighted sums are scaled once (tot += acc * scale); the zero
// point is removed at the end per output: y = sum_g s_g * acc_g - sum_g s_g * zp_g * xsum_g.
// R weight rows are processed together (4 for one X row, 2 for two, 1 for three or four) so
// 8 FMA chains are in flight; each row is its own sequential stream, prefetched kPrefetch
// bytes ahead. Threads split the weight rows statically; every output is computed by one
// thread in a fixed order (bit-identical for any thread count). Results are not bit-identical
// to the panel kernels (other summation order), both are within the SPEC bound.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

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

void arrange_x(const float* xf, int64_t K, int bits, float* xr) {
  if (bits == 8) {
    std::memcpy(xr, xf, size_t(K) * sizeof(float));
    return;
  }
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int64_t k = 0; k < K; k += 32) {
    const __m512 a = _mm512_loadu_ps(xf + k), b = _mm512_loadu_ps(xf + k + 16);
    _mm512_storeu_ps(xr + k, _mm512_permutex2var_ps(a, even, b));
    _mm512_storeu_ps(xr + k + 16, _mm512_permutex2var_ps(a, odd, b));
  }
}

// R weight rows (w, row stride rb bytes; scales s, stride G) x MR rows of arranged X (xr,
// stride K), groups g0..g1-1: tot[r * MR + m] += per-lane partial sums of
// sum_g s[r][g] * sum_{k in g} w[r][k] * x[m][k].
template <int BITS, int MR, int R>
void rows_tile(const uint8_t* w, int64_t rb, const float* s, int64_t G, int64_t gs, int64_t g0,
               int64_t g1, const float* xr, int64_t K, __m512* tot_io) {
  const __m512 lut = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1);
  __m512 tot[R][MR];
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < MR; ++m) tot[r][m] = tot_io[r * MR + m];
  for (int64_t g = g0; g < g1; ++g) {
    __m512 acc[R][MR][2];
    for (int r = 0; r < R; ++r)
      for (int m = 0; m < MR; ++m) acc[r][m][0] = acc[r][m][1] = _mm512_setzero_ps();
    const int64_t k1 = (g + 1) * gs;
    for (int64_t k = g * gs; k < k1; k += 32) {
      for (int r = 0; r < R; ++r) {
        __m512 wa, wb;
        if (BITS == 4) {
          const uint8_t* wp = w + r * rb + k / 2;
          if ((k & 127) == 0) _mm_prefetch(reinterpret_cast<const char*>(wp + kPrefetch), _MM_HINT_T0);
          const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wp)));
          wa = _mm512_permutexvar_ps(v, lut);
          wb = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), lut);
        } else {
          const uint8_t* wp = w + r * rb + k;
          if ((k & 63) == 0) _mm_prefetch(reinterpret_cast<const char*>(wp + kPrefetch), _MM_HINT_T0);
          wa = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wp))));
          wb = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wp + 16))));
        }
        for (int m = 0; m < MR; ++m) {
          acc[r][m][0] = _mm512_fmadd_ps(wa, _mm512_loadu_ps(xr + m * K + k), acc[r][m][0]);
          acc[r][m][1] = _mm512_fmadd_ps(wb, _mm512_loadu_ps(xr + m * K + k + 16), acc[r][m][1]);
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      const __m512 sv = _mm512_set1_ps(s[r * G + g]);
      for (int m = 0; m < MR; ++m)
        tot[r][m] = _mm512_fmadd_ps(_mm512_add_ps(acc[r][m][0], acc[r][m][1]), sv, tot[r][m]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < MR; ++m) tot_io[r * MR + m] = tot[r][m];
}

// sum_g s[g] * zp[g] * xsum[g]
float zero_point_term(const float* s, const int8_t* z, const float* xsum, int64_t G) {
  __m512 t = _mm512_setzero_ps();
  for (int64_t g = 0; g < G; g += 16) {
    const __mmask16 mk = G - g >= 16 ? __mmask16(0xffff) : __mmask16((1u << (G - g)) - 1u);
    const __m512 zf = _mm512_cvtepi32_ps(
        _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mk, z + g)));
    t = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, s + g), zf),
                        _mm512_maskz_loadu_ps(mk, xsum + g), t);
  }
  return _mm512_reduce_add_ps(t);
}

template <int BITS, int MR>
void run_rows(const Problem& p, const float* xr, const float* xsum, int nt) {
  constexpr int R = MR == 1 ? 4 : MR == 2 ? 2 : 1;
  const int64_t N = p.N, K = p.K, G = p.groups, gs = p.group_size, rb = p.row_bytes();
  // groups per pass: the MR rows of X for one pass stay within kXChunkBytes (L1)
  const int64_t gc = std::max<int64_t>(1, kXChunkBytes / (MR * 4 * gs));
  const int64_t blocks = (N + kBlockRows - 1) / kBlockRows;
#pragma omp parallel for schedule(static) num_threads(nt)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t n0 = b * kBlockRows;
    const int rows = int(std::min<int64_t>(kBlockRows, N - n0));
    __m512 tot[kBlockRows * MR];
    for (auto& v : tot) v = _mm512_setzero_ps();
    for (int64_t g0 = 0; g0 < G; g0 += gc) {
      const int64_t g1 = std::min(G, g0 + gc);
      for (int r = 0; r < rows;) {
        const int64_t n = n0 + r;
        if (rows - r >= R) {
          rows_tile<BITS, MR, R>(p.w + n * rb, rb, p.scales + n * G, G, gs, g0, g1, xr, K, tot + r * MR);
          r += R;
        } else {
          rows_tile<BITS, MR, 1>(p.w + n * rb, rb, p.scales + n * G, G, gs, g0, g1, xr, K, tot + r * MR);
          r += 1;
        }
      }
    }
    for (int r = 0; r < rows; ++r) {
      const int64_t n = n0 + r;
      for (int m = 0; m < MR; ++m) {
        float v = _mm512_reduce_add_ps(tot[r * MR + m]);
        if (p.zp) v -= zero_point_term(p.scales + n * G, p.zp + n * G, xsum + m * G, G);
        store_from_f32(p.y, m * p.ldy + n, p.y_dtype, v);
      }
    }
  }
}

template <int BITS>
void run_rows_m(const Problem& p, const float* xr, const float* xsum, int nt) {
  switch (p.M) {
    case 1: run_rows<BITS, 1>(p, xr, xsum, nt); break;
    case 2: run_rows<BITS, 2>(p, xr, xsum, nt); break;
    case 3: run_rows<BITS, 3>(p, xr, xsum, nt); break;
    default: run_rows<BITS, 4>(p, xr, xsum, nt); break;
  }
}

}  // namespace

qmm_status rows_float_run(const Problem& p, const Options& o) {
  const int64_t M = p.M, K = p.K, G = p.groups;
  ScratchBuffer xf(size_t(M) * size_t(K) * 4 + 64), xr(size_t(M) * size_t(K) * 4 + 64),
      xs(size_t(M) * size_t(G) * 4 + 64);
  if (!xf.p || !xr.p || !xs.p)
    return set_error(QMM_OUT_OF_MEMORY, "avx512: could not allocate activation buffers");
  prepare_float_rows(p.x, p.ldx, p.x_dtype, int(M), K, p.group_size, xf.as<float>(),
                     xs.as<float>(), 1);
  for (int64_t m = 0; m < M; ++m) arrange_x(xf.as<float>() + m * K, K, p.bits, xr.as<float>() + m * K);
  const int nt = threads_for_work(o.num_threads, (long long)M * p.N * K);
  if (p.bits == 4)
    run_rows_m<4>(p, xr.as<float>(), xs.as<float>(), nt);
  else
    run_rows_m<8>(p, xr.as<float>(), xs.as<float>(), nt);
  return QMM_OK;
}

}  // namespace x512
}  // namespace qmm
