// Argument validation: the one place that checks a qmm_problem before any backend sees it.
#pragma once

#include "core/backend.h"

namespace qmm {

// What a caller of validate() needs to be present.
enum ValidateWhat : unsigned {
  kNeedWeights = 1u,      // w, scales (zero_points optional)
  kNeedActivations = 2u,  // x, y, M, ldx, ldy, dtypes
};

// Checks `in` and fills `out` (group_size resolved, ld defaults applied, device flag set).
// On error sets the thread's status/message and returns it.
qmm_status validate_problem(const qmm_problem* in, unsigned what, Problem* out);
qmm_status validate_options(const qmm_options* in, Options* out);

}  // namespace qmm
