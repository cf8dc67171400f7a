// Large-M float-mode diagnostics for the cuda backend: the Hopper wgmma GEMM
// (cuda_gemm_sm90.cu) against the mma.sync GEMM (cuda_gemm.cu) and cuBLAS fp16, in one process.
//   check  the wgmma GEMM (unsplit, and as the library plans it: tile rows by M, split over K
//          where tiles are few) against the mma.sync GEMM on the same random problems (fp16 / bf16 X, 4 / 8
//          bits, zero points or none, group sizes 32 / 64 / 128, M, N, K off every tile,
//          K % 64 == 32): relative
//          Frobenius difference of their fp32 outputs (both dequantize to the same fp16 / bf16
//          weights, so only the summation order differs) and no NaN / untouched output
//   time   CUDA events, median of 9, fp16 X / Y, g128 + zero points, two weight copies
//          alternated; the wgmma GEMM beside the kernel it competes with (ref: the decode
//          kernel at M <= 16, the mma.sync GEMM above) and cuBLAS fp16 (x @ W^T, same shape)
//   ncu    one shape, three calls (for Nsight Compute)
// Build and run on the GPU machine (cuBLAS from the CUDA toolkit):
//   nvcc -O3 -std=c++17 -arch=sm_90a --expt-relaxed-constexpr -Icsrc -Icsrc/include \
//     tests/gpu/gemm_probe.cu -lcublas -o /tmp/gemm_probe && /tmp/gemm_probe [check|time|ncu]
#if __has_include(<cublas_v2.h>) && !defined(QMM_NO_CUBLAS)
#include <cublas_v2.h>
#define QMM_PROBE_CUBLAS 1
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cuda/cuda_gemm.cu"
#include "cuda/cuda_gemm_sm90.cu"
#include "cuda/cuda_gemv.cu"
#include "probe_util.cuh"

using namespace qmm::cuda;

namespace probe {

__device__ uint32_t hash(uint64_t i, uint32_t seed) {
  uint64_t z = i * 0x9E3779B97F4A7C15ull + seed;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return uint32_t(z ^ (z >> 31));
}
__global__ void fill_bytes(uint8_t* p, int64_t n, uint32_t seed) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    p[i] = uint8_t(hash(i, seed));
}
__global__ void fill_zp(int8_t* p, int64_t n, uint32_t seed, int bits) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    p[i] = bits == 4 ? int8_t(int(hash(i, seed) % 16) - 8) : int8_t(hash(i, seed));
}
__global__ void fill_scales(float* p, int64_t n, uint32_t seed, float base) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    p[i] = base * (0.5f + float(hash(i, seed) >> 8) / 16777216.0f);
}
template <class T> __global__ void fill_x(T* p, int64_t n, uint32_t seed) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    p[i] = T(float(int(hash(i, seed) % 2001) - 1000) / 1000.0f);
}
// Dequantized fp16 weights for cuBLAS (the same problem, so the timing is like for like).
__global__ void dequant_f16(const uint8_t* w, const float* s, const int8_t* z, __half* out, int64_t N,
                            int64_t K, int64_t gs, int bits) {
  const int64_t G = K / gs;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N * K; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / K, k = i % K;
    int q;
    if (bits == 4) {
      const int b = w[n * (K / 2) + k / 2];
      q = (k & 1) ? (b >> 4) : (b & 15);
      q = q >= 8 ? q - 16 : q;
    } else {
      q = int8_t(w[n * K + k]);
    }
    out[i] = __float2half_rn(s[n * G + k / gs] * float(q - (z ? z[n * G + k / gs] : 0)));
  }
}
template <class K, class... A> void launch_fill(K kern, A... args) {
  kern<<<1024, 256>>>(args...);
  CK(cudaGetLastError());
}

