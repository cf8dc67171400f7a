// cuda float-mode decode kernel (M <= 16): cuda_float_gemv_w4w8.
//
// Layout read: canonical weights (int8 [N, K], or int4 two per byte, low nibble = even k), fp32
// scales / int8 zero points [N, K/group_size], X fp16/bf16 with row stride ldx (fp32 X arrives
// as a row-scaled fp16 copy, KParams::row_scale).
// Requires group_size % 32 == 0 and a 16-byte aligned weight pointer.
//
// Tensor cores with swapped operands: mma.m16n8k16 A = 16 weight rows (n), B = X^T (8 rows of
// X, two B tiles when M > 8), so M = 1 wastes MMA throughput but no memory bandwidth.
// Block: 256 threads = 8 warps on the same 16 weight rows; warp w takes the 128-k chunks
// w, w+8, ... (whole K per block: no atomics, no workspace); the 8 partial tiles are summed in
// shared memory in warp order (deterministic). Per chunk a thread streams one (int4) or two
// (int8) 16-byte loads per weight row (rows g and g+8 of the tile), coalesced 64/128 bytes per
// row per quad, 2 (int4) / 1 (int8) further chunks' weights, scales and zero points in flight.
// Inner loop per 32-bit weight word: 4-bit: 1 shift, 4 lop3, 4 hsub2/hfma2 (+4 hmul2 when the
// scale is folded in) for 8 weights; 8-bit: 2 x (prmt, hsub2 [, hmul2]) for 4 weights; then
// 2 (bits=4) / 1 (bits=8) mma per word and row pair, in two independent accumulator chains.
// group_size % 128 == 0: mma on the exact q - zp, fp32 scale on each chunk's partial sums;
// otherwise the scale is folded into the fp16/bf16 weight (one rounding).
// Measured (H100 80GB, 2026-11-23, fp16, g128 + zp, (28672, 8192)): W4 M=1 77.8 us = 54% of the
// 3.0 TB/s copy bandwidth, 2.35x cuBLAS fp16; W4 M=16 37.6%, 1.74x; W8 M=1 81%, 1.83x.
// Bound by instructions/latency per 32 weights (ncu: 25% occupancy, ~53% issue): see
// tests/gpu/README.md.
//
// int8 mode (Q8, cuda_int8_gemv): the same kernel with the quantized activations q (int8,
// natural order, launch_quantize_x) as B, converted to fp16 exactly, and group_size == 128, so
// each 128-k chunk is one group: the fp16 mma with fp32 accumulation on the exact integers
// q and (w - zp) gives the exact int32 group sum (|sum| <= 128 * 127 * 255 < 2^24), and the
// epilogue adds sx[m, g] * scale[n, g] * sum per group (fp32, fixed order). H200, qmm_bench,
// 2026-12-01: W4 70B.up M=1 81.4 us (the 16x32-tile int8 GEMM it replaces: 213 us), M=16
// 103 us (217 us); 70B.down M=1 78.8 us (318 us); W8 M=1 84-85 us (174 / 311 us).
#include <cooperative_groups.h>

#include "cuda/cuda_common.cuh"
#include "cuda/cuda_kernels.h"

namespace cg = cooperative_groups;

namespace qmm {
namespace cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kChunk = 128;  // k per quad per step: 4 threads x 32 k

template <int XT> struct XType { using T = __half; };
template <> struct XType<1> { using T = __nv_bfloat16; };

// 32 consecutive fp16/bf16 activations of one row as 16 natural pairs.
__device__ __forceinline__ void load_x32(const void* x, int64_t off, bool vec, uint32_t out[16]) {
  const uint16_t* p = static_cast<const uint16_t*>(x) + off;
  if (vec) {
    const uint4* q = reinterpret_cast<const uint4*>(p);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint4 v = __ldg(q + i);
      out[4 * i] = v.x;
      out[4 * i + 1] = v.y;
      out[4 * i + 2] = v.z;
      out[4 * i + 3] = v.w;
    }
  } else {
#pragma unroll
    for (int i = 0; i < 16; ++i) out[i] = uint32_t(p[2 * i]) | (uint32_t(p[2 * i + 1]) << 16);
  }
}

