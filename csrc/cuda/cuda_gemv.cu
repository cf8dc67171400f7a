// cuda float-mode decode kernels (M <= 16): cuda_float_gemv_w4w8.
// Four kernels: the stream-K kernel (namespace sk, near the end: M = 2..16 with 16-byte aligned
// fp16/bf16 X rows and 8+ chunks per block, both modes), the tile kernel below (the rest of M =
// 2..16, M = 1 with K > 48K, and the int8 mode's 8-bit weights at M = 1) and the M = 1 kernel
// (namespace m1, further down: one warp per row pair, 512-byte weight reads, X in shared memory;
// H200, decode_probe, 2026-12-02, same run as the tile kernel: 70B.up W4 M=1 58.7 vs 72.6 us,
// 70B.down 54.2 vs 70.6, 70B.attn 25.1 vs 28.3; W8 75.6 vs 83.4, 73.5 vs 81.5, 29.8 vs 31.2), which
// for int4 weights in groups of 128 (both modes; 8-bit weights too with fp16 X) is
// m1::decode_m1_g128_kernel and its persistent grid (K % 1024 == 0; same probe, 2026-12-02 13:10
// UTC, one run: 70B.up / down / attn 41.1 / 42.4 / 19.4 us against the general M = 1 kernel's 58.9
// / 55.0 / 23.3 and the non-persistent g128 kernel's 50.6 / 45.7 / 20.3). The persistent g128
// kernel also takes the float mode at M = 2 (and M = 3 with 8-bit weights) where every row's
// copy of X fits (MX = M, m1::rows_take: the weights dequantized once per window, 8 mma per X
// row; 70B.up W4 M = 2 57.1 us against the stream-K kernel's 71.3). On sm_90 the float mode's
// int4 weights in groups of 128 at the other M = 2..16 take the TMA decode kernel (namespace tk,
// after sk: a producer warp, every operand in shared memory by TMA; tk::takes; H200, gpu_check
// bench, 2026-12-04, (28672, 8192) M = 4 / 16: 58.4 / 70.6 us with its first units of 256 k,
// the stream-K kernel 71.8 / 81.6; with units of 512 k 49.8 / 64.5 in tma_probe), and so do
// int8 weights on the largest shapes (32+ units per block; tma_probe, 70B.up W8 M = 4 / 16:
// 75.4 / 85.1 us against 78.3 / 89.4).
//
// Packed weights in the decode layout (cuda_kernels.h, QMM_CUDA_PACK=decode): the stream-K
// kernel with PK = true (M = 2..16, and M = 1 where X is too long for decode_sk1_kernel) and
// decode_sk1_kernel (M = 1), both modes; see tests/gpu/README.md ("Packed weights for decode").
//
// The tile kernel:
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
// Inner loop per 32-bit weight word: 4-bit: 1 shift, 4 lop3 (the int4 sign flip folded into
// the magic-number lop3), 4 hsub2/hfma2 (+4 hmul2 when the scale is folded in) for 8 weights;
// 8-bit: 2 x (prmt, hsub2 [, hmul2]) for 4 weights; then 2 (bits=4) / 1 (bits=8) mma per
// word and row pair, in two independent accumulator chains.
// group_size % 128 == 0: mma on the exact q - zp, fp32 scale on each chunk's partial sums;
// otherwise the scale is folded into the fp16/bf16 weight (one rounding).
// Measured (H100 80GB, 2026-11-23, fp16, g128 + zp, (28672, 8192)): W4 M=1 77.8 us = 54% of the
// 3.0 TB/s copy bandwidth, 2.35x cuBLAS fp16; W4 M=16 37.6%, 1.74x; W8 M=1 81%, 1.83x.
// Bound by instructions/latency per 32 weights (ncu: 25% occupancy, ~50% issue, the integer
// ALU pipe the busiest): see tests/gpu/README.md. H200, tests/gpu/decode_probe.cu, 2026-12-02,
// M=1 W4 / W8: 70B.up 71.4 / 81.3 us, 70B.down 69.2 / 79.1, 70B.attn 26.9 / 29.7 (before the
// shift-for-division group index and the folded sign flip: 74.4 / 86.1, 73.2 / 83.9,
// 28.2 / 31.4); M=16 W4 70B.up 110.5 us. A cp.async-staged variant (512-byte contiguous
// copies, 3 blocks per SM, cluster split-K) measured mixed and was not kept: commit d4ded7d.
//
// int8 mode (Q8, cuda_int8_gemv), int4 weights at M = 1: the M = 1 kernel with X = q (staged
// as exact fp16) and the scales multiplied by sx (H200, qmatmul bench, 2026-12-02 04:13 UTC:
// 70B.up / down / attn 53.3 / 47.1 / 19.5 us; the tile kernel 75.7 / 73.4 / 26.3); M = 2..16
// the stream-K kernel where it takes the shape (the same exact-integer scheme, see there),
// otherwise the tile kernel below.
// int8 mode in the tile kernel: the same kernel with the quantized activations q (int8,
// natural order, launch_quantize_x) as B, converted to fp16 exactly, and group_size == 128, so
// each 128-k chunk is one group: the fp16 mma with fp32 accumulation on the exact integers
// q and (w - zp) gives the exact int32 group sum (|sum| <= 128 * 127 * 255 < 2^24), and the
// epilogue adds sx[m, g] * scale[n, g] * sum per group (fp32, fixed order). H200, qmm_bench,
// 2026-12-01: W4 70B.up M=1 81.4 us (the 16x32-tile int8 GEMM it replaces: 213 us), M=16
// 103 us (217 us); 70B.down M=1 78.8 us (318 us); W8 M=1 84-85 us (174 / 311 us).
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "cuda/cuda_common.cuh"
#include "cuda/cuda_kernels.h"
#include "cuda/cuda_tma.cuh"

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

// 4 quantized activations (int8) as 2 natural pairs of exact fp16.
__device__ __forceinline__ void q4_to_h2(uint32_t w, uint32_t out[2]) {
  const __half2 bias = as_h2(0x64806480u);  // 1024 + 128
  const uint32_t u = w ^ 0x80808080u;       // q + 128 in [1, 255]
  out[0] = as_u32(__hsub2(as_h2(prmt(u, 0x64646464u, 0x7150)), bias));
  out[1] = as_u32(__hsub2(as_h2(prmt(u, 0x64646464u, 0x7352)), bias));
}

// 32 consecutive quantized activations (int8, 32-byte aligned) as 16 natural pairs of exact fp16.
__device__ __forceinline__ void load_q32(const int8_t* q, uint32_t out[16]) {
  const uint4* p = reinterpret_cast<const uint4*>(q);
  const uint4 a = __ldg(p), b = __ldg(p + 1);
  const uint32_t w[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
#pragma unroll
  for (int j = 0; j < 8; ++j) q4_to_h2(w[j], out + 2 * j);
}

template <int BITS>
struct WRaw {
  uint4 v[BITS == 4 ? 1 : 2];
};

constexpr int kRows = 2;  // weight rows per thread: g and g+8 of the block's 16-row tile

// One chunk's loads for a thread: raw weights, scales and zero points of its 4 rows.
template <int BITS>
struct Slot {
  WRaw<BITS> w[kRows];
  float s[kRows];
  int z[kRows];
};

// Per-thread row bases, computed once: the loop does no 64-bit row arithmetic.
struct Rows {
  const uint8_t* w[kRows];
  const float* s[kRows];
  const int8_t* z[kRows];
  bool ok[kRows];
};

// Group of k (a multiple of 32): a shift for power-of-two group sizes (gshift >= 0), else a
// 32-bit division (k / 32 and group_size / 32 fit; a 64-bit one costs ~100 instructions, the
// 32-bit one ~18: a sixth of a chunk's non-dequantization work).
__device__ __forceinline__ uint32_t group_of(const KParams& p, int gshift, int64_t k) {
  return gshift >= 0 ? uint32_t(k >> 5) >> gshift : uint32_t(k >> 5) / uint32_t(p.gs >> 5);
}

template <int BITS>
__device__ __forceinline__ void load_slot(const KParams& p, const Rows& rw, int gshift,
                                          int64_t chunk, int64_t nchunks, int t,
                                          Slot<BITS>& sl) {
  const int64_t k0 = chunk * kChunk + 32 * t;
  const bool kok = chunk < nchunks && k0 < p.K;
  const uint32_t grp = kok ? group_of(p, gshift, k0) : 0u;
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    const bool ok = kok && rw.ok[r];
    if (ok) {
      const uint8_t* src = rw.w[r] + (BITS == 4 ? k0 / 2 : k0);
      sl.w[r].v[0] = ldg_stream(src);
      if (BITS == 8) sl.w[r].v[BITS == 8 ? 1 : 0] = ldg_stream(src + 16);
      sl.s[r] = __ldg(rw.s[r] + grp);
      sl.z[r] = rw.z[r] ? int(__ldg(rw.z[r] + grp)) : 0;
    } else {
#pragma unroll
      for (int i = 0; i < (BITS == 4 ? 1 : 2); ++i) sl.w[r].v[i] = make_uint4(0, 0, 0, 0);
      sl.s[r] = 0.0f;
      sl.z[r] = 0;
    }
  }
}

// 16 pairs of dequantized weights (32 elements) from the raw words, in fragment order:
// bits=4: word j -> out[4j + i] = (e[8j+i], e[8j+i+4]); bits=8: word j -> out[2j], out[2j+1].
template <class T, int BITS, bool SCALE>
__device__ __forceinline__ void dequant32(const WRaw<BITS>& r, const Deq<T>& d, uint32_t out[16]) {
  const uint32_t* w = reinterpret_cast<const uint32_t*>(r.v);
  if (BITS == 4) {
#pragma unroll
    for (int j = 0; j < 4; ++j) d.template w4<SCALE>(w[j], out + 4 * j);
  } else {
#pragma unroll
    for (int j = 0; j < 8; ++j) d.template w8<SCALE>(w[j], out + 2 * j);
  }
}

