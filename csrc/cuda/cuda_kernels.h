// Host-side interface between the cuda backend entry (cuda_backend.cu) and the kernel files.
// Every launcher is asynchronous on `stream`, allocates nothing, and returns the launch error.
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>

namespace qmm {
namespace cuda {

// A device problem as the kernels see it. dtype codes: 0 = fp16, 1 = bf16, 2 = fp32.
struct KParams {
  const void* x;
  int64_t ldx;
  int xt;
  const uint8_t* w;  // canonical layout
  int64_t row_bytes;
  const float* scales;
  const int8_t* zp;  // nullptr = symmetric
  void* y;
  int64_t ldy;
  int yt;
  int64_t M, N, K, gs, groups;
  int bits;
  // nullptr, or per row of X a power of two the row's outputs are multiplied by: X was
  // converted to fp16 as x / row_scale[m] (launch_convert_x_f16), which keeps any finite row
  // in fp16's normal range.
  const float* row_scale;
  // 1: w, scales and zp are in the packed layout below (only the decode kernels read it).
  int packed = 0;
};

// The packed layout (qmm_pack on the cuda backend, packed_layout_ok shapes). Weights in blocks
// of 16 rows x 128 k, pack_block_bytes(bits) = 256 bits bytes each, block (tile, chunk) at
// (tile * ceil(K / 128) + chunk) * pack_block_bytes: the 16-byte pieces of canonical rows as the
// decode kernel's lanes load them, so that each warp load is 512 contiguous bytes. Piece
// (lane = 4 g + t, r, v) of a block sits at 512 (bits / 4 * r + v) + 16 lane and holds the
// canonical bytes of row 16 tile + 8 r + g from byte 64 chunk + 16 t (int4, v = 0) or
// 128 chunk + 32 t + 16 v (int8, v = 0, 1); zeros past N and K. Scales and zero points
// [ceil(N / 16)][groups][16 rows] (zeros past N).
__host__ __device__ constexpr int pack_block_bytes(int bits) { return 256 * bits; }
// Shapes packed this way: group_size % 32 == 0 (so K % 32 == 0), 0 < K < 2^30 and
// ceil(N / 16) * 16 * groups < 2^31; others keep a canonical copy.
inline bool packed_layout_ok(int64_t N, int64_t K, int64_t gs) {
  return K > 0 && gs % 32 == 0 && K < (int64_t(1) << 30) &&
         (N + 15) / 16 * 16 * (K / gs) < (int64_t(1) << 31);
}
inline size_t packed_weight_bytes(int64_t N, int64_t K, int bits) {
  return size_t((N + 15) / 16) * size_t((K + 127) / 128) * size_t(pack_block_bytes(bits));
}
inline size_t packed_scale_count(int64_t N, int64_t groups) {
  return size_t((N + 15) / 16) * 16 * size_t(groups);
}
// Canonical -> packed (to_packed; p.w / scales / zp canonical, the destinations packed) or
// packed -> canonical (p's arrays packed, the destinations canonical [N, ...]; zp nullptr when
// p.zp is). Any alignment of the canonical arrays (cuda_generic.cu).
cudaError_t launch_repack(const KParams& p, uint8_t* w, float* scales, int8_t* zp, bool to_packed,
                          cudaStream_t s);
// Problems on packed weights that the decode kernels take (M = 1..16; int8 mode: groups of
// 128); the backend unpacks the weights for the others. Float mode with fp32 or unaligned X goes
// through the dense fp16 copy (launch_decode_float wants 16-byte aligned rows of packed calls).
inline bool decode_packed_takes(const KParams& p, bool int8) {
  return p.M >= 1 && p.M <= 16 && packed_layout_ok(p.N, p.K, p.gs) &&
         (!int8 || p.gs == 128) && (p.K / 32) * (p.gs / 32) < (int64_t(1) << 31);
}

// Quantized activations of the int8 mode (workspace): q [M, K] (row stride K), sx and
// sum_q [M, groups].
struct QuantX {
  int8_t* q;
  float* sx;
  int32_t* sq;
};

// Shapes the decode kernels take: K < 2^30 and N * groups < 2^31 (their group index is 32-bit
// arithmetic on k / 32; larger shapes go to the GEMM kernels, which index in 64 bits).
inline bool decode_shape_ok(const KParams& p) {
  return p.K < (int64_t(1) << 30) &&
         (p.packed ? (p.N + 15) / 16 * 16 : p.N) * p.groups < (int64_t(1) << 31);
}

// float mode, M <= 16, group_size % 32 == 0, w 16-byte aligned, X fp16 or bf16, and
// decode_shape_ok (cuda_gemv.cu). `ws` (may be null): decode_float_workspace(p, num_sms) bytes
// for the partial sums of the M = 2..16 stream-K kernel; with less it runs one tile per block.
size_t decode_float_workspace(const KParams& p, int num_sms);
cudaError_t launch_decode_float(const KParams& p, int num_sms, void* ws, size_t ws_bytes,
                                cudaStream_t s);

// int8 mode, M <= 16, group_size == 128, decode_shape_ok, w 16-byte aligned, qx.q in natural
// order (quantized with permute4 = false) (cuda_gemv.cu).
// `ws`: decode_int8_workspace(p, num_sms) bytes of partial sums (M = 2..16, the stream-K
// kernel), as for the float mode.
size_t decode_int8_workspace(const KParams& p, int num_sms);
cudaError_t launch_decode_int8(const KParams& p, const QuantX& qx, int num_sms, void* ws,
                               size_t ws_bytes, cudaStream_t s);

// float mode, tensor cores, group_size % 32 == 0, x fp16/bf16 with 16-byte aligned rows,
// w 16-byte aligned (cuda_gemm.cu). `ws` (may be null): gemm_float_workspace(p, num_sms) bytes
// for the split-K partial sums of shapes with few tiles; with less the call runs unsplit.
size_t gemm_float_workspace(const KParams& p, int num_sms);
cudaError_t launch_gemm_float(const KParams& p, int num_sms, void* ws, size_t ws_bytes,
                              cudaStream_t s);
// The Hopper float-mode GEMM (wgmma, cuda_gemm_sm90.cu): available on a compute capability 9.0
// device when the library holds its sm_90a build; same requirements as launch_gemm_float.
bool gemm_sm90_available();
size_t gemm_float_sm90_workspace(const KParams& p, int num_sms);
cudaError_t launch_gemm_float_sm90(const KParams& p, int num_sms, void* ws, size_t ws_bytes,
                                   cudaStream_t s);
// int8 mode: quantized activations already in `qx` (permuted for bits=4, see cuda_gemm.cu),
// group_size % 32 == 0 and <= 65536.
cudaError_t launch_gemm_int8(const KParams& p, const QuantX& qx, int num_sms, cudaStream_t s);
// int8 mode on Hopper (wgmma, cuda_gemm_sm90.cu) where gemm_sm90_available(): p.x = the
// quantized activations as exact fp16 [M, K] (p.ldx = K, p.xt = 0) and sxt = sx transposed
// [groups, ldsx] (launch_quantize_x with QLayout::kHalfT), group_size % 32 == 0 and <= 512 (the
// group sums stay below 2^24, exact in fp32), w 16-byte aligned. `ws`: split-K partial sums as
// for the float GEMM (gemm_int8_sm90_workspace bytes; with less the call runs unsplit).
constexpr int64_t kInt8Sm90MaxGroup = 512;
size_t gemm_int8_sm90_workspace(const KParams& p, int num_sms);
cudaError_t launch_gemm_int8_sm90(const KParams& p, const float* sxt, int64_t ldsx, int num_sms,
                                  void* ws, size_t ws_bytes, cudaStream_t s);

// int8 mode on Hopper's int8 tensor cores (cuda_gemm_sm90.cu, gemm_sm90_s8_kernel), groups of
// 128: p.x = q [M, K] and sxq = sx / sum_q as QLayout::kInt8Sm90 writes them (ldsx = M rounded
// up to kInt8Sm90Rows), w 16-byte aligned. gemm_s8_sm90_ok: the kernel takes p (and
// QMM_CUDA_INT8 is not "fp16"). `ws`: gemm_s8_sm90_workspace bytes of split-K partial sums
// (with less: unsplit).
bool gemm_s8_sm90_ok(const KParams& p);
size_t gemm_s8_sm90_workspace(const KParams& p, int num_sms);
cudaError_t launch_gemm_s8_sm90(const KParams& p, const float* sxq, int64_t ldsx, int num_sms,
                                void* ws, size_t ws_bytes, cudaStream_t s);

// Activation pre-passes and the any-shape fallbacks (cuda_generic.cu).
// Quantize X per row and group (bit-identical to quantize_group_int8). Layouts of q: kInt8 int8
// [M, K] in natural order; kInt8Permute4 each 8-element block stored as (0,2,4,6,1,3,5,7) (the
// int4 mma.sync kernel); both with sx and sum_q [M, groups]. kHalfT: q as fp16 (exact) [M, K] in
// natural order (qx.q points to M*K halves), sx transposed [groups, ldsx] (ldsx >= M), no sum_q.
// kInt8Sm90 (group_size == 128, the Hopper s8 GEMM): q int8 [M, K], each 128-k block stored as
// the GEMM's A fragments read the weights (k = 32 t + 8 s + e at 32 s + 16 h + 4 t + j, with
// (h, j) = (e & 1, e >> 1) for bits = 4 and (e >> 2, e & 3) for bits = 8); sx and sum_q in
// blocks of kInt8Sm90Rows rows, [groups][ldsx / rows][rows sx, then rows sum_q] (ldsx = M rounded
// up to kInt8Sm90Rows, zero past M).
constexpr int64_t kInt8Sm90Rows = 128;
enum class QLayout { kInt8, kInt8Permute4, kHalfT, kInt8Sm90 };
cudaError_t launch_quantize_x(const KParams& p, const QuantX& qx, QLayout layout, int64_t ldsx,
                              cudaStream_t s);
// Convert X (any dtype, any ldx) to a dense fp16 [M, K] copy, row m divided by the power of
// two row_scale[m] that brings the row's largest finite |x| into [2^14, 2^15) (1 for a row
// with no nonzero finite value; at most 2^100 up): finite fp32 / bf16 values beyond fp16's
// range stay finite and tiny rows keep fp16's full precision. Kernels reading dst get p.row_scale.
cudaError_t launch_convert_x_f16(const KParams& p, void* dst, float* row_scale, cudaStream_t s);
cudaError_t launch_generic_float(const KParams& p, cudaStream_t s);
cudaError_t launch_generic_int8(const KParams& p, const QuantX& qx, cudaStream_t s);

}  // namespace cuda
}  // namespace qmm