// 32 consecutive quantized activations (int8, 32-byte aligned) as 16 natural pairs of exact fp16.
__device__ __forceinline__ void load_q32(const int8_t* q, uint32_t out[16]) {
  const uint4* p = reinterpret_cast<const uint4*>(q);
  const uint4 a = __ldg(p), b = __ldg(p + 1);
  const uint32_t w[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
  const __half2 bias = as_h2(0x64806480u);  // 1024 + 128
#pragma unroll
  for (int j = 0; j < 8; ++j) {
    const uint32_t u = w[j] ^ 0x80808080u;  // q + 128 in [1, 255]
    out[2 * j] = as_u32(__hsub2(as_h2(prmt(u, 0x64646464u, 0x7150)), bias));
    out[2 * j + 1] = as_u32(__hsub2(as_h2(prmt(u, 0x64646464u, 0x7352)), bias));
  }
}

// Weights go global -> shared memory by cp.async in stages of 1024 k (8 warps x 128 k) of the
// block's 16 rows: each warp instruction copies 512 contiguous bytes of one row (the decode
// probe, tests/gpu/decode_probe.cu: a 16-byte-per-thread fragment-order read reaches 2.2-2.5
// TB/s on the H200 at two blocks per SM, 512-byte contiguous pieces 3.3-3.5 TB/s), no register
// holds a weight in flight, and the kernel fits 4 blocks per SM (one wave for N = 8192).
// Shared row stride: 64 (int4) / 16 (int8) bytes of padding make the fragment reads (LDS.128,
// rows g and g+8 at 16 t / 32 t) conflict-free.
template <int BITS> struct Stage {
  static constexpr int kRowBytes = kWarps * kChunk * BITS / 8;  // 512 / 1024 bytes per row
  static constexpr int kStride = kRowBytes + (BITS == 4 ? 64 : 16);
  static constexpr int kBytes = 16 * kStride;
  static constexpr int kPieces = 16 * kRowBytes / 16 / (kWarps * 32);  // cp.async per thread
  static constexpr int kPerRow = kRowBytes / 16;                      // 16-byte pieces per row
  // Stages in the ring (2 or 3 in flight while one is read): 36 / 49 KB per block.
  static constexpr int kRing = BITS == 4 ? 4 : 3;
  static constexpr int kSmem = kRing * kBytes;
};

template <int BITS>
struct WRaw {
  uint4 v[BITS == 4 ? 1 : 2];
};

constexpr int kRows = 2;  // weight rows per thread: g and g+8 of the block's 16-row tile

// A chunk's scales and zero points for a thread's two rows, loaded kSzAhead stages ahead.
struct SZ {
  float s[kRows];
  int z[kRows];
};

// 16-byte cp.async to a shared-memory address (zero-filled when !valid).
__device__ __forceinline__ void cp_async16_s(uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src),
               "r"(valid ? 16 : 0));
}

