// Rows of X that hold +-Inf, in float mode. The fast x86 float kernels fold the zero point out
// of the inner loop (sum x*(q + c) - (zp + c) * sum x, so the loop needs no per-weight
// subtraction); an infinite activation then turns into Inf - Inf = NaN where the elementwise
// formula of SPEC section 1 gives +-Inf. Such rows (rare: an Inf activation is already a
// broken model) are recomputed here by the scalar code, which evaluates scale * (q - zp) per
// element, so they propagate exactly as IEEE arithmetic would. NaN needs no special path: it
// reaches the output through either evaluation.
#include <cstring>

#include "core/scalar.h"

namespace qmm {
namespace {

template <class T, T kExpMask>
bool has_inf(const void* row, int64_t K) {
  const T* v = static_cast<const T*>(row);
  // Inf: all exponent bits set, mantissa zero; the sign bit is masked off.
  constexpr T kAbs = T(~T(0)) >> 1;
  bool any = false;
  for (int64_t k = 0; k < K; ++k) any |= (v[k] & kAbs) == kExpMask;
  return any;
}

bool row_has_inf(const Problem& p, int64_t m) {
  switch (p.x_dtype) {
    case QMM_DTYPE_F16:
      return has_inf<uint16_t, 0x7C00>(static_cast<const uint16_t*>(p.x) + m * p.ldx, p.K);
    case QMM_DTYPE_BF16:
      return has_inf<uint16_t, 0x7F80>(static_cast<const uint16_t*>(p.x) + m * p.ldx, p.K);
    default:
      return has_inf<uint32_t, 0x7F800000u>(static_cast<const uint32_t*>(p.x) + m * p.ldx, p.K);
  }
}

Problem row_slice(const Problem& p, int64_t m0, int64_t rows) {
  Problem q = p;
  const size_t xsz = p.x_dtype == QMM_DTYPE_F32 ? 4 : 2, ysz = p.y_dtype == QMM_DTYPE_F32 ? 4 : 2;
  q.M = rows;
  q.x = static_cast<const char*>(p.x) + size_t(m0) * size_t(p.ldx) * xsz;
  q.y = static_cast<char*>(p.y) + size_t(m0) * size_t(p.ldy) * ysz;
  return q;
}

}  // namespace

qmm_status float_gemm_exact_inf_rows(const Problem& p, const Options& o,
                                     const std::function<qmm_status(const Problem&)>& fast,
                                     const std::function<qmm_status(Problem*)>& canonical) {
  int64_t m = 0;
  while (m < p.M && !row_has_inf(p, m)) ++m;
  if (m == p.M) return fast(p);  // the common case: one scan of X, then the fast kernels
  Problem cw;                    // p with canonical weight pointers, made once
  bool have_cw = false;
  int64_t start = 0;
  while (start < p.M) {
    int64_t end = start;
    while (end < p.M && !row_has_inf(p, end)) ++end;
    if (end > start) {
      const qmm_status s = fast(row_slice(p, start, end - start));
      if (s != QMM_OK) return s;
    }
    if (end == p.M) break;
    if (!have_cw) {
      cw = p;
      const qmm_status s = canonical(&cw);
      if (s != QMM_OK) return s;
      have_cw = true;
    }
    const qmm_status s = scalar_float_gemm(row_slice(cw, end, 1), o);
    if (s != QMM_OK) return s;
    start = end + 1;
  }
  return QMM_OK;
}

}  // namespace qmm
