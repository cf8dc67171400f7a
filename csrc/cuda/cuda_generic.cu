// cuda activation pre-passes and the any-shape fallback kernels.
//
// cuda_quantize_x_int8: one warp per (row m, group g) of X (any dtype, any ldx): a = max|x|
//   (NaN if any NaN), inv = 127/a, q = clamp(rint(x*inv)), sx = a/127, sum_q, with __fdiv_rn /
//   __fmul_rn / __float2int_rn (no contraction, round-half-even): bit-identical to
//   quantize_group_int8. Writes q [M, K] (int8, optionally permuted per 8 elements as
//   0,2,4,6,1,3,5,7 for the int4 mma.sync kernel), sx and sum_q [M, groups]; or q as exact fp16
//   and sx transposed [groups, ldsx] for the Hopper int8 GEMM; or q int8 in the Hopper s8 GEMM's
//   order with sx / sum_q in 128-row blocks (QLayout in cuda_kernels.h).
// cuda_convert_x_f16: X (any dtype, any ldx) -> dense fp16 [M, K] for the float GEMM.
// cuda_generic_float_gemv / cuda_generic_int8_gemv: any group size, any alignment. One warp
//   per (weight row n, 4 rows of X) (float) or (n, m) (int8); lanes stride k; fixed-order
//   butterfly reductions (deterministic). fp32 dequantization s * (q - zp) (float), exact
//   64-bit integer group sums and the scalar backend's epilogue order (int8). Slow: a
//   correctness path for group sizes that are not multiples of 32 or unaligned weights.
#include <math.h>

#include <algorithm>

#include "cuda/cuda_common.cuh"
#include "cuda/cuda_kernels.h"

