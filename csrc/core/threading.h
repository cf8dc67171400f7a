// The library-wide CPU thread count.
#pragma once

namespace qmm {

// requested > 0: that many; else the library setting, else OpenMP's default.
int resolve_threads(int requested);
void set_num_threads(int n);
int get_num_threads();

// Threads worth starting for `work` multiply-accumulates: at least ~64K per thread, so tiny
// problems run on the calling thread without an OpenMP fork/join.
inline int threads_for_work(int requested, long long work) {
  const long long useful = work / (1LL << 16);
  if (useful < 1) return 1;
  return useful < requested ? int(useful) : requested;
}

}  // namespace qmm