// SA (scale after): group_size % 128 == 0, so a whole 128-k chunk of the quad lies in one
// group; the mma then runs on the exact integers q - zp and the fp32 scale is applied to the
// chunk's partial sums (one FFMA per accumulator instead of one hmul2 per weight pair).
// Index arithmetic is 32-bit off per-thread bases computed once (the launcher requires
// K < 2^30, N * groups < 2^31): the loop spends its issue slots on the dequantization.
template <int XT, int BITS, int MT, bool SA, bool Q8>
__global__ void __launch_bounds__(kWarps * 32, MT == 1 ? 3 : 2)
    decode_kernel(KParams p, bool x_vec, QuantX qx, int sps) {
  static_assert(!Q8 || (SA && XT == 0), "int8 mode: fp16 operands, scale after each group");
  using T = typename XType<XT>::T;
  using G = Stage<BITS>;
  constexpr int R = G::kRing;
  extern __shared__ __align__(16) uint8_t smem[];
  const uint32_t smem_s = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int K = int(p.K), M = int(p.M), groups = int(p.groups), row_bytes = int(p.row_bytes);
  const int64_t n0 = int64_t(blockIdx.x) * 16;
  const int rows = int(p.N - n0 < 16 ? p.N - n0 : 16);  // valid rows of this tile
  // Scales / zero points of rows g and g+8, clamped to a valid row (outputs of rows >= N are
  // never stored); row g+8 at a 32-bit offset from row g.
  const int r0 = min(g, rows - 1), r1 = min(g + 8, rows - 1);
  const float* sp = p.scales + (n0 + r0) * p.groups;
  const int8_t* zp = p.zp ? p.zp + (n0 + r0) * p.groups : nullptr;
  const int s1 = (r1 - r0) * groups;
  // The 16-byte pieces this thread copies per stage: row idx / kPerRow, piece idx % kPerRow.
  const uint8_t* src[G::kPieces];
  uint32_t dst[G::kPieces];
  int col[G::kPieces];
#pragma unroll
  for (int i = 0; i < G::kPieces; ++i) {
    const int idx = threadIdx.x + kWarps * 32 * i;
    const int r = idx / G::kPerRow, c = idx % G::kPerRow;
    src[i] = p.w + (n0 + min(r, rows - 1)) * p.row_bytes + 16 * c;
    dst[i] = smem_s + uint32_t(r * G::kStride + 16 * c);
    col[i] = r < rows ? 16 * c : row_bytes;  // rows >= N: never in range (zero-filled)
  }
  const int gq = int(p.gs >> 5);
  const int gshift = (gq & (gq - 1)) == 0 ? __ffs(gq) - 1 : -1;
  const int nchunks = (K + kChunk - 1) / kChunk;
  // This block's stages: [sbeg, send), split blockIdx.y of gridDim.y along K (sps per split).
  const int sbeg = int(blockIdx.y) * sps;
  const int send = min((nchunks + kWarps - 1) / kWarps, sbeg + sps);
  auto issue = [&](int st, int slot) {
    if (st < send) {
      const int off = st * G::kRowBytes;
#pragma unroll
      for (int i = 0; i < G::kPieces; ++i) {
        const bool ok = off + col[i] < row_bytes;  // whole 16-byte pieces
        cp_async16_s(dst[i] + slot * G::kBytes, ok ? src[i] + off : p.w, ok);
      }
    }
    cp_async_commit();
  };
  auto load_sz = [&](int cc, SZ& o) {
    if (cc < nchunks) {
      const int kk = cc * 4 + t;  // k / 32
      const int grp = min(gshift >= 0 ? kk >> gshift : kk / gq, groups - 1);
      o.s[0] = __ldg(sp + grp);
      o.s[1] = __ldg(sp + grp + s1);
      o.z[0] = zp ? int(__ldg(zp + grp)) : 0;
      o.z[1] = zp ? int(__ldg(zp + grp + s1)) : 0;
    }
  };
  // Activation rows m = 8 mt + g of this lane, at its k offset 32 t (nullptr: m >= M).
  const void* xrow[MT];
  const float* sxrow[MT][2];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
    const int m = 8 * mt + g;
    if (Q8)
      xrow[mt] = m < M ? static_cast<const void*>(qx.q + int64_t(m) * K + 32 * t) : nullptr;
    else
      xrow[mt] = m < M ? static_cast<const void*>(static_cast<const uint16_t*>(p.x) +
                                                  int64_t(m) * p.ldx + 32 * t)
                       : nullptr;
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      const int mm = 8 * mt + 2 * t + j;
      sxrow[mt][j] = Q8 && mm < M ? qx.sx + int64_t(mm) * groups : nullptr;
    }
  }

  float acc[MT][4];
#pragma unroll
  for (int i = 0; i < MT; ++i) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = 0.0f;

  // Scales and zero points: kSzAhead stages ahead, in registers (a ring of R slots, of which
  // kSzAhead + 1 are live).
  constexpr int kSzAhead = 2;
  static_assert(kSzAhead < R, "");
  SZ sz[R];
#pragma unroll
  for (int u = 0; u < R - 1; ++u) issue(sbeg + u, u);