// SA (scale after): group_size % 128 == 0, so a whole 128-k chunk of the quad lies in one
// group; the mma then runs on the exact integers q - zp and the fp32 scale is applied to the
// chunk's partial sums (one FFMA per accumulator instead of one hmul2 per weight pair).
template <int XT, int BITS, int MT, bool SA, bool Q8>
__global__ void __launch_bounds__(kWarps * 32, 2)
    decode_kernel(KParams p, bool x_vec, QuantX qx) {
  static_assert(!Q8 || (SA && XT == 0), "int8 mode: fp16 operands, scale after each group");
  using T = typename XType<XT>::T;
  // Chunks in flight beyond the current one. One m tile, bits=4: 4 (H200, qmm_bench, same run,
  // 2 rounds, 2026-12-01: W4 M=1 70B.up 74.0 -> 69.5 us, 70B.down 73.0 -> 68.2 us, 8B 3-6 %;
  // 3 gave half of that; bits=8 with 2 instead of 1 was not faster, 8B.up 7 % slower). Two m
  // tiles keep 2 / 1: more spills registers under the 2-blocks-per-SM bound (as 4 does for the
  // int8 mode, which holds the sx values too: 3 there).
  constexpr int PF = MT == 1 ? (BITS == 4 ? (Q8 ? 3 : 4) : 1) : (BITS == 4 ? 2 : 1);
  __shared__ float red[kWarps][MT * 4][32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int64_t n0 = int64_t(blockIdx.x) * 16;
  Rows row;
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    const int64_t n = n0 + 8 * r + g;
    row.ok[r] = n < p.N;
    const int64_t nn = row.ok[r] ? n : 0;
    row.w[r] = p.w + nn * p.row_bytes;
    row.s[r] = p.scales + nn * p.groups;
    row.z[r] = p.zp ? p.zp + nn * p.groups : nullptr;
  }
  const uint32_t gq = uint32_t(p.gs >> 5);
  const int gshift = (gq & (gq - 1)) == 0 ? __ffs(int(gq)) - 1 : -1;
  const int64_t nchunks = (p.K + kChunk - 1) / kChunk;

  float acc[MT][4];
#pragma unroll
  for (int i = 0; i < MT; ++i) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = 0.0f;

  Slot<BITS> buf[PF + 1];
#pragma unroll
  for (int u = 0; u < PF; ++u)
    load_slot<BITS>(p, row, gshift, warp + kWarps * u, nchunks, t, buf[u]);

  for (int64_t c = warp; c < nchunks; c += kWarps * (PF + 1)) {
#pragma unroll
    for (int u = 0; u <= PF; ++u) {
      const int64_t cc = c + kWarps * u;
      load_slot<BITS>(p, row, gshift, cc + kWarps * PF, nchunks, t, buf[(u + PF) % (PF + 1)]);
      if (cc >= nchunks) break;
      const Slot<BITS>& sl = buf[u];
      const int64_t k0 = cc * kChunk + 32 * t;
      const bool kok = k0 < p.K;
      // Activations: 32 consecutive k of rows m = 8*mt + g. Issued first so that their latency
      // hides under the weight dequantization; permuted to the weights' pair order after.
      uint32_t xb[MT][16];
      float sxv[MT][2];  // int8 mode: sx of the output rows m = 8 mt + 2 t + j, group cc
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        const int64_t m = 8 * mt + g;
        if (Q8) {
#pragma unroll
          for (int j = 0; j < 2; ++j) {
            const int64_t mm = 8 * mt + 2 * t + j;
            sxv[mt][j] = (kok && mm < p.M) ? __ldg(qx.sx + mm * p.groups + cc) : 0.0f;
          }
        }
        if (kok && m < p.M) {
          if (Q8)
            load_q32(qx.q + m * p.K + k0, xb[mt]);
          else
            load_x32(p.x, m * p.ldx + k0, x_vec, xb[mt]);
        } else {
#pragma unroll
          for (int i = 0; i < 16; ++i) xb[mt][i] = 0;
        }
      }
      Deq<T> d0, d1;
      d0.init(sl.s[0], sl.z[0]);
      d1.init(sl.s[1], sl.z[1]);
      uint32_t a0[16], a1[16];
      dequant32<T, BITS, !SA>(sl.w[0], d0, a0);
      dequant32<T, BITS, !SA>(sl.w[1], d1, a1);
      if (BITS == 4) {
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            uint32_t tmp[4];
            permute_x4(xb[mt] + 4 * j, tmp);
#pragma unroll
            for (int i = 0; i < 4; ++i) xb[mt][4 * j + i] = tmp[i];
          }
      }
      // Two independent accumulator chains per m tile (even / odd steps) halve the
      // dependent-mma latency per chunk; they are summed in a fixed order.
      float part[MT][2][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int q = 0; q < 2; ++q)
#pragma unroll
          for (int e = 0; e < 4; ++e) part[mt][q][e] = 0.0f;
      // Step s: weight pairs (2s, 2s+1) of rows g / g+8 and X pairs (2s, 2s+1).
#pragma unroll
      for (int s = 0; s < 8; ++s) {
        const uint32_t a[4] = {a0[2 * s], a1[2 * s], a0[2 * s + 1], a1[2 * s + 1]};
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

#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int i = 0; i < 4; ++i) red[warp][mt * 4 + i][lane] = acc[mt][i];
  __syncthreads();
  for (int e = threadIdx.x; e < MT * 4 * 32; e += kWarps * 32) {
    const int l = e & 31, i = (e >> 5) & 3, mt = e >> 7;
    float v = 0.0f;
#pragma unroll
    for (int wi = 0; wi < kWarps; ++wi) v += red[wi][mt * 4 + i][l];
    const int64_t n = n0 + (l >> 2) + (i >= 2 ? 8 : 0);
    const int64_t m = 8 * mt + 2 * (l & 3) + (i & 1);
    if (n < p.N && m < p.M) store_y(p.y, m * p.ldy + n, p.yt, p.row_scale ? v * p.row_scale[m] : v);
  }
}

// ---------------------------------------------------------------------------------------------
// M = 1: one warp per pair of weight rows, each weight load instruction of a warp reading 512
// contiguous bytes of one row, X staged once per block in shared memory.
//
// The mma rows are (weight row, k segment) and its columns are k segments of X: lane
// l = 4 g + t loads the 16 bytes at l * 16 of a row's 512-byte piece, so quad g holds segment g
// of the piece (128 k for int4, 64 for int8) and A row g / g + 8 = segment g of weight row
// r0 / r1. B column g = segment g of X, in each lane the same k as its own weights (its 32
// (int4) or 16 (int8) consecutive activations, in the weights' pair order). D[g][g] and
// D[g + 8][g] are then the two rows' partial dot products over segment g; the other 112 outputs
// are discarded (M = 1 wastes 7/8 of the tensor throughput in either decode kernel).
// A window is 1024 k: one 512-byte piece per row for int4, two for int8 (two accumulator
// chains: piece 0 / piece 1; int4 alternates the chains over its 8 mma steps).
// X: the block first copies the row into shared memory as 16-byte chunks in the order the
// lanes read them (chunk q of lane l of window w at (4 w + q) * 32 + l: one conflict-free
// 16-byte read per chunk; int4 chunks already permuted to the weights' pair order), zero past
// K. (Read from global memory per lane, the X chunks of a warp instruction are 64 bytes apart:
// ncu counted 39 % excess sectors and L1 waits as the top stall, 2026-12-02.)
// Scales: each lane's 32 / 16 k lie in one group (group_size % 32 == 0); SA: the quad's
// segment too (int4: group_size % 128 == 0, int8: % 64 == 0; K is a multiple of group_size,
// so a quad is wholly inside or wholly past K), the mma runs on exact q - zp and the fp32
// scale multiplies each chain's window sums. Lanes past K read a clamped, valid address with
// scale 0 (their X is 0 too), so the loop has no branches around its loads.
// End: the diagonal of D is summed over the warp by shuffles in a fixed order (deterministic).
namespace m1 {

// Shared X: 2 bytes per k (96 KB, 2 blocks per SM); also bounds the group index arithmetic.
constexpr int64_t kMaxK = 48 * 1024;

template <int BITS> struct Win {
  static constexpr int kPieces = BITS == 4 ? 1 : 2;  // 512-byte pieces per row and window
  static constexpr int kK = BITS == 4 ? 32 : 16;     // k per lane and piece
  uint4 w[2][kPieces];
  float s[2][kPieces];
  int z[2][kPieces];
};

__device__ const int8_t kNoZp[1] = {0};  // the zero point of every group when there are none
__device__ const float kOnes[1] = {1.0f};  // a valid address for the unused sx cursor

// Per-thread constants of the window loads. Group of k: umulhi(2 (k / 32), gmul) with
// gmul = ceil(2^31 / (group_size / 32)), exact while (k / 32) * (group_size / 32) < 2^31
// (K <= kMaxK); no division or branch in the loop.
struct Rows2 {
  const uint8_t* w[2];
  const float* s[2];
  const int8_t* z[2];
  uint32_t gmul, zstep;  // zstep: 1, or 0 when every group reads kNoZp
};

// Q8 (int8 mode): qsx = sx of X's groups; the scale loaded is sx * scale (the tile kernel's
// product, same operand order).
template <int BITS, bool Q8 = false>
__device__ __forceinline__ void load_win(const KParams& p, const Rows2& rw, int win, int lane,
                                         Win<BITS>& b, const float* qsx = nullptr) {
  using W = Win<BITS>;
  const int klast = int(p.K) - W::kK;
#pragma unroll
  for (int pc = 0; pc < W::kPieces; ++pc) {
    const int k = win * 1024 + pc * 512 + W::kK * lane;
    const int kc = min(k, klast);  // windows past the end are prefetched but never used
    const uint32_t grp = __umulhi(uint32_t(kc >> 5) << 1, rw.gmul);
    const float sxg = Q8 ? __ldg(qsx + grp) : 1.0f;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      b.w[r][pc] = ldg_stream(rw.w[r] + (BITS == 4 ? kc / 2 : kc));
      const float s = Q8 ? sxg * __ldg(rw.s[r] + grp) : __ldg(rw.s[r] + grp);
      b.s[r][pc] = k <= klast ? s : 0.0f;
      b.z[r][pc] = int(__ldg(rw.z[r] + grp * rw.zstep));
    }
  }
}

// Shared X chunk q (0..3) of lane l, window w: the k of its first element.
template <int BITS> __device__ __forceinline__ int64_t chunk_k(int64_t w, int q, int l) {
  return BITS == 4 ? w * 1024 + 32 * l + 8 * q : w * 1024 + (q >> 1) * 512 + 16 * l + 8 * (q & 1);
}

// Stages X into xs (see above): thread i copies the 16-byte chunks i, i + 256, ... in k order
// (coalesced) to their lane-order slots, zero past K.
template <int BITS>
__device__ __forceinline__ void stage_x(const KParams& p, bool x_vec, int nwin, uint4* xs) {
  for (int i = threadIdx.x; i < nwin * 128; i += kWarps * 32) {
    const int w = i >> 7, q = BITS == 4 ? i & 3 : ((i >> 6) & 1) * 2 + (i & 1);
    const int l = BITS == 4 ? (i >> 2) & 31 : (i >> 1) & 31;
    const int64_t k = chunk_k<BITS>(w, q, l);
    uint32_t v[4] = {0, 0, 0, 0};
    if (k < p.K) {
      const uint16_t* src = static_cast<const uint16_t*>(p.x) + k;
      if (x_vec) {
        const uint4 u = __ldg(reinterpret_cast<const uint4*>(src));
        v[0] = u.x, v[1] = u.y, v[2] = u.z, v[3] = u.w;
      } else {
#pragma unroll
        for (int j = 0; j < 4; ++j) v[j] = uint32_t(src[2 * j]) | (uint32_t(src[2 * j + 1]) << 16);
      }
    }
    if (BITS == 4) {
      uint32_t o[4];
      permute_x4(v, o);
      xs[(w * 4 + q) * 32 + l] = make_uint4(o[0], o[1], o[2], o[3]);
    } else {
      xs[(w * 4 + q) * 32 + l] = make_uint4(v[0], v[1], v[2], v[3]);
    }
  }
}

// One window: dequantize the lane's weights of both rows, 8 mma against its X chunks
// (xw = xs + window * 128 + lane), the window sums (scaled: SA) added to acc.
// xw: the shared-memory address of the window's first chunk of this lane (a 32-bit register
// the compiler cannot rebuild from the thread index each window, as it did from a pointer).
// MX > 1 (decode_m1_g128_persist_kernel at M = MX): the weights dequantized once, then 8 mma
// per X row m against its chunks at xw + m * xrow (row m's copy of X in shared memory), its
// window sums added to acc[m].
template <class T, int BITS, bool SA, int MX>
__device__ __forceinline__ void window_mma_rows(const Win<BITS>& b, uint32_t xw, uint32_t xrow,
                                                float (&acc)[MX][4]) {
  using W = Win<BITS>;
  uint32_t xb[16];
  auto load_x = [&](uint32_t at) {
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      const uint4 v = lds128(at + q * 512);
      xb[4 * q] = v.x, xb[4 * q + 1] = v.y, xb[4 * q + 2] = v.z, xb[4 * q + 3] = v.w;
    }
  };
  load_x(xw);
  uint32_t a0[16], a1[16];
#pragma unroll
  for (int pc = 0; pc < W::kPieces; ++pc) {
    Deq<T> d0, d1;
    d0.init(b.s[0][pc], b.z[0][pc]);
    d1.init(b.s[1][pc], b.z[1][pc]);
    const uint32_t* u0 = reinterpret_cast<const uint32_t*>(&b.w[0][pc]);
    const uint32_t* u1 = reinterpret_cast<const uint32_t*>(&b.w[1][pc]);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      if (BITS == 4) {
        d0.template w4<!SA>(u0[j], a0 + 4 * j);
        d1.template w4<!SA>(u1[j], a1 + 4 * j);
      } else {
        d0.template w8<!SA>(u0[j], a0 + 8 * pc + 2 * j);
        d1.template w8<!SA>(u1[j], a1 + 8 * pc + 2 * j);
      }
    }
  }
#pragma unroll
  for (int m = 0; m < MX; ++m) {
    if (m > 0) load_x(xw + m * xrow);
    float part[2][4];
#pragma unroll
    for (int q = 0; q < 2; ++q)
#pragma unroll
      for (int e = 0; e < 4; ++e) part[q][e] = 0.0f;
#pragma unroll
    for (int s = 0; s < 8; ++s) {
      const uint32_t a[4] = {a0[2 * s], a1[2 * s], a0[2 * s + 1], a1[2 * s + 1]};
      const uint32_t bb[2] = {xb[2 * s], xb[2 * s + 1]};
      mma16816<T>(part[BITS == 4 ? (s & 1) : (s >> 2)], a, bb);
    }
    if (SA && W::kPieces == 1) {
      // int4: one group, both chains: the scale on the window sum (in the int8 mode the exact
      // integer group sum, as the tile kernel: (sx * scale) * (chain 0 + chain 1))
      acc[m][0] += b.s[0][0] * (part[0][0] + part[1][0]);
      acc[m][1] += b.s[0][0] * (part[0][1] + part[1][1]);
      acc[m][2] += b.s[1][0] * (part[0][2] + part[1][2]);
      acc[m][3] += b.s[1][0] * (part[0][3] + part[1][3]);
    } else if (SA) {
      // int8: chain q = piece q, its own group
      const float s00 = b.s[0][0], s10 = b.s[1][0];
      const float s01 = b.s[0][W::kPieces - 1], s11 = b.s[1][W::kPieces - 1];
      acc[m][0] += s00 * part[0][0] + s01 * part[1][0];
      acc[m][1] += s00 * part[0][1] + s01 * part[1][1];
      acc[m][2] += s10 * part[0][2] + s11 * part[1][2];
      acc[m][3] += s10 * part[0][3] + s11 * part[1][3];
    } else {
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[m][e] += part[0][e] + part[1][e];
    }
  }
}
template <class T, int BITS, bool SA>
__device__ __forceinline__ void window_mma(const Win<BITS>& b, uint32_t xw, float acc[4]) {
  window_mma_rows<T, BITS, SA, 1>(b, xw, 0u, *reinterpret_cast<float(*)[1][4]>(acc));
}

// The warp's two outputs: D[g][2t + j] (acc[j]) and D[g + 8][2t + j] (acc[2 + j]); the diagonal
// element of quad g is in lane t = g / 2, j = g % 2.
// m: the X row (Y row) of acc.
__device__ __forceinline__ void store_rows(const KParams& p, int64_t r0, int lane,
                                           const float acc[4], int m = 0) {
  const int g = lane >> 2, t = lane & 3;
  const bool diag = t == (g >> 1);
  const bool odd = g & 1;  // selects, not a dynamic index (which would put acc in local memory)
  float v0 = diag ? (odd ? acc[1] : acc[0]) : 0.0f, v1 = diag ? (odd ? acc[3] : acc[2]) : 0.0f;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    v0 += __shfl_xor_sync(0xffffffffu, v0, o);
    v1 += __shfl_xor_sync(0xffffffffu, v1, o);
  }
  if (lane == 0) {
    const float rs = p.row_scale ? p.row_scale[m] : 1.0f;
    const int64_t y0 = m * p.ldy + r0;
    if (r0 < p.N) store_y(p.y, y0, p.yt, p.row_scale ? v0 * rs : v0);
    if (r0 + 1 < p.N) store_y(p.y, y0 + 1, p.yt, p.row_scale ? v1 * rs : v1);
  }
}

__device__ __forceinline__ Rows2 rows_of(const KParams& p, int64_t r0) {
  Rows2 rw;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t n = min(r0 + r, p.N - 1);  // rows past N read row N - 1, store nothing
    rw.w[r] = p.w + n * p.row_bytes;
    rw.s[r] = p.scales + n * p.groups;
    rw.z[r] = p.zp ? p.zp + n * p.groups : kNoZp;
  }
  rw.zstep = p.zp ? 1u : 0u;
  const uint32_t gq = uint32_t(p.gs >> 5);
  rw.gmul = uint32_t(((uint64_t(1) << 31) + gq - 1) / gq);
  return rw;
}

