// cuda GEMM for Hopper (sm_90a): wgmma with the dequantized weights as the register operand.
// launch_gemm_float takes it for M > 16 on a 9.0 device; for the int8 mode there (M > 16, or
// group sizes the decode kernel does not take) launch_gemm_s8_sm90 runs groups of 128 on the
// int8 tensor cores (gemm_sm90_s8_kernel, below) and launch_gemm_int8_sm90 other group sizes
// on the quantized activations as exact fp16 (see INT8 at gemm_sm90_kernel).
//
// Y^T = dequant(W) . X^T: the MMA's M dimension is the weight's n (A = dequantized weights in
// registers, 64 rows per warpgroup), its N dimension is X's rows (B = an X tile in shared
// memory, K-major with the 128-byte swizzle, read by the tensor cores directly). So the
// dequantized weights never touch shared memory and X needs no k permutation.
//
// Block: 4 warpgroups (512 threads), tile 256 weight rows x BM X rows x 64 k per stage, BM =
// 16 / 32 / 64 / 128 by M (wgmma N; small M does not multiply rows of zeros); M > 128: BM = 256
// on 2 warpgroups (256 threads, 128 weight rows, up to 240 registers: each dequantized weight
// feeds twice the X rows), and the int8 mode's BM = 128 likewise (for its two accumulator
// sets); a 4-8 stage
// cp.async ring (X BM x 128 bytes + weights 8 KB (int4) / 16 KB (int8) per stage, zero-filled
// past M, N, K). Per stage each warpgroup issues two commit groups of 2 wgmma.m64nBMk16 (fp32
// accumulate): the fragments of one group are dequantized while the other runs (wait_group 1).
// Few tiles (fewer than the SMs): K is split at fixed stage boundaries into as many parts as
// fill one wave (at most 16; all but the last of the same length, >= 512 k, the last possibly
// shorter); the fp32 partial tiles go to the workspace and
// splitk_reduce adds them in split order (deterministic). Without the workspace (a capture
// that cannot allocate it) the call runs unsplit.
//
// A fragment of a warp (16 weight rows, 16 k): thread (g = lane / 4, t = lane % 4) holds rows g
// and g + 8 at k = 2t, 2t + 1, 2t + 8, 2t + 9. From canonical int4 rows that is byte t of each
// 4-byte word: a 32-k half stage of a row (16 bytes, words w0..w3) gives the thread one word
// G = (w0.byte t, w1.byte t, w2.byte t, w3.byte t) (3 prmt); Deq::w4 turns it into the pairs
// (nibble i, nibble i + 4), and 4 prmt regroup them into (k, k + 1) pairs. int8 rows: the
// halfword t % 2 of words t / 2 and 2 + t / 2 of each 16-byte k16 chunk (2 select + 1 prmt).
// Dequantization is Deq's: s * (q - zp) with q - zp exact and one rounding (as cuda_gemm.cu).
//
// The float mode runs gemm_sm90_ws_kernel instead (same tiles, dequantization and MMAs; not
// for the 16-row tiles, see launch_bm): a
// producer warpgroup loads each stage by TMA and signals it on an mbarrier, so the consumers
// wait for their data only, never at a block barrier (H200, 2026-12-02, gpu_check bench,
// M = 4096: W4 675-682 TFLOP/s against this kernel's 574-582, W8 641-646 against 532-537;
// `qmatmul bench --suite full`: 0.77-0.88x cuBLAS, was 0.61-0.77x). Since 2026-12-03 also for
// the 32-128-row tiles (H200, gpu_check bench, same binary, cp.async / producer kernel, us:
// (28672, 8192) W4 M = 32 110.0 / 89.2, M = 64 116.3 / 102.5, M = 128 142.8 / 131.0; W8 M = 32
// 128.9 / 94.8, M = 64 133.1 / 108.3; (8192, 8192) W4 M = 64 44.0 / 40.9, W8 52.8 / 43.0;
// M = 256 within 2 %). The int8 mode's fp16 path (groups other than 128) stays on this kernel.
// Shared memory written by cp.async (generic proxy) is read by wgmma (async proxy): each
// thread fences (fence.proxy.async) after its copies land and before the block barrier.
// Requires what launch_gemm_float requires (group_size % 32 == 0, 16-byte aligned X rows and
// weights) and a device of compute capability 9.0 running the sm_90a build of this file.
//
// Measured (H200, 2026-12-02, tests/gpu/gemm_probe.cu and `qmatmul bench --suite full`,
// bench/RESULTS.md): M = 4096 at 400-525 TFLOP/s, 0.53-0.69x cuBLAS fp16 (the mma.sync GEMM:
// 0.26-0.30x); M = 64-128 0.9-1.3x cuBLAS (split K; probe); M = 256 0.5-0.8x. ncu at M = 4096
// (before the last instruction trims): issue slots 55 % busy, 1.2 of 4 warps eligible per
// scheduler: latency between the block barrier of each stage and the MMAs, not the tensor
// pipe, limits it. BM = 256 on 2 warpgroups (gpu_check bench, H200, 2026-12-02; (8192, 8192)
// and (28672, 8192), W4 / W8): M = 4096 564 / 526 and 572 / 534 TFLOP/s (BM = 128 on 4
// warpgroups: 497 / 434, 498 / 439), M = 256 430 / 391, 484 / 446 (378 / 341, 418 / 367).
// int8 mode (same bench): M = 4096 262-298 TFLOP/s (the mma.sync s8 GEMM: 96-102), M = 256
// 232-248; first with BM = 64 on 4 warpgroups 211-237; 244-274 before the group-start scalar
// work moved after the commit (ptxas had injected warpgroup.arrive fences, C7519).
#include <cuda.h>  // CUtensorMap and its enums (the encoder is reached through cudart)

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "cuda/cuda_common.cuh"
#include "cuda/cuda_kernels.h"
#include "cuda/cuda_tma.cuh"