#pragma unroll
  for (int u = 0; u < kSzAhead; ++u) load_sz((sbeg + u) * kWarps + warp, sz[u]);

  for (int s0 = sbeg; s0 < send; s0 += R) {
#pragma unroll
    for (int u = 0; u < R; ++u) {
      const int st = s0 + u;
      if (st >= send) break;
      cp_async_wait<R - 2>();
      __syncthreads();  // stage st landed for every thread; slot (u - 1) % R is free
      issue(st + R - 1, (u + R - 1) % R);
      if (st + kSzAhead < send) load_sz((st + kSzAhead) * kWarps + warp, sz[(u + kSzAhead) % R]);
      const int cc = st * kWarps + warp;
      if (cc >= nchunks) continue;
      const bool kok = cc * kChunk + 32 * t < K;
      const SZ& sl = sz[u];
      // Activations: 32 consecutive k of rows m = 8*mt + g. Issued first so that their latency
      // hides under the weight dequantization; permuted to the weights' pair order after.
      uint32_t xb[MT][16];
      float sxv[MT][2];  // int8 mode: sx of the output rows m = 8 mt + 2 t + j, group cc
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        if (Q8) {
#pragma unroll
          for (int j = 0; j < 2; ++j)
            sxv[mt][j] = (kok && sxrow[mt][j]) ? __ldg(sxrow[mt][j] + cc) : 0.0f;
        }
        if (kok && xrow[mt]) {
          if (Q8)
            load_q32(static_cast<const int8_t*>(xrow[mt]) + cc * kChunk, xb[mt]);
          else
            load_x32(xrow[mt], cc * kChunk, x_vec, xb[mt]);
        } else {
#pragma unroll
          for (int i = 0; i < 16; ++i) xb[mt][i] = 0;
        }
      }
      // This warp's 128-k chunk of rows g and g+8 from the stage.
      WRaw<BITS> wr[kRows];
      const uint8_t* sb = smem + u * G::kBytes + warp * (kChunk * BITS / 8) + t * (BITS * 4);
#pragma unroll
      for (int r = 0; r < kRows; ++r)
#pragma unroll
        for (int v = 0; v < (BITS == 4 ? 1 : 2); ++v)
          wr[r].v[v] = *reinterpret_cast<const uint4*>(sb + (g + 8 * r) * G::kStride + 16 * v);
      const uint32_t* w0 = reinterpret_cast<const uint32_t*>(wr[0].v);
      const uint32_t* w1 = reinterpret_cast<const uint32_t*>(wr[1].v);
      Deq<T> d0, d1;
      d0.init(sl.s[0], sl.z[0]);
      d1.init(sl.s[1], sl.z[1]);
      // Two independent accumulator chains per m tile (even / odd steps) halve the
      // dependent-mma latency per chunk; they are summed in a fixed order.
      float part[MT][2][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int q = 0; q < 2; ++q)
#pragma unroll
          for (int e = 0; e < 4; ++e) part[mt][q][e] = 0.0f;
      // Step s: weight pairs (2s, 2s+1) of rows g / g+8 and X pairs (2s, 2s+1), dequantized
      // word by word right before their mma (few live registers).
#pragma unroll
      for (int s = 0; s < 8; ++s) {
        uint32_t q0[2], q1[2];
        if (BITS == 4) {
          // word j = s / 2 gives the pairs of steps 2j and 2j+1; its X pairs are permuted once.
          if ((s & 1) == 0) {
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
              uint32_t tmp[4];
              permute_x4(xb[mt] + 2 * s, tmp);
#pragma unroll
              for (int i = 0; i < 4; ++i) xb[mt][2 * s + i] = tmp[i];
            }
          }
          uint32_t e0[4], e1[4];
          d0.template w4<!SA>(w0[s >> 1], e0);
          d1.template w4<!SA>(w1[s >> 1], e1);
          q0[0] = e0[2 * (s & 1)];
          q0[1] = e0[2 * (s & 1) + 1];
          q1[0] = e1[2 * (s & 1)];
          q1[1] = e1[2 * (s & 1) + 1];
        } else {
          d0.template w8<!SA>(w0[s], q0);
          d1.template w8<!SA>(w1[s], q1);
        }
        const uint32_t a[4] = {q0[0], q1[0], q0[1], q1[1]};
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          const uint32_t b[2] = {xb[mt][2 * s], xb[mt][2 * s + 1]};
          mma16816<T>(part[mt][s & 1], a, b);
        }
      }
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        if (Q8) {
          acc[mt][0] += (sxv[mt][0] * sl.s[0]) * (part[mt][0][0] + part[mt][1][0]);
          acc[mt][1] += (sxv[mt][1] * sl.s[0]) * (part[mt][0][1] + part[mt][1][1]);
          acc[mt][2] += (sxv[mt][0] * sl.s[1]) * (part[mt][0][2] + part[mt][1][2]);
          acc[mt][3] += (sxv[mt][1] * sl.s[1]) * (part[mt][0][3] + part[mt][1][3]);
        } else if (SA) {
          acc[mt][0] += sl.s[0] * (part[mt][0][0] + part[mt][1][0]);
          acc[mt][1] += sl.s[0] * (part[mt][0][1] + part[mt][1][1]);
          acc[mt][2] += sl.s[1] * (part[mt][0][2] + part[mt][1][2]);
          acc[mt][3] += sl.s[1] * (part[mt][0][3] + part[mt][1][3]);
        } else {
#pragma unroll
          for (int e = 0; e < 4; ++e) acc[mt][e] += part[mt][0][e] + part[mt][1][e];
        }
      }
    }
  }
  cp_async_wait<0>();
  __syncthreads();  // every warp is done with the stages: the reduction reuses their memory

  float(*red)[MT * 4][32] = reinterpret_cast<float(*)[MT * 4][32]>(smem);
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int i = 0; i < 4; ++i) red[warp][mt * 4 + i][lane] = acc[mt][i];
  __syncthreads();
  [[maybe_unused]] float* fin = reinterpret_cast<float*>(smem) + kWarps * MT * 4 * 32;
  for (int e = threadIdx.x; e < MT * 4 * 32; e += kWarps * 32) {
    const int l = e & 31, i = (e >> 5) & 3, mt = e >> 7;
    float v = 0.0f;
#pragma unroll
    for (int wi = 0; wi < kWarps; ++wi) v += red[wi][mt * 4 + i][l];
#if __CUDA_ARCH__ >= 900
    if (gridDim.y > 1) {
      fin[e] = v;
      continue;
    }
#endif
    const int64_t n = n0 + (l >> 2) + (i >= 2 ? 8 : 0);
    const int64_t m = 8 * mt + 2 * (l & 3) + (i & 1);
    if (n < p.N && m < M) store_y(p.y, m * p.ldy + n, p.yt, p.row_scale ? v * p.row_scale[m] : v);
  }