// ---------------------------------------------------------------------------------------------
// M = 1, groups of 128 (the common case): int4 weights, and int8 weights with fp16 X (numbers
// at the top of the file and below).
// The kernel above, rearranged so that a window has no address arithmetic and a ring turn
// branches only to end basic blocks (ncu of a first version, 70B.up, base clock: 1392
// instructions per warp for 8 windows, 0.53 issued per scheduler and cycle, long-scoreboard
// and fixed-latency waits the top stalls):
// - Cursors: a lane's group in window w is 8 w + lane / 4, so every load of a full window is
//   pointer + immediate offset from per-lane cursors advanced once per ring turn; loads of
//   windows past the last full one are skipped (the slot keeps its old values).
// - The ring turns run whole: windows past the last full one compute their slot's stale
//   weights against X = 0 (shared memory zeroed up to the whole number of turns; stale scales
//   are the row's own, finite or not as the row already was; the slots' scales start at 0).
// - A partial last window (K % 1024 != 0) is loaded with the clamped loads first and summed
//   after the ring; its X lies past the zeroed turns.
// - X staged with its loads batched 4 deep per thread (one L2 round trip per 4 chunks; the
//   loop above waits for each chunk: 7 round trips per thread at K = 28672).
// Windows in registers beyond the current one. H200, decode_probe, one run, 70B.up / down /
// attn W4 M=1: PF 3 49.1 / 46.0 / 20.8 us, PF 4 53.6 / 47.3 / 22.0; with the weights also
// prefetched into L2 9 windows ahead (prefetch.global.L2) 51.2 / 50.8 / 22.2 (not kept).
// 8-bit weights (two 512-byte pieces per row and window, 24 registers per slot): 1 (same probe,
// persistent grid, 70B.up / down / attn W8 M=1: PF 1 65.9 / 65.2 / 26.8 us, PF 2 65.3 / 66.3 /
// 27.9, PF 3 78.8 / 81.8 / 31.4; the general M = 1 kernel 74.6 / 72.9 / 30.5).
constexpr int kG128Pf = 3;
template <int BITS> constexpr int g128_pf() { return BITS == 4 ? kG128Pf : 1; }
__device__ const int8_t kZeros[kMaxK / 128] = {};  // zero points of every group when there are none

struct Cursor {
  const uint8_t* w[2];
  const float* s[2];
  const int8_t* z[2];
  const float* sx;  // Q8: sx of the row's groups
};

// Groups per window: 8; a lane's group: lane / 4 (int4), 4 * piece + lane / 8 (int8).
template <int BITS>
__device__ __forceinline__ Cursor cursor_of(const KParams& p, int64_t r0, int lane,
                                            const float* sx) {
  Cursor c;
  const int gl = BITS == 4 ? lane >> 2 : lane >> 3;  // the lane's group within a window
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t n = min(r0 + r, p.N - 1);
    c.w[r] = p.w + n * p.row_bytes + 16 * lane;
    c.s[r] = p.scales + n * p.groups + gl;
    c.z[r] = (p.zp ? p.zp + n * p.groups : kZeros) + gl;
  }
  c.sx = sx ? sx + gl : kOnes;
  return c;
}

// Window `u` ahead of the cursor, wholly inside K (Q8: int4 only).
template <int BITS, bool Q8>
__device__ __forceinline__ void load_win_g128(const Cursor& c, int u, Win<BITS>& b) {
  const float sxg = Q8 ? __ldg(c.sx + 8 * u) : 1.0f;
#pragma unroll
  for (int pc = 0; pc < Win<BITS>::kPieces; ++pc)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int g = 8 * u + 4 * pc;
      b.w[r][pc] = ldg_stream(c.w[r] + 512 * (Win<BITS>::kPieces * u + pc));
      b.s[r][pc] = Q8 ? sxg * __ldg(c.s[r] + g) : __ldg(c.s[r] + g);
      b.z[r][pc] = int(__ldg(c.z[r] + g));
    }
}

template <int BITS>
__device__ __forceinline__ void advance(Cursor& c, int windows) {
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    c.w[r] += 512 * Win<BITS>::kPieces * windows;
    c.s[r] += 8 * windows;
    c.z[r] += 8 * windows;
  }
  c.sx += 8 * windows;
}

// X chunk i (in k order) of the full windows or of the partial one: its k and its shared-memory
// slot (the order of stage_x above: chunk q of lane l of window w at (4 w + q) * 32 + l).
__device__ __forceinline__ int chunk_slot(int i, int q, int l) { return ((i >> 7) * 4 + q) * 32 + l; }
template <int BITS> __device__ __forceinline__ int chunk_k(int i) {
  return BITS == 4 ? (i >> 7) * 1024 + 32 * ((i >> 2) & 31) + 8 * (i & 3) : 8 * i;
}
template <int BITS> __device__ __forceinline__ int chunk_slot(int i) {
  return BITS == 4 ? chunk_slot(i, i & 3, (i >> 2) & 31)
                   : chunk_slot(i, ((i >> 6) & 1) * 2 + (i & 1), (i >> 1) & 31);
}

// X of one chunk (8 k), for int4 in the weights' pair order; zero past K. Q8: the quantized row.
template <int BITS, bool Q8>
struct XChunk {
  uint4 v;
  // xoff: the X row's first element (float mode)
  __device__ __forceinline__ void load(const KParams& p, const int8_t* xq, int k,
                                       int64_t xoff = 0) {
    v = make_uint4(0, 0, 0, 0);
    if (k < p.K) {
      if (Q8) {
        const uint2 u = __ldg(reinterpret_cast<const uint2*>(xq + k));  // k % 8 == 0
        v.x = u.x, v.y = u.y;
      } else {
        v = __ldg(reinterpret_cast<const uint4*>(static_cast<const uint16_t*>(p.x) + xoff + k));
      }
    }
  }
  __device__ __forceinline__ uint4 value() const {
    uint32_t n[4] = {v.x, v.y, v.z, v.w}, o[4];
    if (Q8) {
      q4_to_h2(v.x, n);
      q4_to_h2(v.y, n + 2);
    }
    if (BITS == 8) return make_uint4(n[0], n[1], n[2], n[3]);
    permute_x4(n, o);
    return make_uint4(o[0], o[1], o[2], o[3]);
  }
};

// Shared X: full windows 0..nfull-1, zeros up to zwin (the turns' end), the partial window at
// zwin (part). 16-byte aligned X rows (launcher) unless Q8. xoff: the X row's first element.
template <int BITS, bool Q8>
__device__ __forceinline__ void stage_x_g128(const KParams& p, int nfull, int zwin, bool part,
                                             uint4* xs, const int8_t* xq, int64_t xoff = 0) {
  constexpr int kB = 4;
  const int n = nfull * 128, tid = threadIdx.x;
  for (int i0 = tid; i0 < n; i0 += kB * kWarps * 32) {
    XChunk<BITS, Q8> c[kB];
#pragma unroll
    for (int b = 0; b < kB; ++b) {
      const int i = i0 + b * kWarps * 32;
      c[b].load(p, xq, i < n ? chunk_k<BITS>(i) : int(p.K), xoff);
    }
#pragma unroll
    for (int b = 0; b < kB; ++b) {
      const int i = i0 + b * kWarps * 32;
      if (i < n) xs[chunk_slot<BITS>(i)] = c[b].value();
    }
  }
  for (int i = n + tid; i < zwin * 128; i += kWarps * 32) xs[i] = make_uint4(0, 0, 0, 0);
  if (part && tid < 128) {
    XChunk<BITS, Q8> c;
    c.load(p, xq, nfull * 1024 + chunk_k<BITS>(tid), xoff);
    xs[zwin * 128 + chunk_slot<BITS>(tid)] = c.value();
  }
}

// The ring's start, for both kernels below: every slot zeroed (a slot never loaded, when K
// has fewer than PF windows, must still dequantize to finite values: garbage zero points made
// NaN biases), windows 0 .. PF - 1 loaded, X staged (MX rows: row m's copy zwin windows after
// row m - 1's; no partial window then: it would lie in row m + 1's copy), the block synchronized.
template <int BITS, bool Q8, int PF, int R, int MX = 1>
__device__ __forceinline__ void ring_start(const KParams& p, const Cursor& cur, int nfull, int zwin,
                                           bool part, uint4* xs, const QuantX& qx,
                                           Win<BITS> (&buf)[R]) {
#pragma unroll
  for (int u = 0; u < R; ++u)
#pragma unroll
    for (int r = 0; r < 2; ++r)
#pragma unroll
      for (int pc = 0; pc < Win<BITS>::kPieces; ++pc) {
        buf[u].w[r][pc] = make_uint4(0, 0, 0, 0);
        buf[u].s[r][pc] = 0.0f;
        buf[u].z[r][pc] = 0;
      }
#pragma unroll
  for (int u = 0; u < PF; ++u)
    if (u < nfull) load_win_g128<BITS, Q8>(cur, u, buf[u]);
#pragma unroll
  for (int m = 0; m < MX; ++m)
    stage_x_g128<BITS, Q8>(p, nfull, zwin, MX == 1 && part, xs + m * zwin * 128, qx.q, m * p.ldx);
  __syncthreads();
}

template <int XT, int BITS, bool Q8 = false, int PF = g128_pf<BITS>()>
__global__ void __launch_bounds__(kWarps * 32, 2)
    decode_m1_g128_kernel(KParams p, QuantX qx) {
  static_assert(!Q8 || (XT == 0 && BITS == 4), "int8 mode: int4, fp16 operands");
  using T = typename XType<XT>::T;
  using W = Win<BITS>;
  constexpr int R = PF + 1;  // windows per ring turn
  extern __shared__ uint4 xs[];
  const int lane = threadIdx.x & 31;
  const int64_t r0 = (int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5)) * 2;
  const int nfull = int(p.K / 1024), nturns = (nfull + R - 1) / R, zwin = nturns * R;
  const bool part = p.K % 1024 != 0;
  Cursor cur = cursor_of<BITS>(p, r0, lane, Q8 ? qx.sx : nullptr);

  W pw;  // the partial window
  if (part) load_win<BITS, Q8>(p, rows_of(p, r0), nfull, lane, pw, qx.sx);
  W buf[R];
  ring_start<BITS, Q8, PF>(p, cur, nfull, zwin, part, xs, qx, buf);

  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  uint32_t xa = opaque(smem_u32(xs + lane));
  const int zw = int(opaque(uint32_t(zwin)));
  for (int c = 0; c < zwin; c += R) {
#pragma unroll
    for (int u = 0; u < R; ++u) {
      // Never taken, but the compiler cannot know: the branch ends a basic block, which keeps
      // each window's loads ahead of its work (in one block per turn the compiler, at its
      // register cap, sank all of a turn's loads to the turn's end to shorten their live
      // ranges).
      if (c + u >= zw) break;
      if (c + u + PF < nfull) load_win_g128<BITS, Q8>(cur, u + PF, buf[(u + PF) % R]);
      window_mma<T, BITS, true>(buf[u], xa + u * 2048, acc);
    }
    advance<BITS>(cur, R);
    xa += R * 2048;
  }
  if (part) window_mma<T, BITS, true>(pw, smem_u32(xs + zwin * 128 + lane), acc);
  store_rows(p, r0, lane, acc);
}

// The same with a persistent grid (2 blocks per SM): X is staged once per block, and each warp
// takes row pairs pr, pr + warps in the grid, ..., its register ring running on from one pair
// into the next (the last turn of a pair loads the next pair's first windows), so a pair does
// not start with a wait for memory. K a multiple of 1024 (no partial window); windows past the
// last full one up to the turns' end compute against X = 0, as in decode_m1_g128_kernel.
// MX > 1: M = MX rows of X (float mode), each staged in its own zwin windows of shared memory
// and multiplied with every window's dequantized weights (window_mma_rows).
template <int XT, int BITS, bool Q8 = false, int PF = g128_pf<BITS>(), int MX = 1>
__global__ void __launch_bounds__(kWarps * 32, 2)
    decode_m1_g128_persist_kernel(KParams p, QuantX qx) {
  static_assert(!Q8 || (XT == 0 && BITS == 4), "int8 mode: int4, fp16 operands");
  static_assert(!Q8 || MX == 1, "int8 mode: one X row");
  using T = typename XType<XT>::T;
  using W = Win<BITS>;
  constexpr int R = PF + 1;
  extern __shared__ uint4 xs[];
  const int lane = threadIdx.x & 31;
  const int nfull = int(p.K / 1024), zwin = (nfull + R - 1) / R * R;
  const int64_t npairs = (p.N + 1) / 2, step = int64_t(gridDim.x) * kWarps;
  int64_t pr = int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  const float* sx = Q8 ? qx.sx : nullptr;
  Cursor cur = cursor_of<BITS>(p, 2 * min(pr, npairs - 1), lane, sx);

  W buf[R];
  ring_start<BITS, Q8, PF, R, MX>(p, cur, nfull, zwin, false, xs, qx, buf);

  const int zw = int(opaque(uint32_t(zwin)));
  const uint32_t xbase = opaque(smem_u32(xs + lane));
  const uint32_t xrow = uint32_t(zwin) * 2048u;  // bytes between the rows' copies of X
  for (; pr < npairs; pr += step) {
    float acc[MX][4];
#pragma unroll
    for (int m = 0; m < MX; ++m)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[m][e] = 0.0f;
    uint32_t xa = xbase;
    int c = 0;
    for (; c + R < zwin; c += R) {
#pragma unroll
      for (int u = 0; u < R; ++u) {
        if (c + u >= zw) break;  // never taken: ends a basic block (see decode_m1_g128_kernel)
        if (c + u + PF < nfull) load_win_g128<BITS, Q8>(cur, u + PF, buf[(u + PF) % R]);
        window_mma_rows<T, BITS, true, MX>(buf[u], xa + u * 2048, xrow, acc);
      }
      advance<BITS>(cur, R);
      xa += R * 2048;
    }
    // the last turn: its loads after the first are the next pair's windows 0 .. PF - 1
    const bool more = pr + step < npairs;
    const Cursor nxt = cursor_of<BITS>(p, 2 * min(pr + step, npairs - 1), lane, sx);
#pragma unroll
    for (int u = 0; u < R; ++u) {
      if (c + u >= zw) break;
      if (u == 0) {
        if (c + PF < nfull) load_win_g128<BITS, Q8>(cur, PF, buf[PF]);
      } else if (more && u - 1 < nfull) {
        load_win_g128<BITS, Q8>(nxt, u - 1, buf[u - 1]);
      }
      window_mma_rows<T, BITS, true, MX>(buf[u], xa + u * 2048, xrow, acc);
    }
#pragma unroll
    for (int m = 0; m < MX; ++m) store_rows(p, 2 * pr, lane, acc[m], m);
    cur = nxt;
  }
}

// Shared bytes of decode_m1_g128_kernel for K with PF windows in registers.
inline int g128_smem_bytes(int64_t K, int PF) {
  const int R = PF + 1, nfull = int(K / 1024), zwin = (nfull + R - 1) / R * R;
  return (zwin + (K % 1024 != 0)) * 2048;
}

// M = 2 (and 3 with 8-bit weights), float mode, on decode_m1_g128_persist_kernel<..., MX = M>:
// every X row's copy in at most kMxSmem bytes, so that 2 blocks stay on an SM.
constexpr int kMxSmem = 112 * 1024;