namespace qmm {
namespace cuda {
namespace {
namespace sm90 {

constexpr int kWG = 4;    // warpgroups per block (NWG = 2 for BM = 256, and the int8 mode's 128)
constexpr int kBK = 64;   // k per stage

// BM X rows per block (the wgmma N: 256, 128, 64, 32 or 16; small M takes a narrow tile so the
// tensor cores do not multiply rows of zeros), NWG warpgroups of 64 weight rows each. plan()
// picks BM and, from it, the weight rows per block; launch_t / launch_int8 instantiate the
// matching NWG (2 for BM = 256 and for the int8 mode's BM = 128, else kWG).
template <int BITS, int BM, int NWG = kWG> struct Sm90Cfg {
  static constexpr int kThreads = 128 * NWG;
  static constexpr int kBN = 64 * NWG;  // weight rows per block (64 per warpgroup)
  static constexpr int XS = BM * kBK * 2;   // X bytes per stage: BM rows of 128 bytes
  static constexpr int WR = kBK * BITS / 8;  // weight row bytes per stage
  static constexpr int WS = kBN * WR;
  static constexpr int kStageBytes = XS + WS;  // multiple of 1024
  // Up to 160 KB of stages, at most 8 (6 / 5 for BM = 128 at 4 / 8 bits). A stage of 128 k
  // (2026-12-02 probe, BM = 128) was 5-25 % slower on every shape.
  static constexpr int kBudget = (BM == 256 ? 200 : 160) * 1024;  // BM = 256: 5 stages, not 4
  static constexpr int kStages = kBudget / kStageBytes < 8 ? kBudget / kStageBytes : 8;
  static constexpr int kSmem = kStages * kStageBytes + 1024;  // + alignment slack
  static_assert(kStageBytes % 1024 == 0 && kStages >= 4, "stage layout");
};

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ == 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define QMM_SM90_WGMMA 1
#endif

#ifdef QMM_SM90_WGMMA
// Shared-memory matrix descriptor: K-major, 128-byte swizzle, 8-row groups 1024 bytes apart.
__device__ __forceinline__ uint64_t desc_sw128(uint32_t saddr) {
  uint64_t d = uint64_t((saddr & 0x3FFFF) >> 4);
  d |= uint64_t(1) << 16;             // leading byte offset (unused for swizzled K-major)
  d |= uint64_t(1024 >> 4) << 32;     // stride byte offset
  d |= uint64_t(1) << 62;             // 128-byte swizzle
  return d;
}

__device__ __forceinline__ void wgmma_fence() {
  asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
}
__device__ __forceinline__ void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
}
template <int N> __device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory");
}
__device__ __forceinline__ void fence_proxy_async() {
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
}
// Keeps the compiler from moving accumulator accesses across the asynchronous MMAs.
template <int N> __device__ __forceinline__ void fence_acc(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

// The accumulator operands of an m64nN wgmma (N / 2 per thread): asm operand numbers and
// constraints.
#define QMM_WGMMA_D128 \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, " \
  "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
  "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, " \
  "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, " \
  "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, " \
  "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, " \
  "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}"
#define QMM_WGMMA_D64 \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, " \
  "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
  "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"
#define QMM_WGMMA_D32 \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}"
#define QMM_WGMMA_D16 \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}"
#define QMM_WGMMA_D8 \
  "{%0, %1, %2, %3, %4, %5, %6, %7}"
#define QMM_F8(b)                                                                       \
  "+f"(d[b]), "+f"(d[b + 1]), "+f"(d[b + 2]), "+f"(d[b + 3]), "+f"(d[b + 4]), "+f"(d[b + 5]), \
      "+f"(d[b + 6]), "+f"(d[b + 7])
#define QMM_F_8 QMM_F8(0)
#define QMM_F_16 QMM_F_8, QMM_F8(8)
#define QMM_F_32 QMM_F_16, QMM_F8(16), QMM_F8(24)
#define QMM_F_64 QMM_F_32, QMM_F8(32), QMM_F8(40), QMM_F8(48), QMM_F8(56)
#define QMM_F_128 QMM_F_64, QMM_F8(64), QMM_F8(72), QMM_F8(80), QMM_F8(88), QMM_F8(96), \
                  QMM_F8(104), QMM_F8(112), QMM_F8(120)

// D[64 x N] = A[64 x 16] (registers) * B[16 x N] (shared, descriptor) + (accumulate ? D : 0),
// N = 2 * ACC.
template <class T, int ACC>
__device__ __forceinline__ void wgmma_rs(float (&d)[ACC], const uint32_t a[4], uint64_t desc,
                                         int accumulate);
// One specialization: CT the element type, TY its PTX name, N, ACC = N / 2, and the operand
// numbers of A (4 registers), the descriptor and the scale-d flag, which follow the ACC outputs.
#define QMM_WGMMA_RS(CT, TY, N, ACC, A_DESC, SCALE)                                           \
  template <>                                                                                 \
  __device__ __forceinline__ void wgmma_rs<CT, ACC>(float (&d)[ACC], const uint32_t a[4],     \
                                                    uint64_t desc, int accumulate) {          \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " SCALE ", 0;\n"                          \
                 "wgmma.mma_async.sync.aligned.m64n" N "k16.f32." TY "." TY " "               \
                 QMM_WGMMA_D##ACC ", " A_DESC ", p, 1, 1, 0;\n}\n"                             \
                 : QMM_F_##ACC                                                                \
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(accumulate));    \
  }
QMM_WGMMA_RS(__half, "f16", "256", 128, "{%128, %129, %130, %131}, %132", "%133")
QMM_WGMMA_RS(__nv_bfloat16, "bf16", "256", 128, "{%128, %129, %130, %131}, %132", "%133")
QMM_WGMMA_RS(__half, "f16", "128", 64, "{%64, %65, %66, %67}, %68", "%69")
QMM_WGMMA_RS(__nv_bfloat16, "bf16", "128", 64, "{%64, %65, %66, %67}, %68", "%69")
QMM_WGMMA_RS(__half, "f16", "64", 32, "{%32, %33, %34, %35}, %36", "%37")
QMM_WGMMA_RS(__nv_bfloat16, "bf16", "64", 32, "{%32, %33, %34, %35}, %36", "%37")
QMM_WGMMA_RS(__half, "f16", "32", 16, "{%16, %17, %18, %19}, %20", "%21")
QMM_WGMMA_RS(__nv_bfloat16, "bf16", "32", 16, "{%16, %17, %18, %19}, %20", "%21")
QMM_WGMMA_RS(__half, "f16", "16", 8, "{%8, %9, %10, %11}, %12", "%13")
QMM_WGMMA_RS(__nv_bfloat16, "bf16", "16", 8, "{%8, %9, %10, %11}, %12", "%13")

// Tile order: groups of up to 16 weight tiles, X tiles fastest inside a group, so the blocks
// resident at one time share their weight and X tiles in L2. Block blockIdx.x's first X row m0
// and weight row n0.
template <int BM, int BN>
__device__ __forceinline__ void tile_origin(const KParams& p, int64_t& m0, int64_t& n0) {
  const int64_t tiles_m = (p.M + BM - 1) / BM, tiles_n = (p.N + BN - 1) / BN;
  constexpr int64_t kGroupN = 16;
  const int64_t b = blockIdx.x;
  const int64_t grp_n0 = (b / (kGroupN * tiles_m)) * kGroupN;
  const int64_t gn = min(kGroupN, tiles_n - grp_n0);
  const int64_t within = b % (kGroupN * tiles_m);
  n0 = (grp_n0 + within % gn) * BN;
  m0 = (within / gn) * BM;
}

// Scale and zero point of group gi for the thread's two weight rows nr (0 past N and past the
// groups).
__device__ __forceinline__ void group_params(const KParams& p, const int64_t (&nr)[2], int64_t gi,
                                             float (&s)[2], int (&z)[2]) {
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const bool ok = nr[h] < p.N && gi < p.groups;
    s[h] = ok ? __ldg(p.scales + nr[h] * p.groups + gi) : 0.0f;
    z[h] = ok && p.zp ? int(__ldg(p.zp + nr[h] * p.groups + gi)) : 0;
  }
}

// One 32-k step's commit group: 2 wgmma (k16 chunks of half stage hs of the X tile at desc)
// on the step's fragments a; the first adds to d only when `accumulate`.
template <class T, int ACC>
__device__ __forceinline__ void step_mma(float (&d)[ACC], const uint32_t (&a)[2][4],
                                         uint64_t desc, int hs, bool accumulate) {
  fence_acc(d);
  wgmma_fence();
#pragma unroll
  for (int c = 0; c < 2; ++c)
    wgmma_rs<T, ACC>(d, a[c], desc + uint64_t((64 * hs + 32 * c) >> 4),
                     c == 0 && !accumulate ? 0 : 1);
  wgmma_commit();
}

// One 32-k step's A fragments (two k16 chunks) of the thread's rows r0 (registers 0, 2) and
// r0 + 8 (1, 3), from the stage's weights at `ws` (row r0; row r0 + 8 is 8 WR bytes on),
// dequantized by deq[0] / deq[1] (SCALE = false: the exact q - zp). gsel picks byte t of two
// words.
template <class T, int BITS, bool SCALE, int WR>
__device__ __forceinline__ void frag_step(const uint8_t* ws, int hs, int t, uint32_t gsel,
                                          const Deq<T> (&deq)[2], uint32_t (&a)[2][4]) {
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const uint8_t* row = ws + 8 * h * WR;
    if (BITS == 4) {
      const uint4 v = *reinterpret_cast<const uint4*>(row + 16 * hs);
      const uint32_t gw = prmt(prmt(v.x, v.y, gsel), prmt(v.z, v.w, gsel), 0x5410);
      uint32_t o[4];
      deq[h].template w4<SCALE>(gw, o);  // (k 2t, 16+2t) (2t+1, 17+2t) (8+2t, 24+2t) (9+2t, 25+2t)
      a[0][h] = prmt(o[0], o[1], 0x5410);
      a[0][2 + h] = prmt(o[2], o[3], 0x5410);
      a[1][h] = prmt(o[0], o[1], 0x7632);
      a[1][2 + h] = prmt(o[2], o[3], 0x7632);
    } else {
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        const uint4 v = *reinterpret_cast<const uint4*>(row + 32 * hs + 16 * c);
        const uint32_t lo = (t >> 1) ? v.y : v.x, hi = (t >> 1) ? v.w : v.z;
        const uint32_t gw = prmt(lo, hi, (t & 1) ? 0x7632 : 0x5410);
        uint32_t o[2];
        deq[h].template w8<SCALE>(gw, o);  // (k 2t, 2t+1) (2t+8, 2t+9)
        a[c][h] = o[0];
        a[c][2 + h] = o[1];
      }
    }
  }
}

// The block's tile from the accumulators: acc[4j + e] = (weight row nr[e >> 1], X row
// m0 + 8j + 2t + (e & 1)); to Y (row_scale applied), or as fp32 partial sums to pt[M][N].
template <int BM>
__device__ __forceinline__ void store_tile(const KParams& p, float* pt, int64_t m0,
                                           const int64_t (&nr)[2], int t,
                                           const float (&acc)[BM / 2]) {
#pragma unroll
  for (int j = 0; j < BM / 8; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int64_t m = m0 + 8 * j + 2 * t + (e & 1);
      const int64_t n = nr[e >> 1];
      if (m < p.M && n < p.N) {
        const float v = acc[4 * j + e];
        if (pt)
          pt[m * p.N + n] = v;
        else
          store_y(p.y, m * p.ldy + n, p.yt, p.row_scale ? v * p.row_scale[m] : v);
      }
    }
}

#endif  // QMM_SM90_WGMMA

