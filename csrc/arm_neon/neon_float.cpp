// neon / neon_i8mm float mode: fp32 FMA on weights dequantized in registers (plain armv8-a).
// Reads: one weight panel (n-pair layout of neon_kernels.h) and fp32 activations (row-major).
// Each n-pair vector [n0 k0..7 | n1 k0..7] widens (SSUBL/SSUBL2: int8 minus the zero points
// into int16, exact; SXTL/SXTL2 to int32; SCVTF) to W[n, k0..3], W[n, k4..7] and is multiplied
// by the group scale (FMUL by element): exactly the scalar backend's scale * float(q - zp).
// The accumulators hold 4 partial sums over k per (row, column) ("dot" layout); one FADDP
// reduction per output at the end. int4: SHL+SSHR (low nibble) and SSHR (high) unpack.
// Tile: up to 4 rows x 4 columns (half a panel) = 16 float32x4 accumulators; per k-octet:
// 2 n-pair loads (int8) or 1 load + 3 shifts (int4), per n-pair 2 SSUBL(2) + 4 SXTL(2) +
// 4 SCVTF + 4 FMUL, then 4 FMLA per row: 32 FMLA (128 MACs) per k-octet for 4 rows.
// Measured (QEMU count, 2026-11-23, gcc 12): 92-97 instructions per k-octet at 4 rows = 0.72-0.76 per MAC against 0.25 for FMLA alone: the
// in-register dequantization (~28 per 16 weights) is shared by only 4 rows, and GCC keeps part
// of the 16 accumulators on the stack. Details: bench/RESULTS.md (Arm section).
#include <arm_neon.h>

#include "arm_neon/neon_kernels.h"

namespace qmm {
namespace neon {
namespace {

// Columns 2P, 2P+1 (of the half panel) for one k-octet: dequantize the n-pair vector b to
// W[n, k0..3], W[n, k4..7] (SSUBL/SXTL, SXTL, SCVTF, FMUL by the scale) and FMA into every row.
template <int MR, bool ZP, int P>
inline void npair_fma(int8x16_t b, int8x16_t zz, float32x4_t s, const float* const* X, int64_t ko,
                      float32x4_t (*acc)[4]) {
  const int16x8_t c0 = ZP ? vsubl_s8(vget_low_s8(b), vget_low_s8(zz)) : vmovl_s8(vget_low_s8(b));
  const int16x8_t c1 = ZP ? vsubl_high_s8(b, zz) : vmovl_high_s8(b);
  const float32x4_t w00 = vmulq_laneq_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(c0))), s, 2 * P);
  const float32x4_t w01 = vmulq_laneq_f32(vcvtq_f32_s32(vmovl_high_s16(c0)), s, 2 * P);
  const float32x4_t w10 = vmulq_laneq_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(c1))), s, 2 * P + 1);
  const float32x4_t w11 = vmulq_laneq_f32(vcvtq_f32_s32(vmovl_high_s16(c1)), s, 2 * P + 1);
  for (int i = 0; i < MR; ++i) {
    const float32x4_t x0 = vld1q_f32(X[i] + ko * 8);
    const float32x4_t x1 = vld1q_f32(X[i] + ko * 8 + 4);
    acc[i][2 * P] = vfmaq_f32(vfmaq_f32(acc[i][2 * P], x0, w00), x1, w01);
    acc[i][2 * P + 1] = vfmaq_f32(vfmaq_f32(acc[i][2 * P + 1], x0, w10), x1, w11);
  }
}

// Columns 4h..4h+3 of the panel for rows m0..m0+MR-1.
template <int MR, int BITS, bool ZP>
void float_tile(const Panel& w, const FloatAct& a, int m0, int h, float* out) {
  const int64_t K = a.K, G = a.G, kog = a.gs / 8;
  const float* X[MR];
  for (int i = 0; i < MR; ++i) X[i] = a.x + int64_t(m0 + i) * K;
  float32x4_t acc[MR][4];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < 4; ++j) acc[i][j] = vdupq_n_f32(0.0f);
  for (int64_t g = 0; g < G; ++g) {
    const float32x4_t s = vld1q_f32(w.s + g * 8 + 4 * h);
    // zero points of the two n-pairs as int8 [z0 x8 | z1 x8], [z2 x8 | z3 x8] for SSUBL(2)
    int8x16_t zz[2] = {vdupq_n_s8(0), vdupq_n_s8(0)};
    if (ZP) {
      const int8_t* zp = w.z + g * 8 + 4 * h;
      zz[0] = vcombine_s8(vdup_n_s8(zp[0]), vdup_n_s8(zp[1]));
      zz[1] = vcombine_s8(vdup_n_s8(zp[2]), vdup_n_s8(zp[3]));
    }
    const int64_t ko_end = (g + 1) * kog;
    for (int64_t ko = g * kog; ko < ko_end; ++ko) {
      int8x16_t b[2];
      if (BITS == 8) {
        b[0] = vld1q_s8(w.w + ko * 64 + 32 * h);
        b[1] = vld1q_s8(w.w + ko * 64 + 32 * h + 16);
      } else {
        const int8x16_t v = vld1q_s8(w.w + ko * 32 + 16 * h);
        b[0] = vshrq_n_s8(vshlq_n_s8(v, 4), 4);
        b[1] = vshrq_n_s8(v, 4);
      }
      // One n-pair at a time keeps 16 accumulators + 4 weight vectors + 2 activation vectors
      // in registers (all four columns' weights at once would spill).
      npair_fma<MR, ZP, 0>(b[0], zz[0], s, X, ko, acc);
      npair_fma<MR, ZP, 1>(b[1], zz[1], s, X, ko, acc);
    }
  }
  for (int i = 0; i < MR; ++i) {
    const float32x4_t r =
        vpaddq_f32(vpaddq_f32(acc[i][0], acc[i][1]), vpaddq_f32(acc[i][2], acc[i][3]));
    vst1q_f32(out + int64_t(m0 + i) * 8 + 4 * h, r);
  }
}

template <int BITS, bool ZP>
void float_panel_t(const Panel& w, const FloatAct& a, float* out) {
  for (int h = 0; h < 2; ++h) {
    int m0 = 0;
    for (; m0 + 4 <= a.mb; m0 += 4) float_tile<4, BITS, ZP>(w, a, m0, h, out);
    switch (a.mb - m0) {
      case 3: float_tile<3, BITS, ZP>(w, a, m0, h, out); break;
      case 2: float_tile<2, BITS, ZP>(w, a, m0, h, out); break;
      case 1: float_tile<1, BITS, ZP>(w, a, m0, h, out); break;
      default: break;
    }
  }
}

}  // namespace

void float_panel(const Panel& w, const FloatAct& a, int bits, float* out) {
  if (bits == 4)
    w.z ? float_panel_t<4, true>(w, a, out) : float_panel_t<4, false>(w, a, out);
  else
    w.z ? float_panel_t<8, true>(w, a, out) : float_panel_t<8, false>(w, a, out);
}

}  // namespace neon
}  // namespace qmm