// num_sms > 0: the persistent grid of 2 blocks per SM (at most one block per 16 rows).
// MX: rows of X (the persistent kernel's MX).
template <auto Kernel, int PF = kG128Pf, int MX = 1>
cudaError_t launch_g128(const KParams& p, const QuantX& qx, cudaStream_t s, int num_sms = 0) {
  // at least what any K <= kMaxK takes: full windows rounded up to whole turns, plus a partial
  // one (K = kMaxK - 128: 47 full windows, 48 with the zero ones, 49 with the partial one, more
  // than g128_smem_bytes(kMaxK), which has no partial window: such K failed to launch before);
  // MX > 1: what rows_take allows
  const cudaError_t e = opt_in_smem<Kernel>(MX == 1 ? (int(kMaxK / 1024) + PF + 2) * 2048 : kMxSmem);
  if (e != cudaSuccess) return e;
  const int64_t tiles = (p.N + 2 * kWarps - 1) / (2 * kWarps);
  const dim3 grid(unsigned(num_sms > 0 ? std::min<int64_t>(tiles, 2 * num_sms) : tiles));
  Kernel<<<grid, kWarps * 32, MX * g128_smem_bytes(p.K, PF), s>>>(p, qx);
  return cudaGetLastError();
}

// Windows in registers beyond the current one with MX > 1 rows of X (int4: 2, one less than
// at M = 1: at 3 the 128-register cap spills).
template <int BITS> constexpr int rows_pf() { return BITS == 4 ? 2 : 1; }

// The float mode at M = 2 (both widths) and M = 3 (8-bit weights) on the persistent M = 1
// kernel with MX = M: groups of 128, K a whole number of windows, 16-byte aligned X rows, not
// 8-bit weights with bf16 X (as at M = 1), and the M copies of X in kMxSmem. H200, gpu_check
// bench, 2026-12-03, this kernel / the stream-K kernel, float, fp16, g128 + zp, us: (28672,
// 8192) W4 M = 2 57.1 / 71.3, M = 3 68.5 / 71.5, M = 4 83.0 / 70.2; W8 71.7 / 79.1, 76.5 /
// 79.1, 134.0 / 80.9 (at the 128-register cap 8-bit weights spill 20-36 bytes at MX = 2-3,
// ~300 at MX = 4); (8192, 8192) W4 26.6 / 28.9, 29.7 / 28.9, 34.5 / 28.8;
// W8 30.8 / 34.5, 32.5 / 34.6, 44.8 / 34.7.
inline bool rows_take(const KParams& p, bool x_vec, int num_sms) {
  if (!(p.M == 2 || (p.M == 3 && p.bits == 8)) || p.gs != 128 || !x_vec || p.K % 1024 != 0 ||
      num_sms <= 0 || p.K > kMaxK || (p.bits == 8 && p.xt != 0))
    return false;
  const int pf = p.bits == 4 ? rows_pf<4>() : rows_pf<8>();
  return p.M * int64_t(g128_smem_bytes(p.K, pf)) <= kMxSmem;
}

template <int XT, int BITS, int MX>
cudaError_t launch_rows_mx(const KParams& p, int num_sms, cudaStream_t s) {
  constexpr int PF = rows_pf<BITS>();
  return launch_g128<decode_m1_g128_persist_kernel<XT, BITS, false, PF, MX>, PF, MX>(
      p, QuantX{nullptr, nullptr, nullptr}, s, num_sms);
}
template <int XT, int BITS>
cudaError_t launch_rows(const KParams& p, int num_sms, cudaStream_t s) {
  if constexpr (BITS == 8 && XT != 0) {
    return cudaErrorInvalidValue;  // rows_take declines it
  } else {
    if (p.M == 2) return launch_rows_mx<XT, BITS, 2>(p, num_sms, s);
    if constexpr (BITS == 8) {
      if (p.M == 3) return launch_rows_mx<XT, BITS, 3>(p, num_sms, s);
    }
    return cudaErrorInvalidValue;  // rows_take declines it
  }
}

// Register ring: PF windows in flight beyond the current one (default: 128 bytes of weights
// per lane either way); MINB: blocks per SM the registers are capped for. (The int8 mode at
// M = 1, int4 weights in groups of 128, runs the g128 kernels above.)
template <int XT, int BITS, bool SA, int PF = (BITS == 4 ? 4 : 2), int MINB = 2>
__global__ void __launch_bounds__(kWarps * 32, MINB)
    decode_m1_kernel(KParams p, bool x_vec, QuantX qx) {
  using T = typename XType<XT>::T;
  using W = Win<BITS>;
  extern __shared__ uint4 xs[];
  const int lane = threadIdx.x & 31;
  const int64_t r0 = (int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5)) * 2;
  const Rows2 rw = rows_of(p, r0);
  const int nwin = int((p.K + 1023) / 1024);

  W buf[PF + 1];
#pragma unroll
  for (int u = 0; u < PF; ++u) load_win<BITS>(p, rw, u, lane, buf[u]);
  stage_x<BITS>(p, x_vec, nwin, xs);  // its loads go out behind the weights'
  __syncthreads();

  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int c = 0; c < nwin; c += PF + 1) {
#pragma unroll
    for (int u = 0; u <= PF; ++u) {
      const int cc = c + u;
      load_win<BITS>(p, rw, cc + PF, lane, buf[(u + PF) % (PF + 1)]);
      if (cc >= nwin) break;
      window_mma<T, BITS, SA>(buf[u], smem_u32(xs + cc * 128 + lane), acc);
    }
  }
  store_rows(p, r0, lane, acc);
}

inline size_t smem_bytes(const KParams& p) { return size_t((p.K + 1023) / 1024) * 2048; }
inline bool takes(const KParams& p) { return p.M == 1 && p.K <= kMaxK; }

template <auto Kernel>
cudaError_t launch_q(const KParams& p, bool x_vec, const QuantX& qx, cudaStream_t s) {
  const cudaError_t e = opt_in_smem<Kernel>(int(kMaxK * 2));
  if (e != cudaSuccess) return e;
  const dim3 grid(unsigned((p.N + 2 * kWarps - 1) / (2 * kWarps)));
  Kernel<<<grid, kWarps * 32, smem_bytes(p), s>>>(p, x_vec, qx);
  return cudaGetLastError();
}
template <auto Kernel>
cudaError_t launch_one(const KParams& p, bool x_vec, cudaStream_t s) {
  return launch_q<Kernel>(p, x_vec, QuantX{nullptr, nullptr, nullptr}, s);
}

// Groups of 128: the persistent kernel where K is a whole number of windows.
template <int XT, int BITS, bool Q8>
cudaError_t launch_g128_any(const KParams& p, const QuantX& qx, int num_sms, cudaStream_t s) {
  constexpr int PF = g128_pf<BITS>();
  if (p.K % 1024 == 0 && num_sms > 0)
    return launch_g128<decode_m1_g128_persist_kernel<XT, BITS, Q8>, PF>(p, qx, s, num_sms);
  return launch_g128<decode_m1_g128_kernel<XT, BITS, Q8>, PF>(p, qx, s);
}

template <int XT, int BITS>
cudaError_t launch(const KParams& p, bool x_vec, int num_sms, cudaStream_t s) {
  // (8-bit weights with bf16 X: the bf16 int8 dequantization (through fp32) spills registers
  // in the persistent kernel's loop; that case keeps the general kernel)
  if (p.gs == 128 && x_vec && (BITS == 4 || XT == 0))
    return launch_g128_any<XT, BITS, false>(p, QuantX{nullptr, nullptr, nullptr}, num_sms, s);
  if (p.gs % (BITS == 4 ? 128 : 64) == 0)
    return launch_one<decode_m1_kernel<XT, BITS, true>>(p, x_vec, s);
  return launch_one<decode_m1_kernel<XT, BITS, false>>(p, x_vec, s);
}

}  // namespace m1

// ---------------------------------------------------------------------------------------------
// M = 2..16, float mode, fp16/bf16 X with 16-byte aligned rows: the stream-K kernel.
// The tile kernel above reads the whole of X once per 16 weight rows (from L2: at M = 16 four
// times the bytes of the weights); here the 8 warps of a block work on 128 different weight
// rows (16 per warp) of the same 128-k chunk, so a chunk of X (8 MT rows x 128 k) is copied
// once per block into shared memory (a ring of PF + 1 chunks, in lane order: each 16-byte read
// of a warp is 512 contiguous bytes, conflict-free) and read by every warp. The mma operands
// are the tile kernel's (A = 16 weight rows, B = X^T, MT tiles of 8 rows of X), as are the
// weight loads (registers, PF chunks in flight; 64 contiguous bytes per row and quad).
// Work: units (row tile of 128 rows, 128-k chunk), tile-major; block b of G takes the
// contiguous units [b U / G, (b + 1) U / G) (stream-K: every block the same number of chunks
// +- 1, for any N and K; G = 2 blocks per SM). A tile wholly inside one block's range is
// stored to Y directly; otherwise each block's part of it is written as fp32 partial sums
// (slot 2 b for the block's first tile, 2 b + 1 for its last) and sk_reduce adds the parts of
// the tile in block order (deterministic for a given G). Without the workspace (a capture that
// cannot allocate it) G = the number of tiles: one tile per block, no partial sums.
// H200, decode_probe, 2026-12-02 (fp16, g128 + zp, weights rotated past L2), M=16 against the
// tile kernel in the same run: W4 70B.up / down / attn 78.0 / 73.4 / 32.1 us vs 109.0 / 100.4 /
// 38.0; W8 87.6 / 83.3 / 36.2 vs 116.1 / 106.9 / 41.0; M=4 W4 67.8 / 68.1 / 29.2 vs 72.7 /
// 70.8 / 28.4, W8 76.5 / 77.1 / 32.3 vs 82.8 / 82.5 / 31.0. ncu (70B.up W4 M=16, PF 3): 240
// instructions per warp and chunk (1 KB of weights), 52 % of issue slots, 3.9 warps per
// scheduler (registers: 2 blocks per SM; 3 spill), stalls long scoreboard 1.8, wait 1.1,
// barrier 1.1 per issue. What is left is the read pattern (64-byte pieces per row: the
// decode_probe read kernels cap it near 55-60 % of copy bandwidth, tests/gpu/README.md).
namespace sk {

struct Plan {
  int64_t T, C, U;  // row tiles, chunks per row, units
  int64_t G;        // blocks
};
__host__ __device__ __forceinline__ int64_t unit_begin(const Plan& pl, int64_t b) {
  return b * pl.U / pl.G;
}
// The block whose range holds unit u.
__host__ __device__ __forceinline__ int64_t block_of(const Plan& pl, int64_t u) {
  return ((u + 1) * pl.G + pl.U - 1) / pl.U - 1;
}

constexpr int kRB = kWarps * 16;  // weight rows per tile (16 per warp)

// One chunk's loads for a lane: raw weights, scales and zero points of its rows g and g + 8.
template <int BITS>
struct WSlot {
  WRaw<BITS> w[2];
  float s[2];
  int z[2];
};

// The weight rows of one tile for a lane: row bases (64-bit) and scale offsets (N * groups
// < 2^31), rows past N clamped to N - 1 (read, never stored).
struct TileRows {
  const uint8_t* w[2];
  int32_t s[2];
};

// PK (the packed layout, cuda_kernels.h): the lane's own 16-byte pieces of chunk 0 of its
// 16-row tile (clamped to the last tile; rows past N there are zeros) and the scale slots of
// its rows in group 0 ([tile][group][16 rows]).
template <int BITS, bool PK>
__device__ __forceinline__ void tile_rows(const KParams& p, int64_t tile, int warp, int lane,
                                          TileRows& tr) {
  const int g = lane >> 2;
  if constexpr (PK) {
    const int64_t n16 = min(tile * (kRB / 16) + warp, (p.N + 15) / 16 - 1);
    const uint8_t* base =
        p.w + n16 * ((p.K + kChunk - 1) / kChunk) * pack_block_bytes(BITS) + lane * 16;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      tr.w[r] = base + r * (pack_block_bytes(BITS) / 2);
      tr.s[r] = int32_t(n16 * p.groups * 16 + 8 * r + g);
    }
  } else {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int64_t n = min(tile * kRB + warp * 16 + 8 * r + g, p.N - 1);
      tr.w[r] = p.w + n * p.row_bytes;
      tr.s[r] = int32_t(n * p.groups);
    }
  }
}

// Chunk c's weights, scales and zero points of the lane's rows; lanes past K read a valid
// address (canonical: the last 32 k; packed: the zero padding of the last chunk) with scale 0
// (their X is 0). Packed: each of the warp's 16-byte loads is 512 contiguous bytes.
template <int BITS, bool PK>
__device__ __forceinline__ void load_unit(const KParams& p, const TileRows& tr, int c, int t,
                                          uint32_t gmul, WSlot<BITS>& sl) {
  const int k0 = c * kChunk + 32 * t;
  const bool kok = k0 < int(p.K);
  const int kc = min(k0, int(p.K) - 32);
  const uint32_t grp = __umulhi(uint32_t(kc >> 5) << 1, gmul);
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const uint8_t* src =
        PK ? tr.w[r] + int64_t(c) * pack_block_bytes(BITS) : tr.w[r] + (BITS == 4 ? kc / 2 : kc);
    sl.w[r].v[0] = ldg_stream(src);
    if (BITS == 8) sl.w[r].v[BITS == 8 ? 1 : 0] = ldg_stream(src + (PK ? 512 : 16));
    const int32_t si = tr.s[r] + int32_t(PK ? grp * 16 : grp);
    const float s = __ldg(p.scales + si);
    sl.s[r] = kok ? s : 0.0f;
    sl.z[r] = p.zp ? int(__ldg(p.zp + si)) : 0;
  }
}

// Y (full tile) or the block's partial-sum slot: acc[mt][e] is D[g + 8 (e / 2)][2 t + e % 2] of
// the warp's 16 rows and X tile mt.
template <int MT>
__device__ __forceinline__ void store_unit(const KParams& p, int64_t tile, bool full,
                                           float* slot, int warp, int lane,
                                           const float (&acc)[MT][4]) {
  const int g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int nl = warp * 16 + g + 8 * (e >> 1);
      const int m = 8 * mt + 2 * t + (e & 1);
      if (m >= p.M) continue;
      const float v = acc[mt][e];
      if (full) {
        const int64_t n = tile * kRB + nl;
        if (n < p.N)
          store_y(p.y, m * p.ldy + n, p.yt, p.row_scale ? v * p.row_scale[m] : v);
      } else {
        slot[m * kRB + nl] = v;
      }
    }
}

// The tile position of a block's compute: tile, chunk c, the chunk c0 the block started the
// tile at, and whether it is the block's first tile (partial-sum slot 2 b; else 2 b + 1).
struct Seg {
  int64_t tile;
  int c, c0;
  bool first;
};

