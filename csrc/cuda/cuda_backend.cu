// The `cuda` backend's table entry: device detection, pointer classification, dispatch to the
// kernels, the per-(device, stream) workspace and packing.
//
// Dispatch (every device problem is accepted; supports() never declines):
//   K == 0                          -> cudaMemset2DAsync(Y)
//   float, gs % 32 == 0, w aligned  -> M <= 16 (and the decode kernels' index range):
//                                        cuda_gemv.cu (bandwidth kernels; M = 2..16 with
//                                        aligned X: stream-K, partial sums in the workspace)
//                                      otherwise: sm_90a build on a 9.0 device:
//                                        cuda_gemm_sm90.cu (wgmma, K split when tiles are few),
//                                      else cuda_gemm.cu (mma.m16n8k16); fp32 or unaligned X
//                                      is first converted to an fp16 workspace copy
//   int8,  gs % 32 == 0, gs <= 65536, w aligned -> quantize X (workspace) + cuda_gemv.cu
//                                      (M <= 16, groups of 128; M = 2..16 stream-K with its
//                                      partial sums in the workspace), else on a 9.0 device
//                                      with the sm_90a build: gs == 128 the s8 wgmma GEMM
//                                      (cuda_gemm_sm90.cu, q int8 and sx / sum_q in its
//                                      order), other gs <= 512 the wgmma GEMM on the exact
//                                      fp16 q, else cuda_gemm.cu (s8 mma)
//   anything else                   -> cuda_generic.cu (correct, slow)
//   packed weights (qmm_pack, see Packing below): a canonical copy, dispatched as above; in the
//   decode layout (QMM_CUDA_PACK=decode): M <= 16 the stream-K decode kernel on it
//   (cuda_gemv.cu), else unpacked into a per-stream buffer and dispatched as above
//
// Workspace: the int8 mode (quantized X: M*K + 8*M*groups bytes, plus the decode kernel's optional
// partial sums; M*K*2 + 4*M*groups + the split-K partials on the Hopper fp16 path, M*K +
// 8*M*groups (M rounded up to 128) + the split-K partials on the s8 one), the fp32/unaligned X
// of the float GEMM (M*K*2 bytes), the split-K partial sums of the sm90 GEMM (splits*M*N*4 bytes,
// only for shapes with fewer tiles than SMs) and of the M = 2..16 decode kernel (2 * blocks * M *
// 128 * 4 bytes, blocks = 2 per SM, where a 128-row tile is shared between blocks) need scratch
// memory. It is cached per (device, stream) and grown geometrically with cudaMalloc outside of
// stream capture (after synchronizing that stream so the old buffer is idle; a buffer once handed
// to a capture is kept alive until exit instead of freed, since its graph may still be replayed). A
// call needing more than the cached size while its stream is being captured fails with
// QMM_CUDA_ERROR (run one call of the largest shape before capturing), except the partial sums,
// without which the GEMM / decode kernel runs unsplit (one block per tile). Graphs and direct calls
// on one stream share its workspace: a replay must not overlap other qmatmul work on that stream's
// workspace (the same rule as for stream-ordered work). Steady state: no allocation, no
// synchronization. The cache is freed at exit.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/backend.h"
#include "cuda/cuda_kernels.h"

namespace qmm {
namespace {

using cuda::KParams;
using cuda::QuantX;

qmm_status cuda_fail(cudaError_t e, const char* what) {
  cudaGetLastError();  // clear the sticky-free error state
  return set_error(QMM_CUDA_ERROR, "cuda backend: %s failed: %s (%s)", what, cudaGetErrorString(e),
                   cudaGetErrorName(e));
}

// ----------------------------------------------------------------------------------------------
// Devices.
struct DeviceInfo {
  int count = 0;
  bool any_sm80 = false;
  std::string features;
  int sms[64] = {};
  int major[64] = {};
};

const DeviceInfo& devices() {
  static const DeviceInfo info = [] {
    DeviceInfo d;
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();
      return d;
    }
    if (n > 64) n = 64;
    d.count = n;
    for (int i = 0; i < n; ++i) {
      cudaDeviceProp prop;
      if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
        cudaGetLastError();
        continue;
      }
      d.sms[i] = prop.multiProcessorCount;
      d.major[i] = prop.major;
      if (prop.major >= 8) d.any_sm80 = true;
      char buf[512];
      std::snprintf(buf, sizeof(buf), "%ssm_%d%d %s %d SMs", d.features.empty() ? "" : "; ",
                    prop.major, prop.minor, prop.name, prop.multiProcessorCount);
      d.features += buf;
    }
    return d;
  }();
  return info;
}