// One block: the 256 x BM tile `blockIdx.x` over the k stages [kt0, kt1) of split blockIdx.y.
// part == nullptr: Y is written (row_scale applied); else the fp32 partial tile goes to
// part[split][M][N] and splitk_reduce sums the splits.
// INT8 (the int8 mode; T = __half): X = the quantized activations q as exact fp16, the weights
// dequantized to the exact integers q - zp (no scale), so each group's wgmma sums are the exact
// integer sums of SPEC section 4 (|sum| <= 127 * 255 * group_size < 2^24 for group_size <= 512,
// every partial sum an integer, exact in the fp32 accumulators). They run into `gacc` (the
// group's first wgmma does not accumulate) and at each group end are folded into `acc`:
// acc = fma(sx[m, g] * s[n, g], gacc, acc), g increasing (sxt = sx transposed, [groups, ldsx]).
// Splits start and end on group boundaries.
template <class T, int BITS, int BM, bool INT8, int NWG>
__global__ void __launch_bounds__(128 * NWG, 1)
    gemm_sm90_kernel(KParams p, float* part, int stages_per_split, const float* sxt,
                     int64_t ldsx) {
#ifdef QMM_SM90_WGMMA
  using C = Sm90Cfg<BITS, BM, NWG>;
  constexpr int kThreads = C::kThreads, kBN = C::kBN;
  constexpr int ACC = BM / 2;         // accumulators per thread
  constexpr int kXS = C::XS;
  constexpr int S = C::kStages;
  extern __shared__ uint8_t smem_raw[];
  const uint32_t raw_addr = static_cast<uint32_t>(__cvta_generic_to_shared(smem_raw));
  uint8_t* smem = smem_raw + (((raw_addr + 1023) & ~1023u) - raw_addr);
  const uint32_t sbase = (raw_addr + 1023) & ~1023u;

  const int tid = threadIdx.x;
  const int lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int r0 = 16 * warp + g;  // this thread's first weight row in the tile (second: r0 + 8)

  int64_t m0, n0;
  tile_origin<BM, kBN>(p, m0, n0);
  const int64_t K = p.K;
  const int nk_all = int((K + kBK - 1) / kBK);
  const int kt0 = int(blockIdx.y) * stages_per_split;
  const int nk = min(nk_all - kt0, stages_per_split);  // stages of this split (>= 1)

  // K % 32 == 0 (group_size % 32 == 0), so only the last stage of K can be partial: its
  // second 32-k step lies past K when K % 64 == 32. Its X and weight chunks are zero-filled and
  // it runs like any step: it starts at k = K, the first k of group `groups`, past the scales,
  // so its weights dequantize with scale 0 and it adds exact zeros.
  const bool tail = (K & 63) != 0 && kt0 + nk == nk_all;

  // This thread's cp.async sources for the next stage to load, and shared offsets. X: BM rows
  // x 8 chunks of 16 bytes (2 per thread at BM = 128, 1 for the first BM * 8 threads below);
  // weights: 1 (int4) / 2 (int8) of 256 rows x WCH chunks per thread.
  constexpr int XQ = BM * 8 >= kThreads ? BM * 8 / kThreads : 1;
  constexpr bool kXAll = BM * 8 >= kThreads;  // every thread copies X
  const bool xact = kXAll || tid < BM * 8;     // this thread copies X (a zero-fill writes too)
  constexpr int WCH = C::WR / 16;
  constexpr int WQ = kBN * WCH / kThreads;
  const uint8_t* xsrc[XQ];
  uint32_t xoff[XQ];
  bool xok[XQ], xhi[XQ];  // row inside M; chunk in the stage's second 32 k
#pragma unroll
  for (int q = 0; q < XQ; ++q) {
    const int i = tid + q * kThreads, r = i >> 3, j = i & 7;
    xok[q] = m0 + r < p.M;
    xhi[q] = j >= 4;
    xsrc[q] = static_cast<const uint8_t*>(p.x) +
              (xok[q] ? (m0 + r) * p.ldx * 2 + 16 * j + int64_t(kt0) * kBK * 2 : 0);
    xoff[q] = uint32_t(r * 128 + ((j ^ (r & 7)) << 4));
  }
  const uint8_t* wsrc[WQ];
  uint32_t woff[WQ];
  bool wok[WQ], whi[WQ];
#pragma unroll
  for (int q = 0; q < WQ; ++q) {
    const int i = tid + q * kThreads, r = i / WCH, ch = i % WCH;
    wok[q] = n0 + r < p.N;
    whi[q] = ch * (128 / BITS) >= 32;
    wsrc[q] = p.w + (wok[q] ? (n0 + r) * p.row_bytes + 16 * ch + int64_t(kt0) * C::WR : 0);
    woff[q] = uint32_t(kXS + r * C::WR + 16 * ch);
  }
  // Group bookkeeping in 32-k steps from the split's first step.
  const int gsteps = int(p.gs / 32);
  const int64_t step0 = int64_t(kt0) * (kBK / 32);
  int64_t grp = step0 / gsteps;
  int in_grp = int(step0 % gsteps);
  // INT8: per slot, the sx of the groups of its two 32-k halves for the tile's BM X rows, after
  // the S stages (16 bytes per copy by the first BM / 2 threads; zero past the groups and past
  // ldsx, which the quantize pass zero-fills beyond M). ld_grp / ld_in: the group position of
  // the next half stage to load.
  float* const sxs = reinterpret_cast<float*>(smem + S * C::kStageBytes);
  int64_t ld_grp = grp;
  int ld_in = in_grp;
  const int sxh = tid / (BM / 4), sxc = tid % (BM / 4);  // half and 4-row chunk of this copy
  // Loads stage `j` of this split (the next one in order) into `slot`, then advances.
  auto load_stage = [&](int slot, int j) {
    uint8_t* st = smem + slot * C::kStageBytes;
    if (INT8) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        if (sxh == h) {
          const int64_t m = m0 + 4 * sxc;
          const bool ok = ld_grp < p.groups && m < ldsx;
          cp_async16(sxs + (slot * 2 + h) * BM + 4 * sxc, ok ? sxt + ld_grp * ldsx + m : sxt, ok);
        }
        if (++ld_in == gsteps) {
          ld_in = 0;
          ++ld_grp;
        }
      }
    }
    const bool cut = tail && j == nk - 1;  // the upper 32 k lie past K
#pragma unroll
    for (int q = 0; q < XQ; ++q) {
      const bool ok = xok[q] && !(cut && xhi[q]);
      if (xact) cp_async16(st + xoff[q], ok ? xsrc[q] : p.x, ok);
      xsrc[q] += kBK * 2;
    }
#pragma unroll
    for (int q = 0; q < WQ; ++q) {
      const bool ok = wok[q] && !(cut && whi[q]);
      cp_async16(st + woff[q], ok ? wsrc[q] : p.w, ok);
      wsrc[q] += C::WR;
    }
  };

  float acc[ACC];
  float gacc[ACC];  // INT8: the current group's exact sums (unused in float mode)
#pragma unroll
  for (int i = 0; i < ACC; ++i) acc[i] = gacc[i] = 0.0f;

