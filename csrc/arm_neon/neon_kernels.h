// The Arm kernels' shared vocabulary: the packed weight panel they all read, the activation
// blocks the driver (neon_entry.cpp) prepares, and the per-panel kernel entry points.
//
// Only plain structs and declarations live here: every kernel TU is compiled with its own
// -march, so an inline function defined here could be emitted by an i8mm TU and picked by the
// linker for a caller on a CPU without i8mm. Kernels keep their helpers in anonymous namespaces.
//
// Weight panel (pack_w_neon_panel, the layout every Arm kernel reads; prepacked weights are a
// sequence of these, canonical weights are packed one panel at a time into a thread's buffer):
//   a panel = 8 consecutive weight rows n0..n7 (rows past N are zero, with scale 0, zp 0).
//   For each k-octet ko (8 consecutive k), the 8 rows form 4 "n-pairs" j = 0..3, and n-pair j
//   is one 16-byte vector: bytes 0..7 = row 2j, k 8ko..8ko+7; bytes 8..15 = row 2j+1, same k.
//   That vector is exactly SMMLA's 2x8 right operand, SDOT's operand against an 8-byte
//   activation chunk duplicated into both halves, and SMULL/SMULL2's operand pair.
//   bits=8: per k-octet 64 bytes: n-pair 0, 1, 2, 3.
//   bits=4: per k-octet 32 bytes: vector 0 holds n-pair 0 in its low nibbles and n-pair 1 in
//   its high nibbles, vector 1 holds n-pairs 2 and 3. (v << 4) and (v & 0xF0) give 16x the
//   signed values with no shuffle; the int8 kernels shift the int32 group sums right by 4.
//   Scales: float [G][8] per panel; zero points: int8 [G][8] per panel (absent if symmetric).
#pragma once

#include <cstdint>

namespace qmm {
namespace neon {

constexpr int kPanelN = 8;  // weight rows per panel

struct Panel {
  const int8_t* w;  // K*8 bytes (bits=8) or K*4 bytes (bits=4)
  const float* s;   // [G][8]
  const int8_t* z;  // [G][8], or nullptr
};

inline int64_t panel_w_bytes(int64_t K, int bits) { return bits == 8 ? K * 8 : K * 4; }

// The int8 mode's activations for a block of mb rows, quantized per row and group exactly as
// quantize_group_int8: q in the SMMLA pair layout [mb/2 pairs][K/8][2 rows][8] (an odd last
// row's partner is zeros), sx[m*G+g], sq[m*G+g] = sum of q over the group.
struct Int8Act {
  const int8_t* q;
  const float* sx;
  const int32_t* sq;
  int64_t K, G, gs;
  int mb;
};

// The float mode's activations: mb rows of fp32, row-major with row stride K.
struct FloatAct {
  const float* x;
  int64_t K, G, gs;
  int mb;
};

// Per-panel kernels: out[m*8 + j] = Y[m, n0 + j] in fp32 for the mb rows of the block.
// neon_float.cpp (armv8-a)
void float_panel(const Panel& w, const FloatAct& a, int bits, float* out);
// neon_int8_smull.cpp (armv8-a): SMULL/SMLAL + SADALP, for CPUs without dotprod
void int8_panel_smull(const Panel& w, const Int8Act& a, int bits, float* out);
// neon_dotprod.cpp (armv8.2-a+dotprod): SDOT
void int8_panel_sdot(const Panel& w, const Int8Act& a, int bits, float* out);
// neon_i8mm.cpp (armv8.2-a+i8mm): SMMLA
void int8_panel_smmla(const Panel& w, const Int8Act& a, int bits, float* out);

// neon_quant.cpp (armv8-a): quantize mb fp32 rows (row stride K) into `q` (pair layout), sx, sq.
void quantize_rows_int8(const float* x, int mb, int64_t K, int64_t gs, int8_t* q, float* sx,
                        int32_t* sq);

}  // namespace neon
}  // namespace qmm
