// The `avx512` and `amx` backends' shared vocabulary: the packed weight panel both read, and
// the entry points their baseline-compiled table entries (avx512_entry.cpp, amx_entry.cpp)
// call once available() said yes.
//
// Only constants, plain structs and declarations live here (no inline functions with external
// linkage): this header is included by baseline and AVX-512 translation units alike.
//
// Weight panel (pack_panel_x512; prepacked weights are the panels back to back, canonical
// weights are gathered one panel at a time into a per-thread buffer):
//   a panel = 32 consecutive weight rows n0..n0+31 (rows past N: u = offset, scale 0, zp 0),
//   split in two halves h of 16 rows. Lane c of a 64-byte vector is row n0 + 16h + c and holds
//   4 bytes of consecutive k: the layout of VPDPBUSD's and TDPBSUD's right operand.
//   Weights are stored unsigned: u = w + 128 (bits=8) or u = w + 8 (bits=4, a nibble).
//   bits=8: per k-quad kq (4 consecutive k) 128 bytes: [h][c][4] -> byte j = u(k = 4kq + j).
//           This is also AMX's B-tile layout with row stride 128 (one tile per half).
//   bits=4: per k-octet o (8 consecutive k) 128 bytes: [h][c][4] -> byte j holds u(8o + j) in
//           its low nibble and u(8o + 4 + j) in its high nibble; (v & 0x0F) and (v >> 4 & 0x0F)
//           are the bits=8 layout of k-quads 2o and 2o + 1.
//   Scales: float [G][32] per panel; zero points int8 [G][32] per panel (absent if symmetric).
// Panel bytes: K * 32 (bits=8) or K * 16 (bits=4).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/backend.h"

namespace qmm {
namespace x512 {

constexpr int kPanelN = 32;
// The AMX backend hands problems with fewer rows than this to the AVX-512 kernels.
constexpr int64_t kAmxMinRows = 16;

struct Panel {
  const uint8_t* w;  // panel_w_bytes
  const float* s;    // [G][32]
  const int8_t* z;   // [G][32], or nullptr
  // Where the avx512 float kernels' software prefetch reads, panel_w_bytes from here in step
  // with w (canonical weights, up to 4 rows of X: the next panel's rows); nullptr: w + 2048.
  const uint8_t* pf = nullptr;
};

// Where the panels of a pack live inside PackedWeights::data.
struct PanelLayout {
  int64_t panels = 0, wbytes = 0, gcount = 0;  // per panel: weight bytes, G * 32
  size_t w_off = 0, s_off = 0, z_off = 0, total = 0;
};
PanelLayout panel_layout(int64_t N, int64_t K, int64_t G, int bits, bool has_zp);
// True when the avx512/amx kernels handle p (group size a multiple of 32 and <= 65536,
// panel offsets within int32); otherwise the entries hand p to the avx2 code.
bool kernels_cover(const Problem& p);

// AVX-512 TUs (call only where the CPU has AVX-512 F/BW/VL/DQ/VNNI).
// Gather canonical panel pi of p into dw / ds / dz (dz may be null when p.zp is null).
void pack_panel_x512(const Problem& p, int64_t pi, uint8_t* dw, float* ds, int8_t* dz);
qmm_status avx512_pack(const Problem& p, const Options& o, PackedWeights* out);
// The whole matmul on the AVX-512 kernels; pw == nullptr: canonical weights in p.
qmm_status avx512_run(const Problem& p, const Options& o, const PackedWeights* pw);
// Float mode on canonical weights for M <= kRowsMaxM (bits=8) or kRowsMaxM4 (bits=4)
// (avx512_rows.cpp): weight rows read in place, the dot product along k. avx512_run calls it.
// Xeon, 16 threads, (28672, 8192) g128, 2026-12-01 (noisy: +-15 % between runs): canonical
// bits=4 M=1 69-86 GB/s with it vs 60 GB/s through the panels (packed: 78-86 GB/s), M=2 43-55
// vs 39; bits=8 M=1 77-91 vs 63-76, M=2 70-86 vs 51, M=4 47-57 vs 48; bits=4 M=4 30-36 vs 35,
// so bits=4 M = 3, 4 keep the panel path.
constexpr int64_t kRowsMaxM = 4;
constexpr int64_t kRowsMaxM4 = 2;
bool rows_float_covers(const Problem& p);
qmm_status rows_float_run(const Problem& p, const Options& o);
// int8 mode on canonical weights, the same row walk with VPDPBUSD (avx512_rows.cpp), where
// rows_int8_covers: M <= kRowsMaxM, group_size % 128 == 0 (bits=4) / % 64 == 0 (bits=8).
bool rows_int8_covers(const Problem& p);
qmm_status rows_int8_run(const Problem& p, const Options& o);
// True where VDPBF16PS is as fast as VFMADD231PS (AMD CPUs with AVX512_BF16): the float bits=4
// kernels then use it (avx512_bf16.cpp, and avx512_rows.cpp for groups of 128k).
bool dpbf16_fast();

// Float mode through `kernels` (avx512_run or amx_run), with the rows of X that hold Inf
// recomputed by the scalar code on canonical data (unpacked from pw when given).
using Kernels = qmm_status (*)(const Problem&, const Options&, const PackedWeights*);
qmm_status float_with_exact_rows(const Problem& p, const Options& o, const PackedWeights* pw,
                                Kernels kernels);

// AMX TU (call only after request_amx_permission() succeeded).
qmm_status amx_run(const Problem& p, const Options& o, const PackedWeights* pw);

}  // namespace x512
}  // namespace qmm
