// The `scalar` backend's table entry, and the shared activation conversion.
#include "core/numeric.h"
#include "core/scalar.h"

namespace qmm {

void convert_to_f32(const void* src, qmm_dtype t, int64_t n, float* dst) {
  switch (t) {
    case QMM_DTYPE_F16: {
      const auto* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i]);
      break;
    }
    case QMM_DTYPE_BF16: {
      const auto* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
      break;
    }
    default: {
      const auto* s = static_cast<const float*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = s[i];
      break;
    }
  }
}

namespace {
bool scalar_available() { return true; }
bool scalar_supports(const Problem& p, const Options&) { return !p.device; }
qmm_status scalar_run(const Problem& p, const Options& o) {
  return o.compute == QMM_COMPUTE_INT8 ? scalar_int8_gemm(p, o) : scalar_float_gemm(p, o);
}
}  // namespace

extern const Backend kScalarBackend = {
    "scalar", false, scalar_available, scalar_supports, scalar_run, nullptr, nullptr, nullptr,
    nullptr, nullptr,
};

}  // namespace qmm
