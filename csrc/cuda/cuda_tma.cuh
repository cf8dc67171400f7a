// mbarriers, the TMA 2-D and 3-D tile loads and the host tensor-map encoders (2-D, 3-D) of
// the Hopper kernels (cuda_gemm_sm90.cu's GEMMs, cuda_gemv.cu's decode_tma_kernel). The device
// helpers are sm_90 instructions: only kernel bodies compiled for sm_90 (or later) may call them.
#pragma once

#include <cuda.h>  // CUtensorMap and its enums (the encoder is reached through cudart)
#include <cuda_runtime.h>
#include <stdint.h>

namespace qmm {
namespace cuda {
namespace {
namespace sm90 {

// mbarriers (shared::cta addresses) and the TMA 2-D / 3-D tile loads that complete on one.
__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_expect_tx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
  uint32_t done;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        "selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
}
// The S-slot ring's mbarriers of the producer-warpgroup kernels: full[s] = full0 + 8 s (FULL
// arrivals: the GEMMs' one, the producer's expect_tx), empty[s] = empty0 + 8 s (lane 0 of each
// of the CW consumer warps); thread 0 (tid) initializes them, then the block synchronizes.
template <int S, int CW = 8, int FULL = 1>
__device__ __forceinline__ void init_ring(int tid, uint32_t full0, uint32_t empty0) {
  if (tid == 0) {
#pragma unroll
    for (int s = 0; s < S; ++s) {
      mbar_init(full0 + 8 * s, FULL);
      mbar_init(empty0 + 8 * s, CW);
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();
}

// Box (c0, c1) (innermost coordinate first) of the tensor `map` to shared `dst`, its bytes
// counted on `bar`. Parts of the box outside the tensor are written as zeros (and counted).
__device__ __forceinline__ void tma_load_2d(uint32_t dst, const CUtensorMap* map, int c0, int c1,
                                            uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%2, %3}], [%4];" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(bar)
      : "memory");
}

// Box (c0, c1, c2) of a 3-D tensor map, likewise.
__device__ __forceinline__ void tma_load_3d(uint32_t dst, const CUtensorMap* map, int c0, int c1,
                                            int c2, uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%2, %3, %4}], [%5];" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(bar)
      : "memory");
}

// The driver's tensor-map encoder (cuTensorMapEncodeTiled), reached through the runtime so
// that nothing links libcuda; nullptr where the driver has none.
using EncodeTiled = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*,
                                 const cuuint64_t*, const cuuint64_t*, const cuuint32_t*,
                                 const cuuint32_t*, CUtensorMapInterleave, CUtensorMapSwizzle,
                                 CUtensorMapL2promotion, CUtensorMapFloatOOBfill);
inline EncodeTiled encoder() {
  static const EncodeTiled fn = [] {
    void* f = nullptr;
    cudaDriverEntryPointQueryResult q = cudaDriverEntryPointSymbolNotFound;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault,
                                         &q) != cudaSuccess ||
        q != cudaDriverEntryPointSuccess) {
      cudaGetLastError();
      f = nullptr;
    }
    return reinterpret_cast<EncodeTiled>(f);
  }();
  return fn;
}

// A 2-D tensor map: `outer` rows of `inner` elements, rows stride_bytes apart, boxes of
// box_inner x box_outer, zero fill outside, L2 promotion `promo` (the kernels take the default;
// tests/gpu/tma_probe.cu times the others). False where the encoder refuses it (alignment,
// strides) or is missing: the GEMM then takes its cp.async kernel; tk::takes (cuda_gemv.cu)
// checks the same conditions before it picks the TMA decode kernel.
inline bool tensor_map_2d(CUtensorMap* m, CUtensorMapDataType dt, const void* base,
                          uint64_t inner, uint64_t outer, uint64_t stride_bytes,
                          uint32_t box_inner, uint32_t box_outer, CUtensorMapSwizzle swizzle,
                          CUtensorMapL2promotion promo = CU_TENSOR_MAP_L2_PROMOTION_L2_256B) {
  const EncodeTiled enc = encoder();
  if (!enc || reinterpret_cast<uintptr_t>(base) % 16 != 0 || stride_bytes % 16 != 0) return false;
  const cuuint64_t dims[2] = {inner, outer};
  const cuuint64_t strides[1] = {stride_bytes};
  const cuuint32_t box[2] = {box_inner, box_outer};
  const cuuint32_t elem[2] = {1, 1};
  return enc(m, dt, 2, const_cast<void*>(base), dims, strides, box, elem,
             CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle, promo,
             CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}
// A 3-D tensor map: d2 slabs of d1 rows of d0 elements, rows stride1 bytes apart, slabs stride2
// (e.g. a matrix seen as slabs of 64 columns: stride2 = 128 bytes < stride1), boxes b0 x b1 x b2.
inline bool tensor_map_3d(CUtensorMap* m, CUtensorMapDataType dt, const void* base, uint64_t d0,
                          uint64_t d1, uint64_t d2, uint64_t stride1, uint64_t stride2,
                          uint32_t b0, uint32_t b1, uint32_t b2, CUtensorMapSwizzle swizzle) {
  const EncodeTiled enc = encoder();
  if (!enc || reinterpret_cast<uintptr_t>(base) % 16 != 0 || stride1 % 16 != 0 ||
      stride2 % 16 != 0)
    return false;
  const cuuint64_t dims[3] = {d0, d1, d2};
  const cuuint64_t strides[2] = {stride1, stride2};
  const cuuint32_t box[3] = {b0, b1, b2};
  const cuuint32_t elem[3] = {1, 1, 1};
  return enc(m, dt, 3, const_cast<void*>(base), dims, strides, box, elem,
             CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
             CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

}  // namespace sm90
}  // namespace
}  // namespace cuda
}  // namespace qmm
