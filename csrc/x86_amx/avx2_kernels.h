// The avx2 backend's kernels (compiled with -mavx2 -mfma -mf16c; call only after
// avx2_available()). avx2_entry.cpp (baseline ISA) holds the table entry and dispatch.
//
// Weight views. Both kernels read weights in "units" of 32 bytes per row: 64 int4 elements or
// 32 int8 elements, in canonical byte order within the unit. Canonical weights: unit u of row n
// is at w + n*row_bytes + 32*u (the last unit of an int4 row may be 16 bytes when K % 64 == 32).
// Packed weights (pack_w_avx2_tiles): rows grouped in tiles of kAvx2TileRows; within a tile the
// units are interleaved row by row, [unit][row][32 bytes], each row zero-padded to whole units,
// so one thread walking a tile reads one sequential stream.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/backend.h"

namespace qmm {
namespace avx2 {

constexpr int64_t kAvx2TileRows = 4;

struct WeightView {
  const uint8_t* w = nullptr;
  bool packed = false;
  int64_t row_bytes = 0;  // canonical bytes per row (K or K/2)
  int64_t units = 0;      // ceil(row_bytes / 32)
};

WeightView canonical_view(const Problem& p);

// Float mode: y = x * dequant(w)^T with fp32 FMA, dequantizing in registers.
// Requires group_size % 32 == 0.
qmm_status avx2_float_gemm(const Problem& p, const Options& o, const WeightView& wv);

// int8 mode: x quantized per row and group exactly as quantize_group_int8, integer dot products
// with vpmaddubsw/vpmaddwd, fp32 epilogue in the scalar backend's order.
// Requires group_size % 32 == 0 and group_size <= kAvx2Int8MaxGroup.
constexpr int64_t kAvx2Int8MaxGroup = 65536;
qmm_status avx2_int8_gemm(const Problem& p, const Options& o, const WeightView& wv);

// Packing: bytes needed for the tile layout, and the copy itself.
size_t packed_w_avx2_tiles_bytes(int64_t N, int64_t row_bytes);
void pack_w_avx2_tiles(const uint8_t* w, int64_t N, int64_t row_bytes, uint8_t* out);

// The int8 mode's activation quantizer, vectorized; bit-identical to quantize_group_int8.
// x: K fp32 values (K % group_size == 0, group_size % 8 == 0); q: K int8 in natural order;
// sx, sum_q: K/group_size values.
void avx2_quantize_row_int8(const float* x, int64_t K, int64_t group_size, int8_t* q, float* sx,
                            int32_t* sum_q);

}  // namespace avx2
}  // namespace qmm
