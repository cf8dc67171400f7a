// cuda tensor-core GEMM for M > 16 (float mode) and every M (int8 mode):
// cuda_float_gemm_w4w8 / cuda_int8_gemm_w4w8. On an sm_90 device running the sm_90a build,
// float mode goes to the wgmma kernel of cuda_gemm_sm90.cu instead (launch_gemm_float below);
// this file's mma.sync float kernels serve the other architectures (sm_80 .. sm_89, sm_100+).
//
// Layout read: canonical weights (int8 [N, K] / int4 two per byte), fp32 scales and int8 zero
// points [N, K/group_size]; float mode: X fp16/bf16 [M, K] with 16-byte aligned rows (fp32 or
// unaligned X is first converted to a dense fp16 copy by the backend); int8 mode: the quantized
// activations of cuda_generic.cu (q [M, K] int8 permuted per 8 elements for bits=4, sx/sum_q
// [M, groups]). Requires group_size % 32 == 0 (int8 mode also <= 65536).
//
// Float-mode kernels are register-capped for 2 blocks per SM (a few bytes of spill in the
// 128x128 tile, outside the mma loop); int8 kernels run 1 block of 8 warps per SM.
// Block tile BM x BN x 64 (k), 4-stage cp.async pipeline (X and raw weights both staged in
// shared memory, zero-filled past M, N, K). Tiles: float 128x128 (8 warps 2x4, warp 64x32) or
// 64x64 (4 warps, warp 32x32); int8 128x64 (8 warps, warp 64x16), 64x64, 16x32 (M <= 16).
// Per 32-k step (k0 .. k0+31, inside one group) thread t owns the 8 physical k at k0 + 8t
// (see cuda_common.cuh for the permutation): X via conflict-free ld.shared.v4 (fp16/bf16) or
// .v2 (int8) per row, weights via one ld.shared.b32 (int4) / .v2 (int8) per n8 tile; the
// 16-byte chunks of each shared row are XOR-swizzled by row so these loads hit distinct banks.
// float mode: per n8 tile and 32 k, dequant (4 x lop3 + hsub2/hfma2 + hmul2 per int4 word) then
//   2*MT mma.m16n8k16 (fp16 or bf16, fp32 accumulate). The scale is folded into the fp16/bf16
//   weight (s * (q - zp), q - zp exact): one rounding per weight.
// int8 mode: per n8 tile and 32 k, 3 integer ops (int4: nibbles + 8 as unsigned bytes, the
//   +8 folded into the zero-point correction) then MT mma.m16n8k32.s8 into int32; at each group
//   end: acc += (sx[m,g]*s[n,g]) * float(isum - zp*sum_q) in fp32, g increasing, exactly the
//   scalar backend's epilogue (bit-identical results).
// Measured (H100 80GB, 2026-11-23, g128 + zp, fp16): float W4 M=4096 on (28672, 8192) 207
// TFLOP/s = 27% of cuBLAS fp16 (763 TFLOP/s); M=256 0.30x cuBLAS; int8 mode ~100 TOP/s (epilogue-
// bound, see tests/gpu/README.md). Far from the targets: mma.sync without ldmatrix/wgmma.
#include "cuda/cuda_common.cuh"
#include "cuda/cuda_kernels.h"

