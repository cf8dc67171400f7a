// scalar int8 mode (docs/semantics.md, "int8 mode"). Per block of kScalarRowBlock rows of X:
// quantize each row per weight group with quantize_group_int8 (the bit-exact definition), keep
// sx[m, g] and sum_q[m, g]; each thread takes whole weight rows n, unpacks row n once to int8
// and computes, per group, isum = sum q*w - zp*sum_q exactly in 64-bit integers, then the fp32
// epilogue acc += (sx[m,g] * scales[n,g]) * float(isum), in increasing g.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "core/numeric.h"
#include "core/scalar.h"
#include "core/threading.h"

namespace qmm {
namespace {

template <int BITS>
void unpack_row(const Problem& p, int64_t n, int8_t* wrow) {
  const uint8_t* row = p.w + n * p.row_bytes();
  if (BITS == 8) {
    const auto* q = reinterpret_cast<const int8_t*>(row);
    std::copy(q, q + p.K, wrow);
  } else {
    for (int64_t j = 0; j < p.K / 2; ++j) {
      wrow[2 * j] = int8_t(((row[j] & 0xf) ^ 8) - 8);
      wrow[2 * j + 1] = int8_t(((row[j] >> 4) ^ 8) - 8);
    }
  }
}

// Exact sum of a[i]*b[i]: int32 partial sums over chunks small enough not to overflow.
int64_t dot_i8(const int8_t* a, const int8_t* b, int64_t n) {
  int64_t total = 0;
  for (int64_t k0 = 0; k0 < n; k0 += 65536) {
    const int64_t k1 = std::min(n, k0 + 65536);
    int32_t acc = 0;
    for (int64_t k = k0; k < k1; ++k) acc += int32_t(a[k]) * int32_t(b[k]);
    total += acc;
  }
  return total;
}

template <int BITS, bool ZP>
void gemm(const Problem& p, const Options& o) {
  const int64_t K = p.K, G = p.groups, gs = p.group_size;
  const int64_t mb_max = std::min<int64_t>(kScalarRowBlock, p.M);
  std::vector<int8_t> q(size_t(mb_max) * size_t(K));
  std::vector<float> sx(size_t(mb_max) * size_t(G));
  std::vector<int32_t> sq(size_t(mb_max) * size_t(G));
  std::vector<float> xrow(static_cast<size_t>(K));
  const int nt = threads_for_work(o.num_threads, (long long)std::min<int64_t>(p.M, kScalarRowBlock) * p.N * p.K);
  const size_t xsz = dtype_size(p.x_dtype);
  for (int64_t m0 = 0; m0 < p.M; m0 += kScalarRowBlock) {
    const int64_t mb = std::min<int64_t>(kScalarRowBlock, p.M - m0);
    for (int64_t i = 0; i < mb; ++i) {
      convert_to_f32(static_cast<const char*>(p.x) + size_t(m0 + i) * size_t(p.ldx) * xsz,
                     p.x_dtype, K, xrow.data());
      for (int64_t g = 0; g < G; ++g)
        sx[i * G + g] = quantize_group_int8(xrow.data() + g * gs, gs, q.data() + i * K + g * gs,
                                            &sq[i * G + g]);
    }
#pragma omp parallel num_threads(nt)
    {
      std::vector<int8_t> wrow(static_cast<size_t>(K));
#pragma omp for schedule(static)
      for (int64_t n = 0; n < p.N; ++n) {
        unpack_row<BITS>(p, n, wrow.data());
        const float* s = p.scales + n * G;
        const int8_t* z = ZP ? p.zp + n * G : nullptr;
        for (int64_t i = 0; i < mb; ++i) {
          float acc = 0.0f;
          for (int64_t g = 0; g < G; ++g) {
            int64_t isum = dot_i8(q.data() + i * K + g * gs, wrow.data() + g * gs, gs);
            if (ZP) isum -= int64_t(z[g]) * int64_t(sq[i * G + g]);
            acc += (sx[i * G + g] * s[g]) * float(isum);
          }
          store_from_f32(p.y, (m0 + i) * p.ldy + n, p.y_dtype, acc);
        }
      }
    }
  }
}

}  // namespace

qmm_status scalar_int8_gemm(const Problem& p, const Options& o) {
  const bool zp = p.zp != nullptr;
  if (p.bits == 4) {
    zp ? gemm<4, true>(p, o) : gemm<4, false>(p, o);
  } else {
    zp ? gemm<8, true>(p, o) : gemm<8, false>(p, o);
  }
  return QMM_OK;
}

}  // namespace qmm
