// Feature detection for architectures without SIMD backends: nothing to detect.
#include "core/cpu_features.h"

namespace qmm {

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures c;
    c.text = "generic";
    return c;
  }();
  return f;
}

bool request_amx_permission() { return false; }

}  // namespace qmm