struct Problem {
  int64_t M, N, K, gs;
  int bits, xt;
  bool zp;
  uint8_t* w = nullptr;
  float* s = nullptr;
  int8_t* z = nullptr;
  void* x = nullptr;
  void alloc(uint32_t seed) {
    const int64_t G = K / gs;
    CK(cudaMalloc(&w, N * K * bits / 8));
    CK(cudaMalloc(&s, N * G * 4));
    CK(cudaMalloc(&z, N * G));
    CK(cudaMalloc(&x, M * K * 2));
    launch_fill(fill_bytes, w, N * K * bits / 8, seed);
    launch_fill(fill_scales, s, N * G, seed + 1, bits == 4 ? 0.02f : 0.002f);
    launch_fill(fill_zp, z, N * G, seed + 2, bits);
    if (xt == 0)
      launch_fill(fill_x<__half>, static_cast<__half*>(x), M * K, seed + 3);
    else
      launch_fill(fill_x<__nv_bfloat16>, static_cast<__nv_bfloat16*>(x), M * K, seed + 3);
  }
  void release() {
    cudaFree(w);
    cudaFree(s);
    cudaFree(z);
    cudaFree(x);
  }
  KParams params(void* y, int yt) const {
    return probe::kparams(x, xt, w, s, zp ? z : nullptr, y, yt, M, N, K, gs, bits);
  }
};

cudaError_t old_gemm(const KParams& p) {
  if (p.xt == 1)
    return p.bits == 4 ? float_tiles<__nv_bfloat16, 4>(p, 132, 0) : float_tiles<__nv_bfloat16, 8>(p, 132, 0);
  return p.bits == 4 ? float_tiles<__half, 4>(p, 132, 0) : float_tiles<__half, 8>(p, 132, 0);
}

// Workspace for the library's split-K partials (grown as needed; the probe is single-stream).
void* g_ws = nullptr;
size_t g_ws_bytes = 0;
// The wgmma kernel as the library plans it (tile rows by M, split over K for few tiles; also
// for M <= 16, which the library gives the decode kernel), or unsplit.
cudaError_t lib(const KParams& p, bool split = true) {
  if (!split) return launch_gemm_float_sm90(p, 132, nullptr, 0, 0);
  const size_t need = gemm_float_sm90_workspace(p, 132);
  if (need > g_ws_bytes) {
    cudaFree(g_ws);
    CK(cudaMalloc(&g_ws, need));
    g_ws_bytes = need;
  }
  return launch_gemm_float_sm90(p, 132, g_ws, g_ws_bytes, 0);
}
// The kernel the wgmma one is measured against: the decode kernel for M <= 16, else the
// mma.sync GEMM.
cudaError_t ref_kernel(const KParams& p) {
  return p.M <= 16 ? launch_decode_float(p, 132, nullptr, 0, 0) : old_gemm(p);
}