#pragma unroll
  for (int s = 0; s < S - 2; ++s) {
    if (s < nk) load_stage(s, s);
    cp_async_commit();
  }
  int load_slot = S - 2;  // the slot of the next stage to load
  uint32_t a0[2][4], a1[2][4];  // the two commit groups' A fragments

  // Scales / zero points of this thread's two rows: the current group's in Deq, the next
  // group's prefetched into registers when a group starts.
  const int64_t nr[2] = {n0 + r0, n0 + r0 + 8};
  Deq<T> deq[2];
  float pf_s[2], cur_s[2];  // cur_s: INT8, the current group's scales (for the fold)
  int pf_z[2];
  auto load_pf = [&](int64_t gi) { group_params(p, nr, gi, pf_s, pf_z); };
  load_pf(grp);
  bool fresh = true;  // the split's first step loads its group even mid-group
  const uint32_t gsel = uint32_t(t) | (uint32_t(t + 4) << 4);  // byte t of two words
  const uint32_t wrow0 = uint32_t(kXS + r0 * C::WR);           // row r0 in a stage
  const uint64_t desc0 = desc_sw128(sbase);                    // stage 0's X tile

  // Per stage two commit groups of 2 wgmma each (k16 chunks 0-1, then 2-3), each on its own 8
  // fragment registers: a group's fragments are dequantized while the previous group runs
  // (wait_group 1), so the tensor cores always have one queued group per warpgroup, the block
  // barrier included. Slot reuse: stage i - 2's groups are complete in every warpgroup when
  // the barrier of stage i passes, so stage i + S - 2 may be loaded into its slot then.
  // INT8: a group's fold waits for all of its warpgroup's MMAs; it is done lazily, after the
  // next step's fragments are dequantized, so that dequantization overlaps the group's last
  // MMAs. (Running warpgroups 2-3 one stage behind 0-1, so that their folds would not drain the
  // tensor cores at the same time, was slower: 2026-12-02 H200, M = 4096, 182-191 vs 225-237
  // TFLOP/s; folding at the end step itself: 211-224.)
  int slot = 0;
  // INT8: a finished group waits for its fold, which comes at the warpgroup's next step (or
  // after the loop): its sx are at half `fold_at` of the slots, its weight scales in cur_s
  // (which a group start replaces only after the fold).
  bool pending = false;
  auto fold = [&](int fold_at) {
    const float* sxg = sxs + fold_at * BM + 2 * t;
    wgmma_wait<0>();
    fence_acc(gacc);
#pragma unroll
    for (int j = 0; j < BM / 8; ++j) {
      const float2 sx = *reinterpret_cast<const float2*>(sxg + 8 * j);
#pragma unroll
      for (int e = 0; e < 4; ++e)
        acc[4 * j + e] = __fmaf_rn(__fmul_rn(e & 1 ? sx.y : sx.x, cur_s[e >> 1]),
                                   gacc[4 * j + e], acc[4 * j + e]);
    }
    pending = false;
  };
  for (int i = 0; i < nk; ++i) {
    cp_async_wait<S - 3>();
    fence_proxy_async();
    __syncthreads();  // stage i landed for every thread; stage i - 2's MMAs are done
    const uint8_t* ws = smem + slot * C::kStageBytes + wrow0;
    const uint64_t desc = desc0 + uint64_t((slot * C::kStageBytes) >> 4);

#pragma unroll
    for (int hs = 0; hs < 2; ++hs) {  // 32-k steps = commit groups
      uint32_t (&a)[2][4] = hs == 0 ? a0 : a1;  // [k16 chunk of the step][fragment register]
      {
        const bool gstart = in_grp == 0 || fresh;
        if (gstart) {
#pragma unroll
          for (int h = 0; h < 2; ++h) deq[h].init(INT8 ? 1.0f : pf_s[h], pf_z[h]);
          if (!INT8) load_pf(grp + 1);
          fresh = false;
        }
        frag_step<T, BITS, !INT8, C::WR>(ws, hs, t, gsel, deq, a);
        const bool gfirst = in_grp == 0;       // INT8: this step starts a group ...
        const bool gend = in_grp + 1 == gsteps;  // ... and this one ends it
        const bool real = grp < p.groups;      // (not the zero step past K)
        const int64_t step_grp = grp;
        if (++in_grp == gsteps) {
          in_grp = 0;
          ++grp;
        }
        if (INT8) {
          // The previous group's fold (its last MMAs ran under the dequant above): sx at the
          // previous step's half.
          if (pending) fold(hs == 1 ? slot * 2 : (slot == 0 ? S - 1 : slot - 1) * 2 + 1);
          step_mma<T, ACC>(gacc, a, desc, hs, !gfirst);
          if (gstart) {  // after the commit: no scalar work between the MMAs and their commit
            cur_s[0] = pf_s[0];
            cur_s[1] = pf_s[1];
            load_pf(step_grp + 1);
          }
          pending = gend && real;
        } else {
          step_mma<T, ACC>(acc, a, desc, hs, true);
        }
      }
      if (hs == 0) {   // the copies of a later stage, issued while this group runs
        if (i + S - 2 < nk) load_stage(load_slot, i + S - 2);
        cp_async_commit();
        load_slot = load_slot == S - 1 ? 0 : load_slot + 1;
      }
      wgmma_wait<1>();  // the group before this one is done: its fragment registers are free
      if (INT8)
        fence_acc(gacc);
      else
        fence_acc(acc);
    }
    slot = slot == S - 1 ? 0 : slot + 1;
  }
  if (INT8 && pending) fold((slot == 0 ? S - 1 : slot - 1) * 2 + 1);
  wgmma_wait<0>();
  fence_acc(acc);
  if (INT8) fence_acc(gacc);
  cp_async_wait<0>();

  float* pt = part ? part + int64_t(blockIdx.y) * p.M * p.N : nullptr;
  store_tile<BM>(p, pt, m0, nr, t, acc);
#endif  // QMM_SM90_WGMMA
}

// The float mode with a producer warpgroup: warpgroup NWG (one thread) loads each stage by TMA
// (X with the 128-byte swizzle the descriptor expects, the weight rows as they lie; both
// zero-filled past M, N and K by the copy engine) into the ring of S slots, signalled per slot
// on an mbarrier (`full`, transaction bytes); warpgroups 0 .. NWG - 1 wait on that barrier
// alone, run the dequantization and MMAs of gemm_sm90_kernel, and give a slot back (lane 0 of
// each warp on `empty`) once the MMAs that read it are complete. No block barrier in the loop
// and no copy instructions in the consumers: a warpgroup waits only for its data, and the
// producer runs up to S - 1 stages ahead. Tiles as gemm_sm90_kernel's: BM = 256 on 2 consumer
// warpgroups, 32-128 on kWG. Registers (setmaxnreg): 24 for the producer, the rest of the
// block's launch allocation shared by the consumers (240 at NWG = 2, 112 at NWG = 4). tmx: X
// [M, K] (16-bit), box 64 k x BM rows; tmw: the weights [N, row bytes], box WR bytes x 64 NWG
// rows. Split K as gemm_sm90_kernel (blockIdx.y).
template <int NWG> struct WsRegs {
  static constexpr int kThreads = 128 * (NWG + 1);
  static constexpr int kCap = 65536 / kThreads / 8 * 8;  // the launch allocation per thread
  static constexpr int kProducer = 24;
  static constexpr int kConsumer = (kThreads * kCap - 128 * kProducer) / (128 * NWG) / 8 * 8;
  static_assert(NWG >= 2 && kConsumer <= 256, "setmaxnreg range");
};
template <class T, int BITS, int BM, int NWG>
__global__ void __launch_bounds__(WsRegs<NWG>::kThreads, 1)
    gemm_sm90_ws_kernel(const __grid_constant__ CUtensorMap tmx,
                        const __grid_constant__ CUtensorMap tmw, KParams p, float* part,
                        int stages_per_split) {
#ifdef QMM_SM90_WGMMA
  using C = Sm90Cfg<BITS, BM, NWG>;
  using R = WsRegs<NWG>;
  constexpr int kBN = C::kBN, ACC = BM / 2, kXS = C::XS, S = C::kStages;
  extern __shared__ uint8_t smem_raw[];
  const uint32_t raw_addr = static_cast<uint32_t>(__cvta_generic_to_shared(smem_raw));
  uint8_t* smem = smem_raw + (((raw_addr + 1023) & ~1023u) - raw_addr);
  const uint32_t sbase = (raw_addr + 1023) & ~1023u;
  const uint32_t full0 = sbase + S * C::kStageBytes;  // full[s] = full0 + 8 s
  const uint32_t empty0 = full0 + 8 * S;              // empty[s] = empty0 + 8 s

  const int tid = threadIdx.x;
  const int lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, t = lane & 3;
  int64_t m0, n0;
  tile_origin<BM, kBN>(p, m0, n0);
  const int nk_all = int((p.K + kBK - 1) / kBK);
  const int kt0 = int(blockIdx.y) * stages_per_split;
  const int nk = min(nk_all - kt0, stages_per_split);

  init_ring<S, 4 * NWG>(tid, full0, empty0);

  if (warp >= 4 * NWG) {  // the producer warpgroup
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(R::kProducer) : "memory");
    if (tid == 128 * NWG) {
      int slot = 0;
      uint32_t phase = 0;  // of the slot's barriers in this round of the ring
      for (int j = 0; j < nk; ++j) {
        if (j >= S) mbar_wait(empty0 + 8 * slot, phase ^ 1);  // the previous round's release
        const uint32_t st = sbase + slot * C::kStageBytes, bar = full0 + 8 * slot;
        mbar_expect_tx(bar, C::kStageBytes);
        tma_load_2d(st, &tmx, (kt0 + j) * kBK, int(m0), bar);
        tma_load_2d(st + kXS, &tmw, (kt0 + j) * C::WR, int(n0), bar);
        if (++slot == S) {
          slot = 0;
          phase ^= 1;
        }
      }
    }
    return;
  }
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(R::kConsumer) : "memory");

  const int r0 = 16 * warp + g;
  const int gsteps = int(p.gs / 32);
  const int64_t step0 = int64_t(kt0) * (kBK / 32);
  int64_t grp = step0 / gsteps;
  int in_grp = int(step0 % gsteps);
  const int64_t nr[2] = {n0 + r0, n0 + r0 + 8};
  Deq<T> deq[2];
  float pf_s[2];
  int pf_z[2];
  auto load_pf = [&](int64_t gi) { group_params(p, nr, gi, pf_s, pf_z); };
  load_pf(grp);
  bool fresh = true;  // the split's first step loads its group even mid-group
  const uint32_t gsel = uint32_t(t) | (uint32_t(t + 4) << 4);
  const uint32_t wrow0 = uint32_t(kXS + r0 * C::WR);
  const uint64_t desc0 = desc_sw128(sbase);

  float acc[ACC];
