// Rows of X that the fast float kernels cannot evaluate faithfully: +-Inf, NaN, magnitudes of
// 2^64 and more, or rows of nothing but magnitudes below 2^-100. The x86 float kernels fold the
// zero point out of the inner loop (sum x*(q + c) - (zp + c) * sum x, so the loop needs no
// per-weight subtraction) or split X into bf16 hi + lo; an infinite activation then turns into
// Inf - Inf = NaN where the elementwise formula of SPEC section 1 gives +-Inf, and a huge
// finite one (|x| near FLT_MAX) overflows in x*(q + c) or rounds to a bf16 Inf while the true
// result is finite. Such rows
// (rare: they mean a broken model) are recomputed here by the scalar code, which evaluates
// scale * (q - zp) per element, so they come out as IEEE arithmetic of the formula gives them.
// Below 2^64 the folded sums stay far from overflow (255 * K * 2^64 < 2^128 for any K < 2^56).
// fp16 X cannot reach 2^64, so only its Inf/NaN rows take this path. NaN rows would come out
// NaN either way; they go along since one test covers both.
// Rows whose largest |x| is nonzero but below 2^-100 (bf16 and fp32 X only) come here too: the
// bf16 kernels (VDPBF16PS on AMD, AMX TDPBF16PS) treat bf16 subnormals as zero, so on such a
// row the hi / lo halves vanish while the zero-point sums of X do not (a review found errors
// of 4e-2 at 1e-36 and 10x at 1e-39). Rows at 2^-100 and above lose only elements 2^-18 below
// the row's largest to that flushing.

#include "core/numeric.h"
#include "core/scalar.h"

namespace qmm {
namespace {

// On the raw bits (sign masked off; ordered as the magnitudes, NaN above Inf): the row's
// largest |v| at or above kLimit (an exponent of 2^64 or more, Inf or NaN), or nonzero and
// below kTiny (2^-100; 0: no lower limit).
template <class T, class S, T kLimit, T kTiny>
bool needs_exact(const void* row, int64_t K) {
  const T* v = static_cast<const T*>(row);
  constexpr T kAbs = T(~T(0)) >> 1;
  S mx = 0;  // the masked bits fit the signed type: its max vectorizes on plain SSE2
  for (int64_t k = 0; k < K; ++k) {
    const S a = S(v[k] & kAbs);
    mx = a > mx ? a : mx;
  }
  return T(mx) >= kLimit || (mx != 0 && T(mx) < kTiny);
}

bool row_needs_exact(const Problem& p, int64_t m) {
  switch (p.x_dtype) {
    case QMM_DTYPE_F16:  // exponent field 31: Inf or NaN (fp16 has nothing below 2^-100)
      return needs_exact<uint16_t, int16_t, 0x7C00, 0>(
          static_cast<const uint16_t*>(p.x) + m * p.ldx, p.K);
    case QMM_DTYPE_BF16:  // biased exponents 127 + 64 and 127 - 100
      return needs_exact<uint16_t, int16_t, (127 + 64) << 7, (127 - 100) << 7>(
          static_cast<const uint16_t*>(p.x) + m * p.ldx, p.K);
    default:
      return needs_exact<uint32_t, int32_t, uint32_t(127 + 64) << 23, uint32_t(127 - 100) << 23>(
          static_cast<const uint32_t*>(p.x) + m * p.ldx, p.K);
  }
}

Problem row_slice(const Problem& p, int64_t m0, int64_t rows) {
  Problem q = p;
  const size_t xsz = dtype_size(p.x_dtype), ysz = dtype_size(p.y_dtype);
  q.M = rows;
  q.x = static_cast<const char*>(p.x) + size_t(m0) * size_t(p.ldx) * xsz;
  q.y = static_cast<char*>(p.y) + size_t(m0) * size_t(p.ldy) * ysz;
  return q;
}

}  // namespace

qmm_status float_gemm_with_exact_rows(const Problem& p, const Options& o,
                                      const std::function<qmm_status(const Problem&)>& fast,
                                      const std::function<qmm_status(Problem*)>& canonical) {
  // Alternate runs of rows: fast ones go to the kernels, exact ones (consecutive rows in one
  // scalar call, so it dequantizes each weight row once per run) to the scalar code. Every row
  // is scanned once; without exact rows that is the only extra work.
  Problem cw;  // p with canonical weight pointers, made on the first exact run
  bool have_cw = false;
  int64_t start = 0;
  while (start < p.M) {
    int64_t end = start;
    while (end < p.M && !row_needs_exact(p, end)) ++end;
    if (end > start) {
      const qmm_status s = fast(row_slice(p, start, end - start));
      if (s != QMM_OK) return s;
    }
    if (end == p.M) break;
    int64_t stop = end + 1;
    while (stop < p.M && row_needs_exact(p, stop)) ++stop;
    if (!have_cw) {
      cw = p;
      const qmm_status s = canonical(&cw);
      if (s != QMM_OK) return s;
      have_cw = true;
    }
    const qmm_status s = scalar_float_gemm(row_slice(cw, end, stop - end), o);
    if (s != QMM_OK) return s;
    start = stop;
  }
  return QMM_OK;
}

}  // namespace qmm
