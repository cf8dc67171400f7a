// scalar float mode. Layout read: canonical (int8 rows, or int4 two per byte, low nibble first).
// Per block of kScalarRowBlock rows of X: X is converted once to fp32; each thread takes whole
// weight rows n, dequantizes row n once into fp32 (scale * (q - zp), exact before the one
// rounding) and dots it with every X row of the block using 8 fp32 partial sums. Every output
// element is computed by one thread in a fixed order: bit-identical for any thread count.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "core/numeric.h"
#include "core/scalar.h"
#include "core/threading.h"

namespace qmm {
namespace {

// wrow[k] = scale[g] * (q[k] - zp[g]) for one weight row.
template <int BITS, bool ZP>
void dequant_row(const Problem& p, int64_t n, float* wrow) {
  const uint8_t* row = p.w + n * p.row_bytes();
  const float* s = p.scales + n * p.groups;
  const int8_t* z = ZP ? p.zp + n * p.groups : nullptr;
  const int64_t gs = p.group_size;
  for (int64_t g = 0; g < p.groups; ++g) {
    const float scale = s[g];
    const int zero = ZP ? z[g] : 0;
    const int64_t k0 = g * gs;
    if (BITS == 8) {
      const auto* q = reinterpret_cast<const int8_t*>(row) + k0;
      for (int64_t k = 0; k < gs; ++k) wrow[k0 + k] = scale * float(int(q[k]) - zero);
    } else if ((gs & 1) == 0) {
      // whole bytes: the low nibble is element 2j, the high nibble 2j+1
      const uint8_t* b = row + k0 / 2;
      float* out = wrow + k0;
      for (int64_t j = 0; j < gs / 2; ++j) {
        const int lo = int(int8_t(uint8_t(b[j] << 4))) >> 4;
        const int hi = int(int8_t(b[j])) >> 4;
        out[2 * j] = scale * float(lo - zero);
        out[2 * j + 1] = scale * float(hi - zero);
      }
    } else {
      for (int64_t k = 0; k < gs; ++k) wrow[k0 + k] = scale * float(int4_at(row, k0 + k) - zero);
    }
  }
}

float dot_f32(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[k + j] * b[k + j];
  for (; k < n; ++k) acc[k & 7] += a[k] * b[k];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

template <int BITS, bool ZP>
void gemm(const Problem& p, const Options& o) {
  const int64_t K = p.K;
  const int64_t mb_max = std::min<int64_t>(kScalarRowBlock, p.M);
  std::vector<float> xb(size_t(mb_max) * size_t(K));
  const int nt = threads_for_work(o.num_threads, (long long)std::min<int64_t>(p.M, kScalarRowBlock) * p.N * p.K);
  for (int64_t m0 = 0; m0 < p.M; m0 += kScalarRowBlock) {
    const int64_t mb = std::min<int64_t>(kScalarRowBlock, p.M - m0);
    const size_t xsz = dtype_size(p.x_dtype);
    for (int64_t i = 0; i < mb; ++i)
      convert_to_f32(static_cast<const char*>(p.x) + size_t(m0 + i) * size_t(p.ldx) * xsz,
                     p.x_dtype, K, xb.data() + size_t(i) * size_t(K));
#pragma omp parallel num_threads(nt)
    {
      std::vector<float> wrow(static_cast<size_t>(K));
#pragma omp for schedule(static)
      for (int64_t n = 0; n < p.N; ++n) {
        dequant_row<BITS, ZP>(p, n, wrow.data());
        for (int64_t i = 0; i < mb; ++i) {
          const float v = dot_f32(xb.data() + size_t(i) * size_t(K), wrow.data(), K);
          store_from_f32(p.y, (m0 + i) * p.ldy + n, p.y_dtype, v);
        }
      }
    }
  }
}

}  // namespace

qmm_status scalar_float_gemm(const Problem& p, const Options& o) {
  const bool zp = p.zp != nullptr;
  if (p.bits == 4) {
    zp ? gemm<4, true>(p, o) : gemm<4, false>(p, o);
  } else {
    zp ? gemm<8, true>(p, o) : gemm<8, false>(p, o);
  }
  return QMM_OK;
}

}  // namespace qmm