namespace qmm {
namespace cuda {
namespace {

constexpr int kBK = 64;
constexpr int kStages = 4;

template <int MODE, class T, int BITS, int WM, int WN, int MT, int NT>
struct Cfg {
  static constexpr int kThreads = 32 * WM * WN;
  static constexpr int BM = WM * MT * 16;
  static constexpr int BN = WN * NT * 8;
  static constexpr int XR = MODE == 0 ? kBK * 2 : kBK;  // X row bytes per stage
  static constexpr int WR = kBK * BITS / 8;             // weight row bytes per stage
  static constexpr int XS = BM * XR;
  static constexpr int WS = BN * WR;
  static constexpr int kStageBytes = XS + WS;
  static constexpr int kSmem = kStages * kStageBytes;
};

// MODE 0 = float (T = __half / __nv_bfloat16), MODE 1 = int8 (T unused).
template <int MODE, class T, int BITS, int WM, int WN, int MT, int NT>
__global__ void __launch_bounds__(32 * WM * WN, MODE == 0 ? 2 : 1)
    gemm_kernel(KParams p, QuantX qx) {
  using C = Cfg<MODE, T, BITS, WM, WN, MT, NT>;
  extern __shared__ __align__(16) uint8_t smem[];
  const int tid = threadIdx.x;
  const int lane = tid & 31, warp = tid >> 5;
  const int wm = warp / WN, wn = warp % WN;
  const int g = lane >> 2, t = lane & 3;
  const int64_t m0 = int64_t(blockIdx.y) * C::BM;
  const int64_t n0 = int64_t(blockIdx.x) * C::BN;
  const int64_t K = p.K;
  const int nk = int((K + kBK - 1) / kBK);

  const uint8_t* xbase = MODE == 0 ? static_cast<const uint8_t*>(p.x)
                                   : reinterpret_cast<const uint8_t*>(qx.q);
  const int64_t xstride = MODE == 0 ? p.ldx * 2 : K;  // bytes

  auto load_stage = [&](int slot, int kt) {
    uint8_t* xs = smem + slot * C::kStageBytes;
    uint8_t* ws = xs + C::XS;
    const int64_t kb = int64_t(kt) * kBK;  // first k of the stage
    constexpr int XCH = C::XR / 16;        // 16-byte chunks per X row
    for (int i = tid; i < C::BM * XCH; i += C::kThreads) {
      const int r = i / XCH, ch = i % XCH;
      const int64_t m = m0 + r;
      const int64_t k = kb + ch * (MODE == 0 ? 8 : 16);
      const bool ok = m < p.M && k < K;
      const uint8_t* src = xbase + (ok ? m * xstride + k * (MODE == 0 ? 2 : 1) : 0);
      const int pch = MODE == 0 ? (ch ^ ((r & 1) << 2)) : (ch ^ (((r >> 1) & 1) << 1));
      cp_async16(xs + r * C::XR + pch * 16, src, ok);
    }
    constexpr int WCH = C::WR / 16;
    for (int i = tid; i < C::BN * WCH; i += C::kThreads) {
      const int r = i / WCH, ch = i % WCH;
      const int64_t n = n0 + r;
      const int64_t k = kb + ch * (16 * 8 / BITS);
      const bool ok = n < p.N && k < K;
      const uint8_t* src = p.w + (ok ? n * p.row_bytes + k * BITS / 8 : 0);
      const int pch = BITS == 4 ? (ch ^ ((r >> 2) & 1)) : (ch ^ (((r >> 1) & 1) << 1));
      cp_async16(ws + r * C::WR + pch * 16, src, ok);
    }
  };

  float acc[MT][NT][4];
  int iacc[MODE == 1 ? MT : 1][MODE == 1 ? NT : 1][4];
#pragma unroll
  for (int i = 0; i < MT; ++i)
#pragma unroll
    for (int j = 0; j < NT; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        acc[i][j][e] = 0.0f;
        if (MODE == 1) iacc[i][j][e] = 0;
      }

#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < nk) load_stage(s, s);
    cp_async_commit();
  }

  // Rows / columns this thread touches.
  const int mw = wm * MT * 16;  // warp's first row in the tile
  const int nw = wn * NT * 8;   // warp's first column in the tile

  Deq<T> deq[MODE == 0 ? NT : 1];
  // Group bookkeeping in 32-k steps (no 64-bit division in the loop).
  const int gsteps = int(p.gs / 32);
  int grp = 0, in_grp = 0;  // group of the current step, and the step's index inside it
  int loaded_grp = -1;
  // float mode: register prefetch of one group's scales / zero points for the NT columns.
  float pf_s[MODE == 0 ? NT : 1];
  int pf_z[MODE == 0 ? NT : 1];
  int pf_grp = -1;
  auto load_pf = [&](int gi) {
#pragma unroll
    for (int j = 0; j < NT; ++j) {
      const int64_t n = n0 + nw + j * 8 + g;
      const bool ok = n < p.N;
      pf_s[MODE == 0 ? j : 0] = ok ? __ldg(p.scales + n * p.groups + gi) : 0.0f;
      pf_z[MODE == 0 ? j : 0] = ok && p.zp ? int(__ldg(p.zp + n * p.groups + gi)) : 0;
    }
    pf_grp = gi;
  };

