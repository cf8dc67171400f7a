// The backend table and dispatch.
#pragma once

#include "core/backend.h"

namespace qmm {

int backend_count();
const Backend& backend_at(int index);
bool backend_available(int index);  // cached probe

// 1 if p is CUDA device memory (and a device backend is compiled in), else 0.
int pointer_kind(const void* p);

// Picks the backend for a validated problem: options.backend / $QMM_BACKEND when set,
// else the first available backend in priority order that supports the problem and (with
// allow_defer) does not defer it (Backend::defer; a deferred problem with no later taker stays
// with the first backend that deferred it). qmm_pack chooses without deferral: the layout serves
// every row count. On failure sets the status/message and returns nullptr.
const Backend* select_backend(const Problem& p, const Options& o, const char* requested,
                              bool allow_defer = true);

// Returns the backend named `name` or nullptr (status set).
const Backend* find_backend(const char* name);

}  // namespace qmm