#if __CUDA_ARCH__ >= 900
  // Split K: the tile's gridDim.y blocks form one cluster; block 0 adds the others' sums from
  // their shared memory in split order (deterministic), then all leave together.
  if (gridDim.y > 1) {
    cg::cluster_group cluster = cg::this_cluster();
    cluster.sync();
    if (blockIdx.y == 0) {
      for (int e = threadIdx.x; e < MT * 4 * 32; e += kWarps * 32) {
        const int l = e & 31, i = (e >> 5) & 3, mt = e >> 7;
        float v = fin[e];
        for (unsigned r = 1; r < gridDim.y; ++r) v += cluster.map_shared_rank(fin, r)[e];
        const int64_t n = n0 + (l >> 2) + (i >= 2 ? 8 : 0);
        const int64_t m = 8 * mt + 2 * (l & 3) + (i & 1);
        if (n < p.N && m < M)
          store_y(p.y, m * p.ldy + n, p.yt, p.row_scale ? v * p.row_scale[m] : v);
      }
    }
    cluster.sync();
  }
#endif
}

// Split K over a cluster of S blocks per 16-row tile when the tiles alone fill the GPU's
// block slots unevenly (N = 8192: 512 tiles on 396 slots leave a 30 % second wave): the S
// minimizing waves x (stages per split + 2 for the pipeline ramp), S <= 8 (portable clusters),
// smallest on ties. Only where the loaded kernel binary has clusters (sm_90+).
int g_decode_splits = 0;  // > 0: forced (tests/gpu/decode_probe.cu)

int choose_splits(int64_t tiles, int nstages, int slots) {
  if (g_decode_splits > 0) return g_decode_splits;
  int best = 1;
  int64_t best_cost = -1;
  for (int sp = 1; sp <= 8 && sp <= nstages; ++sp) {
    const int64_t waves = (tiles * sp + slots - 1) / slots;
    const int64_t cost = waves * ((nstages + sp - 1) / sp + 2);
    if (best_cost < 0 || cost < best_cost) best = sp, best_cost = cost;
  }
  return best;
}