  for (int kt = 0; kt < nk; ++kt) {
    cp_async_wait<kStages - 2>();
    __syncthreads();
    {
      const int nxt = kt + kStages - 1;
      if (nxt < nk) load_stage(nxt % kStages, nxt);
      cp_async_commit();
    }
    const uint8_t* xs = smem + (kt % kStages) * C::kStageBytes;
    const uint8_t* ws = xs + C::XS;

    // int8: prefetch the epilogue factors of the first group that ends in this stage, so
    // their latency hides under the stage's mma.
    float pf_sx[MODE == 1 ? MT : 1][2], pf_sn[MODE == 1 ? NT : 1][2];
    int pf_sq[MODE == 1 ? MT : 1][2], pf_zn[MODE == 1 ? NT : 1][2];
    int epi_grp = -1;
    auto load_epi = [&](int gi) {
#pragma unroll
      for (int i = 0; i < MT; ++i)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int64_t m = m0 + mw + i * 16 + g + 8 * h;
          pf_sx[MODE == 1 ? i : 0][h] = m < p.M ? qx.sx[m * p.groups + gi] : 0.0f;
          pf_sq[MODE == 1 ? i : 0][h] = m < p.M ? qx.sq[m * p.groups + gi] : 0;
        }
#pragma unroll
      for (int j = 0; j < NT; ++j)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int64_t n = n0 + nw + j * 8 + 2 * t + e;
          pf_sn[MODE == 1 ? j : 0][e] = n < p.N ? __ldg(p.scales + n * p.groups + gi) : 0.0f;
          pf_zn[MODE == 1 ? j : 0][e] =
              (n < p.N && p.zp ? int(p.zp[n * p.groups + gi]) : 0) + (BITS == 4 ? 8 : 0);
        }
      epi_grp = gi;
    };
    if (MODE == 1) {
      if (in_grp + 1 == gsteps)
        load_epi(grp);
      else if (in_grp + 2 == gsteps && int64_t(kt) * kBK + 32 < K)
        load_epi(grp);
    }

#pragma unroll
    for (int s = 0; s < 2; ++s) {
      const int64_t kstep = int64_t(kt) * kBK + 32 * s;
      if (kstep >= K) break;  // K % 32 == 0: the stage's second half may be past K
      // This thread's 8 physical k of the step: 32s + 8t .. +7 (one group: gs % 32 == 0).
      uint32_t wraw[NT][BITS == 4 ? 1 : 2];
#pragma unroll
      for (int j = 0; j < NT; ++j) {
        const int r = nw + j * 8 + g;
        if (BITS == 4) {
          const int pc = s ^ ((r >> 2) & 1);
          wraw[j][0] = *reinterpret_cast<const uint32_t*>(ws + r * C::WR + pc * 16 + 4 * t);
        } else {
          const int pc = (2 * s + (t >> 1)) ^ (((r >> 1) & 1) << 1);
          const uint2 v = *reinterpret_cast<const uint2*>(ws + r * C::WR + pc * 16 + (t & 1) * 8);
          wraw[j][0] = v.x;
          wraw[j][BITS == 4 ? 0 : 1] = v.y;
        }
      }
      if (MODE == 0) {
        if (grp != loaded_grp) {
          // Scales of this group were prefetched when the previous group started (or are
          // loaded now for the first group); prefetch the next group's right away.
          if (pf_grp != grp) load_pf(grp);
#pragma unroll
          for (int j = 0; j < NT; ++j) deq[j].init(pf_s[j], pf_z[j]);
          loaded_grp = grp;
          if (grp + 1 < p.groups) load_pf(grp + 1);
        }
        // B fragments (weights) of all NT tiles, then the A fragments tile by tile.
        uint32_t wb[NT][4];
#pragma unroll
        for (int j = 0; j < NT; ++j) {
          if (BITS == 4) {
            deq[j].w4(wraw[j][0], wb[j]);
          } else {
            deq[j].w8(wraw[j][0], wb[j]);
            deq[j].w8(wraw[j][BITS == 4 ? 0 : 1], wb[j] + 2);
          }
        }
#pragma unroll
        for (int i = 0; i < MT; ++i) {
          // A fragments (X): rows g and g+8 of the m16 tile, 8 consecutive k at 32s + 8t.
          uint32_t xa[2][4];
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            const int r = mw + i * 16 + g + 8 * h;
            const int ch = (4 * s + t) ^ ((r & 1) << 2);
            const uint4 v = *reinterpret_cast<const uint4*>(xs + r * C::XR + ch * 16);
            uint32_t nat[4] = {v.x, v.y, v.z, v.w};
            if (BITS == 4) {
              permute_x4(nat, xa[h]);
            } else {
#pragma unroll
              for (int e = 0; e < 4; ++e) xa[h][e] = nat[e];
            }
          }
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            const uint32_t a[4] = {xa[0][2 * h], xa[1][2 * h], xa[0][2 * h + 1], xa[1][2 * h + 1]};
#pragma unroll
            for (int j = 0; j < NT; ++j) {
              const uint32_t b[2] = {wb[j][2 * h], wb[j][2 * h + 1]};
              mma16816<T>(acc[i][j], a, b);
            }
          }
        }
      } else {
        uint32_t wb[NT][2];
#pragma unroll
        for (int j = 0; j < NT; ++j) {
          if (BITS == 4) {
            const uint32_t u = wraw[j][0] ^ 0x88888888u;  // nibble + 8, unsigned
            wb[j][0] = u & 0x0f0f0f0fu;                    // elements 0,2,4,6
            wb[j][1] = (u >> 4) & 0x0f0f0f0fu;             // elements 1,3,5,7
          } else {
            wb[j][0] = wraw[j][0];
            wb[j][1] = wraw[j][BITS == 4 ? 0 : 1];
          }
        }
#pragma unroll
        for (int i = 0; i < MT; ++i) {
          // A = quantized X rows g, g+8: the 8 bytes at 32s + 8t.
          uint32_t xa[4];
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            const int r = mw + i * 16 + g + 8 * h;
            const int pc = (2 * s + (t >> 1)) ^ (((r >> 1) & 1) << 1);
            const uint2 v = *reinterpret_cast<const uint2*>(xs + r * C::XR + pc * 16 + (t & 1) * 8);
            xa[h] = v.x;      // a0 / a1: first 4 physical k
            xa[2 + h] = v.y;  // a2 / a3: last 4 physical k
          }
#pragma unroll
          for (int j = 0; j < NT; ++j) mma16832_s8(iacc[i][j], xa, wb[j]);
        }
        // Group end: fold the exact integer sums into the fp32 accumulators. isum fits in
        // int32 (|isum| <= 127*255*gs, gs <= 65536), so wrapping int32 arithmetic is exact.
        if (in_grp + 1 == gsteps) {
          if (epi_grp != grp) load_epi(grp);
#pragma unroll
          for (int j = 0; j < NT; ++j)
#pragma unroll
            for (int i = 0; i < MT; ++i)
#pragma unroll
              for (int e = 0; e < 4; ++e) {
                const int h = e >> 1, c = e & 1;
                const int isum = iacc[i][j][e] - pf_zn[MODE == 1 ? j : 0][c] * pf_sq[MODE == 1 ? i : 0][h];
                const float f = __fmul_rn(
                    __fmul_rn(pf_sx[MODE == 1 ? i : 0][h], pf_sn[MODE == 1 ? j : 0][c]),
                    __int2float_rn(isum));
                acc[i][j][e] = __fadd_rn(acc[i][j][e], f);
                iacc[i][j][e] = 0;
              }
        }
      }
      if (++in_grp == gsteps) {
        in_grp = 0;
        ++grp;
      }
    }
  }
  cp_async_wait<0>();

  // Epilogue: c0,c1 = (row g, cols 2t, 2t+1), c2,c3 = (row g+8, ...).