#pragma unroll
  for (int i = 0; i < ACC; ++i) acc[i] = 0.0f;
  uint32_t a0[2][4], a1[2][4];
  int slot = 0, prev = S - 1;
  uint32_t phase = 0;
  for (int i = 0; i < nk; ++i) {
    mbar_wait(full0 + 8 * slot, phase);
    const uint8_t* ws = smem + slot * C::kStageBytes + wrow0;
    const uint64_t desc = desc0 + uint64_t((slot * C::kStageBytes) >> 4);
#pragma unroll
    for (int hs = 0; hs < 2; ++hs) {  // 32-k steps = commit groups, as gemm_sm90_kernel
      uint32_t (&a)[2][4] = hs == 0 ? a0 : a1;
      if (in_grp == 0 || fresh) {
#pragma unroll
        for (int h = 0; h < 2; ++h) deq[h].init(pf_s[h], pf_z[h]);
        load_pf(grp + 1);
        fresh = false;
      }
      frag_step<T, BITS, true, C::WR>(ws, hs, t, gsel, deq, a);
      if (++in_grp == gsteps) {
        in_grp = 0;
        ++grp;
      }
      step_mma<T, ACC>(acc, a, desc, hs, true);
      wgmma_wait<1>();  // the group before this one is done: its fragment registers are free
      fence_acc(acc);
      // at hs = 0 that group was stage i - 1's last: its slot goes back to the producer
      if (hs == 0 && i > 0 && lane == 0) mbar_arrive(empty0 + 8 * prev);
    }
    prev = slot;
    if (++slot == S) {
      slot = 0;
      phase ^= 1;
    }
  }
  wgmma_wait<0>();
  fence_acc(acc);
  float* pt = part ? part + int64_t(blockIdx.y) * p.M * p.N : nullptr;
  store_tile<BM>(p, pt, m0, nr, t, acc);
#endif  // QMM_SM90_WGMMA
}

// The int8 mode on the int8 tensor cores, groups of 128 (gemm_sm90_s8_kernel): tile 128 weight
// rows x 128 X rows x 128 k per stage (= one group), a producer warpgroup (TMA: q, the weight
// rows, the stage's sx and sum_q) and 2 consumer warpgroups of 64 weight rows, each issuing per
// stage 4 wgmma.m64n128k32 (s32 accumulate) with the weights as the register operand: int8 rows
// as they are (s8), int4 rows as the unsigned nibbles u = w + 8 (u8, no conversion). q is
// stored permuted per 128-k block (QLayout::kInt8Sm90) so that the 4 weights of a fragment
// register (int4: from one 16-byte load per row and stage) meet their activations.
// The exact group sum  sum_k q (w - zp) = sum_k q * A - c * sum_q  (A = u, c = 8 + zp for int4;
// A = w, c = zp for int8) accumulates onto the preloaded int32 2^23 + 2^22 - c * sum_q, so the
// accumulator's bits read as fp32 are 1.5 * 2^23 + the sum exactly (|sum| < 2^22: <= 128 * 127 *
// (15 + 135) for int4, 128 * 127 * 256 for int8): no int -> float conversion (a quarter-rate
// pipe). Fold per group: acc = fma(bits - 1.5 * 2^23, sx[m] * s[n], acc), then the next group's
// preload, then the stage goes back to the producer.
// Measured (2026-12-03, H200, gpu_check bench, g128 + zp, (8192, 8192) / (28672, 8192)): M =
// 4096 W4 485 / 547 TFLOP/s, W8 466 / 523 (the fp16-exact wgmma kernel: 282 / 303, 268 / 286);
// M = 64 (64-row tiles) W4 211 / 315, W8 186 / 299 (fp16-exact: 149 / 191, 133 / 172).
// The consumer warpgroups' ping-pong (see the kernel) then took M = 4096 from 486 / 549 to
// 506 / 575 (W4) and 467 / 523 to 494 / 562 (W8); M = 256 and 1024 gained 2-9 % as well
// (2026-12-04, same command and machine, old and new library side by side).
// Not kept: 256 weight rows x 64 X rows per tile (two m64 tiles per warpgroup, so each thread
// loads half the sx / sum_q per accumulator) read 405 / 455 at M = 4096 but 175 / 321 at M =
// 64 (the 128-row tile alone, before the 64-row one: 161 / 213); the X rows in two m64n64
// halves, so one half's fold runs under the other's MMAs, 267 / 288 (with 4-way bank conflicts
// on its sx loads). ncu (the 256 x 64 tile, M = 4096): issue slots 51 % busy, 0.74 of 2.2
// warps eligible per scheduler, L1 / shared 56 %: latency-bound, 2 consumer warps per
// scheduler.
constexpr int kS8BK = 128;  // k per stage (one group)
constexpr int kS8BN = 128;  // weight rows per tile
constexpr int kS8R = int(kInt8Sm90Rows);  // X rows per block of the sx / sum_q layout
// BM X rows per tile: 128, or 64 for M <= 64 (so small M does not multiply rows of zeros).
template <int BITS, int BM> struct S8Cfg {
  static_assert(BM == 64 || BM == 128, "tile rows");
  static constexpr int XS = BM * kS8BK;           // q bytes per stage
  static constexpr int WR = kS8BK * BITS / 8;     // weight row bytes per stage
  static constexpr int WS = kS8BN * WR;
  static constexpr int QS = BM * 8;               // sx[BM], sum_q[BM]
  static constexpr int kStages =
      200 * 1024 / (XS + WS + QS) < 8 ? 200 * 1024 / (XS + WS + QS) : 8;
  static constexpr int kSmem = kStages * (XS + WS + QS) + 16 * kStages + 1024;
};

#ifdef QMM_SM90_WGMMA
#define QMM_R8(b)                                                                       \
  "+r"(d[b]), "+r"(d[b + 1]), "+r"(d[b + 2]), "+r"(d[b + 3]), "+r"(d[b + 4]), "+r"(d[b + 5]), \
      "+r"(d[b + 6]), "+r"(d[b + 7])
// D[64 x N] (s32) += A[64 x 32] (registers; u8 for BITS = 4, s8 for 8) * B[32 x N] (s8,
// shared, descriptor), N = 2 * ACC = 128 or 64.
#define QMM_WGMMA_S8_128(AT)                                                                 \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"                                  \
               "wgmma.mma_async.sync.aligned.m64n128k32.s32." AT ".s8 " QMM_WGMMA_D64        \
               ", {%64, %65, %66, %67}, %68, p;\n}\n"                                         \
               : QMM_R8(0), QMM_R8(8), QMM_R8(16), QMM_R8(24), QMM_R8(32), QMM_R8(40),      \
                 QMM_R8(48), QMM_R8(56)                                                     \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1))
#define QMM_WGMMA_S8_64(AT)                                                                  \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"                                  \
               "wgmma.mma_async.sync.aligned.m64n64k32.s32." AT ".s8 " QMM_WGMMA_D32         \
               ", {%32, %33, %34, %35}, %36, p;\n}\n"                                         \
               : QMM_R8(0), QMM_R8(8), QMM_R8(16), QMM_R8(24)                              \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1))