int check() {
  struct C {
    int64_t M, N, K, gs;
    int bits, xt;
    bool zp;
  };
  const C cases[] = {
      {128, 256, 128, 32, 4, 0, true},    {200, 300, 96, 32, 4, 0, true},
      {65, 257, 160, 32, 4, 0, false},    {333, 520, 1088, 64, 8, 0, true},
      {129, 1000, 512, 128, 4, 1, true},  {256, 777, 224, 32, 8, 1, false},
      {1024, 2048, 4096, 128, 4, 0, true}, {777, 4096, 4096, 128, 8, 0, true},
      {4096, 1024, 2048, 128, 4, 1, true}, {96, 8192, 1024, 128, 4, 0, true},
      {64, 4096, 4096, 128, 4, 0, true},  {33, 1000, 4160, 32, 8, 1, true},
      {17, 4096, 14336, 128, 4, 0, true}, {256, 4096, 4096, 64, 8, 0, false},
      {1, 4096, 4096, 128, 4, 0, true},   {5, 3000, 2080, 32, 8, 1, true},
      {16, 8192, 8192, 128, 4, 0, true},  {24, 700, 1056, 96, 4, 1, false},
      {48, 2100, 3072, 64, 8, 0, true},
  };
  int failed = 0, n = 0;
  for (const C& c : cases) {
    Problem pr{c.M, c.N, c.K, c.gs, c.bits, c.xt, c.zp};
    pr.alloc(uint32_t(1000 + n));
    float *y0, *y1;
    const int64_t ldy = c.N + 3;  // padding columns stay untouched
    CK(cudaMalloc(&y0, c.M * ldy * 4));
    CK(cudaMalloc(&y1, c.M * ldy * 4));
    CK(cudaMemset(y0, 0xff, c.M * ldy * 4));  // NaN poison
    CK(cudaMemset(y1, 0xff, c.M * ldy * 4));
    KParams p = pr.params(y0, 2);
    p.ldy = ldy;
    CK(old_gemm(p));
    p.y = y1;
    std::vector<float> a(c.M * ldy);  // the mma.sync kernel's result, the reference
    CK(cudaMemcpy(a.data(), y0, a.size() * 4, cudaMemcpyDeviceToHost));
    for (int kb : {0, 1}) {  // unsplit, then as the library runs it
      CK(cudaMemset(y1, 0xff, c.M * ldy * 4));
      CK(lib(p, kb == 1));
      CK(cudaDeviceSynchronize());
      std::vector<float> b(c.M * ldy);
      CK(cudaMemcpy(b.data(), y1, b.size() * 4, cudaMemcpyDeviceToHost));
      double num = 0, den = 0;
      int64_t bad = 0, pad_touched = 0;
      for (int64_t m = 0; m < c.M; ++m)
        for (int64_t j = 0; j < ldy; ++j) {
          const float u = a[m * ldy + j], v = b[m * ldy + j];
          if (j >= c.N) {
            uint32_t bits;
            std::memcpy(&bits, &v, 4);
            pad_touched += bits != 0xffffffffu;
            continue;
          }
          if (!std::isfinite(v)) ++bad;
          num += double(u - v) * (u - v);
          den += double(u) * u;
        }
      const double rel = std::sqrt(num / (den > 0 ? den : 1));
      // Unsplit, the two kernels add the same fp32 products in k order (tensor-core accumulation
      // both): 1e-5. Split over K, the partial sums take another order: 1e-4 (the accuracy
      // bound itself, vs float64, is gpu_check's: 2e-3 / 8e-3, SPEC section 4).
      const bool ok = bad == 0 && pad_touched == 0 && rel < (kb ? 1e-4 : 1e-5);
      failed += !ok;
      std::printf("%s %s M=%lld N=%lld K=%lld gs=%lld bits=%d x=%s zp=%d: rel diff %.2e, "
                  "non-finite %lld, pad touched %lld\n",
                  ok ? "ok  " : "FAIL", kb ? "library" : "unsplit", (long long)c.M,
                  (long long)c.N, (long long)c.K, (long long)c.gs, c.bits, c.xt ? "bf16" : "f16",
                  int(c.zp), rel, (long long)bad, (long long)pad_touched);
      ++n;
    }
    cudaFree(y0);
    cudaFree(y1);
    pr.release();
  }
  std::printf("GEMM PROBE CHECK: %d cases, %d failed\n", n, failed);
  return failed ? 1 : 0;
}

int time_all() {
#ifdef QMM_PROBE_CUBLAS
  cublasHandle_t h;
  if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) {
    std::printf("cublasCreate failed\n");
    return 1;
  }
#else
  std::printf("(built without cuBLAS: cublas_us reads 0)\n");
