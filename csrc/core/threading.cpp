#include "core/threading.h"

#include <omp.h>

#include <atomic>

namespace qmm {
namespace {
std::atomic<int> g_threads{0};
}

int resolve_threads(int requested) {
  if (requested > 0) return requested;
  const int lib = g_threads.load(std::memory_order_relaxed);
  if (lib > 0) return lib;
  const int omp = omp_get_max_threads();
  return omp > 0 ? omp : 1;
}

void set_num_threads(int n) { g_threads.store(n > 0 ? n : 0, std::memory_order_relaxed); }

int get_num_threads() { return resolve_threads(0); }

}  // namespace qmm