template <int XT, int BITS, int MT, bool SA, bool Q8>
cudaError_t launch_one(const KParams& p, bool x_vec, const QuantX& qx, int sms, cudaStream_t s) {
  constexpr int smem = Stage<BITS>::kSmem;
  static_assert(smem >= kWarps * MT * 4 * 32 * 4 + MT * 4 * 32 * 4,
                "the reductions reuse the stage memory");
  auto kern = decode_kernel<XT, BITS, MT, SA, Q8>;
  // Once per kernel: above 48 KB of dynamic shared memory needs the opt-in; the binary's
  // architecture says whether it has the cluster split.
  struct Init {
    cudaError_t err;
    bool clusters;
  };
  static const Init init = [&] {
    Init r{cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, smem), false};
    cudaFuncAttributes fa;
    if (r.err == cudaSuccess) r.err = cudaFuncGetAttributes(&fa, kern);
    if (r.err == cudaSuccess) r.clusters = fa.binaryVersion >= 90;
    return r;
  }();
  if (init.err != cudaSuccess) return init.err;
  const int64_t tiles = (p.N + 15) / 16;
  const int nstages = int((p.K + kWarps * kChunk - 1) / (kWarps * kChunk));
  int splits = init.clusters ? choose_splits(tiles, nstages, sms * (MT == 1 ? 3 : 2)) : 1;
  const int sps = (nstages + splits - 1) / splits;
  splits = (nstages + sps - 1) / sps;  // no empty split
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(unsigned(tiles), unsigned(splits));
  cfg.blockDim = dim3(kWarps * 32);
  cfg.dynamicSmemBytes = smem;
  cfg.stream = s;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = 1;
  attr[0].val.clusterDim.y = unsigned(splits);
  attr[0].val.clusterDim.z = 1;
  cfg.attrs = attr;
  cfg.numAttrs = splits > 1 ? 1 : 0;
  return cudaLaunchKernelEx(&cfg, kern, p, x_vec, qx, sps);
}

template <int XT, int BITS, bool SA, bool Q8>
cudaError_t launch_mt(const KParams& p, bool x_vec, const QuantX& qx, int sms, cudaStream_t s) {
  return p.M <= 8 ? launch_one<XT, BITS, 1, SA, Q8>(p, x_vec, qx, sms, s)
                  : launch_one<XT, BITS, 2, SA, Q8>(p, x_vec, qx, sms, s);
}

template <int XT>
cudaError_t launch_bits(const KParams& p, bool x_vec, int sms, cudaStream_t s) {
  const QuantX none{nullptr, nullptr, nullptr};
  const bool sa = p.gs % kChunk == 0;
  if (p.bits == 4)
    return sa ? launch_mt<XT, 4, true, false>(p, x_vec, none, sms, s)
              : launch_mt<XT, 4, false, false>(p, x_vec, none, sms, s);
  return sa ? launch_mt<XT, 8, true, false>(p, x_vec, none, sms, s)
            : launch_mt<XT, 8, false, false>(p, x_vec, none, sms, s);
}

}  // namespace

cudaError_t launch_decode_float(const KParams& p, int num_sms, cudaStream_t s) {
  // fp32 X is converted first
  if ((p.xt != 0 && p.xt != 1) || !decode_shape_ok(p)) return cudaErrorInvalidValue;
  const bool x_vec = (reinterpret_cast<uintptr_t>(p.x) % 16 == 0) && ((p.ldx * 2) % 16 == 0);
  return p.xt == 1 ? launch_bits<1>(p, x_vec, num_sms, s) : launch_bits<0>(p, x_vec, num_sms, s);
}

cudaError_t launch_decode_int8(const KParams& p, const QuantX& qx, int num_sms, cudaStream_t s) {
  if (p.gs != kChunk || p.M > 16 || !decode_shape_ok(p)) return cudaErrorInvalidValue;
  return p.bits == 4 ? launch_mt<0, 4, true, true>(p, false, qx, num_sms, s)
                     : launch_mt<0, 8, true, true>(p, false, qx, num_sms, s);
}

}  // namespace cuda
}  // namespace qmm
