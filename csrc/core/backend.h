// The internal backend interface: a validated problem, resolved options, and the table entry
// each backend provides. Nothing here is public; the C API (c_api.cpp) is the only caller.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qmatmul/qmatmul.h"

namespace qmm {

// A problem after validation: every pointer needed is non-null, group_size is resolved
// (never -1), ldx >= K, ldy >= N, M, N > 0 (except the weights-only problem qmm_pack validates
// and hands to supports() and pack: M = 0, no X or Y). Backends may rely on all of it.
struct Problem {
  int64_t M = 0, N = 0, K = 0;
  int64_t group_size = 0;  // resolved: divides K (or K == 0)
  int64_t groups = 0;      // K / group_size (0 when K == 0)
  int bits = 4;
  const void* x = nullptr;
  int64_t ldx = 0;
  qmm_dtype x_dtype = QMM_DTYPE_F16;
  const uint8_t* w = nullptr;  // canonical: row n at w + n * row_bytes()
  const float* scales = nullptr;
  const int8_t* zp = nullptr;  // nullptr = symmetric
  void* y = nullptr;
  int64_t ldy = 0;
  qmm_dtype y_dtype = QMM_DTYPE_F16;
  bool device = false;  // pointers are CUDA device memory

  int64_t row_bytes() const { return bits == 8 ? K : K / 2; }
};

struct Options {
  qmm_compute compute = QMM_COMPUTE_FLOAT;
  int num_threads = 1;  // resolved, >= 1
  void* stream = nullptr;
};

// Weights after qmm_pack. `data` belongs to the backend (freed by `release`); `w`, `scales`,
// `zp` point at a canonical copy when the backend keeps one (the default pack does).
struct PackedWeights {
  int64_t N = 0, K = 0, group_size = 0, groups = 0;
  int bits = 4;
  bool has_zp = false;
  bool device = false;
  void* data = nullptr;
  size_t nbytes = 0;
  void (*release)(PackedWeights&) = nullptr;
  const uint8_t* w = nullptr;
  const float* scales = nullptr;
  const int8_t* zp = nullptr;
  void* backend_state = nullptr;  // anything else a backend wants to keep with the weights
};

struct Backend {
  const char* name;
  bool device;                                   // takes CUDA device pointers
  bool (*available)();                           // can run on this machine (cached by caller)
  bool (*supports)(const Problem&, const Options&);  // false = decline, try the next one
  qmm_status (*run)(const Problem&, const Options&);
  // Optional (nullptr = default_pack / default_run_packed: a canonical copy).
  qmm_status (*pack)(const Problem& weights, const Options&, PackedWeights* out);
  qmm_status (*run_packed)(const PackedWeights&, const Problem&, const Options&);
  // Device backends only: 1 if p is memory of this backend's device, else 0 (nullptr = host only).
  int (*pointer_kind)(const void* p);
  // Device backends only: features text for qmm_gpu_features() (nullptr = none).
  const char* (*device_features)();
  // Optional, automatic dispatch only: true = leave this problem to the next backend in the
  // table that supports it (measured faster on this machine); a forced backend still runs it,
  // and with no later taker it runs it too (nullptr = never).
  bool (*defer)(const Problem&, const Options&);
};
// Host backends handle every validated problem with M, N > 0 and K > 0 (the C API writes the
// zeros of K == 0 on the host itself); device backends also get K == 0 and must zero Y.

// The table, in priority order (backends.cpp).
const Backend* const* backend_table(int* count);

// Canonical-copy packing used by backends without a layout of their own.
qmm_status default_pack(const Problem& weights, const Options&, PackedWeights* out);
qmm_status default_run_packed(const Backend& backend, const PackedWeights&, const Problem&,
                              const Options&);
// A Problem whose weight pointers are the packed canonical copy.
Problem with_packed_weights(const PackedWeights& packed, const Problem& problem);

// Record an error for the calling thread and return its status. printf-style message.
qmm_status set_error(qmm_status status, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

// Aligned allocation helpers (64-byte alignment), returning nullptr on failure.
void* aligned_alloc64(size_t bytes);
void aligned_free64(void* p);

// A per-call scratch buffer (64-byte aligned, p == nullptr if allocation failed), freed on
// scope exit.
struct ScratchBuffer {
  void* p = nullptr;
  explicit ScratchBuffer(size_t bytes) : p(aligned_alloc64(bytes)) {}
  ~ScratchBuffer() { aligned_free64(p); }
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;
  template <class T>
  T* as() const {
    return static_cast<T*>(p);
  }
};

}  // namespace qmm