template <int BITS, int ACC>
__device__ __forceinline__ void wgmma_s8(uint32_t (&d)[ACC], const uint32_t (&a)[4],
                                         uint64_t desc) {
  if constexpr (ACC == 64) {
    if constexpr (BITS == 4)
      QMM_WGMMA_S8_128("u8");
    else
      QMM_WGMMA_S8_128("s8");
  } else {
    static_assert(ACC == 32, "m64n64 or m64n128");
    if constexpr (BITS == 4)
      QMM_WGMMA_S8_64("u8");
    else
      QMM_WGMMA_S8_64("s8");
  }
}
template <int N> __device__ __forceinline__ void fence_acc(uint32_t (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+r"(d[i])::"memory");
}
#endif  // QMM_SM90_WGMMA

// tmx: q [M, K] int8, box 128 k x BM rows, 128-byte swizzle; tmw: the weights [N, row bytes],
// box WR x 128 rows (int8: 128-byte swizzle, so the fragment loads of 8 rows hit distinct
// banks); tmq: QLayout::kInt8Sm90's sx / sum_q blocks as rows of 256 words (tiles_m = ldsx / 128
// rows per group), box BM x 1 (the tile's sx, then its sum_q). Split K as gemm_sm90_kernel
// (blockIdx.y, whole stages).
template <int BITS, int BM>
__global__ void __launch_bounds__(384, 1)
    gemm_sm90_s8_kernel(const __grid_constant__ CUtensorMap tmx,
                        const __grid_constant__ CUtensorMap tmw,
                        const __grid_constant__ CUtensorMap tmq, KParams p, int tiles_m,
                        float* part, int stages_per_split) {
#ifdef QMM_SM90_WGMMA
  using C = S8Cfg<BITS, BM>;
  constexpr int S = C::kStages, XS = C::XS, WS = C::WS, QS = C::QS, WR = C::WR, ACC = BM / 2;
  constexpr uint32_t kMagicI = 0x4B400000u;  // 1.5 * 2^23 as fp32
  constexpr float kMagicF = 12582912.0f;
  extern __shared__ uint8_t smem_raw[];
  const uint32_t raw_addr = static_cast<uint32_t>(__cvta_generic_to_shared(smem_raw));
  uint8_t* smem = smem_raw + (((raw_addr + 1023) & ~1023u) - raw_addr);
  const uint32_t sbase = (raw_addr + 1023) & ~1023u;
  const uint32_t wbase = S * XS, qbase = S * (XS + WS);  // offsets of the weight / sx slots
  const uint32_t full0 = sbase + S * (XS + WS + QS), empty0 = full0 + 8 * S;

  const int tid = threadIdx.x;
  const int lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, t = lane & 3;
  int64_t m0, n0;
  tile_origin<BM, kS8BN>(p, m0, n0);
  const int nk_all = int(p.K / kS8BK);
  const int kt0 = int(blockIdx.y) * stages_per_split;
  const int nk = min(nk_all - kt0, stages_per_split);

  init_ring<S>(tid, full0, empty0);

  if (warp >= 8) {  // the producer warpgroup
    asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\n" ::: "memory");
    if (tid == 256) {
      int slot = 0;
      uint32_t phase = 0;
      const int q0 = int(m0 / kS8R);  // the tile's row block of sx / sum_q in group kt0 + j
      const int qx0 = int(m0 % kS8R);  // and its first row in the block
      for (int j = 0; j < nk; ++j) {
        if (j >= S) mbar_wait(empty0 + 8 * slot, phase ^ 1);
        const uint32_t bar = full0 + 8 * slot;
        mbar_expect_tx(bar, XS + WS + QS);
        tma_load_2d(sbase + slot * XS, &tmx, (kt0 + j) * kS8BK, int(m0), bar);
        tma_load_2d(sbase + wbase + slot * WS, &tmw, (kt0 + j) * WR, int(n0), bar);
        tma_load_2d(sbase + qbase + slot * QS, &tmq, qx0, q0 + (kt0 + j) * tiles_m, bar);
        tma_load_2d(sbase + qbase + slot * QS + 4 * BM, &tmq, kS8R + qx0,
                    q0 + (kt0 + j) * tiles_m, bar);
        if (++slot == S) {
          slot = 0;
          phase ^= 1;
        }
      }
    }
    return;
  }
  asm volatile("setmaxnreg.inc.sync.aligned.u32 240;\n" ::: "memory");

  const int r0 = 16 * warp + g;  // rows r0 and r0 + 8 of the tile (warpgroup warp / 4)
  const uint64_t desc0 = desc_sw128(sbase);
  // The 4 steps' A fragments of stage `sl`: register (row r0 | r0 + 8) x (fragment k 4t..4t+3 |
  // 16 + 4t..16 + 4t + 3). int4: the 16 bytes at 16 t of each row, word s for step s (its low
  // nibbles the first k half, its high nibbles the second); int8: bytes 32 t + 8 s.. of each row
  // (16-byte chunks swizzled by the row's low 3 bits, which are g).
  auto unpack = [&](int sl, uint32_t (&a)[4][4]) {
    const uint8_t* wt = smem + wbase + sl * WS;
    if constexpr (BITS == 4) {
      const uint4 v0 = *reinterpret_cast<const uint4*>(wt + r0 * WR + 16 * t);
      const uint4 v1 = *reinterpret_cast<const uint4*>(wt + (r0 + 8) * WR + 16 * t);
      const uint32_t w0[4] = {v0.x, v0.y, v0.z, v0.w}, w1[4] = {v1.x, v1.y, v1.z, v1.w};
#pragma unroll
      for (int st = 0; st < 4; ++st) {  // 4 operations per word (lop3 takes one immediate)
        const uint32_t y0 = w0[st] ^ 0x88888888u, y1 = w1[st] ^ 0x88888888u;
        a[st][0] = y0 & 0x0F0F0F0Fu;
        a[st][1] = y1 & 0x0F0F0F0Fu;
        a[st][2] = (y0 >> 4) & 0x0F0F0F0Fu;
        a[st][3] = (y1 >> 4) & 0x0F0F0F0Fu;
      }
    } else {
      const uint8_t* p0 = wt + r0 * WR;
      const uint8_t* p1 = wt + (r0 + 8) * WR;
      const uint4 c00 = *reinterpret_cast<const uint4*>(p0 + 16 * ((2 * t) ^ g));
      const uint4 c01 = *reinterpret_cast<const uint4*>(p0 + 16 * ((2 * t + 1) ^ g));
      const uint4 c10 = *reinterpret_cast<const uint4*>(p1 + 16 * ((2 * t) ^ g));
      const uint4 c11 = *reinterpret_cast<const uint4*>(p1 + 16 * ((2 * t + 1) ^ g));
      a[0][0] = c00.x; a[0][1] = c10.x; a[0][2] = c00.y; a[0][3] = c10.y;
      a[1][0] = c00.z; a[1][1] = c10.z; a[1][2] = c00.w; a[1][3] = c10.w;
      a[2][0] = c01.x; a[2][1] = c11.x; a[2][2] = c01.y; a[2][3] = c11.y;
      a[3][0] = c01.z; a[3][1] = c11.z; a[3][2] = c01.w; a[3][3] = c11.w;
    }
  };
  // Weight scales and -c of group gi for the thread's two rows: offsets row * groups (row 0 for
  // rows past N, whose outputs are not stored; gemm_s8_sm90_ok keeps N * groups below 2^31), so
  // a group's parameters are 2 + 2 plain loads.
  int poff[2];
#pragma unroll
  for (int e = 0; e < 2; ++e) {
    const int64_t n = n0 + r0 + 8 * e;
    poff[e] = n < p.N ? int(n * p.groups) : 0;
  }
  auto params = [&](int gi, float (&sw)[2], int (&cz)[2]) {
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      sw[e] = __ldg(p.scales + (poff[e] + gi));
      cz[e] = -((BITS == 4 ? 8 : 0) + (p.zp ? int(__ldg(p.zp + (poff[e] + gi))) : 0));
    }
  };

  // acc[4 j + e]: weight row n0 + r0 + 8 (e >> 1), X row m0 + 8 j + 2 t + (e & 1) (store_tile's
  // order); iacc the int32 accumulators of the current group in the same order.
  float acc[ACC];
  uint32_t iacc[ACC];
#pragma unroll
  for (int i = 0; i < ACC; ++i) acc[i] = 0.0f;
  // iacc = magic - c[row e >> 1] * sum_q[X row] of slot sl (cz = -c).
  auto preload = [&](int sl, const int (&cz)[2]) {
    const int* sq = reinterpret_cast<const int*>(smem + qbase + sl * QS) + BM + 2 * t;
#pragma unroll
    for (int j = 0; j < BM / 8; ++j) {
      const int2 q = *reinterpret_cast<const int2*>(sq + 8 * j);
#pragma unroll
      for (int e = 0; e < 4; ++e)
        iacc[4 * j + e] = kMagicI + uint32_t(cz[e >> 1] * (e & 1 ? q.y : q.x));
    }
  };
  auto fold = [&](int sl, const float (&sw)[2]) {
    const float* sx = reinterpret_cast<const float*>(smem + qbase + sl * QS) + 2 * t;
#pragma unroll
    for (int j = 0; j < BM / 8; ++j) {
      const float2 v = *reinterpret_cast<const float2*>(sx + 8 * j);
#pragma unroll
      for (int e = 0; e < 4; ++e)
        acc[4 * j + e] = __fmaf_rn(__fsub_rn(__uint_as_float(iacc[4 * j + e]), kMagicF),
                                   __fmul_rn(e & 1 ? v.y : v.x, sw[e >> 1]), acc[4 * j + e]);
    }
  };

  // Ping-pong: the two consumer warpgroups issue their stage's MMAs in turns (named barrier
  // 1 + wg is warpgroup wg's turn: 128 threads of it wait there, the other warpgroup's 128
  // arrive once it has issued its own), so the tensor cores run one warpgroup's MMAs while the
  // other folds and preloads its group; in lockstep both folded at once with the MMAs idle.
  // Warpgroup 1 starts by handing warpgroup 0 the first turn and skips its last hand-over, so
  // every arrival meets its wait.
  const int wg = warp >> 2;
  auto turn_wait = [&]() { asm volatile("bar.sync %0, 256;" ::"r"(1 + wg) : "memory"); };
  auto turn_pass = [&]() { asm volatile("bar.arrive %0, 256;" ::"r"(2 - wg) : "memory"); };
  if (wg == 1) turn_pass();

  int slot = 0;
  uint32_t phase = 0;
  float sw[2];
  int cz[2];
  params(kt0, sw, cz);
  uint32_t A0[4][4], A1[4][4];
  mbar_wait(full0, 0);
  unpack(0, A0);
  preload(0, cz);
  // Stage i: its 4 MMAs, then (while they run) stage i + 1's fragments and group parameters,
  // then the fold of group i, the preload of group i + 1 and the slot's release.
  auto body = [&](int i, uint32_t (&ac)[4][4], uint32_t (&an)[4][4]) {
    const uint64_t desc = desc0 + uint64_t((slot * XS) >> 4);
#pragma unroll
    for (int st = 0; st < 4; ++st) fence_acc(ac[st]);  // fragments complete before the fence
    fence_acc(iacc);
    turn_wait();
    wgmma_fence();
#pragma unroll
    for (int st = 0; st < 4; ++st) wgmma_s8<BITS, ACC>(iacc, ac[st], desc + uint64_t(2 * st));
    wgmma_commit();
    if (wg == 0 || i + 1 < nk) turn_pass();
    const int ns = slot + 1 == S ? 0 : slot + 1;
    const uint32_t nph = ns == 0 ? phase ^ 1 : phase;
    const bool more = i + 1 < nk;
    float swn[2] = {0.0f, 0.0f};
    int czn[2] = {0, 0};
    if (more) {
      params(kt0 + i + 1, swn, czn);
      mbar_wait(full0 + 8 * ns, nph);
      unpack(ns, an);
    }
    wgmma_wait<0>();
    fence_acc(iacc);
    fold(slot, sw);
    if (more) preload(ns, czn);
    __syncwarp();
    if (lane == 0) mbar_arrive(empty0 + 8 * slot);
    sw[0] = swn[0];
    sw[1] = swn[1];
    slot = ns;
    phase = nph;
  };
  int i = 0;
  for (; i + 1 < nk; i += 2) {
    body(i, A0, A1);
    body(i + 1, A1, A0);
  }
  if (i < nk) body(i, A0, A1);
  float* pt = part ? part + int64_t(blockIdx.y) * p.M * p.N : nullptr;
  const int64_t nr[2] = {n0 + r0, n0 + r0 + 8};
  store_tile<BM>(p, pt, m0, nr, t, acc);
#endif  // QMM_SM90_WGMMA
}

