// Shared by the one-file diagnostics tests/gpu/decode_probe.cu, tma_probe.cu and gemm_probe.cu:
// a CUDA error check that exits with the file and line, a CUDA-event timer, the copy ceiling,
// fills for random weights and scales, rotated weight copies, and the kernels' parameter block
// for dense row-major operands.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "cuda/cuda_kernels.h"

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

// The copy ceiling: a 1 GiB device-to-device copy, median of 10, printed as bytes read +
// written per second.
inline void print_copy_ceiling(Timer& tm) {
  const size_t n = size_t(1) << 30;
  void *a, *b;
  CK(cudaMalloc(&a, n));
  CK(cudaMalloc(&b, n));
  CK(cudaMemset(a, 1, n));
  const double us =
      tm.median_us([&](int) { CK(cudaMemcpyAsync(b, a, n, cudaMemcpyDeviceToDevice)); }, 10);
  std::printf("copy 1 GiB: %.1f us = %.0f GB/s (read + write)\n", us, 2.0 * n / us / 1e3);
  CK(cudaFree(a));
  CK(cudaFree(b));
}

// Random words (a hash of the index and seed) and a cycle of 13 small positive scales, for
// weights and scales that are never zeros (decode_probe.cu, tma_probe.cu).
__global__ void fill_words(uint32_t* p, int64_t n, uint32_t seed) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    uint32_t x = uint32_t(i) * 2654435761u ^ seed;
    x ^= x >> 13;
    x *= 0x5bd1e995u;
    x ^= x >> 15;
    p[i] = x;
  }
}

__global__ void fill_scale_cycle(float* s, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    s[i] = 1e-3f * float(1 + (i * 7919) % 13);
}

// Copies of random N x row_bytes weights, with fp32 scales and int8 zero points of `groups`
// groups per row, enough to pass 400 MB (timings rotate through them, past L2), and fp16 X
// (16 rows of K, every element 0x3c3c, about 1.1) and Y (16 rows of N) for them; freed with it.
struct WeightSet {
  int copies;
  std::vector<uint8_t*> w;
  std::vector<float*> s;
  std::vector<int8_t*> z;
  uint16_t* x = nullptr;
  uint16_t* y = nullptr;
  WeightSet(int64_t N, int64_t row_bytes, int64_t groups, int64_t K)
      : copies(int(std::max<int64_t>(2, (400ll << 20) / (N * row_bytes) + 1))),
        w(copies), s(copies), z(copies) {
    for (int c = 0; c < copies; ++c) {
      CK(cudaMalloc(&w[c], N * row_bytes));
      CK(cudaMalloc(&s[c], N * groups * 4));
      CK(cudaMalloc(&z[c], N * groups));
      fill_words<<<1024, 256>>>(reinterpret_cast<uint32_t*>(w[c]), N * row_bytes / 4, 17u + c);
      fill_scale_cycle<<<1024, 256>>>(s[c], N * groups);
      fill_words<<<1024, 256>>>(reinterpret_cast<uint32_t*>(z[c]), N * groups / 4, 99u + c);
    }
    CK(cudaMalloc(&x, 16 * K * 2));
    CK(cudaMalloc(&y, 16 * N * 2));
    CK(cudaMemset(x, 0x3c, 16 * K * 2));
    CK(cudaDeviceSynchronize());
  }
  ~WeightSet() {
    cudaFree(x);
    cudaFree(y);
    for (int c = 0; c < copies; ++c) {
      cudaFree(w[c]);
      cudaFree(s[c]);
      cudaFree(z[c]);
    }
  }
  WeightSet(const WeightSet&) = delete;
  WeightSet& operator=(const WeightSet&) = delete;
};

// Kernel parameters for X [M, K] (row stride K), canonical weights with groups of gs, Y [M, N]
// (row stride N), no row scale.
inline qmm::cuda::KParams kparams(const void* x, int xt, const uint8_t* w, const float* s,
                                  const int8_t* z, void* y, int yt, int64_t M, int64_t N,
                                  int64_t K, int64_t gs, int bits) {
  qmm::cuda::KParams p{};
  p.x = x;
  p.ldx = K;
  p.xt = xt;
  p.w = w;
  p.row_bytes = K * bits / 8;
  p.scales = s;
  p.zp = z;
  p.y = y;
  p.ldy = N;
  p.yt = yt;
  p.M = M;
  p.N = N;
  p.K = K;
  p.gs = gs;
  p.groups = K / gs;
  p.bits = bits;
  p.row_scale = nullptr;
  return p;
}

}  // namespace probe