bool cuda_available() { return devices().any_sm80; }

const char* cuda_device_features() { return devices().features.c_str(); }

int cuda_pointer_kind(const void* p) {
  if (!p) return 0;
  cudaPointerAttributes a;
  if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return (a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged) ? 1 : 0;
}

// Device that owns p (current device if unknown).
int device_of(const void* p) {
  int cur = 0;
  cudaGetDevice(&cur);
  cudaPointerAttributes a;
  if (p && cudaPointerGetAttributes(&a, p) == cudaSuccess &&
      (a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged) && a.device >= 0)
    return a.device;
  cudaGetLastError();
  return cur;
}

// Makes `dev` current for the scope of a call, restoring the caller's device.
struct DeviceScope {
  int prev = -1;
  explicit DeviceScope(int dev) {
    int cur = 0;
    if (cudaGetDevice(&cur) == cudaSuccess && cur != dev) {
      if (cudaSetDevice(dev) == cudaSuccess) prev = cur;
    }
    cudaGetLastError();
  }
  ~DeviceScope() {
    if (prev >= 0) cudaSetDevice(prev);
  }
};

// ----------------------------------------------------------------------------------------------
// Workspace cache.
struct Workspace {
  void* ptr = nullptr;
  size_t size = 0;
  bool captured = false;  // handed to a stream capture: a graph may hold the pointer
};

struct WorkspaceCache {
  std::mutex mu;
  std::map<std::pair<int, void*>, Workspace> map;
  std::vector<void*> retired;  // outgrown buffers that captured graphs may still use
  ~WorkspaceCache() {
    // At exit the runtime may already be torn down; freeing is best effort.
    for (auto& kv : map)
      if (kv.second.ptr) cudaFree(kv.second.ptr);
    for (void* p : retired) cudaFree(p);
  }
};

WorkspaceCache& workspace_cache() {
  static WorkspaceCache* c = new WorkspaceCache();  // never destroyed: no exit-order hazards
  return *c;
}
// The canonical weights unpacked from the packed layout for the kernels that do not read it
// (cuda_run_packed), a second buffer per (device, stream) beside the first. Lock order: this
// cache's mutex before workspace_cache()'s.
WorkspaceCache& unpack_cache() {
  static WorkspaceCache* c = new WorkspaceCache();
  return *c;
}

// Returns a workspace of at least `bytes` for (dev, stream). Called with the cache lock held.
// optional: where a larger workspace cannot be allocated now (the stream is being captured),
// *out = nullptr and QMM_OK (the caller has a path without it).
qmm_status get_workspace(int dev, cudaStream_t stream, size_t bytes, void** out,
                         bool optional = false, WorkspaceCache& c = workspace_cache()) {
  Workspace& ws = c.map[std::make_pair(dev, static_cast<void*>(stream))];
  cudaStreamCaptureStatus cs = cudaStreamCaptureStatusNone;
  cudaError_t e = cudaStreamIsCapturing(stream, &cs);
  if (e != cudaSuccess) return cuda_fail(e, "cudaStreamIsCapturing");
  const bool capturing = cs != cudaStreamCaptureStatusNone;
  if (ws.size >= bytes) {
    if (capturing) ws.captured = true;
    *out = ws.ptr;
    return QMM_OK;
  }
  if (capturing && optional) {
    *out = nullptr;
    return QMM_OK;
  }
  if (capturing)
    return set_error(QMM_CUDA_ERROR,
                     "cuda backend: this call needs %zu bytes of workspace but the stream is being "
                     "captured and only %zu are cached; run the call once outside capture first",
                     bytes, ws.size);
  if (ws.ptr) {
    if ((e = cudaStreamSynchronize(stream)) != cudaSuccess)
      return cuda_fail(e, "cudaStreamSynchronize");
    // A graph captured with the old buffer may be replayed later: keep it alive (freed at
    // exit) rather than let the graph write into freed memory.
    if (ws.captured)
      c.retired.push_back(ws.ptr);
    else
      cudaFree(ws.ptr);
    ws.ptr = nullptr;
    ws.size = 0;
    ws.captured = false;
  }
  size_t want = bytes + bytes / 2;
  if (want < (size_t(1) << 20)) want = size_t(1) << 20;
  void* p = nullptr;
  if ((e = cudaMalloc(&p, want)) != cudaSuccess) {
    cudaGetLastError();
    if ((e = cudaMalloc(&p, bytes)) != cudaSuccess) {
      cudaGetLastError();
      return set_error(QMM_OUT_OF_MEMORY, "cuda backend: cannot allocate %zu bytes of workspace: %s",
                       bytes, cudaGetErrorString(e));
    }
    want = bytes;
  }
  ws.ptr = p;
  ws.size = want;
  *out = p;
  return QMM_OK;
}

