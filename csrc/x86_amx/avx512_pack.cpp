// pack_panel_x512: canonical weights -> the 32-row panel of avx512_kernels.h.
// Lane c of output vector d (of half h) is dword d of row n0 + 16h + c (8 k of a bits=4 row,
// 4 k of a bits=8 row): a 16x16 dword transpose of 16 rows x 64 bytes (64 unpack/shuffle
// instructions for 16 vectors). A VPGATHERDD version was slower on the Xeon (canonical bits=8
// float M=1 on (28672, 8192): 5.9 ms vs 3.6 ms; bits=4 about even). bits=4 then moves the nibbles within each dword from canonical order
// (k0 k1 k2 .. k7, low first) to panel order (k0 k4 k1 k5 k2 k6 k3 k7) with two delta swaps.
// Both add the unsigned offset with one XOR (0x88.. for nibbles, 0x80.. for bytes). The raw
// bits=4 forms for canonical float-mode runs skip the reorder and the offset (below). Scales
// and zero points go through the same 16x16 dword transpose (16 rows x 16 groups; a scalar
// loop before: canonical bits=4 M=1 on (28672, 8192), Xeon, 2.4-2.7 ms -> 1.95-1.98 ms).
// The same routine packs prepacked weights (qmm_pack) and, per thread, canonical weights for
// every matmul on canonical inputs.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "x86_amx/avx512_tiles.h"

namespace qmm {
namespace x512 {

namespace {

inline __m512i nibbles_to_panel_order(__m512i x) {
  // swap nibble pairs (2,3) <-> (4,5): k0 k1 k4 k5 k2 k3 k6 k7
  __m512i t = _mm512_and_si512(_mm512_xor_si512(_mm512_srli_epi32(x, 8), x),
                               _mm512_set1_epi32(0x0000ff00));
  x = _mm512_xor_si512(x, _mm512_xor_si512(t, _mm512_slli_epi32(t, 8)));
  // swap nibbles 1 <-> 2 and 5 <-> 6: k0 k4 k1 k5 k2 k6 k3 k7
  t = _mm512_and_si512(_mm512_xor_si512(_mm512_srli_epi32(x, 4), x),
                       _mm512_set1_epi32(0x00f000f0));
  return _mm512_xor_si512(x, _mm512_xor_si512(t, _mm512_slli_epi32(t, 4)));
}

// 16x16 transpose of dwords: in[r] = row r (16 dwords), out[c] = column c.
inline void transpose16(__m512i* v) {
  __m512i t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(v[i], v[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(v[i], v[i + 1]);
  }
  __m512i u[16];
  for (int i = 0; i < 16; i += 4) {
    u[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
    u[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
    u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
    u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  // u[4i + c], 128-bit lane L: rows 4i..4i+3 of column 4L + c; transpose the lanes
  for (int c = 0; c < 4; ++c) {
    const __m512i v0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x44);
    const __m512i v1 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xee);
    const __m512i v2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x44);
    const __m512i v3 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xee);
    v[c] = _mm512_shuffle_i32x4(v0, v2, 0x88);
    v[4 + c] = _mm512_shuffle_i32x4(v0, v2, 0xdd);
    v[8 + c] = _mm512_shuffle_i32x4(v1, v3, 0x88);
    v[12 + c] = _mm512_shuffle_i32x4(v1, v3, 0xdd);
  }
}

// Per half (16 rows) and 16 dwords of each row: 16 loads, one 16x16 dword transpose, then
// per output vector the nibble reorder (bits=4) and the offset XOR. The raw forms (bits=4, for
// the float kernels' canonical path, avx512_tiles.h) skip both: kRaw stores the transposed
// dwords as they are; kRawSwap12 (AVX512_BF16 kernel) swaps bytes 1 and 2 of each dword with
// one VPSHUFB (nibble order k0 k1 k4 k5 k2 k3 k6 k7).
enum class PanelForm { kPanel, kRaw, kRawSwap12 };

void pack_panel_impl(const Problem& p, int64_t pi, PanelForm form, uint8_t* dw, float* ds,
                     int8_t* dz) {
  const int64_t N = p.N, G = p.groups, rb = p.row_bytes();
  const int64_t n0 = pi * kPanelN;
  const int nrows = int(std::min<int64_t>(kPanelN, N - n0));
  const int64_t ndw = rb / 4;  // dwords per row = output vectors per half
  const bool b4 = p.bits == 4;
  const __m512i off = _mm512_set1_epi32(int32_t(b4 ? 0x88888888u : 0x80808080u));
  const __m512i swap12 = _mm512_set4_epi32(0x0f0d0e0c, 0x0b090a08, 0x07050604, 0x03010200);
  for (int h = 0; h < 2; ++h) {
    const int valid = std::max(0, std::min(16, nrows - 16 * h));
    for (int64_t d0 = 0; d0 < ndw; d0 += 16) {
      const int nd = int(std::min<int64_t>(16, ndw - d0));
      const __mmask16 lm = nd >= 16 ? __mmask16(0xffff) : __mmask16((1u << nd) - 1u);
      __m512i v[16];
      for (int r = 0; r < 16; ++r)
        v[r] = r < valid ? _mm512_maskz_loadu_epi32(lm, p.w + (n0 + 16 * h + r) * rb + d0 * 4)
                         : _mm512_setzero_si512();
      transpose16(v);
      for (int d = 0; d < nd; ++d) {
        uint8_t* dst = dw + (d0 + d) * 128 + h * 64;
        if (form == PanelForm::kRaw) {
          _mm512_storeu_si512(dst, v[d]);
        } else if (form == PanelForm::kRawSwap12) {
          _mm512_storeu_si512(dst, _mm512_shuffle_epi8(v[d], swap12));
        } else {
          const __m512i x = b4 ? nibbles_to_panel_order(v[d]) : v[d];
          _mm512_storeu_si512(dst, _mm512_xor_si512(x, off));
        }
      }
    }
  }
  // scales and zero points: the same 16x16 dword transpose per half and 16 groups
  for (int h = 0; h < 2; ++h) {
    const int valid = std::max(0, std::min(16, nrows - 16 * h));
    for (int64_t g0 = 0; g0 < G; g0 += 16) {
      const int ng = int(std::min<int64_t>(16, G - g0));
      const __mmask16 gm = ng >= 16 ? __mmask16(0xffff) : __mmask16((1u << ng) - 1u);
      __m512i v[16];
      for (int r = 0; r < 16; ++r)
        v[r] = r < valid ? _mm512_maskz_loadu_epi32(gm, p.scales + (n0 + 16 * h + r) * G + g0)
                         : _mm512_setzero_si512();
      transpose16(v);
      for (int d = 0; d < ng; ++d) _mm512_storeu_si512(ds + (g0 + d) * kPanelN + 16 * h, v[d]);
      if (!dz) continue;
      for (int r = 0; r < 16; ++r) {
        const int8_t* z = p.zp + (n0 + 16 * h + r) * G + g0;
        v[r] = r < valid ? _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(gm, z)) : _mm512_setzero_si512();
      }
      transpose16(v);
      for (int d = 0; d < ng; ++d)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dz + (g0 + d) * kPanelN + 16 * h),
                         _mm512_cvtepi32_epi8(v[d]));
    }
  }
}

}  // namespace

