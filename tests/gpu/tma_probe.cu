// Read-only TMA probe for the decode kernels: how fast can a block per SM stream the weight
// matrix into a shared-memory ring by TMA, for which box shapes, ring depths, L2 promotion and
// unit orders? No arithmetic: one producer thread issues the boxes, one consumer warp waits on
// each stage and gives it back. Beside it, in the same process and on the same weights, the
// library's TMA decode kernel (tk::decode_tma_kernel, M = 4, 8, 16; int4 and int8), the stream-K
// and tile kernels, and the copy ceiling.
//
// A unit is `nb` boxes of `bi` bytes x `br` rows, adjacent along the row (so nb * bi contiguous
// bytes of each of br rows); units are numbered row tile by row tile, k fastest, and each block
// takes a contiguous range of them (the stream-K order of the decode kernels), or with
// `order 1` unit u goes to block u % G. `extras` (int4 only) adds what the decode kernel also
// loads per unit: a scale box (sg fp32 groups x br rows of [N, K / 128]: 16 or 32 bytes a row),
// a zero-point box (16 bytes x br of int8 [N, K / 128]) and an X box (256 k x 8 rows of fp16) per
// 128 weight bytes of a row. The TMA decode kernel's own boxes are "2x128Bx128 +s+z+X 5 st"
// (M <= 8; its 256-k units of before: "256-k kernel's boxes").
// `bulk` > 0: 1-D bulk copies of `bulk` contiguous bytes per unit instead (a prepacked layout).
// `d3`: the unit's nb boxes as one 3-D box (the matrix seen as slabs of bi bytes).
//
// Build and run on the GPU machine (sm_90a):
//   nvcc -O3 -std=c++17 -arch=sm_90a -Icsrc -Icsrc/include tests/gpu/tma_probe.cu \
//     csrc/cuda/cuda_gemm_sm90.cu -o /tmp/tp
//   /tmp/tp            # every configuration on the 70B / 8B shapes (int4; int8 without extras)
// TP_SHAPE="70B.up W4" runs one shape; TP_KERNEL_ONLY=1 only the decode kernels (for ncu);
// TP_NK="6144x4096,..." adds int4 shapes N x K.
// Findings are in tests/gpu/README.md.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cuda/cuda_gemv.cu"
#include "probe_util.cuh"

using namespace qmm::cuda;

namespace probe {

struct Q {
  int64_t T, C, U, G;  // row tiles, units per tile, units, blocks
  int stages, stage_bytes, nb, bi, br, bulk, order;
  int extras;  // 1: scale box, 2: zero-point box, 4: X boxes
  int sg;      // groups per scale box (4 or 8)
  int d3;      // 1: a unit's nb weight boxes as one 3-D box (bi bytes x br rows x nb slabs)
  const uint8_t* w;  // (bulk) the weights
};

__device__ __forceinline__ void bulk_load(uint32_t dst, const void* src, uint32_t bytes,
                                          uint32_t bar) {
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(
          dst),
      "l"(src), "r"(bytes), "r"(bar)
      : "memory");
}