#pragma unroll
  for (int i = 0; i < MT; ++i)
#pragma unroll
    for (int j = 0; j < NT; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int64_t m = m0 + mw + i * 16 + g + 8 * (e >> 1);
        const int64_t n = n0 + nw + j * 8 + 2 * t + (e & 1);
        if (m < p.M && n < p.N)
          store_y(p.y, m * p.ldy + n, p.yt, p.row_scale ? acc[i][j][e] * p.row_scale[m] : acc[i][j][e]);
      }
}

template <int MODE, class T, int BITS, int WM, int WN, int MT, int NT>
cudaError_t launch_cfg(const KParams& p, const QuantX& qx, cudaStream_t s) {
  using C = Cfg<MODE, T, BITS, WM, WN, MT, NT>;
  auto kernel = gemm_kernel<MODE, T, BITS, WM, WN, MT, NT>;
  const cudaError_t attr = opt_in_smem<gemm_kernel<MODE, T, BITS, WM, WN, MT, NT>>(C::kSmem);
  if (attr != cudaSuccess) return attr;
  const dim3 grid(unsigned((p.N + C::BN - 1) / C::BN), unsigned((p.M + C::BM - 1) / C::BM));
  if (grid.y > 65535u) return cudaErrorInvalidConfiguration;
  kernel<<<grid, C::kThreads, C::kSmem, s>>>(p, qx);
  return cudaGetLastError();
}