namespace qmm {
namespace cuda {
namespace {

__device__ __forceinline__ int weight_at(const KParams& p, int64_t n, int64_t k) {
  const uint8_t* row = p.w + n * p.row_bytes;
  if (p.bits == 8) return int(reinterpret_cast<const int8_t*>(row)[k]);
  const uint8_t b = row[k >> 1];
  const int nib = (k & 1) ? (b >> 4) : (b & 0xf);
  return (nib ^ 8) - 8;
}

__global__ void quantize_x_kernel(KParams p, QuantX qx, QLayout layout, int64_t ldsx) {
  const int lane = threadIdx.x & 31;
  const int64_t item = int64_t(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (item >= p.M * p.groups) return;
  const int64_t m = item / p.groups, grp = item % p.groups;
  const int64_t k0 = grp * p.gs;
  const int64_t xo = m * p.ldx + k0;
  float a = 0.0f;
  bool nan = false;
  for (int64_t i = lane; i < p.gs; i += 32) {
    const float v = fabsf(load_x(p.x, xo + i, p.xt));
    if (v != v) nan = true;
    a = v > a ? v : a;
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float b = __shfl_xor_sync(0xffffffffu, a, o);
    a = b > a ? b : a;
  }
  nan = __any_sync(0xffffffffu, nan);
  if (nan) a = __int_as_float(0x7fc00000);
  const bool half = layout == QLayout::kHalfT, permute4 = layout == QLayout::kInt8Permute4;
  const bool tiled = layout == QLayout::kInt8Sm90;
  int8_t* q = qx.q + m * p.K + k0;
  __half* qh = reinterpret_cast<__half*>(qx.q) + m * p.K + k0;
  int s = 0;
  if (a == 0.0f) {
    for (int64_t i = lane; i < p.gs; i += 32) {
      if (half)
        qh[i] = __ushort_as_half(0);
      else
        q[i] = 0;
    }
  } else {
    const float inv = __fdiv_rn(127.0f, a);
    for (int64_t i = lane; i < p.gs; i += 32) {
      const float pr = __fmul_rn(load_x(p.x, xo + i, p.xt), inv);
      int v = 0;
      if (pr == pr) {
        const int r = __float2int_rn(pr);  // saturating, half to even
        v = r > 127 ? 127 : (r < -127 ? -127 : r);
      }
      int64_t pos = i;
      if (permute4) {
        const int j = int(i & 7);
        pos = (i & ~int64_t(7)) + ((j & 1) * 4 + (j >> 1));
      } else if (tiled) {  // k = 32 t + 8 s + e of a 128-k block -> 32 s + 16 h + 4 t + j
        const int kk = int(i & 127), e = kk & 7;
        const int h = p.bits == 4 ? (e & 1) : (e >> 2), j = p.bits == 4 ? (e >> 1) : (e & 3);
        pos = (i & ~int64_t(127)) + 32 * ((kk >> 3) & 3) + 16 * h + 4 * (kk >> 5) + j;
      }
      if (half)
        qh[i] = __int2half_rn(v);  // |v| <= 127: exact
      else
        q[pos] = int8_t(v);
      s += v;
    }
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  if (lane == 0) {
    const float sx = a == 0.0f ? 0.0f : __fdiv_rn(a, 127.0f);
    if (tiled) {  // [groups][ldsx / R][sx R | sum_q R], R = kInt8Sm90Rows, zero past M
      constexpr int64_t R = kInt8Sm90Rows;
      const int64_t tm = ldsx / R;
      float* blk = qx.sx + (grp * tm + m / R) * 2 * R;
      blk[m % R] = sx;
      reinterpret_cast<int32_t*>(blk)[R + m % R] = s;
      if (m == p.M - 1)
        for (int64_t r = p.M; r < ldsx; ++r) {
          float* b2 = qx.sx + (grp * tm + r / R) * 2 * R;
          b2[r % R] = 0.0f;
          reinterpret_cast<int32_t*>(b2)[R + r % R] = 0;
        }
    } else if (half) {
      qx.sx[grp * ldsx + m] = sx;
      if (m == p.M - 1)  // the padding rows read by the GEMM's 16-byte copies
        for (int64_t r = p.M; r < ldsx; ++r) qx.sx[grp * ldsx + r] = 0.0f;
    } else {
      qx.sx[item] = sx;
      qx.sq[item] = s;
    }
  }
}

// One block per row (grid-stride): the row's largest finite |x| (NaN and Inf skipped: they
// stay NaN / Inf through the scaling, and large finite values beside an Inf still fit fp16),
// then the scaled fp16 copy. fmaxf is exact, so the scale is deterministic.
__global__ void convert_x_kernel(KParams p, __half* dst, float* row_scale) {
  __shared__ float red[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  for (int64_t m = blockIdx.x; m < p.M; m += gridDim.x) {
    float a = 0.0f;
    for (int64_t k = threadIdx.x; k < p.K; k += blockDim.x) {
      const float v = fabsf(load_x(p.x, m * p.ldx + k, p.xt));
      if (v <= 3.4028234663852886e38f) a = fmaxf(a, v);  // finite only
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) a = fmaxf(a, __shfl_xor_sync(0xffffffffu, a, o));
    if (lane == 0) red[warp] = a;
    __syncthreads();
    a = 0.0f;
    for (int i = 0; i < nwarps; ++i) a = fmaxf(a, red[i]);
    __syncthreads();  // red is rewritten by the next row
    int e = 0;
    if (a > 0.0f) e = max(ilogbf(a) - 14, -100);
    const float inv = ldexpf(1.0f, -e);  // exact: 2^-113 .. 2^100
    for (int64_t k = threadIdx.x; k < p.K; k += blockDim.x)
      dst[m * p.K + k] = __float2half_rn(load_x(p.x, m * p.ldx + k, p.xt) * inv);
    if (threadIdx.x == 0) row_scale[m] = ldexpf(1.0f, e);
  }
}

constexpr int kRowsPerWarp = 4;

__global__ void generic_float_kernel(KParams p) {
  const int lane = threadIdx.x & 31;
  const int64_t item = int64_t(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5);
  const int64_t mblocks = (p.M + kRowsPerWarp - 1) / kRowsPerWarp;
  if (item >= p.N * mblocks) return;
  const int64_t n = item / mblocks, m0 = (item % mblocks) * kRowsPerWarp;
  float acc[kRowsPerWarp] = {0.0f, 0.0f, 0.0f, 0.0f};
  const float* s = p.scales + n * p.groups;
  const int8_t* z = p.zp ? p.zp + n * p.groups : nullptr;
  for (int64_t k = lane; k < p.K; k += 32) {
    const int64_t grp = k / p.gs;
    const float w = s[grp] * float(weight_at(p, n, k) - (z ? int(z[grp]) : 0));
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r)
      if (m0 + r < p.M) acc[r] += load_x(p.x, (m0 + r) * p.ldx + k, p.xt) * w;
  }
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    float v = acc[r];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0 && m0 + r < p.M) store_y(p.y, (m0 + r) * p.ldy + n, p.yt, v);
  }
}

// qx.q unpermuted here.
__global__ void generic_int8_kernel(KParams p, QuantX qx) {
  const int lane = threadIdx.x & 31;
  const int64_t item = int64_t(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (item >= p.N * p.M) return;
  const int64_t n = item / p.M, m = item % p.M;
  const float* s = p.scales + n * p.groups;
  const int8_t* z = p.zp ? p.zp + n * p.groups : nullptr;
  const int8_t* q = qx.q + m * p.K;
  float acc = 0.0f;
  for (int64_t grp = 0; grp < p.groups; ++grp) {
    long long part = 0;
    for (int64_t k = grp * p.gs + lane; k < (grp + 1) * p.gs; k += 32)
      part += (long long)q[k] * (long long)weight_at(p, n, k);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) part += __shfl_xor_sync(0xffffffffu, part, o);
    long long isum = part;
    if (z) isum -= (long long)z[grp] * (long long)qx.sq[m * p.groups + grp];
    const float f = __fmul_rn(__fmul_rn(qx.sx[m * p.groups + grp], s[grp]), __ll2float_rn(isum));
    acc = __fadd_rn(acc, f);
  }
  if (lane == 0) store_y(p.y, m * p.ldy + n, p.yt, acc);
}

// The packed layout (cuda_kernels.h): one thread per 16-byte piece of the packed weights, then
// per packed scale / zero-point slot; to_packed copies canonical -> packed (zeros past N and
// K), else packed -> canonical (the canonical bytes only). `vec`: the canonical weights and
// their rows are 16-byte aligned (else byte copies).
__global__ void repack_kernel(KParams p, uint8_t* w, float* scales, int8_t* zp, bool to_packed,
                              bool vec) {
  const int64_t tiles = (p.N + 15) / 16, chunks = (p.K + 127) / 128;
  const int per = pack_block_bytes(p.bits) / 16;  // pieces per block
  const int64_t pieces = tiles * chunks * per, slots = tiles * 16 * p.groups;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < pieces + slots;
       i += stride) {
    if (i < pieces) {
      const int64_t blk = i / per;
      const int j = int(i % per), lane = j & 31, g = lane >> 2, t = lane & 3;
      const int64_t tile = blk / chunks, c = blk % chunks;
      const int r = p.bits == 4 ? j >> 5 : j >> 6, v = p.bits == 4 ? 0 : (j >> 5) & 1;
      const int64_t n = 16 * tile + 8 * r + g;
      const int64_t off = p.bits == 4 ? 64 * c + 16 * t : 128 * c + 32 * t + 16 * v;
      const bool in = n < p.N && off < p.row_bytes;
      const uint8_t* psrc = to_packed ? p.w + n * p.row_bytes + off : p.w + 16 * i;
      uint8_t* pdst = to_packed ? w + 16 * i : w + n * p.row_bytes + off;
      if (!in) {
        if (to_packed) *reinterpret_cast<uint4*>(pdst) = make_uint4(0, 0, 0, 0);
      } else if (vec) {
        *reinterpret_cast<uint4*>(pdst) = *reinterpret_cast<const uint4*>(psrc);
      } else {
        for (int b = 0; b < 16; ++b) pdst[b] = psrc[b];
      }
      continue;
    }
    const int64_t si = i - pieces;  // slot [tile][group][16]
    const int64_t tile = si / (16 * p.groups), rem = si % (16 * p.groups);
    const int64_t grp = rem / 16, n = 16 * tile + rem % 16;
    const int64_t ci = n * p.groups + grp;
    if (to_packed) {
      scales[si] = n < p.N ? p.scales[ci] : 0.0f;
      if (zp) zp[si] = n < p.N ? p.zp[ci] : int8_t(0);
    } else if (n < p.N) {
      scales[ci] = p.scales[si];
      if (zp) zp[ci] = p.zp[si];
    }
  }
}

unsigned blocks_for(int64_t warps, int warps_per_block) {
  return unsigned((warps + warps_per_block - 1) / warps_per_block);
}

}  // namespace

cudaError_t launch_quantize_x(const KParams& p, const QuantX& qx, QLayout layout, int64_t ldsx,
                              cudaStream_t s) {
  quantize_x_kernel<<<blocks_for(p.M * p.groups, 8), 256, 0, s>>>(p, qx, layout, ldsx);
  return cudaGetLastError();
}

cudaError_t launch_repack(const KParams& p, uint8_t* w, float* scales, int8_t* zp, bool to_packed,
                          cudaStream_t s) {
  const uint8_t* canon = to_packed ? p.w : w;
  const bool vec = reinterpret_cast<uintptr_t>(canon) % 16 == 0 && p.row_bytes % 16 == 0;
  const int64_t items = int64_t(packed_weight_bytes(p.N, p.K, p.bits) / 16) +
                        int64_t(packed_scale_count(p.N, p.groups));
  if (items == 0) return cudaSuccess;  // N == 0
  const int64_t blocks = std::min<int64_t>((items + 255) / 256, 65535);
  repack_kernel<<<unsigned(blocks), 256, 0, s>>>(p, w, scales, p.zp ? zp : nullptr, to_packed, vec);
  return cudaGetLastError();
}

cudaError_t launch_convert_x_f16(const KParams& p, void* dst, float* row_scale, cudaStream_t s) {
  const unsigned blocks = unsigned(p.M < 65535 ? p.M : 65535);
  convert_x_kernel<<<blocks, 256, 0, s>>>(p, static_cast<__half*>(dst), row_scale);
  return cudaGetLastError();
}

cudaError_t launch_generic_float(const KParams& p, cudaStream_t s) {
  const int64_t warps = p.N * ((p.M + kRowsPerWarp - 1) / kRowsPerWarp);
  generic_float_kernel<<<blocks_for(warps, 8), 256, 0, s>>>(p);
  return cudaGetLastError();
}

cudaError_t launch_generic_int8(const KParams& p, const QuantX& qx, cudaStream_t s) {
  generic_int8_kernel<<<blocks_for(p.N * p.M, 8), 256, 0, s>>>(p, qx);
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace qmm
