// The portable `scalar` backend: the fallback every other CPU backend may defer to.
#pragma once

#include "core/backend.h"

namespace qmm {

qmm_status scalar_float_gemm(const Problem& p, const Options& o);
qmm_status scalar_int8_gemm(const Problem& p, const Options& o);

// Rows of X processed per pass: bounds the fp32/int8 copies of X (rows * K elements) while each
// dequantized weight row is reused by this many rows of X.
constexpr int64_t kScalarRowBlock = 32;

}  // namespace qmm