__global__ void __launch_bounds__(64) tma_read_kernel(const __grid_constant__ CUtensorMap tw,
                                                      const __grid_constant__ CUtensorMap ts,
                                                      const __grid_constant__ CUtensorMap tz,
                                                      const __grid_constant__ CUtensorMap tx,
                                                      Q q, unsigned* sink) {
  extern __shared__ uint8_t smem_raw[];
  const uint32_t sbase = (smem_u32(smem_raw) + 1023) & ~1023u;
  const uint32_t full0 = sbase + uint32_t(q.stages * q.stage_bytes), empty0 = full0 + 8 * q.stages;
  const int tid = threadIdx.x;
  const int64_t b = blockIdx.x;
  const int64_t u0 = q.order ? b : b * q.U / q.G;
  const int64_t nu = q.order ? (q.U - b + q.G - 1) / q.G : (b + 1) * q.U / q.G - u0;
  if (tid == 0) {
    for (int s = 0; s < q.stages; ++s) {
      sm90::mbar_init(full0 + 8 * s, 1);
      sm90::mbar_init(empty0 + 8 * s, 1);
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();
  const uint32_t wbytes = uint32_t(q.nb * q.bi * q.br);
  const int xboxes = q.nb * q.bi / 128;
  const uint32_t bytes =
      q.bulk ? uint32_t(q.bulk)
             : wbytes + uint32_t((q.extras & 1 ? 4 * q.sg * q.br : 0) + (q.extras & 2 ? 16 * q.br : 0) +
                                 (q.extras & 4 ? xboxes * 256 * 8 * 2 : 0));
  if (tid == 0) {  // the producer
    for (int64_t j = 0; j < nu; ++j) {
      const int s = int(j % q.stages);
      if (j >= q.stages) sm90::mbar_wait(empty0 + 8 * s, uint32_t((j / q.stages - 1) & 1));
      const uint32_t st = sbase + uint32_t(s * q.stage_bytes), bar = full0 + 8 * s;
      sm90::mbar_expect_tx(bar, bytes);
      const int64_t u = q.order ? u0 + j * q.G : u0 + j;
      if (q.bulk) {
        bulk_load(st, q.w + u * q.bulk, uint32_t(q.bulk), bar);
        continue;
      }
      const int tile = int(u / q.C), c = int(u % q.C);
      const int row = tile * q.br, kb = c * q.nb * q.bi;  // first row, first byte of the row
      if (q.d3)
        sm90::tma_load_3d(st, &tw, 0, row, kb / q.bi, bar);
      else
        for (int i = 0; i < q.nb; ++i)
          sm90::tma_load_2d(st + uint32_t(i * q.bi * q.br), &tw, kb + i * q.bi, row, bar);
      const int grp = kb / 64;  // int4: 64 bytes per group of 128
      uint32_t o = wbytes;
      if (q.extras & 1) {
        sm90::tma_load_2d(st + o, &ts, q.sg * (grp / q.sg), row, bar);
        o += 4 * q.sg * q.br;
      }
      if (q.extras & 2) {
        sm90::tma_load_2d(st + o, &tz, 16 * (grp / 16), row, bar);
        o += 16 * q.br;
      }
      if (q.extras & 4)
        for (int i = 0; i < xboxes; ++i)
          sm90::tma_load_2d(st + o + uint32_t(i * 4096), &tx, 2 * (kb + 128 * i), 0, bar);
    }
  } else if (tid >= 32) {  // the consumer warp
    unsigned acc = 0;
    for (int64_t j = 0; j < nu; ++j) {
      const int s = int(j % q.stages);
      sm90::mbar_wait(full0 + 8 * s, uint32_t((j / q.stages) & 1));
      acc += lds32(sbase + uint32_t(s * q.stage_bytes) + 4 * uint32_t(tid - 32));
      __syncwarp();
      if (tid == 32) sm90::mbar_arrive(empty0 + 8 * s);
    }
    if (acc == 0x9e3779b9u) sink[0] = acc;
  }
}

struct Cfg {
  const char* name;
  int bi, br, nb, inflight_kb, bps, promo, order, bulk;
  int extras, sg, d3;
};

}  // namespace probe

using namespace probe;

int main() {
  Timer tm;
  unsigned* sink;
  CK(cudaMalloc(&sink, 4));
  int sms = 0;
  CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  std::printf("%d SMs\n", sms);
  print_copy_ceiling(tm);
  const CUtensorMapL2promotion promos[3] = {CU_TENSOR_MAP_L2_PROMOTION_NONE,
                                            CU_TENSOR_MAP_L2_PROMOTION_L2_128B,
                                            CU_TENSOR_MAP_L2_PROMOTION_L2_256B};
  // name, box bytes, box rows, boxes per unit, KB in flight per block, blocks per SM,
  // promotion (0 none, 1 128 B, 2 256 B), order, bulk bytes, extras (1 scale, 2 zp, 4 X),
  // groups per scale box (0: 4), 3-D weight box
  const Cfg cfgs[] = {
      {"256-k kernel's boxes (128Bx128 +s+z+X 6 st)", 128, 128, 1, 147, 1, 2, 0, 0, 7, 0},
      {"128Bx128 96K", 128, 128, 1, 96, 1, 2, 0, 0, 0, 0},
      {"128Bx128 96K promo none", 128, 128, 1, 96, 1, 0, 0, 0, 0, 0},
      {"128Bx128 96K promo 128", 128, 128, 1, 96, 1, 1, 0, 0, 0, 0},
      {"128Bx128 48K", 128, 128, 1, 48, 1, 2, 0, 0, 0, 0},
      {"128Bx128 192K", 128, 128, 1, 192, 1, 2, 0, 0, 0, 0},
      {"128Bx128 96K 2 blk/SM", 128, 128, 1, 96, 2, 2, 0, 0, 0, 0},
      {"128Bx128 96K interleaved units", 128, 128, 1, 96, 1, 2, 1, 0, 0, 0},
      {"128Bx64 96K", 128, 64, 1, 96, 1, 2, 0, 0, 0, 0},
      {"128Bx32 96K", 128, 32, 1, 96, 1, 2, 0, 0, 0, 0},
      {"128Bx256 96K", 128, 256, 1, 96, 1, 2, 0, 0, 0, 0},
      {"2x128Bx128 96K", 128, 128, 2, 96, 1, 2, 0, 0, 0, 0},
      {"4x128Bx128 128K", 128, 128, 4, 128, 1, 2, 0, 0, 0, 0},
      {"4x128Bx32 96K", 128, 32, 4, 96, 1, 2, 0, 0, 0, 0},
      {"8x128Bx16 96K", 128, 16, 8, 96, 1, 2, 0, 0, 0, 0},
      {"256Bx128 (no swizzle) 96K", 256, 128, 1, 96, 1, 2, 0, 0, 0, 0},
      {"256Bx64 (no swizzle) 96K", 256, 64, 1, 96, 1, 2, 0, 0, 0, 0},
      {"128Bx128 +s 6 st", 128, 128, 1, 112, 1, 2, 0, 0, 1, 0},
      {"128Bx128 +z 6 st", 128, 128, 1, 112, 1, 2, 0, 0, 2, 0},
      {"128Bx128 +X 6 st", 128, 128, 1, 125, 1, 2, 0, 0, 4, 0},
      {"128Bx128 +s+z 6 st", 128, 128, 1, 125, 1, 2, 0, 0, 3, 0},
      {"128Bx128 +s+z+X 8 st", 128, 128, 1, 192, 1, 2, 0, 0, 7, 0},
      {"128Bx128 +s+z+X 96K 2 blk/SM", 128, 128, 1, 96, 2, 2, 0, 0, 7, 0},
      {"2x128Bx128 +s+z+X 2 st", 128, 128, 2, 128, 1, 2, 0, 0, 7, 0},
      {"2x128Bx128 +s+z+X 4 st", 128, 128, 2, 180, 1, 2, 0, 0, 7, 0},
      {"2x128Bx128 +s+z+X 5 st", 128, 128, 2, 222, 1, 2, 0, 0, 7, 0},
      {"2x128Bx128 +s+z 4 st", 128, 128, 2, 150, 1, 2, 0, 0, 3, 0},
      {"4x128Bx128 +s8+z+X 2 st", 128, 128, 4, 180, 1, 2, 0, 0, 7, 8},
      {"4x128Bx128 +s8+z 2 st", 128, 128, 4, 150, 1, 2, 0, 0, 3, 8},
      {"4x128Bx128 2 st", 128, 128, 4, 128, 1, 2, 0, 0, 0, 0},
      {"128Bx256 +s+z+X 4 st", 128, 256, 1, 180, 1, 2, 0, 0, 7, 0},
      {"2x128Bx256 +s+z+X 2 st", 128, 256, 2, 180, 1, 2, 0, 0, 7, 0},
      {"2x128Bx64 +s+z+X 6 st", 128, 64, 2, 180, 1, 2, 0, 0, 7, 0},
      {"bulk 16K 96K", 0, 0, 0, 96, 1, 2, 0, 16384, 0, 0},
      {"bulk 4K 96K", 0, 0, 0, 96, 1, 2, 0, 4096, 0, 0},
      {"bulk 32K 192K", 0, 0, 0, 192, 1, 2, 0, 32768, 0, 0},
      {"bulk 16K 48K", 0, 0, 0, 48, 1, 2, 0, 16384, 0, 0},
      {"bulk 64K 192K", 0, 0, 0, 192, 1, 2, 0, 65536, 0, 0},
      {"3-D 128Bx128x2 96K", 128, 128, 2, 96, 1, 2, 0, 0, 0, 0, 1},
      {"3-D 128Bx128x4 128K", 128, 128, 4, 128, 1, 2, 0, 0, 0, 0, 1},
      {"3-D 128Bx128x4 192K", 128, 128, 4, 192, 1, 2, 0, 0, 0, 0, 1},
      {"3-D 128Bx128x2 +s+z+X 5 st", 128, 128, 2, 222, 1, 2, 0, 0, 7, 0, 1},
      {"3-D 128Bx128x2 +s+z 5 st", 128, 128, 2, 200, 1, 2, 0, 0, 3, 0, 1},
      {"3-D 128Bx128x4 +s8+z+X 2 st", 128, 128, 4, 220, 1, 2, 0, 0, 7, 8, 1},
      {"3-D 128Bx128x4 +s8+z 3 st", 128, 128, 4, 210, 1, 2, 0, 0, 3, 8, 1},
  };
  struct Shape {
    int64_t N, RB;  // rows, bytes per row
    int bits;
    const char* name;
  };
  std::vector<Shape> shapes = {{28672, 4096, 4, "70B.up W4"},  {8192, 14336, 4, "70B.down W4"},
                               {8192, 4096, 4, "70B.attn W4"}, {14336, 2048, 4, "8B.up W4"},
                               {4096, 7168, 4, "8B.down W4"},  {28672, 8192, 8, "70B.up W8"},
                               {8192, 28672, 8, "70B.down W8"}, {8192, 8192, 8, "70B.attn W8"},
                               {14336, 4096, 8, "8B.up W8"},    {4096, 14336, 8, "8B.down W8"}};
  // TP_NK="6144x4096,5120x4096": more int4 shapes (N x K), e.g. for the decode kernels' rules
  std::vector<std::string> extra_names;
  if (const char* nk = std::getenv("TP_NK")) {
    for (std::string rest = nk; !rest.empty();) {
      const size_t comma = rest.find(',');
      const std::string one = rest.substr(0, comma);
      rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
      long long n = 0, k = 0;
      if (std::sscanf(one.c_str(), "%lldx%lld", &n, &k) == 2 && n > 0 && k % 512 == 0)
        extra_names.push_back(one + " W4");
      else
        std::printf("TP_NK: skipped %s (N x K with K %% 512 == 0)\n", one.c_str());
      // (the TMA decode kernel runs where K % 2048 == 0: the probe's zero points)
    }
    for (const std::string& e : extra_names) {
      long long n = 0, k = 0;
      std::sscanf(e.c_str(), "%lldx%lld", &n, &k);
      shapes.push_back({n, k / 2, 4, e.c_str()});
    }
  }
  const char* only = std::getenv("TP_SHAPE");  // e.g. "70B.up W4": that shape only
  const bool no_probe = std::getenv("TP_KERNEL_ONLY") != nullptr;  // the decode kernel only
  for (const Shape& sh : shapes) {
    if (only && std::string(only) != sh.name) continue;
    const int64_t N = sh.N, RB = sh.RB, wb = N * RB, K = RB * 8 / sh.bits, G128 = K / 128;
    const WeightSet wset(N, RB, G128, K);
    const int copies = wset.copies;
    const std::vector<uint8_t*>& w = wset.w;
    const std::vector<float*>& s = wset.s;
    const std::vector<int8_t*>& z = wset.z;
    uint16_t *const x = wset.x, *const y = wset.y;
    for (const Cfg& cf : cfgs) {
      if (no_probe) break;
      const bool bulk = cf.bulk > 0;
      if (!bulk && (RB % (cf.nb * cf.bi) || N % cf.br)) continue;
      if (cf.extras && sh.bits != 4) continue;
      Q q{};
      q.nb = cf.nb;
      q.bi = cf.bi;
      q.br = cf.br;
      q.bulk = cf.bulk;
      q.order = cf.order;
      q.extras = cf.extras;
      q.sg = cf.sg ? cf.sg : 4;
      q.d3 = cf.d3;
      const int wbytes = bulk ? cf.bulk : cf.nb * cf.bi * cf.br;
      q.stage_bytes = (wbytes + (cf.extras & 1 ? 4 * q.sg * cf.br : 0) +
                       (cf.extras & 2 ? 16 * cf.br : 0) +
                       (cf.extras & 4 ? (cf.nb * cf.bi / 128) * 4096 : 0) + 1023) / 1024 * 1024;
      q.stages = std::max(2, cf.inflight_kb * 1024 / q.stage_bytes);
      const int smem = q.stages * (q.stage_bytes + 16) + 1024;
      if (smem > std::min(227 * 1024, 228 * 1024 / cf.bps - 1024)) {  // (1 KB per block reserved)
        std::printf("%-11s %-42s skipped (%d B shared)\n", sh.name, cf.name, smem);
        continue;
      }
      if (bulk) {
        q.T = 1;
        q.C = wb / cf.bulk;
      } else {
        q.T = N / cf.br;
        q.C = RB / (cf.nb * cf.bi);
      }
      q.U = q.T * q.C;
      q.G = std::min<int64_t>(q.U, int64_t(sms) * cf.bps);
      std::vector<CUtensorMap> mw(copies), ms(copies), mz(copies), mx(1);
      for (int c = 0; c < copies; ++c) {
        if (bulk) break;
        using sm90::tensor_map_2d;
        const bool ok =
            (cf.d3 ? sm90::tensor_map_3d(&mw[c], CU_TENSOR_MAP_DATA_TYPE_UINT8, w[c], cf.bi, N,
                                         RB / cf.bi, RB, cf.bi, cf.bi, cf.br, cf.nb,
                                         CU_TENSOR_MAP_SWIZZLE_128B)
                   : tensor_map_2d(&mw[c], CU_TENSOR_MAP_DATA_TYPE_UINT8, w[c], RB, N, RB, cf.bi,
                                   cf.br,
                                   cf.bi == 128 ? CU_TENSOR_MAP_SWIZZLE_128B
                                                : CU_TENSOR_MAP_SWIZZLE_NONE,
                                   promos[cf.promo])) &&
            tensor_map_2d(&ms[c], CU_TENSOR_MAP_DATA_TYPE_FLOAT32, s[c], G128, N, G128 * 4, q.sg,
                          cf.br, CU_TENSOR_MAP_SWIZZLE_NONE, promos[cf.promo]) &&
            tensor_map_2d(&mz[c], CU_TENSOR_MAP_DATA_TYPE_UINT8, z[c], G128, N, G128, 16, cf.br,
                          CU_TENSOR_MAP_SWIZZLE_NONE, promos[cf.promo]);
        if (!ok) {
          std::printf("%s: tensor map refused\n", cf.name);
          return 1;
        }
      }
      if (!bulk && !sm90::tensor_map_2d(&mx[0], CU_TENSOR_MAP_DATA_TYPE_UINT16, x, K, 16, K * 2,
                                        256, 8, CU_TENSOR_MAP_SWIZZLE_NONE, promos[cf.promo])) {
        std::printf("X map refused\n");
        return 1;
      }
      if (bulk) mw[0] = ms[0] = mz[0] = mx[0];  // (unused)
      CK(cudaFuncSetAttribute(tma_read_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
      const double us = tm.median_us([&](int i) {
        const int c = i % copies;
        q.w = w[c];
        const int m = bulk ? 0 : c;
        tma_read_kernel<<<unsigned(q.G), 64, smem>>>(mw[m], ms[m], mz[m], mx[0], q, sink);
        CK(cudaGetLastError());
      }, 20);
      const double bytes = double(wb) + (cf.extras & 1 ? N * G128 * 4.0 : 0.0) +
                           (cf.extras & 2 ? N * G128 : 0.0);  // (X from L2: not counted)
      std::printf("%-11s %-42s %2d stages %6.1f us %6.0f GB/s\n", sh.name, cf.name, q.stages, us,
                  bytes / us / 1e3);
    }
    {  // the library's TMA decode kernel on the same weights
      void* ws = nullptr;
      const size_t ws_bytes = size_t(64) << 20;
      CK(cudaMalloc(&ws, ws_bytes));
      for (int M : {4, 8, 16}) {
        KParams p = kparams(x, 0, nullptr, nullptr, nullptr, y, 0, M, N, K, 128, sh.bits);
        auto run = [&](const char* what, auto launch) {
          const double us = tm.median_us([&](int i) {
            p.w = w[i % copies];
            p.scales = s[i % copies];
            p.zp = z[i % copies];
            CK(launch(p));
          }, 20);
          char label[64];
          std::snprintf(label, sizeof label, "%s M=%d (zp)", what, M);
          std::printf("%-11s %-42s           %6.1f us %6.0f GB/s\n", sh.name, label, us,
                      (double(wb) + N * G128 * 5.0) / us / 1e3);
        };
        if (K % 2048 == 0)  // (zero points: their row stride must be a multiple of 16 bytes)
          run("tk::launch",
              [&](const KParams& q) { return tk::launch<0>(q, sms, ws, ws_bytes, 0); });
        run("stream-K kernel", [&](const KParams& q) {
          return sh.bits == 4 ? sk::launch<0, 4>(q, sms, ws, ws_bytes, 0)
                              : sk::launch<0, 8>(q, sms, ws, ws_bytes, 0);
        });
        run("tile kernel", [&](const KParams& q) { return launch_tiles<0>(q, true, 0); });
        run("library's pick",
            [&](const KParams& q) { return launch_decode_float(q, sms, ws, ws_bytes, 0); });
      }
      CK(cudaFree(ws));
    }
  }
  return 0;
}