// Y = sum of the split partials in split order (deterministic), row_scale applied.
__global__ void splitk_reduce(KParams p, const float* part, int splits) {
  const int64_t total = p.M * p.N;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    float v = part[i];
    for (int s = 1; s < splits; ++s) v += part[s * total + i];
    const int64_t m = i / p.N, n = i % p.N;
    store_y(p.y, m * p.ldy + n, p.yt, p.row_scale ? v * p.row_scale[m] : v);
  }
}

// X tile rows by M (the narrowest wgmma N that holds M, from 16 up to 128; the int8 mode's
// 128-row tiles, with its second set of accumulators, on 2 warpgroups of 128 weight rows), and
// splits of K: one when the tiles fill the SMs, else as many as fit one wave, `per` stages each
// (>= 8 stages, 512 k; the last split takes what is left, possibly fewer; int8: `per` a whole
// number of groups).
struct Plan {
  int bm, splits, stages;
};
// Warpgroups per block for an X tile of bm rows: 2 for 256 rows and for the int8 mode's 128
// (its second set of accumulators), else kWG.
constexpr int nwg_of(int bm, bool int8) { return bm == 256 || (int8 && bm == 128) ? 2 : kWG; }

Plan plan(const KParams& p, int num_sms, bool int8) {
  const int bm = p.M <= 16 ? 16 : p.M <= 32 ? 32 : p.M <= 64 ? 64 : (p.M <= 128 || int8) ? 128 : 256;
  const int64_t bn = 64 * nwg_of(bm, int8);
  const int64_t tiles = ((p.M + bm - 1) / bm) * ((p.N + bn - 1) / bn);
  const int nk = int((p.K + kBK - 1) / kBK);
  int64_t sp = tiles >= num_sms ? 1 : num_sms / tiles;
  sp = std::min<int64_t>(sp, std::max(1, nk / 8));
  sp = std::min<int64_t>(sp, 16);
  int per = int((nk + sp - 1) / sp);
  if (int8) {  // stages per split a multiple of lcm(64, gs) / 64
    int64_t a = p.gs, b = kBK;
    while (b) { const int64_t r = a % b; a = b; b = r; }
    const int unit = int(p.gs / a);
    per = std::min(nk, (per + unit - 1) / unit * unit);
  }
  return {bm, int((nk + per - 1) / per), per};
}

// The float mode runs on the producer-warpgroup kernel (where its tensor maps encode);
// QMM_CUDA_GEMM=cp-async in the environment keeps it on gemm_sm90_kernel (tests and
// side-by-side timings).
bool producer_kernel_wanted() {
  const char* e = std::getenv("QMM_CUDA_GEMM");
  return !(e && std::strcmp(e, "cp-async") == 0);
}

template <class T, int BITS, int BM, bool INT8, int NWG = kWG>
cudaError_t launch_bm(const KParams& p, Plan pl, void* ws, size_t ws_bytes, int num_sms,
                      cudaStream_t s, const float* sxt, int64_t ldsx) {
  using C = Sm90Cfg<BITS, BM, NWG>;
  auto kernel = gemm_sm90_kernel<T, BITS, BM, INT8, NWG>;
  const int smem = C::kSmem + (INT8 ? C::kStages * 2 * BM * 4 : 0);  // + INT8's sx slots
  const cudaError_t attr = opt_in_smem<gemm_sm90_kernel<T, BITS, BM, INT8, NWG>>(smem);
  if (attr != cudaSuccess) return attr;
  const int64_t tiles = ((p.M + BM - 1) / BM) * ((p.N + C::kBN - 1) / C::kBN);
  if (tiles > 0x7fffffff) return cudaErrorInvalidConfiguration;
  if (pl.splits > 1 && (!ws || ws_bytes < size_t(pl.splits) * size_t(p.M * p.N) * 4))
    pl = {BM, 1, int((p.K + kBK - 1) / kBK)};  // no workspace (e.g. under capture): one split
  float* part = pl.splits > 1 ? static_cast<float*>(ws) : nullptr;
  const dim3 grid(unsigned(tiles), unsigned(pl.splits));
  bool done = false;
  // The producer-warpgroup kernel where its maps encode; not for the 16-row tiles (M <= 16 only
  // reaches the GEMM where N * groups is past the decode kernels' index range: never tested).
  if constexpr (!INT8 && BM >= 32) {
    CUtensorMap tmx, tmw;
    if (producer_kernel_wanted() && p.M < (int64_t(1) << 31) && p.N < (int64_t(1) << 31) &&
        p.K < (int64_t(1) << 30) &&
        tensor_map_2d(&tmx, CU_TENSOR_MAP_DATA_TYPE_UINT16, p.x, uint64_t(p.K), uint64_t(p.M),
                      uint64_t(p.ldx) * 2, kBK, BM, CU_TENSOR_MAP_SWIZZLE_128B) &&
        tensor_map_2d(&tmw, CU_TENSOR_MAP_DATA_TYPE_UINT8, p.w, uint64_t(p.K * BITS / 8),
                      uint64_t(p.N), uint64_t(p.row_bytes), C::WR, C::kBN,
                      CU_TENSOR_MAP_SWIZZLE_NONE)) {
      const int wsmem = C::kSmem + 256;  // + the 2 S mbarriers after the stages
      const cudaError_t a2 = opt_in_smem<gemm_sm90_ws_kernel<T, BITS, BM, NWG>>(wsmem);
      if (a2 != cudaSuccess) return a2;
      gemm_sm90_ws_kernel<T, BITS, BM, NWG><<<grid, WsRegs<NWG>::kThreads, wsmem, s>>>(
          tmx, tmw, p, part, pl.stages);
      done = true;
    }
  }
  if (!done) kernel<<<grid, C::kThreads, smem, s>>>(p, part, pl.stages, sxt, ldsx);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess || !part) return e;
  const int64_t blocks = std::min<int64_t>((p.M * p.N + 255) / 256, 8 * int64_t(num_sms));
  splitk_reduce<<<unsigned(blocks), 256, 0, s>>>(p, part, pl.splits);
  return cudaGetLastError();
}

// The plan's tile kernel (int8: T = __half, X the exact fp16 q, sxt its transposed sx).
template <class T, int BITS, bool INT8>
cudaError_t launch_plan(const KParams& p, int num_sms, void* ws, size_t ws_bytes, cudaStream_t s,
                        const float* sxt, int64_t ldsx) {
  const Plan pl = plan(p, num_sms, INT8);
  switch (pl.bm) {
    case 16:
      return launch_bm<T, BITS, 16, INT8, nwg_of(16, INT8)>(p, pl, ws, ws_bytes, num_sms, s, sxt, ldsx);
    case 32:
      return launch_bm<T, BITS, 32, INT8, nwg_of(32, INT8)>(p, pl, ws, ws_bytes, num_sms, s, sxt, ldsx);
    case 64:
      return launch_bm<T, BITS, 64, INT8, nwg_of(64, INT8)>(p, pl, ws, ws_bytes, num_sms, s, sxt, ldsx);
    case 128:
      return launch_bm<T, BITS, 128, INT8, nwg_of(128, INT8)>(p, pl, ws, ws_bytes, num_sms, s, sxt,
                                                              ldsx);
    default:
      if constexpr (INT8)
        return cudaErrorInvalidConfiguration;  // plan() caps the int8 mode's tiles at 128 rows
      else
        return launch_bm<T, BITS, 256, false, nwg_of(256, false)>(p, pl, ws, ws_bytes, num_sms, s,
                                                                  nullptr, 0);
  }
}

