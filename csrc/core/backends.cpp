// The backend table, in priority order, and the dispatch rule: an explicit request (option or
// $QMM_BACKEND) must be honoured or fail; otherwise the first available backend that supports
// the problem and does not defer it (Backend::defer) runs it. Adding a backend = one extern
// declaration and one table line here.
#include "core/backends.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "core/cpu_features.h"

namespace qmm {

extern const Backend kScalarBackend;
#if defined(QMM_WITH_CUDA)
extern const Backend kCudaBackend;
#endif
#if defined(QMM_WITH_AMX)
extern const Backend kAmxBackend;
#endif
#if defined(QMM_WITH_AVX512)
extern const Backend kAvx512Backend;
#endif
#if defined(QMM_WITH_AVX2)
extern const Backend kAvx2Backend;
#endif
#if defined(QMM_WITH_NEON_I8MM)
extern const Backend kNeonI8mmBackend;
#endif
#if defined(QMM_WITH_NEON)
extern const Backend kNeonBackend;
#endif

namespace {

const Backend* const kTable[] = {
#if defined(QMM_WITH_CUDA)
    &kCudaBackend,
#endif
#if defined(QMM_WITH_AMX)
    &kAmxBackend,
#endif
#if defined(QMM_WITH_AVX512)
    &kAvx512Backend,
#endif
#if defined(QMM_WITH_AVX2)
    &kAvx2Backend,
#endif
#if defined(QMM_WITH_NEON_I8MM)
    &kNeonI8mmBackend,
#endif
#if defined(QMM_WITH_NEON)
    &kNeonBackend,
#endif
    &kScalarBackend,
};
constexpr int kCount = int(sizeof(kTable) / sizeof(kTable[0]));

struct Availability {
  bool ok[kCount];
  Availability() {
    for (int i = 0; i < kCount; ++i) ok[i] = kTable[i]->available();
  }
};

const Availability& availability() {
  static const Availability a;  // probed once, thread-safe
  return a;
}

std::string names_list() {
  std::string s;
  for (int i = 0; i < kCount; ++i) {
    if (i) s += ", ";
    s += kTable[i]->name;
  }
  return s;
}

}  // namespace

int backend_count() { return kCount; }
const Backend& backend_at(int index) { return *kTable[index]; }
bool backend_available(int index) { return availability().ok[index]; }

int pointer_kind(const void* p) {
  for (int i = 0; i < kCount; ++i) {
    if (kTable[i]->pointer_kind && availability().ok[i] && kTable[i]->pointer_kind(p)) return 1;
  }
  return 0;
}

const Backend* find_backend(const char* name) {
  for (int i = 0; i < kCount; ++i)
    if (std::strcmp(kTable[i]->name, name) == 0) return kTable[i];
  set_error(QMM_INVALID_ARGUMENT, "backend '%s' is not a backend of this build (known: %s)", name,
            names_list().c_str());
  return nullptr;
}

const Backend* select_backend(const Problem& p, const Options& o, const char* requested,
                              bool allow_defer) {
  const char* source = "backend";
  if (!requested || !*requested || std::strcmp(requested, "auto") == 0) {
    const char* env = std::getenv("QMM_BACKEND");
    if (env && *env && std::strcmp(env, "auto") != 0) {
      requested = env;
      source = "QMM_BACKEND";
    } else {
      requested = nullptr;
    }
  }
  const char* mode = o.compute == QMM_COMPUTE_INT8 ? "int8" : "float";
  if (requested) {
    int idx = -1;
    for (int i = 0; i < kCount; ++i)
      if (std::strcmp(kTable[i]->name, requested) == 0) idx = i;
    if (idx < 0) {
      set_error(QMM_INVALID_ARGUMENT, "%s '%s' is not a backend of this build (known: %s)",
                source, requested, names_list().c_str());
      return nullptr;
    }
    const Backend& b = *kTable[idx];
    if (!availability().ok[idx]) {
      set_error(QMM_UNSUPPORTED, "%s '%s' is not available on this machine (cpu features: %s)",
                source, requested, cpu_features().text.c_str());
      return nullptr;
    }
    if (b.device != p.device) {
      set_error(QMM_UNSUPPORTED, "%s '%s' takes %s pointers, but the arrays are %s memory", source,
                requested, b.device ? "CUDA device" : "host", p.device ? "CUDA device" : "host");
      return nullptr;
    }
    if (!b.supports(p, o)) {
      set_error(QMM_UNSUPPORTED,
                "%s '%s' does not support this problem (bits=%d, group_size=%lld, compute=%s)",
                source, requested, p.bits, (long long)p.group_size, mode);
      return nullptr;
    }
    return &b;
  }
  const Backend* deferred = nullptr;  // the first backend that passed the problem on
  for (int i = 0; i < kCount; ++i) {
    const Backend& b = *kTable[i];
    if (!availability().ok[i] || b.device != p.device || !b.supports(p, o)) continue;
    if (allow_defer && b.defer && b.defer(p, o)) {
      if (!deferred) deferred = &b;
      continue;
    }
    return &b;
  }
  if (deferred) return deferred;
  if (p.device)
    set_error(QMM_UNSUPPORTED,
              "the arrays are CUDA device memory but no available CUDA backend supports the "
              "problem (compute=%s)", mode);
  else
    set_error(QMM_INTERNAL, "no CPU backend accepted the problem (compute=%s)", mode);
  return nullptr;
}

}  // namespace qmm
