// The `neon` and `neon_i8mm` backends: table entries, available(), supports(), the weight
// packer and the driver that feeds the per-panel kernels. Compiled for the baseline armv8-a
// (it runs before the CPU is known to have dotprod/i8mm) and calls kernels only after
// cpu_features() says so.
//
// Driver: rows of X are taken in blocks (64 rows in int8 mode, 32 in float mode); a block is
// converted to fp32 and, in int8 mode, quantized once (neon_quant.cpp) into the pair layout;
// then threads split the weight panels (8 rows of W each, static schedule) and each panel is
// run against the whole block by one kernel call. Every output element is computed by one
// thread in a fixed order: bit-identical for any thread count.
// Prepacked weights (qmm_pack) are the panels of neon_kernels.h back to back; canonical
// weights are packed one panel at a time into a per-thread buffer before the kernel call.
// Accepted: bits 4 and 8, zero points or not, fp16/bf16/fp32 X and Y, any M, N, K and strides,
// any group size. The kernels cover group_size multiples of 32 up to 65536 (so the int32 group
// sums of the int8 mode cannot overflow); other group sizes run the scalar backend's code (the
// slow path) on a canonical copy, so forcing `neon` / `neon_i8mm` never fails.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "arm_neon/neon_kernels.h"
#include "core/backend.h"
#include "core/cpu_features.h"
#include "core/numeric.h"
#include "core/scalar.h"