// One chunk's mma of a warp: X from shared memory at xa (the lane's pieces, already in the
// weights' pair order), the weights of `sl`, the chunk sums added to acc.
// Q8 (int8 mode): X is the exact fp16 q, sxa the shared address of the chunk's sx of X rows
// 0 .. 8 MT - 1; each chunk (one group) adds (sx * scale) * its exact integer sum.
template <int MT, bool Q8>
__device__ __forceinline__ void load_sx(uint32_t sxa, float (&sxv)[MT][2]) {
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
    sxv[mt][0] = sxv[mt][1] = 1.0f;
    if (Q8) {
      const int t = (threadIdx.x & 3);
      const uint2 v = lds64(sxa + uint32_t((8 * mt + 2 * t) * 4));
      sxv[mt][0] = __uint_as_float(v.x);
      sxv[mt][1] = __uint_as_float(v.y);
    }
  }
}
// The lane's X pieces of a chunk: piece q of X tile mt at xa + (4 mt + q) * qstride.
template <int MT>
__device__ __forceinline__ void load_xb(uint32_t xa, uint32_t qstride, uint32_t (&xb)[MT][16]) {
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      const uint4 x4 = lds128(xa + uint32_t(mt * 4 + q) * qstride);
      const uint32_t n4[4] = {x4.x, x4.y, x4.z, x4.w};
#pragma unroll
      for (int i = 0; i < 4; ++i) xb[mt][4 * q + i] = n4[i];
    }
}
template <class T, int BITS, bool SA, int MT, bool Q8>
__device__ __forceinline__ void unit_mma_x(const WSlot<BITS>& sl, const uint32_t (&xb)[MT][16],
                                           const float (&sxv)[MT][2], float (&acc)[MT][4]) {
  Deq<T> d0, d1;
  d0.init(sl.s[0], sl.z[0]);
  d1.init(sl.s[1], sl.z[1]);
  uint32_t a0[16], a1[16];
  dequant32<T, BITS, !SA>(sl.w[0], d0, a0);
  dequant32<T, BITS, !SA>(sl.w[1], d1, a1);
  float pt[MT][2][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int q = 0; q < 2; ++q)
#pragma unroll
      for (int e = 0; e < 4; ++e) pt[mt][q][e] = 0.0f;
#pragma unroll
  for (int s = 0; s < 8; ++s) {
    const uint32_t a[4] = {a0[2 * s], a1[2 * s], a0[2 * s + 1], a1[2 * s + 1]};
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
      const uint32_t bb[2] = {xb[mt][2 * s], xb[mt][2 * s + 1]};
      mma16816<T>(pt[mt][s & 1], a, bb);
    }
  }
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
    if (Q8) {  // the tile kernel's operand order: (sx * scale) * sum
      acc[mt][0] += (sxv[mt][0] * sl.s[0]) * (pt[mt][0][0] + pt[mt][1][0]);
      acc[mt][1] += (sxv[mt][1] * sl.s[0]) * (pt[mt][0][1] + pt[mt][1][1]);
      acc[mt][2] += (sxv[mt][0] * sl.s[1]) * (pt[mt][0][2] + pt[mt][1][2]);
      acc[mt][3] += (sxv[mt][1] * sl.s[1]) * (pt[mt][0][3] + pt[mt][1][3]);
    } else if (SA) {
      acc[mt][0] += sl.s[0] * (pt[mt][0][0] + pt[mt][1][0]);
      acc[mt][1] += sl.s[0] * (pt[mt][0][1] + pt[mt][1][1]);
      acc[mt][2] += sl.s[1] * (pt[mt][0][2] + pt[mt][1][2]);
      acc[mt][3] += sl.s[1] * (pt[mt][0][3] + pt[mt][1][3]);
    } else {
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[mt][e] += pt[mt][0][e] + pt[mt][1][e];
    }
  }
}

template <class T, int BITS, bool SA, int MT, bool Q8 = false>
__device__ __forceinline__ void unit_mma(const WSlot<BITS>& sl, uint32_t xa, float (&acc)[MT][4],
                                         uint32_t sxa = 0) {
  float sxv[MT][2];
  load_sx<MT, Q8>(sxa, sxv);
  uint32_t xb[MT][16];
  load_xb<MT>(xa, 32 * 16, xb);
  unit_mma_x<T, BITS, SA, MT, Q8>(sl, xb, sxv, acc);
}

// After a chunk: where the tile ends (or the block's range does, `last`), its sums go to Y or
// to the block's partial-sum slot and acc restarts.
template <int MT>
__device__ __forceinline__ void seg_step(const KParams& p, Seg& sg, int C, bool last, float* part,
                                         int64_t b, int warp, int lane, float (&acc)[MT][4]) {
  if (++sg.c == C || last) {
    const bool full = sg.c0 == 0 && sg.c == C;
    float* slot = part + (2 * b + (sg.first ? 0 : 1)) * p.M * kRB;
    store_unit<MT>(p, sg.tile, full, slot, warp, lane, acc);
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[mt][e] = 0.0f;
    if (sg.c == C) {
      sg.c = 0;
      ++sg.tile;
    }
    sg.c0 = sg.c;
    sg.first = false;
  }
}

// SA: group_size % 128 == 0 (the scale on each chunk's sums), else folded into the weights.
// X goes through registers (one 16-byte piece per thread in flight, stored one chunk later)
// so that int4's pair order is made once per block, not once per warp (cp.async and a permute
// after each read: decode_probe, H200, 2026-12-02, M=16 W4 70B.up / down / attn 91.2 / 88.4 /
// 37.0 us against 81.2 / 77.5 / 32.5).
// Q8 (int8 mode, groups of 128): X is the quantized q (int8 [M, K], natural order), staged as
// exact fp16 (16 q per copying thread and chunk), with the chunk's sx of each X row beside it;
// as in the tile kernel the fp16 mma sums the exact integers q (w - zp) of a group exactly in
// fp32 (< 2^24). `qmatmul bench --suite full`, H200, 2026-12-02 18:05 UTC, 5e7b7c2: W4 M=16
// 70B.up / down / attn 76.4 / 72.7 / 28.9 us (the tile kernel at 13:27 UTC: 98.9 / 98.4 / 33.7),
// W8 96.7 / 92.6 us (107.4 / 101.9).
template <int XT, int BITS, bool SA, int MT, int PF, bool Q8 = false, bool PK = false>
__global__ void __launch_bounds__(kWarps * 32, 2)
    decode_sk_kernel(KParams p, Plan pl, float* part, QuantX qx) {
  static_assert(PF >= 2, "a chunk's X is stored PF - 1 chunks ahead");
  static_assert(!Q8 || (SA && XT == 0), "int8 mode: fp16 operands, one group per chunk");
  using T = typename XType<XT>::T;
  constexpr int R = PF + 1;     // X stages = register slots
  constexpr int XC = MT * 128;  // 16-byte X pieces per chunk
  __shared__ uint4 xs[R][XC];
  __shared__ __align__(16) float sxs[R][Q8 ? MT * 8 : 2];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, t = lane & 3;
  const int64_t b = blockIdx.x;
  const int64_t u0 = unit_begin(pl, b);
  const int nu = int(unit_begin(pl, b + 1) - u0);  // the block's units
  const int C = int(pl.C);
  const int K = int(p.K);
  const uint32_t gq = uint32_t(p.gs >> 5);
  const uint32_t gmul = uint32_t(((uint64_t(1) << 31) + gq - 1) / gq);

  // X copy: thread i < XC copies the 16 bytes (row m = i / 16, k 8 (i % 16)) of each chunk to
  // its lane-order place (piece q = i % 4 of lane 4 (m % 8) + (i % 16) / 4, X tile m / 8); xcl:
  // the chunks in which that piece lies inside X (0 for rows past M).
  // Q8: thread i < XC / 2 copies 16 q (row i / 8, k 16 (i % 8)) to the places of fp16 pieces
  // 2 (i % 8) and 2 (i % 8) + 1 of that row; threads i < 8 MT also copy sx of row i.
  const int xi = threadIdx.x;
  constexpr int XT_N = Q8 ? XC / 2 : XC;  // copying threads
  constexpr int XPR = Q8 ? 8 : 16;        // copying threads per X row
  const bool xthr = xi < XT_N;            // whole warps
  const int xm = xi / XPR, xj = xi % XPR;
  const int xk = Q8 ? 16 * xj : 8 * xj;   // the piece's first k in the chunk
  const int xcl = xthr && xm < p.M ? (K - xk + kChunk - 1) / kChunk : 0;
  const uint4* xg =
      Q8 ? reinterpret_cast<const uint4*>(qx.q + (xm < p.M ? xm * p.K : 0) + xk)
         : reinterpret_cast<const uint4*>(static_cast<const uint16_t*>(p.x) +
                                          (xm < p.M ? xm * p.ldx : 0) + xk);
  auto place = [&](int j) { return ((xm >> 3) * 4 + (j & 3)) * 32 + 4 * (xm & 7) + (j >> 2); };
  const int xdst = xthr ? place(Q8 ? 2 * xj : xj) : 0;
  const uint32_t xst = opaque(smem_u32(&xs[0][xdst]));
  const uint32_t xst2 = Q8 ? opaque(smem_u32(&xs[0][xthr ? place(2 * xj + 1) : 0])) : 0u;
  const bool sxthr = Q8 && xi < 8 * MT;
  const float* sxg = Q8 && xi < p.M ? qx.sx + xi * p.groups : nullptr;
  const int sxcl = sxg ? int(p.groups) : 0;  // chunk c is group c (groups of 128)
  const uint32_t sxst = Q8 ? smem_u32(&sxs[0][sxthr ? xi : 0]) : 0u;
  struct XPiece {
    uint4 v;
    float sx;
  };
  auto xload = [&](int c) {
    XPiece x{c < xcl ? __ldg(xg + c * (kChunk / (Q8 ? 16 : 8))) : make_uint4(0, 0, 0, 0), 0.0f};
    if (Q8 && sxthr && c < sxcl) x.sx = __ldg(sxg + c);
    return x;
  };
  auto xstore = [&](const XPiece& x, int slot) {
    if (Q8 && sxthr) sts32(sxst + uint32_t(slot * sizeof(sxs[0])), __float_as_uint(x.sx));
    if (!xthr) return;
    if (Q8) {
      const uint32_t w[4] = {x.v.x, x.v.y, x.v.z, x.v.w};
      uint32_t h[8];
      q4_to_h2(w[0], h);
      q4_to_h2(w[1], h + 2);
      q4_to_h2(w[2], h + 4);
      q4_to_h2(w[3], h + 6);
      uint32_t o[8];
      if (BITS == 4) {
        permute_x4(h, o);
        permute_x4(h + 4, o + 4);
      } else {
#pragma unroll
        for (int i = 0; i < 8; ++i) o[i] = h[i];
      }
      sts128(xst + uint32_t(slot * XC * 16), make_uint4(o[0], o[1], o[2], o[3]));
      sts128(xst2 + uint32_t(slot * XC * 16), make_uint4(o[4], o[5], o[6], o[7]));
      return;
    }
    uint4 v = x.v;
    if (BITS == 4) {
      const uint32_t n4[4] = {v.x, v.y, v.z, v.w};
      uint32_t o[4];
      permute_x4(n4, o);
      v = make_uint4(o[0], o[1], o[2], o[3]);
    }
    sts128(xst + uint32_t(slot * XC * 16), v);
  };

  // Positions: compute (sg), weight loads and X copies PF units ahead (ltile, lc).
  int64_t ltile = u0 / C;
  int lc = int(u0 - ltile * C);
  Seg sg{ltile, lc, lc, true};
  TileRows tr;
  tile_rows<BITS, PK>(p, ltile, warp, lane, tr);
  auto advance = [&]() {
    if (++lc == C) {
      lc = 0;
      tile_rows<BITS, PK>(p, ++ltile, warp, lane, tr);
    }
  };
  WSlot<BITS> buf[R];
  XPiece xr{make_uint4(0, 0, 0, 0), 0.0f};  // the X piece in flight
#pragma unroll
  for (int v = 0; v < PF; ++v) {
    if (v < nu) {
      load_unit<BITS, PK>(p, tr, lc, t, gmul, buf[v]);
      xstore(xload(lc), v);
    }
    advance();
  }

  float acc[MT][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int e = 0; e < 4; ++e) acc[mt][e] = 0.0f;
  const uint32_t xbase = opaque(smem_u32(&xs[0][lane]));
  const uint32_t sxbase = smem_u32(&sxs[0][0]);

  for (int i0 = 0; i0 < nu; i0 += R) {
#pragma unroll
    for (int v = 0; v < R; ++v) {
      const int i = i0 + v;
      if (i >= nu) break;
      __syncthreads();  // unit i's X is in; every warp is done with slot (v + PF) % R
      if (i > 0 && i + PF - 1 < nu) xstore(xr, (v + PF - 1) % R);
      if (i + PF < nu) {
        load_unit<BITS, PK>(p, tr, lc, t, gmul, buf[(v + PF) % R]);
        xr = xload(lc);
        advance();
      }
      unit_mma<T, BITS, SA, MT, Q8>(buf[v], xbase + uint32_t(v * XC * 16), acc,
                                       Q8 ? sxbase + uint32_t(v * sizeof(sxs[0])) : 0u);
      seg_step<MT>(p, sg, C, i + 1 == nu, part, b, warp, lane, acc);
    }
  }
}

// M = 1 on packed weights: the same units, ring and mma, but X (its one row, int8 mode: q as
// exact fp16, and sx) is staged once per block for all of K, in the pieces' pair order (piece i
// = k 8 i .. 8 i + 7), so chunks need no block barrier and no X copy. Lanes of quad g = 0 read
// their chunk's 4 pieces (k 32 t .. 32 t + 31) as the B column 0; the other lanes read 4 zero
// pieces after X. Shared bytes: sk1_smem_bytes.
inline int64_t sk1_smem_bytes(int64_t K, bool q8) {
  const int64_t C = (K + kChunk - 1) / kChunk;
  return C * 256 + 64 + (q8 ? C * 4 : 0);
}
// 2 blocks per SM on sm_90 / sm_80; within the 99 KB a block may opt in to on sm_86 / sm_89
constexpr int kSk1MaxSmem = 96 * 1024;