template <class T, int BITS>
cudaError_t float_tiles(const KParams& p, int num_sms, cudaStream_t s) {
  const QuantX none{nullptr, nullptr, nullptr};
  const int64_t big_tiles = ((p.M + 127) / 128) * ((p.N + 127) / 128);
  if (p.M > 64 && big_tiles >= 2 * num_sms)
    return launch_cfg<0, T, BITS, 2, 4, 4, 4>(p, none, s);  // 128 x 128, 8 warps
  return launch_cfg<0, T, BITS, 2, 2, 2, 4>(p, none, s);    // 64 x 64
}

template <int BITS>
cudaError_t int8_tiles(const KParams& p, const QuantX& qx, int num_sms, cudaStream_t s) {
  const int64_t big_tiles = ((p.M + 127) / 128) * ((p.N + 63) / 64);
  if (p.M > 64 && big_tiles >= 2 * num_sms)
    return launch_cfg<1, __half, BITS, 2, 4, 4, 2>(p, qx, s);  // 128 x 64, 8 warps
  if (p.M > 16) return launch_cfg<1, __half, BITS, 2, 2, 2, 4>(p, qx, s);  // 64 x 64
  return launch_cfg<1, __half, BITS, 1, 4, 1, 1>(p, qx, s);                // 16 x 32
}

}  // namespace

// Float mode on Hopper goes to the wgmma kernel (split over K where its tiles are few) for
// every M that reaches this file: M > 16, and M <= 16 on shapes beyond the decode kernels'
// index range (its 16-row X tile; the decode kernel is faster where it applies).
size_t gemm_float_workspace(const KParams& p, int num_sms) {
  return gemm_sm90_available() ? gemm_float_sm90_workspace(p, num_sms) : 0;
}

cudaError_t launch_gemm_float(const KParams& p, int num_sms, void* ws, size_t ws_bytes,
                              cudaStream_t s) {
  if (gemm_sm90_available()) return launch_gemm_float_sm90(p, num_sms, ws, ws_bytes, s);
  if (p.xt == 1)
    return p.bits == 4 ? float_tiles<__nv_bfloat16, 4>(p, num_sms, s)
                       : float_tiles<__nv_bfloat16, 8>(p, num_sms, s);
  return p.bits == 4 ? float_tiles<__half, 4>(p, num_sms, s) : float_tiles<__half, 8>(p, num_sms, s);
}

cudaError_t launch_gemm_int8(const KParams& p, const QuantX& qx, int num_sms, cudaStream_t s) {
  return p.bits == 4 ? int8_tiles<4>(p, qx, num_sms, s) : int8_tiles<8>(p, qx, num_sms, s);
}

}  // namespace cuda
}  // namespace qmm