// A workspace of `base` required bytes plus `*split` optional bytes (split-K partial sums):
// where the larger one cannot be allocated now (under capture), *split = 0 and the caller runs
// its GEMM unsplit. Called with the cache lock held.
qmm_status get_workspace_split(int dev, cudaStream_t stream, size_t base, size_t* split,
                               void** out) {
  qmm_status st = get_workspace(dev, stream, base + *split, out, *split > 0);
  if (st == QMM_OK && !*out) {
    *split = 0;
    st = get_workspace(dev, stream, base, out);
  }
  return st;
}

size_t round256(size_t n) { return (n + 255) & ~size_t(255); }

KParams to_params(const Problem& p) {
  KParams k;
  k.x = p.x;
  k.ldx = p.ldx;
  k.xt = int(p.x_dtype);
  k.w = p.w;
  k.row_bytes = p.row_bytes();
  k.scales = p.scales;
  k.zp = p.zp;
  k.y = p.y;
  k.ldy = p.ldy;
  k.yt = int(p.y_dtype);
  k.M = p.M;
  k.N = p.N;
  k.K = p.K;
  k.gs = p.group_size;
  k.groups = p.groups;
  k.bits = p.bits;
  k.row_scale = nullptr;
  return k;
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

// ----------------------------------------------------------------------------------------------
// packed: p's weights are in the packed layout and cuda::decode_packed_takes(p) (the caller
// checked).
qmm_status run_impl(const Problem& p, const Options& o, bool packed) {
  cudaStream_t stream = static_cast<cudaStream_t>(o.stream);
  const int dev = device_of(p.y);
  DeviceScope scope(dev);
  const size_t ysize = p.y_dtype == QMM_DTYPE_F32 ? 4 : 2;
  cudaError_t e;
  if (p.M == 0 || p.N == 0) return QMM_OK;
  if (p.K == 0) {
    e = cudaMemset2DAsync(p.y, size_t(p.ldy) * ysize, 0, size_t(p.N) * ysize, size_t(p.M), stream);
    return e == cudaSuccess ? QMM_OK : cuda_fail(e, "cudaMemset2DAsync");
  }
  const int sms = (dev >= 0 && dev < 64 && devices().sms[dev] > 0) ? devices().sms[dev] : 132;
  KParams k = to_params(p);
  k.packed = packed ? 1 : 0;
  const bool w_fast = p.group_size % 32 == 0 && aligned16(p.w);

  if (o.compute == QMM_COMPUTE_FLOAT) {
    if (!w_fast) {
      e = cuda::launch_generic_float(k, stream);  // fp32 arithmetic on X as given
      return e == cudaSuccess ? QMM_OK : cuda_fail(e, "generic kernel launch");
    }
    const bool f32 = p.x_dtype == QMM_DTYPE_F32;
    const bool decode = p.M <= 16 && cuda::decode_shape_ok(k);
    const bool x_vec = aligned16(p.x) && (size_t(p.ldx) * 2) % 16 == 0;
    if (!f32 && ((decode && !packed) || x_vec)) {
      // decode: reads fp16/bf16 X in place, any alignment (the decode layout: aligned X).
      // Partial sums of the split shapes (the M = 2..16 decode kernel's tiles shared between
      // blocks, the GEMM's split K): none
      // needed otherwise; under capture without a large enough cached workspace the kernel
      // runs unsplit.
      const size_t need = decode ? cuda::decode_float_workspace(k, sms)
                                 : cuda::gemm_float_workspace(k, sms);
      void* ws = nullptr;
      std::unique_lock<std::mutex> lock(workspace_cache().mu, std::defer_lock);
      if (need) {
        lock.lock();
        qmm_status st = get_workspace(dev, stream, need, &ws, /*optional=*/true);
        if (st != QMM_OK) return st;
      }
      e = decode ? cuda::launch_decode_float(k, sms, ws, ws ? need : 0, stream)
                 : cuda::launch_gemm_float(k, sms, ws, ws ? need : 0, stream);
      if (e == cudaSuccess) return QMM_OK;
      return cuda_fail(e, decode ? "decode kernel launch" : "gemm kernel launch");
    }
    // fp32 X (whose finite values may lie beyond fp16's range) or unaligned fp16/bf16 X:
    // a dense fp16 copy scaled per row by a power of two (launch_convert_x_f16), then the
    // fp16 kernels with the row scales in their epilogue.
    std::lock_guard<std::mutex> lock(workspace_cache().mu);
    void* ws = nullptr;
    const size_t xbytes = round256(size_t(p.M) * size_t(p.K) * 2);
    const size_t rbytes = round256(size_t(p.M) * 4);
    KParams k2 = k;
    k2.x = nullptr;  // the dense fp16 copy (16-byte aligned rows when K % 8 == 0)
    k2.ldx = p.K;
    k2.xt = 0;
    size_t split =
        decode ? cuda::decode_float_workspace(k2, sms) : cuda::gemm_float_workspace(k, sms);
    // The partial sums are optional (as on the aligned path): under capture without room for
    // them the kernel runs unsplit; the X copy is not.
    const qmm_status st = get_workspace_split(dev, stream, xbytes + rbytes, &split, &ws);
    if (st != QMM_OK) return st;
    float* rs = reinterpret_cast<float*>(static_cast<char*>(ws) + xbytes);
    if ((e = cuda::launch_convert_x_f16(k, ws, rs, stream)) != cudaSuccess)
      return cuda_fail(e, "convert kernel launch");
    k2.x = ws;
    k2.row_scale = rs;
    void* part = split ? static_cast<char*>(ws) + xbytes + rbytes : nullptr;
    e = decode ? cuda::launch_decode_float(k2, sms, part, split, stream)
               : cuda::launch_gemm_float(k2, sms, part, split, stream);
    return e == cudaSuccess ? QMM_OK : cuda_fail(e, "kernel launch");
  }

  // int8 mode.
  const bool fast = w_fast && p.group_size <= 65536;
  // decode (M <= 16, groups of 128): the float decode kernel on the exact fp16 q (cuda_gemv.cu)
  const bool decode = w_fast && p.M <= 16 && p.group_size == 128 && cuda::decode_shape_ok(k);
  std::lock_guard<std::mutex> lock(workspace_cache().mu);
  void* ws = nullptr;
  QuantX qx;
  // The Hopper GEMMs: X quantized into the workspace in `layout` (qbytes of q, then tbytes of
  // sx / sum_q, rows padded to ldsx), then `gemm` on it with its optional split-K partials (as
  // in the float mode) after them.
  using Int8Gemm = cudaError_t (*)(const KParams&, const float*, int64_t, int, void*, size_t,
                                   cudaStream_t);
  auto hopper = [&](cuda::QLayout layout, int64_t ldsx, size_t qbytes, size_t tbytes,
                    size_t split, Int8Gemm gemm) {
    const qmm_status st = get_workspace_split(dev, stream, qbytes + tbytes, &split, &ws);
    if (st != QMM_OK) return st;
    qx.q = static_cast<int8_t*>(ws);
    qx.sx = reinterpret_cast<float*>(static_cast<char*>(ws) + qbytes);
    qx.sq = nullptr;
    if ((e = cuda::launch_quantize_x(k, qx, layout, ldsx, stream)) != cudaSuccess)
      return cuda_fail(e, "quantize kernel launch");
    KParams k2 = k;
    k2.x = ws;
    k2.ldx = p.K;
    k2.xt = 0;
    e = gemm(k2, qx.sx, ldsx, sms, static_cast<char*>(ws) + qbytes + tbytes, split, stream);
    return e == cudaSuccess ? QMM_OK : cuda_fail(e, "int8 kernel launch");
  };
  if (fast && !decode && cuda::gemm_s8_sm90_ok(k)) {
    // groups of 128: q int8 in the s8 GEMM's order, sx / sum_q in 128-row blocks, then the int8
    // tensor-core GEMM
    const int64_t rows = cuda::kInt8Sm90Rows;
    const int64_t ldsx = (p.M + rows - 1) / rows * rows;
    return hopper(cuda::QLayout::kInt8Sm90, ldsx, round256(size_t(p.M) * size_t(p.K)),
                  round256(size_t(p.groups) * size_t(ldsx) * 8),
                  cuda::gemm_s8_sm90_workspace(k, sms), cuda::launch_gemm_s8_sm90);
  }
  if (fast && !decode && p.group_size <= cuda::kInt8Sm90MaxGroup && cuda::gemm_sm90_available()) {
    // q as exact fp16 and sx transposed (rows padded to 4), then the wgmma GEMM
    const int64_t ldsx = (p.M + 3) / 4 * 4;
    return hopper(cuda::QLayout::kHalfT, ldsx, round256(size_t(p.M) * size_t(p.K) * 2),
                  round256(size_t(p.groups) * size_t(ldsx) * 4),
                  cuda::gemm_int8_sm90_workspace(k, sms), cuda::launch_gemm_int8_sm90);
  }
  const size_t qbytes = round256(size_t(p.M) * size_t(p.K));
  const size_t gbytes = round256(size_t(p.M) * size_t(p.groups) * 4);
  // the M = 2..16 decode kernel's partial sums: optional, as in the float mode
  size_t split = decode ? cuda::decode_int8_workspace(k, sms) : 0;
  qmm_status st = get_workspace_split(dev, stream, qbytes + 2 * gbytes, &split, &ws);
  if (st != QMM_OK) return st;
  qx.q = static_cast<int8_t*>(ws);
  qx.sx = reinterpret_cast<float*>(static_cast<char*>(ws) + qbytes);
  qx.sq = reinterpret_cast<int32_t*>(static_cast<char*>(ws) + qbytes + gbytes);
  const cuda::QLayout layout = fast && !decode && p.bits == 4 ? cuda::QLayout::kInt8Permute4
                                                              : cuda::QLayout::kInt8;
  if ((e = cuda::launch_quantize_x(k, qx, layout, 0, stream)) != cudaSuccess)
    return cuda_fail(e, "quantize kernel launch");
  void* part = split ? static_cast<char*>(ws) + qbytes + 2 * gbytes : nullptr;
  e = decode ? cuda::launch_decode_int8(k, qx, sms, part, split, stream)
      : fast ? cuda::launch_gemm_int8(k, qx, sms, stream)
             : cuda::launch_generic_int8(k, qx, stream);
  return e == cudaSuccess ? QMM_OK : cuda_fail(e, "int8 kernel launch");
}

qmm_status cuda_run(const Problem& p, const Options& o) { return run_impl(p, o, false); }

bool cuda_supports(const Problem& p, const Options&) { return p.device; }

// ----------------------------------------------------------------------------------------------
// Packing: a device copy of the canonical weights, scales and zero points (the canonical kernels
// read it), or, with QMM_CUDA_PACK=decode in the environment, for shapes of
// cuda::packed_layout_ok, the decode layout (cuda_kernels.h), in which every warp load of the
// stream-K decode kernel (M = 1..16, both modes) is 512 contiguous bytes. One allocation, made on
// the caller's stream. On the decode layout, calls the decode kernel does not take (M > 16, the
// int8 mode with groups other than 128) first unpack the weights to canonical order in a
// per-(device, stream) buffer (unpack_cache: N * K / 2 (int4) or N * K bytes plus scales and zero
// points, kept like the workspace) and run the canonical kernels: reading and writing the weights
// once more per call.
// Why opt-in: `qmatmul bench --suite full --M 1,4,16 --packed`, H200, 2026-12-03 (bench/RESULTS.md
// gpu-packed section, beside the canonical gpu section): int4 weights at M = 4 / 16 1.11-1.33x /
// 1.07-1.19x faster than canonical on the 70B shapes and 8B.up / down, 8-bit ones within 3 %, but
// M = 1 0.72-0.86x for int4 and 0.73-0.97x for 8-bit weights in float mode (decode_sk1_kernel is
// slower than the canonical M = 1 kernels; 8-bit int8 mode 1.10-1.18x faster) and 8B.attn
// (4096^2, too few chunks for the stream-K split; canonical M = 2..16 takes the tile kernel
// there) 0.5-0.8x at every M.
const int kPackedLayout = 1;  // PackedWeights::backend_state of weights in the packed layout

bool decode_layout_wanted() {
  const char* e = std::getenv("QMM_CUDA_PACK");
  return e && std::strcmp(e, "decode") == 0;
}

void cuda_release(PackedWeights& pw) {
  if (pw.data) cudaFree(pw.data);
  cudaGetLastError();
  pw.data = nullptr;
}

qmm_status cuda_pack(const Problem& p, const Options& o, PackedWeights* out) {
  if (!p.device)
    return set_error(QMM_INVALID_ARGUMENT, "cuda backend: pack needs CUDA device weights");
  cudaStream_t stream = static_cast<cudaStream_t>(o.stream);
  DeviceScope scope(device_of(p.w ? static_cast<const void*>(p.w) : p.scales));
  const bool layout = decode_layout_wanted() && cuda::packed_layout_ok(p.N, p.K, p.group_size);
  const size_t slots =
      layout ? cuda::packed_scale_count(p.N, p.groups) : size_t(p.N) * size_t(p.groups);
  const size_t wbytes = layout ? cuda::packed_weight_bytes(p.N, p.K, p.bits)
                               : size_t(p.N) * size_t(p.row_bytes());
  const size_t sbytes = slots * 4;
  const size_t zbytes = p.zp ? slots : 0;
  const size_t total = round256(wbytes) + round256(sbytes) + round256(zbytes) + 256;
  void* base = nullptr;
  cudaError_t e = cudaMalloc(&base, total);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return set_error(QMM_OUT_OF_MEMORY, "cuda backend: cannot allocate %zu bytes for packed weights",
                     total);
  }
  auto* w = static_cast<uint8_t*>(base);
  auto* s = reinterpret_cast<float*>(w + round256(wbytes));
  int8_t* z = zbytes ? reinterpret_cast<int8_t*>(w + round256(wbytes) + round256(sbytes)) : nullptr;
  if (layout) {
    if ((e = cuda::launch_repack(to_params(p), w, s, z, /*to_packed=*/true, stream)) != cudaSuccess)
      goto fail;
  } else {
    if (wbytes &&
        (e = cudaMemcpyAsync(w, p.w, wbytes, cudaMemcpyDeviceToDevice, stream)) != cudaSuccess)
      goto fail;
    if (sbytes &&
        (e = cudaMemcpyAsync(s, p.scales, sbytes, cudaMemcpyDeviceToDevice, stream)) != cudaSuccess)
      goto fail;
    if (zbytes &&
        (e = cudaMemcpyAsync(z, p.zp, zbytes, cudaMemcpyDeviceToDevice, stream)) != cudaSuccess)
      goto fail;
  }
  // The caller may free its arrays as soon as qmm_pack returns.
  if ((e = cudaStreamSynchronize(stream)) != cudaSuccess) goto fail;
  out->data = base;
  out->nbytes = total;
  out->release = cuda_release;
  out->w = w;
  out->scales = s;
  out->zp = z;
  out->backend_state = layout ? const_cast<int*>(&kPackedLayout) : nullptr;
  return QMM_OK;
fail:
  cudaFree(base);
  return cuda_fail(e, "packing copy");
}