#endif
  Timer tm;
  std::printf("%-22s %4s %5s %9s %9s %9s %9s %8s %8s %8s %8s %7s %7s\n", "shape", "bits", "M", "ref_us", "wg_us",
              "lib_us", "cublas_us", "ref_TF", "wg_TF", "lib_TF", "cb_TF", "lib/ref", "lib/cb");
  const int64_t shapes[][2] = {{28672, 8192}, {8192, 8192}, {8192, 28672}, {14336, 4096}, {4096, 4096}};
  for (auto& sh : shapes) {
    for (int bits : {4, 8}) {
      for (int64_t M : {1, 4, 16, 32, 64, 128, 256, 1024, 4096}) {
        if (bits == 8 && (M == 4 || M == 32 || M == 128)) continue;
        const int64_t N = sh[0], K = sh[1];
        Problem pr{M, N, K, 128, bits, 0, true};
        pr.alloc(7);
        // a second weight copy (weights + X of two copies exceed the 50 MB L2 on every shape)
        Problem pr2 = pr;
        pr2.alloc(8);
        void* y;
        CK(cudaMalloc(&y, M * N * 2));
        __half* wd;
        CK(cudaMalloc(&wd, N * K * 2));
        dequant_f16<<<4096, 256>>>(pr.w, pr.s, pr.z, wd, N, K, 128, bits);
        CK(cudaGetLastError());
        const Problem* ps[2] = {&pr, &pr2};
        const double t_old = tm.median_us([&](int i) { CK(ref_kernel(ps[i & 1]->params(y, 0))); }, 9);
        const double t_new = tm.median_us([&](int i) { CK(lib(ps[i & 1]->params(y, 0), false)); }, 9);
        const double t_new2 = tm.median_us([&](int i) { CK(lib(ps[i & 1]->params(y, 0))); }, 9);
        const __half one = __float2half(1.0f), zero = __float2half(0.0f);
#ifdef QMM_PROBE_CUBLAS
        const double t_cb = tm.median_us([&](int i) {
          // Y[M, N] = X[M, K] W[N, K]^T: column-major view Y^T[N, M] = W^T' ... (op(A) = W^T)
          cublasHgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, int(N), int(M), int(K), &one, wd, int(K),
                      static_cast<const __half*>(ps[i & 1]->x), int(K), &zero, static_cast<__half*>(y), int(N));
        }, 9);
#else
        const double t_cb = 0;
#endif
        const double fl = 2.0 * M * N * K;
        const double best = t_new2;
        std::printf("%6lldx%-15lld %4d %5lld %9.1f %9.1f %9.1f %9.1f %8.1f %8.1f %8.1f %8.1f %7.2f %7.2f\n",
                    (long long)N, (long long)K, bits, (long long)M, t_old, t_new, t_new2, t_cb, fl / t_old * 1e-6,
                    fl / t_new * 1e-6, fl / t_new2 * 1e-6, t_cb > 0 ? fl / t_cb * 1e-6 : 0.0, t_old / best,
                    t_cb > 0 ? t_cb / best : 0.0);
        std::fflush(stdout);
        cudaFree(y);
        cudaFree(wd);
        pr.release();
        pr2.release();
      }
    }
  }
#ifdef QMM_PROBE_CUBLAS
  cublasDestroy(h);
#endif
  return 0;
}

// One shape for a profiler: 8192 x 8192, M = 4096, 4-bit g128 + zp, fp16; 3 library calls.
int ncu_one() {
  Problem pr{4096, 8192, 8192, 128, 4, 0, true};
  pr.alloc(9);
  void* y;
  CK(cudaMalloc(&y, 4096 * 8192 * 2));
  for (int i = 0; i < 3; ++i) CK(lib(pr.params(y, 0)));
  CK(cudaDeviceSynchronize());
  cudaFree(y);
  pr.release();
  return 0;
}

}  // namespace probe

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "all";
  if (!gemm_sm90_available()) {
    std::printf("the sm_90a wgmma GEMM is not available on this device\n");
    return 1;
  }
  int rc = 0;
  if (mode == "check" || mode == "all") rc |= probe::check();
  if (mode == "time" || mode == "all") rc |= probe::time_all();
  if (mode == "ncu") rc |= probe::ncu_one();
  return rc;
}
