// Decode diagnostics for the cuda backend: where does the decode kernel's time go?
// Times, on the same weights (random bytes, rotated past L2) and in one process:
//   copy    a 1 GiB device-to-device copy (the PERFORMANCE.md ceiling, bytes read + written)
//   read    read-only kernels with the decode kernel's access pattern (16 rows per 256-thread
//           block, 8 warps splitting K, a register ring of PF chunks in flight) at 16 / 32 bytes
//           per thread and row, and the same bytes read 1 KB contiguous per warp and chunk; at
//           the occupancy their registers allow and at 2 blocks per SM (as the decode kernel)
//   decode  the library's decode kernel (launch_decode_float, compiled in from cuda_gemv.cu),
//           fp16 X, groups of 128 with zero points, M = 1 (also 4 and 16 with `decode`), and
//           for 70B.attn also on one weight copy (no rotation)
// Modes: no argument = everything; `decode` = the decode rows only; `m16` = the decode rows of
// M = 4 and 16 only (the stream-K kernel's variants beside the tile kernel); `ncu` = one decode
// shape (70B.up W4 M=1) for a profiler. Build and run on the GPU machine:
//   nvcc -O3 -std=c++17 -arch=sm_90a -Icsrc -Icsrc/include tests/gpu/decode_probe.cu \
//     csrc/cuda/cuda_gemm_sm90.cu -o /tmp/decode_probe && /tmp/decode_probe [decode|ncu]
// Findings (H200, 2026-12-02) are in tests/gpu/README.md.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

#include "cuda/cuda_gemv.cu"
#include "probe_util.cuh"

using namespace qmm::cuda;

namespace probe {

// BPT bytes per thread and row per chunk (16 or 32), PF chunks in flight beyond the current.
// CONTIG: the block's 16 rows are read as one linear region, 1 KB contiguous per warp-chunk.
template <int BPT, int PF, bool CONTIG>
__global__ void __launch_bounds__(256, 2)
    read_kernel(const uint8_t* w, int64_t row_bytes, unsigned* sink) {
  constexpr int V = BPT / 16;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const uint8_t* base = w + int64_t(blockIdx.x) * 16 * row_bytes;
  const int64_t chunk_bytes = 4 * BPT;  // per row
  const int64_t nchunks = row_bytes / chunk_bytes;
  auto addr = [&](int64_t c, int r, int v) -> const uint8_t* {
    if (CONTIG) return base + c * (16 * chunk_bytes) + (r * V + v) * 512 + 16 * lane;
    return base + (g + 8 * r) * row_bytes + c * chunk_bytes + 16 * (V * t + v);
  };
  uint4 buf[PF + 1][2][V];
  auto load = [&](int64_t c, uint4 (&b)[2][V]) {
#pragma unroll
    for (int r = 0; r < 2; ++r)
#pragma unroll
      for (int v = 0; v < V; ++v)
        b[r][v] = c < nchunks ? ldg_stream(addr(c, r, v)) : make_uint4(0, 0, 0, 0);
  };
  unsigned acc = 0;
#pragma unroll
  for (int u = 0; u < PF; ++u) load(warp + 8 * u, buf[u]);
  for (int64_t c = warp; c < nchunks; c += 8 * (PF + 1)) {
#pragma unroll
    for (int u = 0; u <= PF; ++u) {
      const int64_t cc = c + 8 * u;
      load(cc + 8 * PF, buf[(u + PF) % (PF + 1)]);
      if (cc >= nchunks) break;
#pragma unroll
      for (int r = 0; r < 2; ++r)
#pragma unroll
        for (int v = 0; v < V; ++v)
          acc += buf[u][r][v].x ^ buf[u][r][v].y ^ buf[u][r][v].z ^ buf[u][r][v].w;
    }
  }
  if (acc == 0x9e3779b9u) sink[0] = acc;
}

// SM clock: clock64 cycles over globaltimer nanoseconds on a busy loop.
__global__ void clock_kernel(double* ghz) {
  uint64_t t0, t1;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  const long long c0 = clock64();
  float a = threadIdx.x;
  for (int i = 0; i < 2000000; ++i) a = a * 0.999f + 1.0f;
  const long long c1 = clock64();
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t1));
  if (threadIdx.x == 0 && blockIdx.x == 0) *ghz = double(c1 - c0) / double(t1 - t0) + (a == 0.5f);
}

}  // namespace probe

using namespace probe;

