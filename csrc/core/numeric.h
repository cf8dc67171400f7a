// Portable scalar numerics shared by every CPU backend: fp16/bf16 <-> fp32 conversions with
// IEEE round-to-nearest-even, int4 unpacking, and the int8 mode's activation quantizer exactly
// as docs/semantics.md specifies (the reference the SIMD quantizers must match bit for bit).
// Internal linkage: ISA-specific files include this header too, and an inline function with
// external linkage compiled with their flags could be the copy the linker keeps for baseline code.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "qmatmul/qmatmul.h"

namespace qmm {

static inline float bits_to_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
static inline uint32_t f32_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

static inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t man = h & 0x3ffu;
  if (exp == 0x1f) return bits_to_f32(sign | 0x7f800000u | (man << 13));  // Inf / NaN
  if (exp == 0) {
    // zero or subnormal: man * 2^-24, exact in fp32
    float v = float(man) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  return bits_to_f32(sign | ((exp + 112) << 23) | (man << 13));
}

static inline uint16_t f32_to_f16(float f) {
  const uint32_t u = f32_to_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t a = u & 0x7fffffffu;
  if (a >= 0x7f800000u) {  // Inf or NaN (keep NaN quiet and non-zero)
    return uint16_t(sign | 0x7c00u | (a > 0x7f800000u ? (0x200u | ((a >> 13) & 0x3ffu)) : 0u));
  }
  if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds to >= 65520: overflow
  if (a < 0x38800000u) {
    // result is subnormal or zero: round a * 2^24 to an integer, half to even
    if (a < 0x33000000u) return uint16_t(sign);  // < 2^-25: rounds to zero
    const uint32_t e = a >> 23;
    const uint32_t m = (a & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - e;  // 14..24: m * 2^(e-150) * 2^24 = m >> (126-e)
    uint32_t r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) ++r;
    return uint16_t(sign | r);
  }
  // normal: rebias exponent, round mantissa to 10 bits, half to even (carry may bump exponent)
  uint32_t r = a - 0x38000000u;  // exponent - 112 in the fp32 field
  r = (r + 0xfffu + ((r >> 13) & 1u)) >> 13;
  return uint16_t(sign | r);
}

static inline float bf16_to_f32(uint16_t b) { return bits_to_f32(uint32_t(b) << 16); }

static inline uint16_t f32_to_bf16(float f) {
  const uint32_t u = f32_to_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);  // quiet NaN
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static inline size_t dtype_size(qmm_dtype t) { return t == QMM_DTYPE_F32 ? 4 : 2; }

static inline float load_as_f32(const void* base, int64_t i, qmm_dtype t) {
  switch (t) {
    case QMM_DTYPE_F16: return f16_to_f32(static_cast<const uint16_t*>(base)[i]);
    case QMM_DTYPE_BF16: return bf16_to_f32(static_cast<const uint16_t*>(base)[i]);
    default: return static_cast<const float*>(base)[i];
  }
}

static inline void store_from_f32(void* base, int64_t i, qmm_dtype t, float v) {
  switch (t) {
    case QMM_DTYPE_F16: static_cast<uint16_t*>(base)[i] = f32_to_f16(v); break;
    case QMM_DTYPE_BF16: static_cast<uint16_t*>(base)[i] = f32_to_bf16(v); break;
    default: static_cast<float*>(base)[i] = v; break;
  }
}

// Convert n activations of dtype t to fp32.
void convert_to_f32(const void* src, qmm_dtype t, int64_t n, float* dst);

// Signed int4 element k of a packed row (low nibble = even k).
static inline int int4_at(const uint8_t* row, int64_t k) {
  const uint8_t b = row[k >> 1];
  const int nib = (k & 1) ? (b >> 4) : (b & 0xf);
  return (nib ^ 8) - 8;
}

// The int8 mode's quantizer for one group of n fp32 values (docs/semantics.md, section
// "int8 mode"): returns sx and writes q; `sum_q` receives the sum of q.
//   a = max |x| (NaN if any x is NaN), inv = 127/a, q = clamp(rint(x*inv), -127, 127)
//   (a NaN product gives q = 0), sx = a/127; a == 0 gives q = 0, sx = 0.
static inline float quantize_group_int8(const float* x, int64_t n, int8_t* q, int32_t* sum_q) {
  float a = 0.0f;
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) {
    const float v = std::fabs(x[i]);
    if (v != v) nan = true;
    a = v > a ? v : a;
  }
  if (nan) a = bits_to_f32(0x7fc00000u);
  int32_t s = 0;
  if (a == 0.0f) {
    for (int64_t i = 0; i < n; ++i) q[i] = 0;
    *sum_q = 0;
    return 0.0f;
  }
  const float inv = 127.0f / a;
  for (int64_t i = 0; i < n; ++i) {
    const float p = x[i] * inv;
    int v;
    if (p != p) {
      v = 0;
    } else {
      const float r = std::nearbyint(p);  // default rounding mode: half to even
      v = r > 127.0f ? 127 : (r < -127.0f ? -127 : int(r));
    }
    q[i] = int8_t(v);
    s += v;
  }
  *sum_q = s;
  return a / 127.0f;
}

}  // namespace qmm