void pack_panel_x512(const Problem& p, int64_t pi, uint8_t* dw, float* ds, int8_t* dz) {
  pack_panel_impl(p, pi, PanelForm::kPanel, dw, ds, dz);
}

void pack_panel_raw4_x512(const Problem& p, int64_t pi, bool swap12, uint8_t* dw, float* ds,
                          int8_t* dz) {
  pack_panel_impl(p, pi, swap12 ? PanelForm::kRawSwap12 : PanelForm::kRaw, dw, ds, dz);
}

namespace {
void release_packed(PackedWeights& pw) {
  aligned_free64(pw.data);
  pw.data = nullptr;
}
}  // namespace

qmm_status avx512_pack(const Problem& p, const Options& o, PackedWeights* out) {
  const bool has_zp = p.zp != nullptr;
  const PanelLayout L = panel_layout(p.N, p.K, p.groups, p.bits, has_zp);
  auto* base = static_cast<uint8_t*>(aligned_alloc64(L.total));
  if (!base)
    return set_error(QMM_OUT_OF_MEMORY, "could not allocate %zu bytes for packed weights", L.total);
  auto* w = base + L.w_off;
  auto* s = reinterpret_cast<float*>(base + L.s_off);
  auto* z = has_zp ? reinterpret_cast<int8_t*>(base + L.z_off) : nullptr;
#pragma omp parallel for schedule(static) num_threads(o.num_threads)
  for (int64_t pi = 0; pi < L.panels; ++pi)
    pack_panel_x512(p, pi, w + pi * L.wbytes, s + pi * L.gcount, z ? z + pi * L.gcount : nullptr);
  out->data = base;
  out->nbytes = L.total;
  out->release = release_packed;
  out->w = nullptr;  // no canonical copy: run_packed reads the panels
  out->scales = nullptr;
  out->zp = nullptr;
  return QMM_OK;
}

}  // namespace x512
}  // namespace qmm