// `decode_probe ncu`: only the 70B.up W4 M=1 decode (for a profiler); `decode_probe decode`: only
// the decode rows (M = 1, 4, 16), after the SM clock under load.
int main(int argc, char** argv) {
  const bool ncu_only = argc > 1 && std::string(argv[1]) == "ncu";
  const bool m16_only = argc > 1 && std::string(argv[1]) == "m16";
  const bool decode_only = (argc > 1 && std::string(argv[1]) == "decode") || m16_only;
  void* ws = nullptr;  // partial sums of the stream-K kernel (M = 2..16)
  const size_t ws_bytes = size_t(64) << 20;
  CK(cudaMalloc(&ws, ws_bytes));
  Timer tm;
  unsigned* sink;
  CK(cudaMalloc(&sink, 4));
  {
    double* d;
    CK(cudaMalloc(&d, 8));
    clock_kernel<<<264, 256>>>(d);
    double ghz;
    CK(cudaMemcpy(&ghz, d, 8, cudaMemcpyDeviceToHost));
    std::printf("SM clock under load: %.2f GHz\n", ghz);
  }
  if (!ncu_only && !decode_only) print_copy_ceiling(tm);
  struct Shape {
    int64_t N, K;
    const char* name;
  };
  const Shape shapes[] = {{28672, 8192, "70B.up"}, {8192, 28672, "70B.down"}, {8192, 8192, "70B.attn"}};
  // QMM_PROBE_SHAPE / QMM_PROBE_M: only that shape / that M (e.g. for a profiler)
  const char* only_shape = std::getenv("QMM_PROBE_SHAPE");
  const int only_m = std::getenv("QMM_PROBE_M") ? std::atoi(std::getenv("QMM_PROBE_M")) : 0;
  for (const Shape& sh : shapes) {
    if (ncu_only && sh.N != 28672) continue;
    if (only_shape && std::string(only_shape) != sh.name) continue;
    const int64_t N = sh.N, K = sh.K, gs = 128, G = K / gs;
    for (int bits : {4, 8}) {
      if (ncu_only && bits != 4) continue;
      const int64_t row_bytes = K * bits / 8, wbytes = N * row_bytes;
      const WeightSet wset(N, row_bytes, G, K);
      const int copies = wset.copies;
      const std::vector<uint8_t*>& w = wset.w;
      const std::vector<float*>& s = wset.s;
      const std::vector<int8_t*>& z = wset.z;
      uint16_t *const x = wset.x, *const y = wset.y;
      const double bytes = double(wbytes) + N * G * 5.0 + K * 2.0 + N * 2.0;
      auto report = [&](const char* what, double us, double b) {
        std::printf("%-9s W%d %-34s %8.1f us %6.0f GB/s\n", sh.name, bits, what, us, b / us / 1e3);
      };
      const unsigned grid = unsigned(N / 16);
      // Natural occupancy (registers), then 2 blocks per SM (as the decode kernel) by taking
      // 100 KB of dynamic shared memory per block.
      auto run_read = [&](const char* name, auto kern) {
        CK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, 100 << 10));
        for (int smem : {0, 100 << 10}) {
          char label[64];
          std::snprintf(label, sizeof label, "%s%s", name, smem ? " 2blk/SM" : "");
          report(label, tm.median_us([&](int i) {
            kern<<<grid, 256, smem>>>(w[i % copies], row_bytes, sink);
          }, 30), double(wbytes));
        }
      };
      if (ncu_only || decode_only) goto decode;
      run_read("read 16B/thr PF4", read_kernel<16, 4, false>);
      run_read("read 16B/thr PF6", read_kernel<16, 6, false>);
      run_read("read 32B/thr PF2", read_kernel<32, 2, false>);
      run_read("read 32B/thr PF3", read_kernel<32, 3, false>);
      run_read("read contiguous 1KB PF4", read_kernel<16, 4, true>);
      run_read("read contiguous 1KB PF6", read_kernel<16, 6, true>);
    decode:
      KParams p = kparams(x, 0, nullptr, nullptr, nullptr, y, 0, 1, N, K, gs, bits);
      for (int M : {1, 4, 16}) {
        if (ncu_only && M != 1) continue;
        if (m16_only && M == 1) continue;
        if (only_m && M != only_m) continue;
        if (!decode_only && M != 1) continue;
        p.M = M;
        auto dec = [&](int c) {
          p.w = w[c];
          p.scales = s[c];
          p.zp = z[c];
          CK(launch_decode_float(p, 132, ws, ws_bytes, 0));
        };
        char label[64];
        if (M == 1) {  // an M = 1 kernel variant and the tile kernel it replaced, same weights
          auto variant = [&](const char* name, auto launch) {
            report(name, tm.median_us([&](int i) {
              p.w = w[i % copies];
              p.scales = s[i % copies];
              p.zp = z[i % copies];
              CK(launch(p, true, 0));
            }, 30), bytes);
          };
          // (132: the H200's SMs, for the persistent grids)
          if (bits == 4) {
            const QuantX nq{nullptr, nullptr, nullptr};
            variant("m1 general kernel (before g128)", m1::launch_one<m1::decode_m1_kernel<0, 4, true>>);
            variant("g128 PF3 (not persistent)", [&](const KParams& q, bool, cudaStream_t st) {
              return m1::launch_g128<m1::decode_m1_g128_kernel<0, 4, false, 3>, 3>(q, nq, st);
            });
            variant("g128 persistent PF3", [&](const KParams& q, bool, cudaStream_t st) {
              return m1::launch_g128<m1::decode_m1_g128_persist_kernel<0, 4, false, 3>, 3>(q, nq, st, 132);
            });
            variant("g128 PF4", [&](const KParams& q, bool, cudaStream_t st) {
              return m1::launch_g128<m1::decode_m1_g128_kernel<0, 4, false, 4>, 4>(q, nq, st);
            });
          }
          if (bits == 8) {
            const QuantX nq{nullptr, nullptr, nullptr};
            variant("m1 general kernel W8 (before g128)", m1::launch_one<m1::decode_m1_kernel<0, 8, true>>);
            variant("g128 W8 persistent PF1", [&](const KParams& q, bool, cudaStream_t st) {
              return m1::launch_g128<m1::decode_m1_g128_persist_kernel<0, 8, false, 1>, 1>(q, nq, st, 132);
            });
            variant("g128 W8 persistent PF3", [&](const KParams& q, bool, cudaStream_t st) {
              return m1::launch_g128<m1::decode_m1_g128_persist_kernel<0, 8, false, 3>, 3>(q, nq, st, 132);
            });
          }
          report("tile kernel M=1 (before)", tm.median_us([&](int i) {
            p.w = w[i % copies];
            p.scales = s[i % copies];
            p.zp = z[i % copies];
            CK(launch_tiles<0>(p, true, 0));
          }, 30), bytes);
        }
        if (M > 1) {  // the stream-K kernel's variants and the tile kernel, same weights
          // each variant's Y on weight copy 0 against the tile kernel's (relative L2 difference)
          std::vector<uint16_t> yref, ycur;
          auto y_of = [&](auto launch, std::vector<uint16_t>& out) {
            p.w = w[0];
            p.scales = s[0];
            p.zp = z[0];
            CK(cudaMemset(y, 0xff, 16 * N * 2));
            CK(launch(p));
            CK(cudaDeviceSynchronize());
            out.resize(size_t(M) * N);
            CK(cudaMemcpy(out.data(), y, out.size() * 2, cudaMemcpyDeviceToHost));
          };
          y_of([&](const KParams& q) { return launch_tiles<0>(q, true, 0); }, yref);
          auto variant = [&](const char* name, auto launch) {
            std::snprintf(label, sizeof label, "%s M=%d", name, M);
            y_of(launch, ycur);
            double num = 0, den = 0;
            for (size_t i = 0; i < yref.size(); ++i) {
              const double a = __half2float(__ushort_as_half(ycur[i]));
              const double r = __half2float(__ushort_as_half(yref[i]));
              num += (a - r) * (a - r);
              den += r * r;
            }
            const double rel = std::sqrt(num / (den > 0 ? den : 1.0));
            report(label, tm.median_us([&](int i) {
              p.w = w[i % copies];
              p.scales = s[i % copies];
              p.zp = z[i % copies];
              CK(launch(p));
            }, 30), bytes + (M - 1) * (K + N) * 2.0);
            std::printf("%-9s    rel diff vs tile kernel %.2e%s\n", "", rel, rel < 1e-3 ? "" : "  MISMATCH");
          };
          auto sk_variant = [&](const char* name, auto tag, bool split) {
            constexpr int PF = decltype(tag)::value;
            void* wsp = split ? ws : nullptr;
            variant(name, [&](const KParams& q) {
              if (bits == 4)
                return q.M <= 8 ? sk::launch_mt<0, 4, true, 1, PF>(q, 132, wsp, ws_bytes, 0)
                                : sk::launch_mt<0, 4, true, 2, PF>(q, 132, wsp, ws_bytes, 0);
              return q.M <= 8 ? sk::launch_mt<0, 8, true, 1, PF>(q, 132, wsp, ws_bytes, 0)
                              : sk::launch_mt<0, 8, true, 2, PF>(q, 132, wsp, ws_bytes, 0);
            });
          };
          variant("tile kernel (before)", [&](const KParams& q) { return launch_tiles<0>(q, true, 0); });
          sk_variant("stream-K PF2", std::integral_constant<int, 2>{}, true);
          sk_variant("stream-K PF2 unsplit", std::integral_constant<int, 2>{}, false);
          if (bits == 4) sk_variant("stream-K PF3", std::integral_constant<int, 3>{}, true);
        }
        std::snprintf(label, sizeof label, "decode (library) M=%d, DRAM", M);
        report(label, tm.median_us([&](int i) { dec(i % copies); }, 30),
               bytes + (M - 1) * (K + N) * 2.0);
        if (wbytes < (40ll << 20) && M == 1)
          report("decode (library), L2-resident", tm.median_us([&](int) { dec(0); }, 30), bytes);
      }
    }
  }
  return 0;
}