template <int XT, int BITS, bool SA, int PF, bool Q8 = false>
__global__ void __launch_bounds__(kWarps * 32, 2)
    decode_sk1_kernel(KParams p, Plan pl, float* part, QuantX qx) {
  static_assert(!Q8 || (SA && XT == 0), "int8 mode: fp16 operands, one group per chunk");
  using T = typename XType<XT>::T;
  constexpr int R = PF + 1;
  extern __shared__ uint4 xr[];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, t = lane & 3, g = lane >> 2;
  const int64_t b = blockIdx.x;
  const int64_t u0 = unit_begin(pl, b);
  const int nu = int(unit_begin(pl, b + 1) - u0);
  const int C = int(pl.C);
  const int K = int(p.K);
  const uint32_t gq = uint32_t(p.gs >> 5);
  const uint32_t gmul = uint32_t(((uint64_t(1) << 31) + gq - 1) / gq);

  int64_t ltile = u0 / C;
  int lc = int(u0 - ltile * C);
  Seg sg{ltile, lc, lc, true};
  TileRows tr;
  tile_rows<BITS, true>(p, ltile, warp, lane, tr);
  auto advance = [&]() {
    if (++lc == C) {
      lc = 0;
      tile_rows<BITS, true>(p, ++ltile, warp, lane, tr);
    }
  };
  WSlot<BITS> buf[R];
#pragma unroll
  for (int v = 0; v < PF; ++v) {
    if (v < nu) load_unit<BITS, true>(p, tr, lc, t, gmul, buf[v]);
    advance();
  }
  // X behind the first weights
  const int np = C * 16;
  for (int i = threadIdx.x; i < np + 4; i += kWarps * 32) {
    uint32_t h[4] = {0u, 0u, 0u, 0u};
    if (i < np && 8 * i < K) {
      if (Q8) {
        const uint2 u = __ldg(reinterpret_cast<const uint2*>(qx.q + 8 * i));
        q4_to_h2(u.x, h);
        q4_to_h2(u.y, h + 2);
      } else {
        const uint4 v =
            __ldg(reinterpret_cast<const uint4*>(static_cast<const uint16_t*>(p.x)) + i);
        h[0] = v.x, h[1] = v.y, h[2] = v.z, h[3] = v.w;
      }
    }
    uint4 o = make_uint4(h[0], h[1], h[2], h[3]);
    if (BITS == 4) {
      uint32_t pm[4];
      permute_x4(h, pm);
      o = make_uint4(pm[0], pm[1], pm[2], pm[3]);
    }
    xr[i] = o;
  }
  float* sxr = reinterpret_cast<float*>(xr + np + 4);
  if (Q8)
    for (int i = threadIdx.x; i < C; i += kWarps * 32)
      sxr[i] = i < p.groups ? __ldg(qx.sx + i) : 0.0f;
  __syncthreads();

  float acc[1][4] = {{0.0f, 0.0f, 0.0f, 0.0f}};
  const uint32_t xa = opaque(g == 0 ? smem_u32(xr) + 64 * t : smem_u32(xr + np));
  const uint32_t cs = opaque(g == 0 ? 256u : 0u);  // bytes per chunk (zero lanes: none)
  for (int i0 = 0; i0 < nu; i0 += R) {
#pragma unroll
    for (int v = 0; v < R; ++v) {
      const int i = i0 + v;
      if (i >= nu) break;
      if (i + PF < nu) {
        load_unit<BITS, true>(p, tr, lc, t, gmul, buf[(v + PF) % R]);
        advance();
      }
      float sxv[1][2] = {{1.0f, 1.0f}};
      if (Q8) sxv[0][0] = sxv[0][1] = sxr[sg.c];
      uint32_t xb[1][16];
      load_xb<1>(xa + uint32_t(sg.c) * cs, 16, xb);
      unit_mma_x<T, BITS, SA, 1, Q8>(buf[v], xb, sxv, acc);
      seg_step<1>(p, sg, C, i + 1 == nu, part, b, warp, lane, acc);
    }
  }
}

// Y of the tiles split between blocks: the parts added in block order.
__global__ void sk_reduce(KParams p, Plan pl, int RB, const float* part) {
  const int64_t total = p.M * p.N;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t m = i / p.N, n = i - m * p.N;
    const int64_t tile = n / RB, nl = n - tile * RB;
    const int64_t blo = block_of(pl, tile * pl.C), bhi = block_of(pl, tile * pl.C + pl.C - 1);
    if (blo == bhi) continue;  // stored by its block
    float v = 0.0f;
    for (int64_t b = blo; b <= bhi; ++b) {
      const bool first = unit_begin(pl, b) / pl.C == tile;
      v += part[((2 * b + (first ? 0 : 1)) * p.M + m) * RB + nl];
    }
    store_y(p.y, m * p.ldy + n, p.yt, p.row_scale ? v * p.row_scale[m] : v);
  }
}

// Chunks in flight beyond the current one (decode_probe, H200, 2026-12-02, M=16 W4: 3 and 2
// within 1 %; 8-bit weights: 2).
constexpr int kPF = 2;
constexpr int kBlocksPerSm = 2;

// split: the stream-K grid of one block per SM slot (at least one per tile); else one block
// per tile (no partial sums).
inline Plan plan(const KParams& p, int num_sms, bool split) {
  Plan pl;
  pl.T = (p.N + kRB - 1) / kRB;
  pl.C = (p.K + kChunk - 1) / kChunk;
  pl.U = pl.T * pl.C;
  pl.G = split ? std::max(pl.T, std::min<int64_t>(pl.U, int64_t(kBlocksPerSm) * num_sms)) : pl.T;
  return pl;
}

// Where it runs: M = 2..16 with aligned X, and enough chunks to give each of the grid's blocks
// 8 or more (fewer: the tile kernel, whose 16-row blocks have no partial sums, no second launch
// and a shorter ramp; `qmatmul bench --suite full`, H200, 2026-12-02, a82586a, 8B.attn (4096^2)
// M=16 W4 / W8: 13.5 / 15.0 us against the tile kernel's 10.4 / 11.3; 3.9 chunks per block).
// QMM_CUDA_DECODE=stream-k / tile / tma in the environment forces one of them where it applies
// (tests/gpu: gpu_check runs its M = 2..16 cases each way).
enum class Pick { kAuto, kStreamK, kTile, kTma };
inline Pick forced() {
  const char* e = std::getenv("QMM_CUDA_DECODE");
  if (!e) return Pick::kAuto;
  if (std::strcmp(e, "stream-k") == 0) return Pick::kStreamK;
  if (std::strcmp(e, "tile") == 0) return Pick::kTile;
  if (std::strcmp(e, "tma") == 0) return Pick::kTma;
  return Pick::kAuto;
}
inline bool takes(const KParams& p, bool x_vec, int num_sms) {
  // the group index umulhi(2 (k / 32), ceil(2^31 / (gs / 32))) is exact while
  // (k / 32) (gs / 32) < 2^31 (as in the M = 1 kernels); beyond, the tile kernel divides
  if (p.M < 2 || !x_vec || (p.K / 32) * (p.gs / 32) >= (int64_t(1) << 31)) return false;
  const Pick f = forced();
  if (f != Pick::kAuto) return f == Pick::kStreamK;
  return plan(p, num_sms, false).U >= 8 * int64_t(kBlocksPerSm) * num_sms;
}

// Bytes of partial sums the split plan wants (0: it splits no tile).
inline size_t workspace(const KParams& p, int num_sms) {
  const Plan pl = plan(p, num_sms, true);
  return pl.G == pl.T ? 0 : size_t(2 * pl.G) * size_t(p.M) * size_t(kRB) * 4;
}

// The split plan's second launch: sk_reduce sums each split tile's partial rows (ws) into Y.
inline cudaError_t launch_reduce(const KParams& p, const Plan& pl, int num_sms, void* ws,
                                 cudaStream_t s) {
  const int64_t total = p.M * p.N;
  sk_reduce<<<unsigned(std::min<int64_t>((total + 255) / 256, 4 * num_sms)), 256, 0, s>>>(
      p, pl, kRB, static_cast<const float*>(ws));
  return cudaGetLastError();
}

template <int XT, int BITS, bool SA, int MT, int PF = kPF, bool Q8 = false>
cudaError_t launch_mt(const KParams& p, int num_sms, void* ws, size_t ws_bytes, cudaStream_t s,
                      const QuantX& qx = QuantX{nullptr, nullptr, nullptr}) {
  const size_t need = workspace(p, num_sms);
  const bool split = need > 0 && ws && ws_bytes >= need;
  const Plan pl = plan(p, num_sms, split);
  const int64_t sm1 = sk1_smem_bytes(p.K, Q8);
  if (p.packed && MT == 1 && p.M == 1 && sm1 <= kSk1MaxSmem) {
    constexpr auto kern = decode_sk1_kernel<XT, BITS, SA, (BITS == 4 ? 3 : PF), Q8>;
    const cudaError_t e = opt_in_smem<kern>(kSk1MaxSmem);
    if (e != cudaSuccess) return e;
    kern<<<unsigned(pl.G), kWarps * 32, size_t(sm1), s>>>(p, pl, static_cast<float*>(ws), qx);
  } else if (p.packed)
    decode_sk_kernel<XT, BITS, SA, MT, PF, Q8, true>
        <<<unsigned(pl.G), kWarps * 32, 0, s>>>(p, pl, static_cast<float*>(ws), qx);
  else
    decode_sk_kernel<XT, BITS, SA, MT, PF, Q8, false>
        <<<unsigned(pl.G), kWarps * 32, 0, s>>>(p, pl, static_cast<float*>(ws), qx);
  if (!split) return cudaGetLastError();
  return launch_reduce(p, pl, num_sms, ws, s);
}

template <int XT, int BITS>
cudaError_t launch(const KParams& p, int num_sms, void* ws, size_t ws_bytes, cudaStream_t s) {
  const bool sa = p.gs % kChunk == 0;
  if (p.M <= 8)
    return sa ? launch_mt<XT, BITS, true, 1>(p, num_sms, ws, ws_bytes, s)
              : launch_mt<XT, BITS, false, 1>(p, num_sms, ws, ws_bytes, s);
  return sa ? launch_mt<XT, BITS, true, 2>(p, num_sms, ws, ws_bytes, s)
            : launch_mt<XT, BITS, false, 2>(p, num_sms, ws, ws_bytes, s);
}

// int8 mode, groups of 128 (qx.q natural order).
template <int BITS>
cudaError_t launch_q8(const KParams& p, const QuantX& qx, int num_sms, void* ws, size_t ws_bytes,
                      cudaStream_t s) {
  if (p.M <= 8)
    return launch_mt<0, BITS, true, 1, kPF, true>(p, num_sms, ws, ws_bytes, s, qx);
  return launch_mt<0, BITS, true, 2, kPF, true>(p, num_sms, ws, ws_bytes, s, qx);
}

}  // namespace sk

// ---------------------------------------------------------------------------------------------
// M = 2..16, float mode, int4 / int8 weights in groups of 128, on sm_90: the TMA decode kernel.
// The stream-K kernel above holds each weight in registers from its load to its mma, so its
// bytes in flight are bounded by registers (2 chunks ahead, 64-byte pieces per row and quad)
// and every 128-k chunk pays its own loads, scale arithmetic and block barrier (~240
// instructions per warp and KB of weights). Here every operand goes to shared memory by TMA,
// without passing through any thread. int4 (8 bits: see the units below): a producer warp
// loads each unit (128 weight rows x 512 k) into a ring of kS stages as six boxes on one
// mbarrier: the weights (two 16-KB boxes of 128
// bytes x 128 rows, the 128-byte swizzle, so ldmatrix reads them conflict-free), X (two boxes of
// 8 MT rows x 256 k), and the unit's scales and zero points (a box of the unit's 4 fp32 groups,
// one of 16 int8 groups holding its 4: 16 bytes, the least a box row may be, starting 16-byte
// aligned: a box starting at an 8-byte aligned group stopped the first version with "illegal
// instruction"; rows past N and X rows past M zero-filled), up to kS - 1 units ahead of the
// consumers. Every request an SM makes waits behind the bytes it already has in flight, so a
// load a thread waits on (cp.async X, per-lane scale loads: the first version, 65-67 us at
// M = 2..8 on 70B.up) stalls for kS units; TMA copies only wait in the ring.
// The producer warp then permutes the unit's X in place into the pair order below (each lane
// its piece `lane` of every row: 8 k), fences the generic stores against the next copy into
// the slot, and arrives on the stage's full barrier; 8 consumer warps (16 rows each, sk's
// 128-row tiles) wait on that barrier alone and give the slot back on another (no block
// barrier in the loop).
// Consumer, per unit and 256-k sub-chunk: 4 ldmatrix.x4 (lane (g, t) gets bytes 4t .. 4t + 3 of
// each 16-byte piece: 8 consecutive k of rows g and g + 8 of pieces c, c + 1, one 32-bit word
// each), per 32-k piece 2 dequantized words (Deq::w4, exact q - zp: pairs (e[i], e[i + 4])) as
// the A operands of 2 mma per X tile, whose B operands are one 16-byte shared read (X in that
// pair order: 512 contiguous bytes per warp), and per group of 128 the fp32 scale on the
// group's sums (sk's SA); the two sub-chunks unrolled, so one's loads overlap the other's mma.
// Work: sk's stream-K units over one block per SM (contiguous unit ranges, partial tiles summed
// in block order by sk_reduce; without the workspace one tile per block).
// 8-bit weights (BITS = 8): units of 128 rows x 256 k (the same two 16-KB weight boxes, 128 k
// each, one group each), 5 stages. X needs no permutation there: it comes as a 3-D box (slabs
// of 64 k, the 128-byte swizzle), the producer warp only issues copies and the consumers wait
// on the copy barrier itself. A consumer lane reads k 32 t .. 32 t + 31 of its rows g, g + 8 and
// of its X rows (lds128, conflict-free / 2-way) and runs sk's chunk mma (sk::unit_mma_x) on each
// sub-chunk. A scale box (4 groups) serves a unit pair: it comes with the pair's first unit
// (and with a block's first unit), whose stage the consumers give back only after the second
// unit (tma_probe, H200, 2026-12-04, 70B.up W8 M = 4 / 8 / 16: 75.4 / 77.2 / 85.1 us, the
// stream-K kernel 78.3 / 81.2 / 89.4; with a scale box in every unit 78.0 / 78.8 / 88.3).
// Why units of 512 k (tests/gpu/tma_probe.cu, H200, 2026-12-04, 70B.up W4 (28672, 8192), us):
// the read pattern alone (no arithmetic) takes 35.2 with only the 128 x 128 weight boxes, 46.0
// with the 256-k units' scale, zero-point and X boxes (the scale box alone 5.8 of it: 128 rows
// of 16 bytes, half a 32-byte sector each, read by two units in a row) and 40.5 with the 512-k
// units' (half as many scale and zero-point boxes per weight byte).
// The kernel, same process, M = 4 / 8 / 16: units of 512 k 49.8 / 52.5 / 64.5; of 256 k (the
// first kernel) 54.5 / 56.5 / 71.2; of 1024 k (2 stages, scale rows of 32 bytes) 55.4 / 56.4 /
// 70.9; 70B.down 49.2 / 53.8 / 61.0 against 54.5 / 54.8 / 67.9 (256 k); 70B.attn and 8B.up
// within 1 us of the 256-k units at M = 4 and up to 3 us faster at M = 16.
// Tried and not kept: units of 32 rows x 1024 k (4 boxes of 128 bytes per row back to back, 4
// warps per row group on k quarters, summed in shared memory at each tile end): 85.8 / 127.8 us
// at M = 4 / 16 on (28672, 8192), against 58.5 / 74.2 for the 128-row units of 256 k (gpu_check
// bench, 2026-12-04). An XOR swizzle of the permuted X against the producer's 2-way bank
// conflicted stores (with a __syncwarp after them): 76.7 instead of 55.5 us at M = 4 with
// units of 256 k (tma_probe, same process; why is open). 16 consumer warps at M = 9..16 (one X
// tile each, both halves dequantizing the same weights): 79.7 instead of 63.1 us on 70B.up.
// Consumers splitting the unit by rows and by group (warp w: rows 64 (w % 2) .. + 63, group
// w / 2; X permuted by each consumer lane itself, the producer a single copying thread, the 4
// groups' sums added in shared memory at each segment end; 4 stages): 70B.up M = 4 / 8 / 16
// 50.1 / 53.1 / 69.2 us against 50.9 / 53.2 / 64.0 (tma_probe, same run). The same kernel with
// no arithmetic at all (its ring, boxes and stores only) took 48.3 / 49.8 / 54.2: at M <= 8 the
// kernel runs at the speed of its own reads, at M = 16 the arithmetic shows.
namespace tk {

constexpr int kCW = 8;                      // consumer warps
constexpr int kThreads = (kCW + 1) * 32;    // + the producer warp
constexpr int kKB = 2;                      // sub-chunks (weight boxes) per unit
constexpr int kWBox = sk::kRB * 128;        // weight bytes per box: 128 bytes x 128 rows
constexpr int kSB = sk::kRB * 16;           // scale box bytes (4 groups)
constexpr int kZB = sk::kRB * 16;           // zero-point box bytes (16 groups)

// BITS = 4: sub-chunks of 256 k (units of 512 k, 4 groups); 8: of 128 k (one group; units of
// 256 k, whose 2 groups are half of a scale box).
template <int BITS> struct Units {
  static constexpr int kSK = 128 * 8 / BITS;  // k per sub-chunk (one weight box)
  static constexpr int kUK = kKB * kSK;       // k per unit
  static constexpr int kGU = kUK / 128;       // groups per unit
};

template <int BITS, int MT> struct Cfg {
  static constexpr int kS = BITS == 4 ? 6 - MT : 5;  // ring stages (what shared memory holds)
  static constexpr int kXB = MT * 8 * Units<BITS>::kSK * 2;  // X bytes per sub-chunk: 8 MT rows
  static constexpr int kX = kKB * kWBox, kSc = kX + kKB * kXB, kZp = kSc + kSB;
  static constexpr int kStage = kZp + kZB;      // a multiple of 1024 (the swizzle's period)
  static constexpr int kBar = kS * kStage;
  static constexpr int kSmem = kBar + 24 * kS + 1024;  // + 3 kS mbarriers, alignment slack
  static_assert(kStage % 1024 == 0 && kSmem <= 232448, "stage alignment, shared memory");
};

__device__ __forceinline__ void ldsm_x4(uint32_t a, uint32_t (&r)[4]) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
}
__device__ __forceinline__ int lds_s8(uint32_t a) {
  uint32_t r;
  asm volatile("ld.shared.u8 %0, [%1];" : "=r"(r) : "r"(a));
  return int(int8_t(r));
}