qmm_status cuda_run_packed(const PackedWeights& pw, const Problem& p, const Options& o) {
  const Problem q = with_packed_weights(pw, p);
  if (pw.backend_state != &kPackedLayout || p.M == 0 || p.N == 0) return cuda_run(q, o);
  KParams k = to_params(q);
  k.packed = 1;
  if (cuda::decode_packed_takes(k, o.compute == QMM_COMPUTE_INT8)) return run_impl(q, o, true);
  // The canonical kernels: unpack into this stream's buffer (stream-ordered before them).
  cudaStream_t stream = static_cast<cudaStream_t>(o.stream);
  const int dev = device_of(p.y);
  DeviceScope scope(dev);
  const size_t wbytes = round256(size_t(p.N) * size_t(q.row_bytes()));
  const size_t sbytes = round256(size_t(p.N) * size_t(p.groups) * 4);
  const size_t zbytes = q.zp ? size_t(p.N) * size_t(p.groups) : 0;
  std::lock_guard<std::mutex> lock(unpack_cache().mu);
  void* ws = nullptr;
  qmm_status st = get_workspace(dev, stream, wbytes + sbytes + zbytes, &ws, false, unpack_cache());
  if (st != QMM_OK) return st;
  Problem c = q;
  auto* cw = static_cast<uint8_t*>(ws);
  auto* cs = reinterpret_cast<float*>(cw + wbytes);
  int8_t* cz = q.zp ? reinterpret_cast<int8_t*>(cw + wbytes + sbytes) : nullptr;
  c.w = cw;
  c.scales = cs;
  c.zp = cz;
  const cudaError_t e = cuda::launch_repack(k, cw, cs, cz, /*to_packed=*/false, stream);
  if (e != cudaSuccess) return cuda_fail(e, "unpack kernel launch");
  return cuda_run(c, o);
}

}  // namespace

extern const Backend kCudaBackend = {
    "cuda",     true,    cuda_available,     cuda_supports,         cuda_run,
    cuda_pack,  cuda_run_packed, cuda_pointer_kind, cuda_device_features, nullptr,
};

}  // namespace qmm
