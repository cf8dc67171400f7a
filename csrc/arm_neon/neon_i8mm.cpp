// neon_i8mm int8 mode: SMMLA (armv8.2-a+i8mm), int8 activations x int8/int4 weights.
// Reads: one weight panel (8 rows, the n-pair layout of neon_kernels.h: each 16-byte n-pair
// vector is SMMLA's 2x8 operand as is) and activations in the pair layout (each 16 bytes =
// rows 2i, 2i+1 x 8 k: the other 2x8 operand as is). No shuffle in the inner loop.
// Tile: up to 8 rows (4 m-pairs) x 8 columns (4 n-pairs) = 16 int32x4 accumulators, each a
// 2x2 block [m0n0 m0n1 m1n0 m1n1]; per k-octet: 4 activation loads, 2 (int4) or 4 (int8)
// weight loads, 4 SHL/AND (int4 only), 16 SMMLA = 512 MACs.
// Per group (gs/8 k-octets): ZIP1/ZIP2 to rows of 4 columns, then the scalar backend's
// epilogue (SSHR by 4 for int4, MLS by zp*sum_q, SCVTF, FMUL, FMUL, FADD).
// Measured (QEMU instruction count, gcc 12, 2026-11-23; no Arm hardware): inner loop 0.052
// (int8) / 0.060 (int4) instructions per MAC vs 0.031 for SMMLA alone; whole kernel 0.08-0.09
// at gs=128, 0.16-0.18 at gs=32 (the per-group epilogue). bench/RESULTS.md (Arm section).
#include <arm_neon.h>

#include "arm_neon/neon_int8_common.h"

namespace qmm {
namespace neon {
namespace {

template <int MP, int BITS>
inline void smmla_octet(const int8_t* w, const int8_t* const* A, int64_t ko, int32x4_t (*acc)[4]) {
  int8x16_t b[4];
  load_npairs<BITS>(w, ko, b);
  for (int i = 0; i < MP; ++i) {
    const int8x16_t av = vld1q_s8(A[i] + ko * 16);
    acc[i][0] = vmmlaq_s32(acc[i][0], av, b[0]);
    acc[i][1] = vmmlaq_s32(acc[i][1], av, b[1]);
    acc[i][2] = vmmlaq_s32(acc[i][2], av, b[2]);
    acc[i][3] = vmmlaq_s32(acc[i][3], av, b[3]);
  }
}

template <int MP, int BITS, bool ZP>
void smmla_tile(const Panel& w, const Int8Act& a, int m0, float* out) {
  const int64_t K = a.K, G = a.G, kog = a.gs / 8;
  const int8_t* A[MP];
  for (int i = 0; i < MP; ++i) A[i] = a.q + (int64_t(m0) / 2 + i) * 2 * K;
  float32x4_t facc[2 * MP][2];
  for (int m = 0; m < 2 * MP; ++m) facc[m][0] = facc[m][1] = vdupq_n_f32(0.0f);
  for (int64_t g = 0; g < G; ++g) {
    int32x4_t acc[MP][4];
    for (int i = 0; i < MP; ++i)
      for (int j = 0; j < 4; ++j) acc[i][j] = vdupq_n_s32(0);
    const int64_t ko_end = (g + 1) * kog;
    // Two k-octets per iteration (kog is a multiple of 4): halves the loop overhead.
    for (int64_t ko = g * kog; ko < ko_end; ko += 2) {
      smmla_octet<MP, BITS>(w.w, A, ko, acc);
      smmla_octet<MP, BITS>(w.w, A, ko + 1, acc);
    }
    const GroupConsts c = group_consts<ZP>(w, g);
    for (int i = 0; i < MP; ++i) {
      const int64x2_t a0 = vreinterpretq_s64_s32(acc[i][0]), a1 = vreinterpretq_s64_s32(acc[i][1]);
      const int64x2_t a2 = vreinterpretq_s64_s32(acc[i][2]), a3 = vreinterpretq_s64_s32(acc[i][3]);
      const int64_t m = m0 + 2 * i;
      group_epilogue<BITS, ZP>(vreinterpretq_s32_s64(vzip1q_s64(a0, a1)),
                               vreinterpretq_s32_s64(vzip1q_s64(a2, a3)), a, m, g, c, facc[2 * i]);
      if (m + 1 < a.mb)
        group_epilogue<BITS, ZP>(vreinterpretq_s32_s64(vzip2q_s64(a0, a1)),
                                 vreinterpretq_s32_s64(vzip2q_s64(a2, a3)), a, m + 1, g, c,
                                 facc[2 * i + 1]);
    }
  }
  for (int m = 0; m < 2 * MP && m0 + m < a.mb; ++m) {
    vst1q_f32(out + int64_t(m0 + m) * 8, facc[m][0]);
    vst1q_f32(out + int64_t(m0 + m) * 8 + 4, facc[m][1]);
  }
}

template <int BITS, bool ZP>
void smmla_panel(const Panel& w, const Int8Act& a, float* out) {
  int m0 = 0;
  for (; m0 + 8 <= a.mb; m0 += 8) smmla_tile<4, BITS, ZP>(w, a, m0, out);
  switch ((a.mb - m0 + 1) / 2) {
    case 4: smmla_tile<4, BITS, ZP>(w, a, m0, out); break;
    case 3: smmla_tile<3, BITS, ZP>(w, a, m0, out); break;
    case 2: smmla_tile<2, BITS, ZP>(w, a, m0, out); break;
    case 1: smmla_tile<1, BITS, ZP>(w, a, m0, out); break;
    default: break;
  }
}

}  // namespace

void int8_panel_smmla(const Panel& w, const Int8Act& a, int bits, float* out) {
  if (bits == 4)
    w.z ? smmla_panel<4, true>(w, a, out) : smmla_panel<4, false>(w, a, out);
  else
    w.z ? smmla_panel<8, true>(w, a, out) : smmla_panel<8, false>(w, a, out);
}

}  // namespace neon
}  // namespace qmm