// tmw: weights [N, K * BITS / 8 bytes], box 128 bytes x 128 rows, 128-byte swizzle; tmx: X [M,
// K] (16-bit), BITS = 4: box 256 k x 8 MT rows; 8: [K / 64][M][64] (slabs of 64 k), box 2 slabs
// x 8 MT rows, 128-byte swizzle; tms: scales [N, groups] fp32, box 4 x 128; tmz: zero points
// [N, groups] int8, box 16 x 128 (unused without zero points).
template <int XT, int BITS, int MT>
__global__ void __launch_bounds__(kThreads, 1)
    decode_tma_kernel(const __grid_constant__ CUtensorMap tmw,
                      const __grid_constant__ CUtensorMap tmx,
                      const __grid_constant__ CUtensorMap tms,
                      const __grid_constant__ CUtensorMap tmz, KParams p, sk::Plan pl,
                      float* part) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  using T = typename XType<XT>::T;
  using CF = Cfg<BITS, MT>;
  constexpr int kS = CF::kS, kGU = Units<BITS>::kGU, kSK = Units<BITS>::kSK;
  extern __shared__ uint8_t smem_raw[];
  const uint32_t sbase = (smem_u32(smem_raw) + 1023) & ~1023u;
  // copied[s]: the TMA bytes (1 arrival); full[s]: the producer's lanes; empty[s]: the consumers
  const uint32_t copied0 = sbase + CF::kBar, full0 = copied0 + 8 * kS, empty0 = full0 + 8 * kS;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int64_t b = blockIdx.x;
  const int64_t u0 = sk::unit_begin(pl, b);
  const int nu = int(sk::unit_begin(pl, b + 1) - u0);
  const int C = int(pl.C);
  const bool zp = p.zp != nullptr;
  if (tid == 0)
    for (int s = 0; s < kS; ++s) sm90::mbar_init(copied0 + 8 * s, 1);
  sm90::init_ring<kS, kCW, 32>(tid, full0, empty0);  // (fences the inits, block barrier)

  if (warp == kCW) {  // the producer
    int64_t wt = u0 / C;  // the next copy's unit (tile, chunk), slot and round
    int wc = int(u0 - wt * C);
    int js = 0;
    uint32_t jph = 0;
    auto copy = [&](int j) {  // lane 0: unit j into slot js
      if (j >= kS) sm90::mbar_wait(empty0 + 8 * js, jph ^ 1);  // the previous round's release
      const uint32_t st = sbase + uint32_t(js * CF::kStage), bar = copied0 + 8 * js;
      // 8 bits: a unit pair's scale box comes with its first unit (or a block's first unit)
      const bool sbox = BITS == 4 || (wc & 1) == 0 || j == 0;
      sm90::mbar_expect_tx(bar, kKB * (kWBox + CF::kXB) + (sbox ? kSB : 0) + (zp ? kZB : 0));
      const int row = int(wt * sk::kRB), g0 = kGU * wc;  // the unit's first row and group
#pragma unroll
      for (int q = 0; q < kKB; ++q) {
        sm90::tma_load_2d(st + uint32_t(q * kWBox), &tmw, (kKB * wc + q) * 128, row, bar);
        if constexpr (BITS == 4)
          sm90::tma_load_2d(st + uint32_t(CF::kX + q * CF::kXB), &tmx, (kKB * wc + q) * kSK, 0,
                            bar);
        else
          sm90::tma_load_3d(st + uint32_t(CF::kX + q * CF::kXB), &tmx, 0, 0, 2 * (kKB * wc + q),
                            bar);
      }
      // (a box's first element must be 16-byte aligned: the unit's 4 scales are (8 bits: the 4
      // of its unit pair), zero-point boxes start at a multiple of 16 groups, the unit's inside)
      if (sbox) sm90::tma_load_2d(st + CF::kSc, &tms, 4 * (g0 >> 2), row, bar);
      if (zp) sm90::tma_load_2d(st + CF::kZp, &tmz, 16 * (g0 >> 4), row, bar);
      if (++wc == C) {
        wc = 0;
        ++wt;
      }
      if (++js == kS) {
        js = 0;
        jph ^= 1;
      }
    };
    if constexpr (BITS == 8) {  // X needs no permutation: the consumers wait on `copied`
      if (lane == 0)
        for (int j = 0; j < nu; ++j) copy(j);  // (copy waits for the slot's release)
      return;
    }
    if (lane == 0)
      for (int j = 0; j < kS - 1 && j < nu; ++j) copy(j);
    int slot = 0;
    uint32_t ph = 0;
    for (int i = 0; i < nu; ++i) {
      sm90::mbar_wait(copied0 + 8 * slot, ph);
#pragma unroll 1
      for (int q = 0; q < kKB; ++q) {
        const uint32_t xs = sbase + uint32_t(slot * CF::kStage + CF::kX + q * CF::kXB);
        // X row m's piece `lane` (k 8 lane .. 8 lane + 7) from m * 512 + 16 lane to its
        // pair-order place ((m / 8) * 8 + lane / 4) * 512 + (4 (m % 8) + lane % 4) * 16 (2-way
        // bank conflicts; removing them by a swizzle was slower, see above)
        uint4 v[8 * MT];
#pragma unroll
        for (int m = 0; m < 8 * MT; ++m) v[m] = lds128(xs + uint32_t(m * 512 + 16 * lane));
        __syncwarp();
#pragma unroll
        for (int m = 0; m < 8 * MT; ++m) {
          const uint32_t n4[4] = {v[m].x, v[m].y, v[m].z, v[m].w};
          uint32_t o[4];
          permute_x4(n4, o);
          sts128(xs + uint32_t((((m >> 3) * 8 + (lane >> 2)) * 32 + 4 * (m & 7) + (lane & 3)) *
                               16),
                 make_uint4(o[0], o[1], o[2], o[3]));
        }
      }
      asm volatile("fence.proxy.async.shared::cta;" ::: "memory");  // before the slot's next copy
      sm90::mbar_arrive(full0 + 8 * slot);
      if (lane == 0 && i + kS - 1 < nu) copy(i + kS - 1);  // the slot consumers free after i - 1
      if (++slot == kS) {
        slot = 0;
        ph ^= 1;
      }
    }
    return;
  }

  // Consumers. ldmatrix: lane L gives the address of row (L & 7) + 8 ((L >> 3) & 1) of the warp's
  // 16, piece 2 q + (L >> 4) of the sub-chunk (q = 0..3); the 16-byte piece j of row r sits at
  // r * 128 + 16 (j ^ (r & 7)) (the 128-byte swizzle).
  const int g = lane >> 2;
  const int lrow = warp * 16 + (lane & 7) + 8 * ((lane >> 3) & 1);
  uint32_t lmo[4];
#pragma unroll
  for (int q = 0; q < 4; ++q)
    lmo[q] = uint32_t(lrow * 128 + 16 * ((2 * q + (lane >> 4)) ^ (lrow & 7)));
  const uint32_t xo = CF::kX + 16 * uint32_t(lane);
  const uint32_t so = CF::kSc + 16 * uint32_t(warp * 16 + g);  // row g; g + 8 at + 128
  const uint32_t zo = CF::kZp + 16 * uint32_t(warp * 16 + g);
  // 8 bits (sk's chunk order): lane (g, t) reads k 32 t .. 32 t + 31 of its rows g, g + 8 (the
  // sub-chunk's 16-byte pieces 2 t, 2 t + 1) and of X rows g (+ 8 mt) (slab t / 2, pieces
  // 4 (t % 2) .. + 3), all swizzled by the row's g.
  const int t = lane & 3;
  const uint32_t w8o = 16 * uint32_t(warp * 16 + g) * 8 + 16 * uint32_t((2 * t) ^ g);
  const uint32_t w8o1 = 16 * uint32_t(warp * 16 + g) * 8 + 16 * uint32_t((2 * t + 1) ^ g);
  uint32_t x8o[4];
#pragma unroll
  for (int j = 0; j < 4; ++j)
    x8o[j] = uint32_t(CF::kX + (t >> 1) * MT * 1024 + g * 128 + 16 * ((4 * (t & 1) + j) ^ g));

  const int64_t t0 = u0 / C;
  sk::Seg sg{t0, int(u0 - t0 * C), int(u0 - t0 * C), true};
  float acc[MT][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int e = 0; e < 4; ++e) acc[mt][e] = 0.0f;

  int slot = 0, prev_slot = 0;
  uint32_t ph = 0, prev_st = 0;
  for (int i = 0; i < nu; ++i) {
    const uint32_t st = sbase + uint32_t(slot * CF::kStage);
    sm90::mbar_wait((BITS == 4 ? full0 : copied0) + 8 * slot, ph);
    const uint32_t zof = zo + uint32_t((kGU * sg.c) & 15);  // the unit's zero points in the box
    // 8 bits: the scales of a pair's second unit are in the first one's stage (kept until then),
    // except for an odd unit that is the block's first: it loaded its own scale box
    const bool own = BITS == 4 || (sg.c & 1) == 0 || i == 0;
    const bool keep = BITS == 8 && (sg.c & 1) == 0 && i + 1 < nu;
    if constexpr (BITS == 8) {
      const uint32_t sof = (own ? st : prev_st) + so + 4 * uint32_t((kGU * sg.c) & 3);
      const float nosx[MT][2] = {};  // (no activation scales: float mode)
#pragma unroll
      for (int q = 0; q < kKB; ++q) {  // sub-chunk q = group 2 c + q: sk's mma on one chunk
        const uint32_t sq = st + uint32_t(q * kWBox), xq = st + uint32_t(q * CF::kXB);
        sk::WSlot<8> sl;
#pragma unroll
        for (int r = 0; r < 2; ++r) {  // rows g, g + 8
          sl.w[r].v[0] = lds128(sq + w8o + uint32_t(r * 1024));
          sl.w[r].v[1] = lds128(sq + w8o1 + uint32_t(r * 1024));
          sl.s[r] = __uint_as_float(lds32(sof + uint32_t(4 * q + 128 * r)));
          sl.z[r] = zp ? lds_s8(st + zof + uint32_t(q + 128 * r)) : 0;
        }
        uint32_t xb[MT][16];
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            const uint4 v = lds128(xq + x8o[j] + uint32_t(mt * 1024));
            xb[mt][4 * j] = v.x;
            xb[mt][4 * j + 1] = v.y;
            xb[mt][4 * j + 2] = v.z;
            xb[mt][4 * j + 3] = v.w;
          }
        sk::unit_mma_x<T, 8, true, MT, false>(sl, xb, nosx, acc);
      }
    } else {
#pragma unroll
      for (int q = 0; q < kKB; ++q) {
        const uint32_t sq = st + uint32_t(q * kWBox), xq = st + uint32_t(q * CF::kXB);
        uint32_t wq[4][4];
#pragma unroll
        for (int j = 0; j < 4; ++j) ldsm_x4(sq + lmo[j], wq[j]);
        // sub-chunk q's groups 2 q, 2 q + 1 of rows g, g + 8
        const uint2 s0 = lds64(st + so + 8 * q), s1 = lds64(st + so + 8 * q + 128);
        uint32_t z0 = 0, z1 = 0;
        if (zp) {
          z0 = lds16(st + zof + 2 * q);
          z1 = lds16(st + zof + 2 * q + 128);
        }
#pragma unroll
        for (int h = 0; h < 2; ++h) {  // the sub-chunk's two groups
          const float sc0 = __uint_as_float(h ? s0.y : s0.x);
          const float sc1 = __uint_as_float(h ? s1.y : s1.x);
          Deq<T> d0, d1;
          d0.init(sc0, int(int8_t(z0 >> (8 * h))));
          d1.init(sc1, int(int8_t(z1 >> (8 * h))));
          float pt[MT][4][4];
#pragma unroll
          for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int c = 0; c < 4; ++c)
#pragma unroll
              for (int e = 0; e < 4; ++e) pt[mt][c][e] = 0.0f;
#pragma unroll
          for (int cc = 0; cc < 4; ++cc) {  // 32-k piece c = 4 h + cc of rows g, g + 8
            const int c = 4 * h + cc;
            uint32_t a0[4], a1[4];
            d0.template w4<false>(wq[c >> 1][2 * (c & 1)], a0);
            d1.template w4<false>(wq[c >> 1][2 * (c & 1) + 1], a1);
            const uint32_t fa[4] = {a0[0], a1[0], a0[1], a1[1]};
            const uint32_t fb[4] = {a0[2], a1[2], a0[3], a1[3]};
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
              const uint4 x = lds128(xq + xo + uint32_t((mt * 8 + c) * 512));
              const uint32_t b0[2] = {x.x, x.y}, b1[2] = {x.z, x.w};
              mma16816<T>(pt[mt][(cc & 1) * 2], fa, b0);
              mma16816<T>(pt[mt][(cc & 1) * 2 + 1], fb, b1);
            }
          }
#pragma unroll
          for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int e = 0; e < 4; ++e)
              acc[mt][e] += ((e >> 1) ? sc1 : sc0) *
                            ((pt[mt][0][e] + pt[mt][1][e]) + (pt[mt][2][e] + pt[mt][3][e]));
        }
      }
    }
    __syncwarp();  // every lane's reads of the slot are done before lane 0 frees it
    if (lane == 0) {
      if (!own) sm90::mbar_arrive(empty0 + 8 * prev_slot);  // the pair's first stage
      if (!keep) sm90::mbar_arrive(empty0 + 8 * slot);
    }
    prev_st = st;
    prev_slot = slot;
    if (++slot == kS) {
      slot = 0;
      ph ^= 1;
    }
    sk::seg_step<MT>(p, sg, C, i + 1 == nu, part, b, warp, lane, acc);
  }
