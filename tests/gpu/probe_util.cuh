// Shared by the one-file diagnostics tests/gpu/decode_probe.cu and tests/gpu/gemm_probe.cu:
// a CUDA error check that exits with the file and line, and a CUDA-event timer.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define CK(x)                                                                        \
  do {                                                                               \
    cudaError_t e_ = (x);                                                            \
    if (e_ != cudaSuccess) {                                                         \
      std::fprintf(stderr, "%s:%d %s\n", __FILE__, __LINE__, cudaGetErrorString(e_)); \
      std::exit(1);                                                                  \
    }                                                                                \
  } while (0)

namespace probe {

// Median over `reps` timed calls f(i), i = 0 .. reps - 1, after 3 untimed calls f(0 .. 2);
// each call timed alone between two events on the default stream, in microseconds.
struct Timer {
  cudaEvent_t a, b;
  Timer() {
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
  }
  template <class F> double median_us(F f, int reps) {
    std::vector<float> v;
    for (int i = 0; i < 3; ++i) f(i);
    for (int i = 0; i < reps; ++i) {
      CK(cudaEventRecord(a));
      f(i);
      CK(cudaEventRecord(b));
      CK(cudaEventSynchronize(b));
      float ms;
      CK(cudaEventElapsedTime(&ms, a, b));
      v.push_back(ms * 1000.0f);
    }
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }
};

}  // namespace probe
