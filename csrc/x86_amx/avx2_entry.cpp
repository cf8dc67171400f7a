// The `avx2` backend's table entry (compiled for the baseline ISA: it runs before the CPU is
// known to have AVX2). Kernels live in avx2_*.cpp (AVX2+FMA+F16C objects), called only after
// available() said yes.
//
// Supported: bits 4 and 8, with or without zero points, fp16/bf16/fp32 X and Y, any strides,
// any M, N, K, both compute modes. The AVX2 kernels cover group_size multiples of 32 (int8
// mode: at most 65536, so the per-group integer sums stay exact in int32); other group sizes
// run the scalar backend's code (the slow path), so forcing `avx2` never fails. Weights are
// packed into the kernels' tile layout when the kernels cover the group size, else copied
// canonically.
#include <algorithm>
#include <cstring>
#include <new>
#include <vector>

#include "core/backend.h"
#include "core/cpu_features.h"
#include "core/scalar.h"
#include "x86_amx/avx2_kernels.h"

namespace qmm {
namespace avx2 {

WeightView canonical_view(const Problem& p) {
  WeightView v;
  v.w = p.w;
  v.packed = false;
  v.row_bytes = p.row_bytes();
  v.units = (v.row_bytes + 31) / 32;
  return v;
}

}  // namespace avx2

namespace {

bool avx2_available() {
  const CpuFeatures& f = cpu_features();
  return f.avx2 && f.fma && f.f16c;
}

bool avx2_supports(const Problem& p, const Options&) {
  return !p.device && (p.bits == 4 || p.bits == 8);
}

// Group sizes the AVX2 kernels handle (in either compute mode).
bool kernels_cover(int64_t group_size) {
  return group_size > 0 && group_size % 32 == 0 && group_size <= avx2::kAvx2Int8MaxGroup;
}
bool kernels_cover(const Problem& p, const Options& o) {
  if (p.group_size <= 0 || p.group_size % 32 != 0) return false;
  return o.compute != QMM_COMPUTE_INT8 || p.group_size <= avx2::kAvx2Int8MaxGroup;
}

// The tile layout back to canonical rows (for the scalar code's rows of X that hold Inf).
void unpack_tiles(const uint8_t* tiles, int64_t N, int64_t row_bytes, uint8_t* w) {
  const int64_t units = (row_bytes + 31) / 32;
  for (int64_t n0 = 0; n0 < N; n0 += avx2::kAvx2TileRows) {
    const int64_t nt = std::min<int64_t>(avx2::kAvx2TileRows, N - n0);
    const uint8_t* tile = tiles + n0 * units * 32;
    for (int64_t u = 0; u < units; ++u)
      for (int64_t r = 0; r < nt; ++r)
        std::memcpy(w + (n0 + r) * row_bytes + u * 32, tile + (u * nt + r) * 32,
                    size_t(std::min<int64_t>(32, row_bytes - u * 32)));
  }
}

qmm_status run_view(const Problem& p, const Options& o, const avx2::WeightView& wv) {
  if (o.compute == QMM_COMPUTE_INT8) return avx2::avx2_int8_gemm(p, o, wv);
  // the float kernels fold the zero point (avx2_float_gemm.cpp): rows with Inf/huge x go exact
  std::vector<uint8_t> canonical_w;
  return float_gemm_with_exact_rows(
      p, o, [&](const Problem& rows) { return avx2::avx2_float_gemm(rows, o, wv); },
      [&](Problem* q) {
        if (!wv.packed) return QMM_OK;
        try {
          canonical_w.resize(size_t(q->N) * size_t(q->row_bytes()));
        } catch (const std::bad_alloc&) {
          return set_error(QMM_OUT_OF_MEMORY,
                           "avx2: no memory to unpack weights for the exactly computed rows");
        }
        unpack_tiles(wv.w, q->N, q->row_bytes(), canonical_w.data());
        q->w = canonical_w.data();
        return QMM_OK;
      });
}

qmm_status avx2_run(const Problem& p, const Options& o) {
  if (!kernels_cover(p, o))
    return o.compute == QMM_COMPUTE_INT8 ? scalar_int8_gemm(p, o) : scalar_float_gemm(p, o);
  return run_view(p, o, avx2::canonical_view(p));
}

const int kTileLayoutTag = 1;

size_t round64(size_t n) { return (n + 63) & ~size_t(63); }

void avx2_release(PackedWeights& pw) {
  aligned_free64(pw.data);
  pw.data = nullptr;
}

qmm_status avx2_pack(const Problem& p, const Options& o, PackedWeights* out) {
  if (p.K <= 0 || !kernels_cover(p.group_size)) return default_pack(p, o, out);  // canonical
  const size_t wbytes = avx2::packed_w_avx2_tiles_bytes(p.N, p.row_bytes());
  const size_t sbytes = size_t(p.N) * size_t(p.groups) * sizeof(float);
  const size_t zbytes = p.zp ? size_t(p.N) * size_t(p.groups) : 0;
  const size_t total = round64(wbytes) + round64(sbytes) + round64(zbytes);
  auto* base = static_cast<uint8_t*>(aligned_alloc64(total));
  if (!base)
    return set_error(QMM_OUT_OF_MEMORY, "could not allocate %zu bytes for packed weights", total);
  avx2::pack_w_avx2_tiles(p.w, p.N, p.row_bytes(), base);
  auto* s = reinterpret_cast<float*>(base + round64(wbytes));
  int8_t* z = zbytes ? reinterpret_cast<int8_t*>(base + round64(wbytes) + round64(sbytes)) : nullptr;
  for (size_t i = 0; i < sbytes / sizeof(float); ++i) s[i] = p.scales[i];
  for (size_t i = 0; i < zbytes; ++i) z[i] = p.zp[i];
  out->data = base;
  out->nbytes = total;
  out->release = avx2_release;
  out->w = base;
  out->scales = s;
  out->zp = z;
  out->backend_state = const_cast<int*>(&kTileLayoutTag);  // default_pack leaves it null
  return QMM_OK;
}

qmm_status avx2_run_packed(const PackedWeights& pw, const Problem& p, const Options& o) {
  const Problem q = with_packed_weights(pw, p);
  if (!pw.backend_state) return avx2_run(q, o);  // canonical copy
  avx2::WeightView v;
  v.w = pw.w;
  v.packed = true;
  v.row_bytes = q.row_bytes();
  v.units = (v.row_bytes + 31) / 32;
  return run_view(q, o, v);
}

}  // namespace

extern const Backend kAvx2Backend = {
    "avx2",          false, avx2_available, avx2_supports, avx2_run, avx2_pack, avx2_run_packed,
    nullptr,         nullptr, nullptr,
};

}  // namespace qmm
