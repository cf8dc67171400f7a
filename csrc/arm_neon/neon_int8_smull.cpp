// neon int8 mode on CPUs without dotprod: SMULL/SMLAL + SADALP (plain armv8-a NEON).
// Reads: one weight panel (n-pair layout of neon_kernels.h) and activations in the pair layout;
// each row's 8 activation bytes of a k-octet are loaded with LD1R into both halves, so
// SMULL (low halves) gives the 8 products of column 2j and SMULL2 (high halves) those of 2j+1.
// Two k-octets are summed in int16 (SMULL + SMLAL: |q*w| <= 127*128, two fit in int16; int4
// weights are 16x but within [-128, 112]), then SADALP widens into int32x4 per column.
// Tile: up to 2 rows x 8 columns = 16 int32x4 accumulators; per 2 k-octets and row: 2 LD1R,
// per n-pair 4 SMULL/SMLAL(2) + 2 SADALP; weights: 4 (int4: 2 loads + 4 SHL/AND) per k-octet.
// Per group: 3 ADDP per row and 4 columns, then the scalar backend's epilogue.
// Measured (QEMU instruction count, gcc 12, 2026-11-23; no Arm hardware): inner loop 0.27-0.29
// instructions per MAC vs 0.125 for SMULL/SMLAL alone; whole kernel 0.31-0.34 at gs=128.
#include <arm_neon.h>

#include "arm_neon/neon_int8_common.h"

namespace qmm {
namespace neon {
namespace {

template <int MR, int BITS, bool ZP>
void smull_tile(const Panel& w, const Int8Act& a, int m0, float* out) {
  const int64_t G = a.G, kog = a.gs / 8;  // kog is a multiple of 4
  const int8_t* A[MR];
  for (int i = 0; i < MR; ++i) A[i] = act_row(a, m0 + i);
  float32x4_t facc[MR][2];
  for (int m = 0; m < MR; ++m) facc[m][0] = facc[m][1] = vdupq_n_f32(0.0f);
  for (int64_t g = 0; g < G; ++g) {
    int32x4_t acc[MR][8];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < 8; ++j) acc[i][j] = vdupq_n_s32(0);
    const int64_t ko_end = (g + 1) * kog;
    for (int64_t ko = g * kog; ko < ko_end; ko += 2) {
      int8x16_t b0[4], b1[4];
      load_npairs<BITS>(w.w, ko, b0);
      load_npairs<BITS>(w.w, ko + 1, b1);
      for (int i = 0; i < MR; ++i) {
        const int8x16_t a0 =
            vreinterpretq_s8_s64(vld1q_dup_s64(reinterpret_cast<const int64_t*>(A[i] + ko * 16)));
        const int8x16_t a1 = vreinterpretq_s8_s64(
            vld1q_dup_s64(reinterpret_cast<const int64_t*>(A[i] + ko * 16 + 16)));
        for (int j = 0; j < 4; ++j) {
          int16x8_t lo = vmull_s8(vget_low_s8(b0[j]), vget_low_s8(a0));
          lo = vmlal_s8(lo, vget_low_s8(b1[j]), vget_low_s8(a1));
          int16x8_t hi = vmull_high_s8(b0[j], a0);
          hi = vmlal_high_s8(hi, b1[j], a1);
          acc[i][2 * j] = vpadalq_s16(acc[i][2 * j], lo);
          acc[i][2 * j + 1] = vpadalq_s16(acc[i][2 * j + 1], hi);
        }
      }
    }
    const GroupConsts c = group_consts<ZP>(w, g);
    for (int i = 0; i < MR; ++i) {
      const int32x4_t lo =
          vpaddq_s32(vpaddq_s32(acc[i][0], acc[i][1]), vpaddq_s32(acc[i][2], acc[i][3]));
      const int32x4_t hi =
          vpaddq_s32(vpaddq_s32(acc[i][4], acc[i][5]), vpaddq_s32(acc[i][6], acc[i][7]));
      group_epilogue<BITS, ZP>(lo, hi, a, m0 + i, g, c, facc[i]);
    }
  }
  for (int m = 0; m < MR; ++m) {
    vst1q_f32(out + int64_t(m0 + m) * 8, facc[m][0]);
    vst1q_f32(out + int64_t(m0 + m) * 8 + 4, facc[m][1]);
  }
}

template <int BITS, bool ZP>
void smull_panel(const Panel& w, const Int8Act& a, float* out) {
  int m0 = 0;
  for (; m0 + 2 <= a.mb; m0 += 2) smull_tile<2, BITS, ZP>(w, a, m0, out);
  if (m0 < a.mb) smull_tile<1, BITS, ZP>(w, a, m0, out);
}

}  // namespace

void int8_panel_smull(const Panel& w, const Int8Act& a, int bits, float* out) {
  if (bits == 4)
    w.z ? smull_panel<4, true>(w, a, out) : smull_panel<4, false>(w, a, out);
  else
    w.z ? smull_panel<8, true>(w, a, out) : smull_panel<8, false>(w, a, out);
}

}  // namespace neon
}  // namespace qmm
