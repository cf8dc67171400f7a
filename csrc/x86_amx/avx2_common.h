// Helpers shared by the avx2 kernel files only (compiled with -mavx2 -mfma -mf16c). Everything
// here has internal linkage: an inline function with external linkage compiled with AVX2 flags
// could be picked by the linker for baseline code too (the usual multi-ISA ODR trap), so the
// avx2 files also avoid std containers and the inline converters of core/numeric.h.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "core/backend.h"
#include "x86_amx/avx2_kernels.h"

namespace qmm {
namespace avx2 {
namespace {

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
inline int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

// One row of X (dtype t) to fp32; exact for every input (F16C is exact fp16 -> fp32).
inline void row_to_f32(const void* src, qmm_dtype t, int64_t n, float* dst) {
  int64_t i = 0;
  if (t == QMM_DTYPE_F16) {
    const auto* s = static_cast<const uint16_t*>(src);
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
    for (; i < n; ++i) dst[i] = _cvtsh_ss(s[i]);
  } else if (t == QMM_DTYPE_BF16) {
    const auto* s = static_cast<const uint16_t*>(src);
    for (; i + 8 <= n; i += 8) {
      const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i)));
      _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
    }
    for (; i < n; ++i) {
      const uint32_t u = uint32_t(s[i]) << 16;
      std::memcpy(dst + i, &u, 4);
    }
  } else {
    std::memcpy(dst, src, size_t(n) * sizeof(float));
  }
}

// fp32 -> bf16, round half to even, NaN kept quiet (as core/numeric.h's f32_to_bf16).
inline uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// Store one output; fp16 through F16C (round to nearest even, overflow to Inf, subnormals kept).
inline void store_y(void* y, int64_t i, qmm_dtype t, float v) {
  if (t == QMM_DTYPE_F32) {
    static_cast<float*>(y)[i] = v;
  } else if (t == QMM_DTYPE_F16) {
    static_cast<uint16_t*>(y)[i] = _cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT);
  } else {
    static_cast<uint16_t*>(y)[i] = to_bf16(v);
  }
}

// Row pointers and unit step for rows [n0, n0 + nt) of a tile (nt <= kAvx2TileRows, the tile
// starting at a multiple of kAvx2TileRows).
inline void tile_rows(const WeightView& wv, int64_t n0, int64_t nt, const uint8_t** rp,
                      int64_t* ustep) {
  if (wv.packed) {
    const uint8_t* base = wv.w + n0 * wv.units * 32;
    for (int64_t r = 0; r < nt; ++r) rp[r] = base + r * 32;
    *ustep = nt * 32;
  } else {
    for (int64_t r = 0; r < nt; ++r) rp[r] = wv.w + (n0 + r) * wv.row_bytes;
    *ustep = 32;
  }
}


// Software prefetch for the M = 1 kernels, which walk a 4-row tile over all of K and then the
// next tile (threads take consecutive tiles): the next tile's bytes (contiguous in both
// layouts), linearly, into L2, as fast as this tile's are consumed. 2-core Zen 4 VM, int8 mode
// M=1 g128 (C driver, one thread, weights rotated past L3, alternating runs; none / into L1 /
// into L2): 4-bit K = 4096 994-1044 / 464-522 / 458-514 us per (4096, 4096); K = 8192
// 1344-1861 / 1440-1481 / 932-1008; K = 28672 (8192 rows) 9662-9710 / 12655-12825 / 7598-9516;
// 8-bit K = 8192 4827-5577 / - / 3349-3662; float 4-bit K = 8192 2192-2874 / - / 1802-2191.
// Into L1 it overran on long rows; per-row prefetches 1-4 KB ahead of the row being read were no
// faster than none (the dense linear stream is what helps). Two threads: 4-bit (4096, 8192)
// 948-968 -> 695-761 us, (8192, 28672) 5165-6160 -> 4376-4923 us.
// Addresses are integers: past the last tile they lie outside the array (a prefetch never faults).
struct M1Prefetch {
  uintptr_t next;  // the next tile's first byte
  M1Prefetch(const uint8_t* const* rp, const WeightView& wv)
      : next(reinterpret_cast<uintptr_t>(rp[0]) +
             uintptr_t(kAvx2TileRows * (wv.packed ? wv.units * 32 : wv.row_bytes))) {}
  // Call once per 64 bytes of progress along the rows (row byte `off`): 4 lines.
  inline void at(int64_t off) const {
    const uintptr_t a = next + uintptr_t(kAvx2TileRows * off);
    for (int i = 0; i < kAvx2TileRows; ++i)
      _mm_prefetch(reinterpret_cast<const char*>(a + 64 * i), _MM_HINT_T1);
  }
  // The same stream, once per 32-byte unit `un` (row byte 32 * un): 2 lines, no branch.
  inline void unit(int64_t un) const {
    const uintptr_t a = next + uintptr_t(kAvx2TileRows * 32 * un);
    for (int i = 0; i < kAvx2TileRows / 2; ++i)
      _mm_prefetch(reinterpret_cast<const char*>(a + 64 * i), _MM_HINT_T1);
  }
};

}  // namespace
}  // namespace avx2
}  // namespace qmm
