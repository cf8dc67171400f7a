// neon int8 mode on CPUs with dotprod: SDOT (armv8.2-a+dotprod), int8 activations x int8/int4
// weights. Reads: one weight panel (n-pair layout of neon_kernels.h) and activations in the
// pair layout. Each row's 8 activation bytes of a k-octet are loaded with LD1R into both halves
// of a register, so SDOT against an n-pair vector [n0 k0..7 | n1 k0..7] yields lanes
// [n0 k0-3, n0 k4-7, n1 k0-3, n1 k4-7]: no shuffle in the inner loop; one ADDP per pair of
// accumulators per group folds them to columns.
// Tile: up to 4 rows x 8 columns = 16 int32x4 accumulators; per k-octet: 4 LD1R, 2 (int4) or
// 4 (int8) weight loads, 4 SHL/AND (int4 only), 16 SDOT = 256 MACs.
// Per group: 2 ADDP per row, then the scalar backend's epilogue (neon_int8_common.h).
// Measured (QEMU instruction count, gcc 12, 2026-11-23; no Arm hardware): inner loop 0.12
// instructions per MAC vs 0.0625 for SDOT alone (GCC emits LDR+DUP for the LD1R broadcast);
// whole kernel 0.15 at gs=128, 0.24 at gs=32. bench/RESULTS.md (Arm section).
#include <arm_neon.h>

#include "arm_neon/neon_int8_common.h"

namespace qmm {
namespace neon {
namespace {

template <int MR, int BITS>
inline void sdot_octet(const int8_t* w, const int8_t* const* A, int64_t ko, int32x4_t (*acc)[4]) {
  int8x16_t b[4];
  load_npairs<BITS>(w, ko, b);
  for (int i = 0; i < MR; ++i) {
    const int8x16_t av =
        vreinterpretq_s8_s64(vld1q_dup_s64(reinterpret_cast<const int64_t*>(A[i] + ko * 16)));
    acc[i][0] = vdotq_s32(acc[i][0], b[0], av);
    acc[i][1] = vdotq_s32(acc[i][1], b[1], av);
    acc[i][2] = vdotq_s32(acc[i][2], b[2], av);
    acc[i][3] = vdotq_s32(acc[i][3], b[3], av);
  }
}

template <int MR, int BITS, bool ZP>
void sdot_tile(const Panel& w, const Int8Act& a, int m0, float* out) {
  const int64_t G = a.G, kog = a.gs / 8;
  const int8_t* A[MR];
  for (int i = 0; i < MR; ++i) A[i] = act_row(a, m0 + i);
  float32x4_t facc[MR][2];
  for (int m = 0; m < MR; ++m) facc[m][0] = facc[m][1] = vdupq_n_f32(0.0f);
  for (int64_t g = 0; g < G; ++g) {
    int32x4_t acc[MR][4];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < 4; ++j) acc[i][j] = vdupq_n_s32(0);
    const int64_t ko_end = (g + 1) * kog;
    // Two k-octets per iteration (kog is a multiple of 4): halves the loop overhead.
    for (int64_t ko = g * kog; ko < ko_end; ko += 2) {
      sdot_octet<MR, BITS>(w.w, A, ko, acc);
      sdot_octet<MR, BITS>(w.w, A, ko + 1, acc);
    }
    const GroupConsts c = group_consts<ZP>(w, g);
    for (int i = 0; i < MR; ++i)
      group_epilogue<BITS, ZP>(vpaddq_s32(acc[i][0], acc[i][1]), vpaddq_s32(acc[i][2], acc[i][3]),
                               a, m0 + i, g, c, facc[i]);
  }
  for (int m = 0; m < MR; ++m) {
    vst1q_f32(out + int64_t(m0 + m) * 8, facc[m][0]);
    vst1q_f32(out + int64_t(m0 + m) * 8 + 4, facc[m][1]);
  }
}

template <int BITS, bool ZP>
void sdot_panel(const Panel& w, const Int8Act& a, float* out) {
  int m0 = 0;
  for (; m0 + 4 <= a.mb; m0 += 4) sdot_tile<4, BITS, ZP>(w, a, m0, out);
  switch (a.mb - m0) {
    case 3: sdot_tile<3, BITS, ZP>(w, a, m0, out); break;
    case 2: sdot_tile<2, BITS, ZP>(w, a, m0, out); break;
    case 1: sdot_tile<1, BITS, ZP>(w, a, m0, out); break;
    default: break;
  }
}

}  // namespace

void int8_panel_sdot(const Panel& w, const Int8Act& a, int bits, float* out) {
  if (bits == 4)
    w.z ? sdot_panel<4, true>(w, a, out) : sdot_panel<4, false>(w, a, out);
  else
    w.z ? sdot_panel<8, true>(w, a, out) : sdot_panel<8, false>(w, a, out);
}

}  // namespace neon
}  // namespace qmm
