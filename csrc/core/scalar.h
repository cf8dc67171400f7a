// The portable `scalar` backend: the fallback every other CPU backend may defer to.
#pragma once

#include <functional>

#include "core/backend.h"

namespace qmm {

qmm_status scalar_float_gemm(const Problem& p, const Options& o);
qmm_status scalar_int8_gemm(const Problem& p, const Options& o);

// Float mode for kernels that fold the zero point out of the inner loop (sum x*(q+c) -
// (zp+c)*sum x) or split X into bf16 hi + lo: rows of X holding +-Inf, NaN or |x| >= 2^64 would
// come out NaN/Inf where the formula does not, and rows of nothing but |x| < 2^-100 lose their
// bf16 halves (subnormals read as zero), so they run the scalar code on canonical weights
// instead (exact_rows.cpp). `fast` runs a slice of rows; `canonical` points a
// copy of p at canonical weights, scales and zero points (called only if a row needs it; it
// may allocate, and what it allocates must outlive the call: the backend's own buffer).
qmm_status float_gemm_with_exact_rows(const Problem& p, const Options& o,
                                      const std::function<qmm_status(const Problem&)>& fast,
                                      const std::function<qmm_status(Problem*)>& canonical);

// Rows of X processed per pass: bounds the fp32/int8 copies of X (rows * K elements) while each
// dequantized weight row is reused by this many rows of X.
constexpr int64_t kScalarRowBlock = 32;

}  // namespace qmm
