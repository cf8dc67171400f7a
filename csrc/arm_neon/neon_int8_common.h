// Helpers shared by the three int8 kernels (SMMLA, SDOT, SMULL). Deliberately in an anonymous
// namespace: each kernel TU gets its own copy compiled with its own -march (see neon_kernels.h).
#pragma once

#include <arm_neon.h>

#include "arm_neon/neon_kernels.h"

namespace qmm {
namespace neon {
namespace {

// The four n-pair vectors of k-octet ko of a panel. bits=4 gives 16x the weights (the low
// nibble shifted up, the high nibble masked in place): the group sums are shifted back by 4.
template <int BITS>
inline void load_npairs(const int8_t* w, int64_t ko, int8x16_t b[4]) {
  if (BITS == 8) {
    const int8_t* p = w + ko * 64;
    b[0] = vld1q_s8(p);
    b[1] = vld1q_s8(p + 16);
    b[2] = vld1q_s8(p + 32);
    b[3] = vld1q_s8(p + 48);
  } else {
    const int8_t* p = w + ko * 32;
    const int8x16_t v0 = vld1q_s8(p), v1 = vld1q_s8(p + 16);
    const uint8x16_t hi = vdupq_n_u8(0xF0);
    b[0] = vshlq_n_s8(v0, 4);
    b[1] = vreinterpretq_s8_u8(vandq_u8(vreinterpretq_u8_s8(v0), hi));
    b[2] = vshlq_n_s8(v1, 4);
    b[3] = vreinterpretq_s8_u8(vandq_u8(vreinterpretq_u8_s8(v1), hi));
  }
}

// Per-group panel constants: scales of n0..3 / n4..7 and zero points widened to int32.
struct GroupConsts {
  float32x4_t s[2];
  int32x4_t z[2];
};

template <bool ZP>
inline GroupConsts group_consts(const Panel& w, int64_t g) {
  GroupConsts c;
  c.s[0] = vld1q_f32(w.s + g * 8);
  c.s[1] = vld1q_f32(w.s + g * 8 + 4);
  if (ZP) {
    const int16x8_t z16 = vmovl_s8(vld1_s8(w.z + g * 8));
    c.z[0] = vmovl_s16(vget_low_s16(z16));
    c.z[1] = vmovl_high_s16(z16);
  } else {
    c.z[0] = c.z[1] = vdupq_n_s32(0);
  }
  return c;
}

// The scalar backend's epilogue for one row and 8 columns of one group, in the same order:
// isum = dot - zp*sum_q (exact int32), acc += (sx*scale) * float(isum).
template <int BITS, bool ZP>
inline void group_epilogue(int32x4_t lo, int32x4_t hi, const Int8Act& a, int64_t m, int64_t g,
                           const GroupConsts& c, float32x4_t facc[2]) {
  if (BITS == 4) {
    lo = vshrq_n_s32(lo, 4);
    hi = vshrq_n_s32(hi, 4);
  }
  if (ZP) {
    const int32_t sq = a.sq[m * a.G + g];
    lo = vmlsq_n_s32(lo, c.z[0], sq);
    hi = vmlsq_n_s32(hi, c.z[1], sq);
  }
  const float sx = a.sx[m * a.G + g];
  facc[0] = vaddq_f32(facc[0], vmulq_f32(vmulq_n_f32(c.s[0], sx), vcvtq_f32_s32(lo)));
  facc[1] = vaddq_f32(facc[1], vmulq_f32(vmulq_n_f32(c.s[1], sx), vcvtq_f32_s32(hi)));
}

// Activation row m's 8 bytes of k-octet ko in the pair layout.
inline const int8_t* act_row(const Int8Act& a, int64_t m) {
  return a.q + (m >> 1) * 2 * a.K + (m & 1) * 8;
}

}  // namespace
}  // namespace neon
}  // namespace qmm
