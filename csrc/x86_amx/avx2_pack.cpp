// pack_w_avx2_tiles: canonical weights -> the avx2 backend's tile layout (avx2_kernels.h).
// Rows are grouped in tiles of kAvx2TileRows (the last tile may be shorter); within a tile the
// 32-byte units of its rows are interleaved [unit][row][32 bytes], each row zero-padded to a
// whole number of units. The bytes inside a unit keep the canonical order, so the same kernels
// read both layouts; a thread walking its tiles then reads one sequential stream instead of
// one stream per weight row. Scales and zero points stay canonical.
#include <cstring>

#include "x86_amx/avx2_kernels.h"

namespace qmm {
namespace avx2 {

size_t packed_w_avx2_tiles_bytes(int64_t N, int64_t row_bytes) {
  const int64_t units = (row_bytes + 31) / 32;
  return size_t(N) * size_t(units) * 32;
}

void pack_w_avx2_tiles(const uint8_t* w, int64_t N, int64_t row_bytes, uint8_t* out) {
  const int64_t units = (row_bytes + 31) / 32;
  const int64_t tiles = (N + kAvx2TileRows - 1) / kAvx2TileRows;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t n0 = t * kAvx2TileRows;
    const int64_t nt = N - n0 < kAvx2TileRows ? N - n0 : kAvx2TileRows;
    uint8_t* tile = out + n0 * units * 32;
    for (int64_t u = 0; u < units; ++u)
      for (int64_t r = 0; r < nt; ++r) {
        uint8_t* d = tile + (u * nt + r) * 32;
        const int64_t len = row_bytes - u * 32 < 32 ? row_bytes - u * 32 : 32;
        std::memcpy(d, w + (n0 + r) * row_bytes + u * 32, size_t(len));
        if (len < 32) std::memset(d + len, 0, size_t(32 - len));
      }
  }
}

}  // namespace avx2
}  // namespace qmm