// Bytes of split-K partial sums the plan wants (0: unsplit).
size_t split_bytes(const KParams& p, int num_sms, bool int8) {
  const Plan pl = plan(p, num_sms, int8);
  return pl.splits > 1 ? size_t(pl.splits) * size_t(p.M * p.N) * 4 : 0;
}

// gemm_sm90_s8_kernel's tile rows and splits of K (whole stages), as plan() for its 128-row
// weight tiles.
Plan s8_plan(const KParams& p, int num_sms) {
  const int bm = p.M <= 64 ? 64 : 128;
  const int64_t tiles = ((p.M + bm - 1) / bm) * ((p.N + kS8BN - 1) / kS8BN);
  const int nk = int(p.K / kS8BK);
  int64_t sp = tiles >= num_sms ? 1 : num_sms / tiles;
  sp = std::min<int64_t>(sp, std::max(1, nk / 8));
  sp = std::min<int64_t>(sp, 16);
  const int per = int((nk + sp - 1) / sp);
  return {bm, (nk + per - 1) / per, per};
}

template <int BITS, int BM>
cudaError_t launch_s8(const KParams& p, Plan pl, const float* sxq, int64_t tiles_m, int num_sms,
                      void* ws, size_t ws_bytes, cudaStream_t s) {
  using C = S8Cfg<BITS, BM>;
  const int64_t tiles = ((p.M + BM - 1) / BM) * ((p.N + kS8BN - 1) / kS8BN);
  if (tiles > 0x7fffffff) return cudaErrorInvalidConfiguration;
  if (pl.splits > 1 && (!ws || ws_bytes < size_t(pl.splits) * size_t(p.M * p.N) * 4))
    pl = {BM, 1, int(p.K / kS8BK)};
  CUtensorMap tmx, tmw, tmq;
  if (!tensor_map_2d(&tmq, CU_TENSOR_MAP_DATA_TYPE_UINT32, sxq, 2 * kS8R,
                     uint64_t(p.groups * tiles_m), 8 * kS8R, BM, 1,
                     CU_TENSOR_MAP_SWIZZLE_NONE) ||
      !tensor_map_2d(&tmx, CU_TENSOR_MAP_DATA_TYPE_UINT8, p.x, uint64_t(p.K), uint64_t(p.M),
                     uint64_t(p.K), kS8BK, BM, CU_TENSOR_MAP_SWIZZLE_128B) ||
      !tensor_map_2d(&tmw, CU_TENSOR_MAP_DATA_TYPE_UINT8, p.w, uint64_t(p.K * BITS / 8),
                     uint64_t(p.N), uint64_t(p.row_bytes), C::WR, kS8BN,
                     BITS == 8 ? CU_TENSOR_MAP_SWIZZLE_128B : CU_TENSOR_MAP_SWIZZLE_NONE))
    return cudaErrorInvalidValue;  // gemm_s8_sm90_ok checked what the encoder needs
  const cudaError_t attr = opt_in_smem<gemm_sm90_s8_kernel<BITS, BM>>(C::kSmem);
  if (attr != cudaSuccess) return attr;
  float* part = pl.splits > 1 ? static_cast<float*>(ws) : nullptr;
  gemm_sm90_s8_kernel<BITS, BM><<<dim3(unsigned(tiles), unsigned(pl.splits)), 384, C::kSmem, s>>>(
      tmx, tmw, tmq, p, int(tiles_m), part, pl.stages);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess || !part) return e;
  const int64_t blocks = std::min<int64_t>((p.M * p.N + 255) / 256, 8 * int64_t(num_sms));
  splitk_reduce<<<unsigned(blocks), 256, 0, s>>>(p, part, pl.splits);
  return cudaGetLastError();
}

}  // namespace sm90
}  // namespace

bool gemm_sm90_available() {
  // The kernels hold wgmma code only in their sm_90a build, which runs on compute capability
  // 9.0 alone. There cudaFuncGetAttributes reads PTX and binary version 90, but so does a plain
  // sm_90 build (QMM_CUDA_ARCHITECTURES with 90 and no 90a), whose kernel body is empty; the
  // real kernel needs 80+ registers, an empty one a handful, so that is checked too. A JIT of
  // the sm_80 PTX reads PTX version 80. Cached per device.
  static std::atomic<signed char> state[64];  // 0 unknown, 1 yes, -1 no
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) {
    cudaGetLastError();
    return false;
  }
  if (state[dev].load(std::memory_order_acquire) == 0) {
    cudaFuncAttributes a;
    int major = 0, minor = 0;
    const bool ok =
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess &&
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) == cudaSuccess &&
        major == 9 && minor == 0 &&
        cudaFuncGetAttributes(&a, sm90::gemm_sm90_kernel<__half, 4, 128, false, sm90::kWG>) ==
            cudaSuccess &&
        a.ptxVersion == 90 && a.binaryVersion == 90 && a.numRegs >= 32;
    cudaGetLastError();
    state[dev].store(ok ? 1 : -1, std::memory_order_release);
  }
  return state[dev].load(std::memory_order_acquire) == 1;
}

size_t gemm_float_sm90_workspace(const KParams& p, int num_sms) {
  return sm90::split_bytes(p, num_sms, false);
}

size_t gemm_int8_sm90_workspace(const KParams& p, int num_sms) {
  return sm90::split_bytes(p, num_sms, true);
}

bool gemm_s8_sm90_ok(const KParams& p) {
  const char* e = std::getenv("QMM_CUDA_INT8");
  if (e && std::strcmp(e, "fp16") == 0) return false;  // A/B timings and tests of the fp16 path
  return p.gs == sm90::kS8BK && p.K > 0 && p.K % sm90::kS8BK == 0 && p.M < (int64_t(1) << 31) &&
         p.N < (int64_t(1) << 31) && p.K < (int64_t(1) << 31) &&
         reinterpret_cast<uintptr_t>(p.w) % 16 == 0 && p.row_bytes % 16 == 0 &&
         p.groups * ((p.M + sm90::kS8R - 1) / sm90::kS8R) < (int64_t(1) << 31) &&
         p.N * p.groups < (int64_t(1) << 31) &&
         sm90::encoder() != nullptr && gemm_sm90_available();
}

size_t gemm_s8_sm90_workspace(const KParams& p, int num_sms) {
  const sm90::Plan pl = sm90::s8_plan(p, num_sms);
  return pl.splits > 1 ? size_t(pl.splits) * size_t(p.M * p.N) * 4 : 0;
}

cudaError_t launch_gemm_s8_sm90(const KParams& p, const float* sxq, int64_t ldsx, int num_sms,
                                void* ws, size_t ws_bytes, cudaStream_t s) {
  using namespace sm90;
  const Plan pl = s8_plan(p, num_sms);
  const int64_t tm = ldsx / kS8R;
  if (pl.bm == 64)
    return p.bits == 4 ? launch_s8<4, 64>(p, pl, sxq, tm, num_sms, ws, ws_bytes, s)
                       : launch_s8<8, 64>(p, pl, sxq, tm, num_sms, ws, ws_bytes, s);
  return p.bits == 4 ? launch_s8<4, 128>(p, pl, sxq, tm, num_sms, ws, ws_bytes, s)
                     : launch_s8<8, 128>(p, pl, sxq, tm, num_sms, ws, ws_bytes, s);
}

cudaError_t launch_gemm_int8_sm90(const KParams& p, const float* sxt, int64_t ldsx, int num_sms,
                                  void* ws, size_t ws_bytes, cudaStream_t s) {
  using namespace sm90;
  return p.bits == 4 ? launch_plan<__half, 4, true>(p, num_sms, ws, ws_bytes, s, sxt, ldsx)
                     : launch_plan<__half, 8, true>(p, num_sms, ws, ws_bytes, s, sxt, ldsx);
}

cudaError_t launch_gemm_float_sm90(const KParams& p, int num_sms, void* ws, size_t ws_bytes,
                                   cudaStream_t s) {
  using namespace sm90;
  if (p.xt == 1)
    return p.bits == 4 ? launch_plan<__nv_bfloat16, 4, false>(p, num_sms, ws, ws_bytes, s, nullptr, 0)
                       : launch_plan<__nv_bfloat16, 8, false>(p, num_sms, ws, ws_bytes, s, nullptr, 0);
  return p.bits == 4 ? launch_plan<__half, 4, false>(p, num_sms, ws, ws_bytes, s, nullptr, 0)
                     : launch_plan<__half, 8, false>(p, num_sms, ws, ws_bytes, s, nullptr, 0);
}

}  // namespace cuda
}  // namespace qmm
