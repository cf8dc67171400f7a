// Shared device helpers of the cuda backend: mma.sync wrappers, cp.async, and the in-register
// int4/int8 -> fp16/bf16 dequantization used by every tensor-core kernel.
//
// k permutation. An mma reduces over k, so the kernels may hand the tensor cores any
// permutation of k as long as X and W use the same one. Each thread owns 8 consecutive
// physical k values per 32-k step (4 bytes of int4, 8 bytes of int8) and builds its fragment
// pairs from them:
//   bits=4: pair i = (e[i], e[i+4])      (the 0x6400 / 0x4300 "magic number" nibble
//                                          extraction: one lop3 per pair)
//   bits=8: pair i = (e[2i], e[2i+1])    (prmt of a byte next to the magic exponent byte)
// and X is loaded 16 bytes at a time and permuted the same way (prmt) for bits=4.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include <atomic>

namespace qmm {
namespace cuda {

// ---------------------------------------------------------------------------------------------
// Element types.
// T = the mma operand type (__half or __nv_bfloat16), its packed pair is uint32_t.
template <class T> struct MmaType;
template <> struct MmaType<__half> {
  static constexpr bool kBf16 = false;
};
template <> struct MmaType<__nv_bfloat16> {
  static constexpr bool kBf16 = true;
};

__device__ __forceinline__ uint32_t as_u32(__half2 h) { return *reinterpret_cast<uint32_t*>(&h); }
__device__ __forceinline__ uint32_t as_u32(__nv_bfloat162 h) {
  return *reinterpret_cast<uint32_t*>(&h);
}
__device__ __forceinline__ __half2 as_h2(uint32_t u) { return *reinterpret_cast<__half2*>(&u); }
__device__ __forceinline__ __nv_bfloat162 as_b2(uint32_t u) {
  return *reinterpret_cast<__nv_bfloat162*>(&u);
}

__device__ __forceinline__ uint32_t prmt(uint32_t a, uint32_t b, uint32_t sel) {
  uint32_t r;
  asm("prmt.b32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(sel));
  return r;
}

// (a & b) | c as a single lop3.
__device__ __forceinline__ uint32_t and_or(uint32_t a, uint32_t b, uint32_t c) {
  uint32_t r;
  asm("lop3.b32 %0, %1, %2, %3, 0xEA;" : "=r"(r) : "r"(a), "r"(b), "r"(c));
  return r;
}

// (a & b) ^ c as a single lop3.
__device__ __forceinline__ uint32_t and_xor(uint32_t a, uint32_t b, uint32_t c) {
  uint32_t r;
  asm("lop3.b32 %0, %1, %2, %3, 0x6A;" : "=r"(r) : "r"(a), "r"(b), "r"(c));
  return r;
}

// Pack two fp32 into a pair of T (round to nearest even), low half = a.
template <class T> __device__ __forceinline__ uint32_t pack2(float a, float b);
template <> __device__ __forceinline__ uint32_t pack2<__half>(float a, float b) {
  return as_u32(__floats2half2_rn(a, b));
}
template <> __device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float a, float b) {
  return as_u32(__floats2bfloat162_rn(a, b));
}

// ---------------------------------------------------------------------------------------------
// Dequantization of one 32-bit word of weights into pairs of T, scale applied:
//   pair value = s * (q - zp), with (q - zp) exact in T (|q - zp| <= 255) and one rounding for
//   the product.
// Per group the kernels precompute `Deq<T>` from (scale, zero point).
template <class T> struct Deq;

template <> struct Deq<__half> {
  uint32_t sub4;   // half2(1024 + 8 + zp): magic + int4 bias + zero point, exact in fp16
  uint32_t add4h;  // half2(-(64 + 8 + zp)): the same for the 16x odd nibbles after * 1/16
  uint32_t sub8;   // half2(1024 + 128 + zp)
  uint32_t scale;  // half2(s, s)
  // zp is any int8 value. No int -> fp16 conversion (a quarter-rate pipe): the bits 0x6480 + zp
  // are the fp16 value 1152 + zp (1024 + a mantissa of zp + 128 in [0, 255]), and one hfma2 on
  // that pair gives (1032 + zp, -72 - zp), both exact.
  __device__ __forceinline__ void init(float s, int zp) {
    const uint32_t h = uint32_t(0x6480 + zp);
    sub8 = prmt(h, h, 0x1010);  // half2(1152 + zp)
    const __half2 b = __hfma2(as_h2(sub8), as_h2(0xbc003c00u), as_h2(0x6438d780u));  // (1, -1), (-120, 1080)
    sub4 = as_u32(__low2half2(b));
    add4h = as_u32(__high2half2(b));
    scale = as_u32(__float2half2_rn(s));
  }
  __device__ __forceinline__ void zero() {
    sub4 = add4h = sub8 = 0;
    scale = 0;
  }
  // 8 int4 (two's complement nibbles, element 2j low nibble of byte j) -> 4 pairs (e[i], e[i+4]).
  // SCALE = false: the exact integers q - zp (the caller applies the scale in fp32).
  // Even nibbles of a half word land in bits 0-3 (value 1024 + u), odd ones in bits 4-7
  // (1024 + 16u, rescaled by the fma with 1/16): one shift, 4 lop3, 4 hadd2/hfma2 per word.
  template <bool SCALE = true>
  __device__ __forceinline__ void w4(uint32_t w, uint32_t out[4]) const {
    const __half2 sixteenth = as_h2(0x2c002c00u);  // 1/16
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const uint32_t v = i == 0 ? w : w >> 8;
      // (nibble ^ 8) = nibble + 8 in [0, 15] next to the magic exponent, in one lop3 each.
      const uint32_t lo = and_xor(v, 0x000f000fu, 0x64086408u);  // (e[2i], e[2i+4])
      const uint32_t hi = and_xor(v, 0x00f000f0u, 0x64806480u);  // (e[2i+1], e[2i+5]) * 16
      const __half2 d0 = __hsub2(as_h2(lo), as_h2(sub4));
      const __half2 d1 = __hfma2(as_h2(hi), sixteenth, as_h2(add4h));
      out[2 * i] = as_u32(SCALE ? __hmul2(d0, as_h2(scale)) : d0);
      out[2 * i + 1] = as_u32(SCALE ? __hmul2(d1, as_h2(scale)) : d1);
    }
  }
  // 4 int8 -> 2 pairs (e[0], e[1]), (e[2], e[3]).
  template <bool SCALE = true>
  __device__ __forceinline__ void w8(uint32_t w, uint32_t out[2]) const {
    const uint32_t u = w ^ 0x80808080u;  // byte + 128 in [0, 255]
    const uint32_t h0 = prmt(u, 0x64646464u, 0x7150);
    const uint32_t h1 = prmt(u, 0x64646464u, 0x7352);
    const __half2 d0 = __hsub2(as_h2(h0), as_h2(sub8));
    const __half2 d1 = __hsub2(as_h2(h1), as_h2(sub8));
    out[0] = as_u32(SCALE ? __hmul2(d0, as_h2(scale)) : d0);
    out[1] = as_u32(SCALE ? __hmul2(d1, as_h2(scale)) : d1);
  }
};

template <> struct Deq<__nv_bfloat16> {
  uint32_t zp2;    // bf16x2(zp), exact
  float s;         // fp32 scale
  float sub8;      // 2^23 + 128 + zp, exact in fp32
  uint32_t scale;  // bf16x2(s)
  __device__ __forceinline__ void init(float s_, int zp) {
    zp2 = as_u32(__float2bfloat162_rn(float(zp)));
    s = s_;
    sub8 = 8388608.0f + float(128 + zp);
    scale = as_u32(__float2bfloat162_rn(s_));
  }
  __device__ __forceinline__ void zero() {
    zp2 = 0;
    s = 0.0f;
    sub8 = 0.0f;
    scale = 0;
  }
  // bf16 magic 128 (0x4300): 128 + u exact for u < 128. (q - zp) exact, then * s.
  template <bool SCALE = true>
  __device__ __forceinline__ void w4(uint32_t w, uint32_t out[4]) const {
    const __nv_bfloat162 magic = as_b2(0x43084308u);  // 128 + 8
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint32_t h = and_xor(w >> (4 * i), 0x000f000fu, 0x43084308u);  // 128 + nibble + 8
      const __nv_bfloat162 q = __hsub2(as_b2(h), magic);  // nibble value, exact
      const __nv_bfloat162 d = __hsub2(q, as_b2(zp2));    // exact: |q - zp| <= 135
      out[i] = as_u32(SCALE ? __hmul2(d, as_b2(scale)) : d);
    }
  }
  // int8 through fp32 (bf16 cannot hold 128 + u exactly): one rounding at the pack.
  template <bool SCALE = true>
  __device__ __forceinline__ void w8(uint32_t w, uint32_t out[2]) const {
    const uint32_t u = w ^ 0x80808080u;
    float f[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint32_t b = prmt(u, 0x4b000000u, 0x7650 + i);  // 2^23 + byte i
      f[i] = SCALE ? (__uint_as_float(b) - sub8) * s : (__uint_as_float(b) - sub8);
    }
    out[0] = pack2<__nv_bfloat16>(f[0], f[1]);
    out[1] = pack2<__nv_bfloat16>(f[2], f[3]);
  }
};