namespace qmm {
namespace neon {
namespace {

enum class Int8Kernel { kSmull, kSdot, kSmmla };

size_t round64(size_t n) { return (n + 63) & ~size_t(63); }

// Panel pi of canonical weights into dw (panel_w_bytes), ds ([G][8]) and dz ([G][8] or null).
void pack_panel(const Problem& p, int64_t pi, int8_t* dw, float* ds, int8_t* dz) {
  const int64_t K = p.K, G = p.groups, rb = p.row_bytes(), N = p.N;
  for (int r = 0; r < kPanelN; ++r) {
    const int64_t n = pi * kPanelN + r;
    for (int64_t g = 0; g < G; ++g) {
      ds[g * 8 + r] = n < N ? p.scales[n * G + g] : 0.0f;
      if (dz) dz[g * 8 + r] = n < N ? p.zp[n * G + g] : int8_t(0);
    }
  }
  const int64_t KO = K / 8;
  if (p.bits == 8) {
    for (int r = 0; r < kPanelN; ++r) {
      const int64_t n = pi * kPanelN + r;
      int8_t* d = dw + (r / 2) * 16 + (r & 1) * 8;
      if (n < N) {
        const int8_t* src = reinterpret_cast<const int8_t*>(p.w + n * rb);
        for (int64_t ko = 0; ko < KO; ++ko) std::memcpy(d + ko * 64, src + ko * 8, 8);
      } else {
        for (int64_t ko = 0; ko < KO; ++ko) std::memset(d + ko * 64, 0, 8);
      }
    }
  } else {
    // Vector v = r/4 of a k-octet holds n-pair 2v in its low nibbles and 2v+1 in its high.
    std::memset(dw, 0, size_t(KO) * 32);
    auto* du = reinterpret_cast<uint8_t*>(dw);
    for (int r = 0; r < kPanelN; ++r) {
      const int64_t n = pi * kPanelN + r;
      if (n >= N) continue;
      const uint8_t* src = p.w + n * rb;
      const int shift = ((r / 2) & 1) * 4;
      uint8_t* d = du + (r / 4) * 16 + (r & 1) * 8;
      for (int64_t ko = 0; ko < KO; ++ko) {
        const uint8_t* s4 = src + ko * 4;
        uint8_t* dk = d + ko * 32;
        for (int e = 0; e < 4; ++e) {
          dk[2 * e] |= uint8_t((s4[e] & 0xF) << shift);
          dk[2 * e + 1] |= uint8_t((s4[e] >> 4) << shift);
        }
      }
    }
  }
}

struct PackedLayout {
  int64_t panels, wbytes, gbytes;  // per panel: weight bytes, groups*8
  size_t w_off, s_off, z_off, total;
};

PackedLayout layout(int64_t N, int64_t K, int64_t G, int bits, bool has_zp) {
  PackedLayout L;
  L.panels = (N + kPanelN - 1) / kPanelN;
  L.wbytes = panel_w_bytes(K, bits);
  L.gbytes = G * kPanelN;
  L.w_off = 0;
  L.s_off = round64(size_t(L.panels) * size_t(L.wbytes));
  L.z_off = L.s_off + round64(size_t(L.panels) * size_t(L.gbytes) * sizeof(float));
  L.total = L.z_off + (has_zp ? round64(size_t(L.panels) * size_t(L.gbytes)) : 0);
  return L;
}

void release_packed(PackedWeights& pw) {
  aligned_free64(pw.data);
  pw.data = nullptr;
}

// Group sizes the kernels handle (either compute mode, so packed panels serve both).
bool kernels_cover(const Problem& p) {
  return p.group_size > 0 && p.group_size % 32 == 0 && p.group_size <= 65536;
}

qmm_status scalar_path(const Problem& p, const Options& o) {
  return o.compute == QMM_COMPUTE_INT8 ? scalar_int8_gemm(p, o) : scalar_float_gemm(p, o);
}

qmm_status neon_pack(const Problem& p, const Options& o, PackedWeights* out) {
  if (!kernels_cover(p)) return default_pack(p, o, out);  // canonical copy for the slow path
  const bool has_zp = p.zp != nullptr;
  const PackedLayout L = layout(p.N, p.K, p.groups, p.bits, has_zp);
  auto* base = static_cast<uint8_t*>(aligned_alloc64(L.total));
  if (!base)
    return set_error(QMM_OUT_OF_MEMORY, "could not allocate %zu bytes for packed weights", L.total);
  auto* w = reinterpret_cast<int8_t*>(base + L.w_off);
  auto* s = reinterpret_cast<float*>(base + L.s_off);
  auto* z = has_zp ? reinterpret_cast<int8_t*>(base + L.z_off) : nullptr;
#pragma omp parallel for schedule(static) num_threads(o.num_threads)
  for (int64_t pi = 0; pi < L.panels; ++pi)
    pack_panel(p, pi, w + pi * L.wbytes, s + pi * L.gbytes, z ? z + pi * L.gbytes : nullptr);
  out->data = base;
  out->nbytes = L.total;
  out->release = release_packed;
  out->w = nullptr;  // no canonical copy: run_packed reads the panels
  out->scales = nullptr;
  out->zp = nullptr;
  return QMM_OK;
}

// The whole matmul; pw == nullptr: canonical weights in p.
qmm_status run_impl(const Problem& p, const Options& o, Int8Kernel ik, const PackedWeights* pw) {
  const int64_t M = p.M, N = p.N, K = p.K, G = p.groups, gs = p.group_size;
  const bool int8 = o.compute == QMM_COMPUTE_INT8;
  const bool has_zp = pw ? pw->has_zp : p.zp != nullptr;
  const PackedLayout L = layout(N, K, G, p.bits, has_zp);
  const int64_t MB = int8 ? 64 : 32;
  const int64_t mb_max = std::min(MB, M);
  const size_t xsz = dtype_size(p.x_dtype);
  std::vector<float> xf(size_t(mb_max) * size_t(K));
  std::vector<int8_t> q;
  std::vector<float> sx;
  std::vector<int32_t> sq;
  if (int8) {
    q.resize(size_t((mb_max + 1) / 2 * 2) * size_t(K));
    sx.resize(size_t(mb_max) * size_t(G));
    sq.resize(size_t(mb_max) * size_t(G));
  }
  void (*int8_kernel)(const Panel&, const Int8Act&, int, float*) = int8_panel_smull;
#if defined(QMM_WITH_NEON_DOTPROD)
  if (ik == Int8Kernel::kSdot) int8_kernel = int8_panel_sdot;
#endif
#if defined(QMM_WITH_NEON_I8MM)
  if (ik == Int8Kernel::kSmmla) int8_kernel = int8_panel_smmla;
#endif
  const uint8_t* pbase = pw ? static_cast<const uint8_t*>(pw->data) : nullptr;
  for (int64_t m0 = 0; m0 < M; m0 += MB) {
    const int mb = int(std::min(MB, M - m0));
    for (int i = 0; i < mb; ++i)
      convert_to_f32(static_cast<const char*>(p.x) + size_t(m0 + i) * size_t(p.ldx) * xsz,
                     p.x_dtype, K, xf.data() + size_t(i) * size_t(K));
    if (int8) quantize_rows_int8(xf.data(), mb, K, gs, q.data(), sx.data(), sq.data());
    const Int8Act ia{q.data(), sx.data(), sq.data(), K, G, gs, mb};
    const FloatAct fa{xf.data(), K, G, gs, mb};
#pragma omp parallel num_threads(o.num_threads)
    {
      std::vector<float> out(size_t(mb) * kPanelN);
      std::vector<int8_t> bw, bz;
      std::vector<float> bs;
      if (!pw) {
        bw.resize(size_t(L.wbytes));
        bs.resize(size_t(L.gbytes));
        if (has_zp) bz.resize(size_t(L.gbytes));
      }
#pragma omp for schedule(static)
      for (int64_t pi = 0; pi < L.panels; ++pi) {
        Panel pan;
        if (pw) {
          pan.w = reinterpret_cast<const int8_t*>(pbase + L.w_off) + pi * L.wbytes;
          pan.s = reinterpret_cast<const float*>(pbase + L.s_off) + pi * L.gbytes;
          pan.z = has_zp ? reinterpret_cast<const int8_t*>(pbase + L.z_off) + pi * L.gbytes
                         : nullptr;
        } else {
          pack_panel(p, pi, bw.data(), bs.data(), has_zp ? bz.data() : nullptr);
          pan.w = bw.data();
          pan.s = bs.data();
          pan.z = has_zp ? bz.data() : nullptr;
        }
        if (int8)
          int8_kernel(pan, ia, p.bits, out.data());
        else
          float_panel(pan, fa, p.bits, out.data());
        const int64_t ncols = std::min<int64_t>(kPanelN, N - pi * kPanelN);
        for (int m = 0; m < mb; ++m)
          for (int64_t j = 0; j < ncols; ++j)
            store_from_f32(p.y, (m0 + m) * p.ldy + pi * kPanelN + j, p.y_dtype,
                           out[size_t(m) * kPanelN + size_t(j)]);
      }
    }
  }
  return QMM_OK;
}

bool neon_supports(const Problem& p, const Options&) {
  return !p.device && (p.bits == 4 || p.bits == 8);
}

// Canonical weights (p's own, or a default_pack copy: it keeps w) through the kernels or the
// slow path; panels (pw->w == nullptr) through the kernels.
qmm_status dispatch(const Problem& p, const Options& o, Int8Kernel ik, const PackedWeights* pw) {
  if (pw && pw->w) return dispatch(with_packed_weights(*pw, p), o, ik, nullptr);
  if (!pw && !kernels_cover(p)) return scalar_path(p, o);
  return run_impl(p, o, ik, pw);
}

Int8Kernel neon_int8_kernel() {
#if defined(QMM_WITH_NEON_DOTPROD)
  if (cpu_features().dotprod) return Int8Kernel::kSdot;
#endif
  return Int8Kernel::kSmull;
}

bool neon_available() { return cpu_features().neon; }
qmm_status neon_run(const Problem& p, const Options& o) {
  return dispatch(p, o, neon_int8_kernel(), nullptr);
}
qmm_status neon_run_packed(const PackedWeights& pw, const Problem& p, const Options& o) {
  return dispatch(p, o, neon_int8_kernel(), &pw);
}

#if defined(QMM_WITH_NEON_I8MM)
bool i8mm_available() { return cpu_features().neon && cpu_features().i8mm; }
qmm_status i8mm_run(const Problem& p, const Options& o) {
  return dispatch(p, o, Int8Kernel::kSmmla, nullptr);
}
qmm_status i8mm_run_packed(const PackedWeights& pw, const Problem& p, const Options& o) {
  return dispatch(p, o, Int8Kernel::kSmmla, &pw);
}
#endif

}  // namespace
}  // namespace neon

extern const Backend kNeonBackend = {
    "neon", false, neon::neon_available, neon::neon_supports, neon::neon_run, neon::neon_pack,
    neon::neon_run_packed, nullptr, nullptr, nullptr,
};

#if defined(QMM_WITH_NEON_I8MM)
extern const Backend kNeonI8mmBackend = {
    "neon_i8mm", false, neon::i8mm_available, neon::neon_supports, neon::i8mm_run,
    neon::neon_pack, neon::i8mm_run_packed, nullptr, nullptr, nullptr,
};
#endif

}  // namespace qmm
