// int8 mode activation quantizer for the Arm kernels (plain NEON, armv8-a).
// Reads fp32 rows (row stride K); writes q in the SMMLA pair layout of neon_kernels.h
// ([mb/2 pairs][K/8][2 rows][8 bytes]; an odd last row is paired with zeros), sx and sum(q).
// Bit-identical to quantize_group_int8: FMAX/FMAXV propagate NaN (then a is set to the
// default NaN as the scalar code does), inv = 127/a and sx = a/127 are scalar fp32 divisions,
// x*inv is a plain FMUL (no FMA), FCVTNS rounds half to even and turns NaN into 0, SQXTN
// saturates and a max with -127 finishes the clamp. gs is a multiple of 32 (the only group
// sizes the Arm backends accept). Per 16 activations: 4 FABS+4 FMAX (pass 1), 4 FMUL,
// 4 FCVTNS, 2+1 SQXTN, 1 SMAX, sums by SADDW-style adds.
#include <arm_neon.h>

#include <cstring>

#include "arm_neon/neon_kernels.h"

namespace qmm {
namespace neon {
namespace {

// One group of n values (n a multiple of 16) of one row; q8 points at the row's bytes of the
// group's first k-octet in the pair layout (8 bytes per k-octet, 16 bytes apart).
float quantize_group(const float* x, int64_t n, int8_t* q8, int32_t* sum_q) {
  float32x4_t m0 = vdupq_n_f32(0.0f), m1 = m0, m2 = m0, m3 = m0;
  for (int64_t i = 0; i < n; i += 16) {
    m0 = vmaxq_f32(m0, vabsq_f32(vld1q_f32(x + i)));
    m1 = vmaxq_f32(m1, vabsq_f32(vld1q_f32(x + i + 4)));
    m2 = vmaxq_f32(m2, vabsq_f32(vld1q_f32(x + i + 8)));
    m3 = vmaxq_f32(m3, vabsq_f32(vld1q_f32(x + i + 12)));
  }
  float a = vmaxvq_f32(vmaxq_f32(vmaxq_f32(m0, m1), vmaxq_f32(m2, m3)));
  if (a != a) {
    const uint32_t qnan = 0x7fc00000u;
    std::memcpy(&a, &qnan, 4);
  }
  if (a == 0.0f) {
    for (int64_t o = 0; o < n / 8; ++o) std::memset(q8 + o * 16, 0, 8);
    *sum_q = 0;
    return 0.0f;
  }
  const float inv = 127.0f / a;
  const int8x16_t lo = vdupq_n_s8(-127);
  int32x4_t s = vdupq_n_s32(0);
  for (int64_t i = 0; i < n; i += 16) {
    const int32x4_t r0 = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + i), inv));
    const int32x4_t r1 = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + i + 4), inv));
    const int32x4_t r2 = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + i + 8), inv));
    const int32x4_t r3 = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + i + 12), inv));
    const int16x8_t h0 = vcombine_s16(vqmovn_s32(r0), vqmovn_s32(r1));
    const int16x8_t h1 = vcombine_s16(vqmovn_s32(r2), vqmovn_s32(r3));
    const int8x16_t v = vmaxq_s8(vcombine_s8(vqmovn_s16(h0), vqmovn_s16(h1)), lo);
    s = vpadalq_s16(s, vpaddlq_s8(v));
    vst1_s8(q8 + (i / 8) * 16, vget_low_s8(v));
    vst1_s8(q8 + (i / 8 + 1) * 16, vget_high_s8(v));
  }
  *sum_q = vaddvq_s32(s);
  return a / 127.0f;
}

}  // namespace

void quantize_rows_int8(const float* x, int mb, int64_t K, int64_t gs, int8_t* q, float* sx,
                        int32_t* sq) {
  const int64_t G = K / gs;
  for (int m = 0; m < mb; ++m) {
    const float* xr = x + int64_t(m) * K;
    int8_t* row8 = q + int64_t(m / 2) * 2 * K + (m & 1) * 8;
    for (int64_t g = 0; g < G; ++g)
      sx[int64_t(m) * G + g] =
          quantize_group(xr + g * gs, gs, row8 + (g * gs / 8) * 16, &sq[int64_t(m) * G + g]);
  }
  if (mb & 1) {  // the odd last row's partner: zeros
    int8_t* pair = q + int64_t(mb / 2) * 2 * K;
    for (int64_t o = 0; o < K / 8; ++o) std::memset(pair + o * 16 + 8, 0, 8);
  }
}

}  // namespace neon
}  // namespace qmm