// X pairs for bits=4: from 8 consecutive elements in natural pairs n0=(x0,x1) n1=(x2,x3)
// n2=(x4,x5) n3=(x6,x7) make (x0,x4) (x1,x5) (x2,x6) (x3,x7).
__device__ __forceinline__ void permute_x4(const uint32_t n[4], uint32_t out[4]) {
  out[0] = prmt(n[0], n[2], 0x5410);
  out[1] = prmt(n[0], n[2], 0x7632);
  out[2] = prmt(n[1], n[3], 0x5410);
  out[3] = prmt(n[1], n[3], 0x7632);
}

// ---------------------------------------------------------------------------------------------
// mma.sync wrappers.
template <class T>
__device__ __forceinline__ void mma16816(float c[4], const uint32_t a[4], const uint32_t b[2]);
template <>
__device__ __forceinline__ void mma16816<__half>(float c[4], const uint32_t a[4], const uint32_t b[2]) {
  asm(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float c[4], const uint32_t a[4],
                                                        const uint32_t b[2]) {
  asm(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
__device__ __forceinline__ void mma16832_s8(int c[4], const uint32_t a[4], const uint32_t b[2]) {
  asm(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};"
      : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// ---------------------------------------------------------------------------------------------
// cp.async (16 bytes, zero-filled when !valid).
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  const int n = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(s), "l"(gmem), "r"(n));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;"); }
template <int N> __device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(N));
}

// Shared-memory address of a generic pointer into shared memory, a 16-byte shared load from
// one, and a value the compiler cannot see through (it rebuilt the shared pointer of a lane
// from the thread index in every window of the M = 1 kernel; as a 32-bit register it stays).
__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ uint4 lds128(uint32_t a) {
  uint4 r;
  asm volatile("ld.shared.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "r"(a));
  return r;
}
__device__ __forceinline__ void sts128(uint32_t a, uint4 v) {
  asm volatile("st.shared.v4.u32 [%0], {%1,%2,%3,%4};" ::"r"(a), "r"(v.x), "r"(v.y), "r"(v.z),
               "r"(v.w)
               : "memory");
}
__device__ __forceinline__ void sts32(uint32_t a, uint32_t v) {
  asm volatile("st.shared.u32 [%0], %1;" ::"r"(a), "r"(v) : "memory");
}
__device__ __forceinline__ uint32_t lds16(uint32_t a) {  // zero-extended
  unsigned short r;
  asm volatile("ld.shared.u16 %0, [%1];" : "=h"(r) : "r"(a));
  return r;
}
__device__ __forceinline__ uint32_t lds32(uint32_t a) {
  uint32_t r;
  asm volatile("ld.shared.u32 %0, [%1];" : "=r"(r) : "r"(a));
  return r;
}
__device__ __forceinline__ uint2 lds64(uint32_t a) {
  uint2 r;
  asm volatile("ld.shared.v2.u32 {%0,%1}, [%2];" : "=r"(r.x), "=r"(r.y) : "r"(a));
  return r;
}
__device__ __forceinline__ uint32_t opaque(uint32_t v) {
  asm volatile("" : "+r"(v));
  return v;
}

// Streaming 16-byte global load (weights are read once: keep them out of L1).
__device__ __forceinline__ uint4 ldg_stream(const void* p) {
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "l"(p));
  return r;
}

// Output store of one fp32 value as dtype `yt` (0 f16, 1 bf16, 2 f32).
__device__ __forceinline__ void store_y(void* y, int64_t i, int yt, float v) {
  if (yt == 0)
    static_cast<__half*>(y)[i] = __float2half_rn(v);
  else if (yt == 1)
    static_cast<__nv_bfloat16*>(y)[i] = __float2bfloat16_rn(v);
  else
    static_cast<float*>(y)[i] = v;
}

__device__ __forceinline__ float load_x(const void* x, int64_t i, int xt) {
  if (xt == 0) return __half2float(static_cast<const __half*>(x)[i]);
  if (xt == 1) return __bfloat162float(static_cast<const __nv_bfloat16*>(x)[i]);
  return static_cast<const float*>(x)[i];
}

// ---------------------------------------------------------------------------------------------
// Host side: opts the kernel `Kernel` in to `bytes` of dynamic shared memory on the current
// device. The setting is per device, so it is made once per device (and retried after a
// failure); one instantiation per kernel.
template <auto Kernel>
cudaError_t opt_in_smem(int bytes) {
  static std::atomic<signed char> done[64];  // static storage: zero-initialized
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return cudaGetLastError();
  const bool cached = dev >= 0 && dev < 64;
  if (cached && done[dev].load(std::memory_order_acquire)) return cudaSuccess;
  const cudaError_t e =
      cudaFuncSetAttribute(Kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (e == cudaSuccess && cached) done[dev].store(1, std::memory_order_release);
  return e;
}

}  // namespace cuda
}  // namespace qmm