#endif
}

inline sk::Plan plan(const KParams& p, int num_sms, bool split) {
  sk::Plan pl;
  pl.T = (p.N + sk::kRB - 1) / sk::kRB;
  pl.C = p.K / (p.bits == 4 ? Units<4>::kUK : Units<8>::kUK);
  pl.U = pl.T * pl.C;
  pl.G = split ? std::min<int64_t>(pl.U, num_sms) : pl.T;
  return pl;
}
// Bytes of partial sums the split plan wants (0: it splits no tile).
inline size_t workspace(const KParams& p, int num_sms) {
  const sk::Plan pl = plan(p, num_sms, true);
  return pl.G == pl.T ? 0 : size_t(2 * pl.G) * size_t(p.M) * size_t(sk::kRB) * 4;
}

// The four tensor maps of a call (false: a stride or base the copy engine cannot take).
template <int BITS, int MT>
bool maps(const KParams& p, CUtensorMap (&m)[4]) {
  using namespace sm90;
  const uint64_t G = uint64_t(p.groups);
  const bool x_ok =
      BITS == 4
          ? tensor_map_2d(&m[1], CU_TENSOR_MAP_DATA_TYPE_UINT16, p.x, uint64_t(p.K),
                          uint64_t(p.M), uint64_t(p.ldx) * 2, Units<4>::kSK, 8 * MT,
                          CU_TENSOR_MAP_SWIZZLE_NONE)
          : tensor_map_3d(&m[1], CU_TENSOR_MAP_DATA_TYPE_UINT16, p.x, 64, uint64_t(p.M),
                          uint64_t(p.K / 64), uint64_t(p.ldx) * 2, 128, 64, 8 * MT, 2,
                          CU_TENSOR_MAP_SWIZZLE_128B);
  return tensor_map_2d(&m[0], CU_TENSOR_MAP_DATA_TYPE_UINT8, p.w, uint64_t(p.K * BITS / 8),
                       uint64_t(p.N), uint64_t(p.row_bytes), 128, sk::kRB,
                       CU_TENSOR_MAP_SWIZZLE_128B) &&
         x_ok &&
         tensor_map_2d(&m[2], CU_TENSOR_MAP_DATA_TYPE_FLOAT32, p.scales, G, uint64_t(p.N), G * 4,
                       4, sk::kRB, CU_TENSOR_MAP_SWIZZLE_NONE) &&
         (!p.zp || tensor_map_2d(&m[3], CU_TENSOR_MAP_DATA_TYPE_UINT8, p.zp, G, uint64_t(p.N), G,
                                 16, sk::kRB, CU_TENSOR_MAP_SWIZZLE_NONE));
}

// Where it runs: a 9.0 device with the sm_90a build (gemm_sm90_available), float mode, int4
// or int8 weights in groups of 128, M = 2..16, 16-byte aligned X rows, K % 512 == 0 and with
// zero points K % 2048 == 0 (whole units and unit pairs, and scale / zero-point row strides the
// copy engine takes: 16-byte multiples), 16-byte aligned weights, scales and zero points, and
// per block 4+ units (int4) / 32+ units (int8). Below that the tile or stream-K kernel is as
// fast or faster (tma_probe, H200, 2026-12-04, in tests/gpu/README.md: int4 with TP_NK; int8 at
// 13-16 units per block, 70B.attn and the 8B shapes, within 0.7 us of the stream-K kernel
// either way, at 54 (70B.up / down) 3-6 % ahead of it).
inline bool takes(const KParams& p, bool x_vec, int num_sms) {
  auto al16 = [](const void* q) { return reinterpret_cast<uintptr_t>(q) % 16 == 0; };
  if (p.packed || (p.bits != 4 && p.bits != 8) || p.gs != 128 || p.M < 2 || p.M > 16 ||
      !x_vec || p.K % 512 != 0 || (p.zp && p.groups % 16 != 0) || p.row_bytes % 16 != 0 ||
      !al16(p.w) || !al16(p.scales) || (p.zp && !al16(p.zp)) || p.N >= (int64_t(1) << 31) ||
      !sm90::encoder() || !gemm_sm90_available())
    return false;
  const sk::Pick f = sk::forced();
  if (f != sk::Pick::kAuto) return f == sk::Pick::kTma;
  return plan(p, num_sms, false).U >= (p.bits == 4 ? 4 : 32) * int64_t(num_sms);
}

template <int XT, int BITS, int MT>
cudaError_t launch_mt(const KParams& p, int num_sms, void* ws, size_t ws_bytes, cudaStream_t s) {
  const size_t need = workspace(p, num_sms);
  const bool split = need > 0 && ws && ws_bytes >= need;
  const sk::Plan pl = plan(p, num_sms, split);
  CUtensorMap m[4];
  if (!maps<BITS, MT>(p, m)) return cudaErrorInvalidValue;
  if (!p.zp) m[3] = m[2];  // not read
  constexpr auto kern = decode_tma_kernel<XT, BITS, MT>;
  constexpr int kSmem = Cfg<BITS, MT>::kSmem;
  const cudaError_t e = opt_in_smem<kern>(kSmem);
  if (e != cudaSuccess) return e;
  kern<<<unsigned(pl.G), kThreads, kSmem, s>>>(m[0], m[1], m[2], m[3], p, pl,
                                                static_cast<float*>(ws));
  if (!split) return cudaGetLastError();
  return sk::launch_reduce(p, pl, num_sms, ws, s);
}

template <int XT, int BITS>
cudaError_t launch_bits(const KParams& p, int num_sms, void* ws, size_t ws_bytes,
                        cudaStream_t s) {
  return p.M <= 8 ? launch_mt<XT, BITS, 1>(p, num_sms, ws, ws_bytes, s)
                  : launch_mt<XT, BITS, 2>(p, num_sms, ws, ws_bytes, s);
}
template <int XT>
cudaError_t launch(const KParams& p, int num_sms, void* ws, size_t ws_bytes, cudaStream_t s) {
  return p.bits == 4 ? launch_bits<XT, 4>(p, num_sms, ws, ws_bytes, s)
                     : launch_bits<XT, 8>(p, num_sms, ws, ws_bytes, s);
}

}  // namespace tk

template <int XT, int BITS, bool SA, bool Q8>
cudaError_t launch_mt(const KParams& p, bool x_vec, const QuantX& qx, cudaStream_t s) {
  const dim3 grid(unsigned((p.N + 15) / 16));
  if (p.M <= 8)
    decode_kernel<XT, BITS, 1, SA, Q8><<<grid, kWarps * 32, 0, s>>>(p, x_vec, qx);
  else
    decode_kernel<XT, BITS, 2, SA, Q8><<<grid, kWarps * 32, 0, s>>>(p, x_vec, qx);
  return cudaGetLastError();
}

template <int XT>
cudaError_t launch_tiles(const KParams& p, bool x_vec, cudaStream_t s) {
  const QuantX none{nullptr, nullptr, nullptr};
  const bool sa = p.gs % kChunk == 0;
  if (p.bits == 4)
    return sa ? launch_mt<XT, 4, true, false>(p, x_vec, none, s)
              : launch_mt<XT, 4, false, false>(p, x_vec, none, s);
  return sa ? launch_mt<XT, 8, true, false>(p, x_vec, none, s)
            : launch_mt<XT, 8, false, false>(p, x_vec, none, s);
}

// M = 2 (3) on the M = 1 kernel where it takes the shape, unless QMM_CUDA_DECODE forces the
// stream-K or the tile kernel.
inline bool rows_wanted(const KParams& p, bool x_vec, int num_sms) {
  return sk::forced() == sk::Pick::kAuto && m1::rows_take(p, x_vec, num_sms);
}

template <int XT>
cudaError_t launch_bits(const KParams& p, bool x_vec, int num_sms, void* ws, size_t ws_bytes,
                        cudaStream_t s) {
  if (p.packed) {  // decode_packed_takes: aligned X, M = 1..16
    if (!x_vec) return cudaErrorInvalidValue;
    return p.bits == 4 ? sk::launch<XT, 4>(p, num_sms, ws, ws_bytes, s)
                       : sk::launch<XT, 8>(p, num_sms, ws, ws_bytes, s);
  }
  if (m1::takes(p))
    return p.bits == 4 ? m1::launch<XT, 4>(p, x_vec, num_sms, s) : m1::launch<XT, 8>(p, x_vec, num_sms, s);
  if (rows_wanted(p, x_vec, num_sms))
    return p.bits == 4 ? m1::launch_rows<XT, 4>(p, num_sms, s) : m1::launch_rows<XT, 8>(p, num_sms, s);
  if (tk::takes(p, x_vec, num_sms)) return tk::launch<XT>(p, num_sms, ws, ws_bytes, s);
  if (sk::takes(p, x_vec, num_sms))
    return p.bits == 4 ? sk::launch<XT, 4>(p, num_sms, ws, ws_bytes, s)
                       : sk::launch<XT, 8>(p, num_sms, ws, ws_bytes, s);
  return launch_tiles<XT>(p, x_vec, s);
}

bool x_vec_of(const KParams& p) {
  return (reinterpret_cast<uintptr_t>(p.x) % 16 == 0) && ((p.ldx * 2) % 16 == 0);
}

}  // namespace

size_t decode_float_workspace(const KParams& p, int num_sms) {
  if (p.packed) return decode_shape_ok(p) ? sk::workspace(p, num_sms) : 0;
  if (m1::takes(p) || rows_wanted(p, x_vec_of(p), num_sms) || !decode_shape_ok(p)) return 0;
  if (tk::takes(p, x_vec_of(p), num_sms)) return tk::workspace(p, num_sms);
  return sk::takes(p, x_vec_of(p), num_sms) ? sk::workspace(p, num_sms) : 0;
}

cudaError_t launch_decode_float(const KParams& p, int num_sms, void* ws, size_t ws_bytes,
                                cudaStream_t s) {
  // fp32 X is converted first
  if ((p.xt != 0 && p.xt != 1) || !decode_shape_ok(p)) return cudaErrorInvalidValue;
  const bool x_vec = x_vec_of(p);
  return p.xt == 1 ? launch_bits<1>(p, x_vec, num_sms, ws, ws_bytes, s)
                   : launch_bits<0>(p, x_vec, num_sms, ws, ws_bytes, s);
}

size_t decode_int8_workspace(const KParams& p, int num_sms) {
  if (p.packed) return p.gs == kChunk && decode_shape_ok(p) ? sk::workspace(p, num_sms) : 0;
  if (p.gs != kChunk || !sk::takes(p, true, num_sms) || !decode_shape_ok(p)) return 0;
  return sk::workspace(p, num_sms);
}

cudaError_t launch_decode_int8(const KParams& p, const QuantX& qx, int num_sms, void* ws,
                               size_t ws_bytes, cudaStream_t s) {
  if (p.gs != kChunk || p.M > 16 || !decode_shape_ok(p)) return cudaErrorInvalidValue;
  if (p.packed)
    return p.bits == 4 ? sk::launch_q8<4>(p, qx, num_sms, ws, ws_bytes, s)
                       : sk::launch_q8<8>(p, qx, num_sms, ws, ws_bytes, s);
  if (p.bits == 4 && m1::takes(p)) return m1::launch_g128_any<0, 4, true>(p, qx, num_sms, s);
  if (sk::takes(p, true, num_sms))
    return p.bits == 4 ? sk::launch_q8<4>(p, qx, num_sms, ws, ws_bytes, s)
                       : sk::launch_q8<8>(p, qx, num_sms, ws, ws_bytes, s);
  return p.bits == 4 ? launch_mt<0, 4, true, true>(p, false, qx, s)
                     : launch_mt<0, 8, true, true>(p, false, qx, s);
}

}  // namespace cuda
}  // namespace qmm
